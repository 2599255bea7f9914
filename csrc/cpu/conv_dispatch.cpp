// conv_dispatch.cpp: the public conv2d entry points of the CPU ladder (fastann/cpu/conv.hpp): the rung check,
// the rung=None pick (conv2d_pick_rung), the padding modes other than zeros, then the chosen rung
// (internal/conv_rungs.hpp). Docs: docs/conv.md.
//
// Padding modes other than "zeros" ("reflect" mirrors without repeating the edge, "replicate" repeats it) are
// implemented for every rung by materializing the padded input once, running the zero-padding convolution on
// it, and (for the input gradient) folding the padded gradient back onto the input.
#include <type_traits>
#include <vector>

#include "fastann/common.hpp"
#include "fastann/cpu/conv.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_rungs.hpp"

namespace fastann::cpu {

namespace {

using namespace conv_detail;

// The input index a padded position copies: reflect mirrors without repeating the edge (torch "reflect"),
// replicate repeats the edge. Only called for modes other than zeros.
inline int64_t source_index(int64_t i, int64_t n, PaddingMode mode) {
  if (mode == PaddingMode::reflect) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
  }
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// inp (N,C,H,W) -> xpad (N,C,H+pt+pb,W+pl+pr) for reflect / replicate padding
template <class T>
void materialize_padded(T* xpad, const T* inp, const Conv2dParams& p) {
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  std::vector<int64_t> col_src(Wp);
  for (int64_t j = 0; j < Wp; ++j) col_src[j] = source_index(j - p.pad_left, p.W, p.mode);
  parallel_for(p.N * p.C, 16, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const T* src = inp + plane * p.H * p.W;
      T* dst = xpad + plane * Hp * Wp;
      for (int64_t i = 0; i < Hp; ++i) {
        const T* srow = src + source_index(i - p.pad_top, p.H, p.mode) * p.W;
        for (int64_t j = 0; j < Wp; ++j) dst[i * Wp + j] = srow[col_src[j]];
      }
    }
  });
}

// The adjoint of materialize_padded: dpad (N,C,Hp,Wp) -> dinp (N,C,H,W), each padded position's gradient
// added to the input element it copied.
template <class T>
void fold_padded_grad(T* dinp, const T* dpad, const Conv2dParams& p) {
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  std::vector<int64_t> col_src(Wp);
  for (int64_t j = 0; j < Wp; ++j) col_src[j] = source_index(j - p.pad_left, p.W, p.mode);
  parallel_for(p.N * p.C, 16, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      T* dst = dinp + plane * p.H * p.W;
      const T* src = dpad + plane * Hp * Wp;
      std::fill(dst, dst + p.H * p.W, T(0));
      for (int64_t i = 0; i < Hp; ++i) {
        T* drow = dst + source_index(i - p.pad_top, p.H, p.mode) * p.W;
        for (int64_t j = 0; j < Wp; ++j) drow[col_src[j]] += src[i * Wp + j];
      }
    }
  });
}

// ---- the ladder on zero-padded geometry ----------------------------------------------------------
template <class T>
void forward_zeros(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int rung) {
  switch (rung) {
    case 1: return conv2d_forward_rung1_naive(out, inp, weight, bias, p);
    case 2: return conv2d_forward_rung2_im2col_gemm(out, inp, weight, bias, p);
    case 4: return conv2d_forward_rung4_winograd(out, inp, weight, bias, p);
    default: return conv2d_forward_rung3_direct(out, inp, weight, bias, p);
  }
}
template <class T>
void backward_input_zeros(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int rung) {
  switch (rung) {
    case 1: return conv2d_backward_input_rung1_naive(dinp, dout, weight, p);
    case 2: return conv2d_backward_input_rung2_im2col_gemm(dinp, dout, weight, p);
    case 4: return conv2d_backward_input_rung4_winograd(dinp, dout, weight, p);
    default: return conv2d_backward_input_rung3_direct(dinp, dout, weight, p);
  }
}
template <class T>
void backward_weight_zeros(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int rung) {
  switch (rung) {
    case 1: return conv2d_backward_weight_rung1_naive(dweight, dbias, dout, inp, p);
    case 2: return conv2d_backward_weight_rung2_im2col_gemm(dweight, dbias, dout, inp, p);
    case 4: return conv2d_backward_weight_rung4_winograd(dweight, dbias, dout, inp, p);
    default: return conv2d_backward_weight_rung3_direct(dweight, dbias, dout, inp, p);
  }
}

template <class T>
int resolve_rung(const Conv2dParams& p, int rung, int direction, const char* op) {
  FASTANN_CHECK(rung >= 0 && rung <= 4, op, ": rung must be None (0) or 1, 2, 3, 4, got ", rung);
  FASTANN_CHECK(rung != 4 || winograd_fits(p), op,
                ": rung 4 (Winograd) needs a 3x3 kernel with stride 1 and dilation 1, or a 4x4 kernel with stride 2, "
                "dilation 1 and groups=1, got kernel (", p.KH, ", ", p.KW, "), stride (", p.stride_h, ", ", p.stride_w,
                "), dilation (", p.dilation_h, ", ", p.dilation_w, "), groups ", p.groups);
  return rung == 0 ? conv2d_pick_rung(p, direction, std::is_same_v<T, float>) : rung;
}

}  // namespace

int conv2d_pick_rung(const Conv2dParams& p, int direction, bool float32) {
  // Rung 3 was fastest or within noise on every shape measured (docs/conv.md), depthwise included (there
  // rung 1's scalar loops are 4-10x slower; rung 2 is within ~10% for forward / input gradient), except
  // that Winograd (rung 4) beats it on 3x3 stride-1 layers in float32 with AVX-512 when the channels fill its
  // GEMMs (`bench_conv.py --sweep-winograd`, 1 thread, rung 3 time / rung 4 time):
  //   forward and input gradient: 1.2-2.3x with >= 32 channels on both sides at every size from 5x5 to 56x56,
  //     1.0-1.8x with 16 from 10x10 up, 0.8-1.5x with 16 at 5x5 and 7x7, 0.5-1.2x with 8 input channels;
  //   weight gradient (its GEMMs reduce over the tiles of one image, so small images are short GEMMs):
  //     1.1-1.5x with >= 32 channels from 10x10 up, 0.8-1.0x at 5x5 and 7x7, 0.9-1.05x with 16 channels.
  // Its float64 form is the portable one, slower than rung 3's AVX-512 micro-kernels.
  // The stride-2 4x4 path (F(4x4, 2x2) on the phases), `python benchmarks/bench_conv.py --sweep-winograd-phases`
  // (1 thread, N 64, 8x8 / 14x14 / 28x28 inputs, rung 3 time / rung 4 time, docs/conv.md):
  //   forward: 1.0-2.3x with 32-256 channels on both sides (one 0.92); 0.7-1.0x for 256 -> 512, 0.66-1.0x
  //     with 8-16 input channels from 14x14 up;
  //   input gradient: 1.06-2.4x from 14x14 inputs up with >= 8 channels (256 -> 512: 0.98-1.24x), 0.59-0.85x
  //     at 8x8 with >= 32 (its phases cover 5x5 positions: two tiles of 4 for 5);
  //   weight gradient: 1.03-2.25x with >= 32 channels (two ties at 0.95-0.96), 0.82-0.87x with 8-16.
  // The per-call weight transform needs enough outputs to amortize it: N*OH*OW >= 2048 (64 -> 128 at 7x7
  // outputs with N 9 gave 0.89-1.35x).
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, channels = std::min(Cg, OCg), positions = p.OH * p.OW;
  if (!float32 || !have_avx512() || !winograd_fits(p)) return 3;
  if (winograd_phases_fits(p)) {
    if (p.N * positions < 2048) return 3;
    if (direction == 0) return channels >= 32 && std::max(Cg, OCg) <= 256 ? 4 : 3;
    if (direction == 1) return channels >= 8 && p.H * p.W >= 100 ? 4 : 3;
    return channels >= 32 ? 4 : 3;
  }
  if (direction == 2) return channels >= 32 && positions >= 100 ? 4 : 3;
  const bool as_forward = direction == 0 || p.mode != PaddingMode::zeros || input_grad_is_forward(p);
  return as_forward && (channels >= 32 || (channels >= 16 && positions >= 100)) ? 4 : 3;
}

// ===================================================================================================
// dispatch: padding modes, then the chosen rung
// ===================================================================================================
template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int rung) {
  rung = resolve_rung<T>(p, rung, 0, "conv2d_forward");
  if (p.mode == PaddingMode::zeros) return forward_zeros(out, inp, weight, bias, p, rung);
  const Conv2dParams q = conv2d_on_padded_input(p);
  std::vector<T> xpad(q.N * q.C * q.H * q.W);
  materialize_padded(xpad.data(), inp, p);
  forward_zeros(out, xpad.data(), weight, bias, q, rung);
}

template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int rung) {
  rung = resolve_rung<T>(p, rung, 1, "conv2d_backward_input");
  if (p.mode == PaddingMode::zeros) return backward_input_zeros(dinp, dout, weight, p, rung);
  const Conv2dParams q = conv2d_on_padded_input(p);
  std::vector<T> dpad(q.N * q.C * q.H * q.W);
  backward_input_zeros(dpad.data(), dout, weight, q, rung);
  fold_padded_grad(dinp, dpad.data(), p);
}

template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int rung) {
  rung = resolve_rung<T>(p, rung, 2, "conv2d_backward_weight");
  if (p.mode == PaddingMode::zeros) return backward_weight_zeros(dweight, dbias, dout, inp, p, rung);
  const Conv2dParams q = conv2d_on_padded_input(p);
  std::vector<T> xpad(q.N * q.C * q.H * q.W);
  materialize_padded(xpad.data(), inp, p);
  backward_weight_zeros(dweight, dbias, dout, xpad.data(), q, rung);
}

#define FASTANN_CONV_INSTANTIATE(T)                                                                            \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dParams&, int);                 \
  template void conv2d_backward_input<T>(T*, const T*, const T*, const Conv2dParams&, int);                    \
  template void conv2d_backward_weight<T>(T*, T*, const T*, const T*, const Conv2dParams&, int);
FASTANN_CONV_INSTANTIATE(float)
FASTANN_CONV_INSTANTIATE(double)
#undef FASTANN_CONV_INSTANTIATE

}  // namespace fastann::cpu
