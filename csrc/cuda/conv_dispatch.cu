// conv_dispatch.cu: the public CUDA conv2d entry points (fastann/cuda/conv.hpp): validation, the rung check and
// the rung=None pick (conv2d_pick_rung), the padding modes, then the chosen rung's launchers
// (conv_common.cuh). float32 and float64 (every rung). conv_transpose2d is conv2d_backward_input with the roles
// of input and output swapped (fastann.ops). Docs: docs/conv.md.
//
// A convolution as a matrix product (per image n and group g; Cg = C/groups, OCg = OC/groups):
//   forward          out[o, p]        = sum_k  W[o, k]      * col[k, p]        M=OCg  N=OH*OW  K=Cg*KH*KW
//   input gradient   dx[c, q]         = sum_k' W'[c, k']    * dout'[k', q]     M=Cg   N=H*W    K=OCg*KH*KW
//   weight gradient  dW[o, k]         = sum_p  dout[o, p]   * col[k, p]        M=OCg  N=Cg*KH*KW  K=N*OH*OW
// where col[(c,kh,kw), (oh,ow)] = xpad[c, oh*s_h + kh*d_h, ow*s_w + kw*d_w] is the im2col matrix, and for the
// input gradient dout'[(o,kh,kw), (ih,iw)] = dout[o, oh, ow] when ih + pad_top = oh*s_h + kh*d_h (and the same
// for w) has an integer solution inside the output, else 0 (col2im written as a gather, no atomics).
//
// The ladder (rung=, numbered like the CPU's): 1 direct loops (conv_rung1_direct.cu), 2 im2col + fastann's
// CUDA GEMM (conv_rung2_im2col_gemm.cu), 3 implicit GEMM (conv_rung3_implicit_gemm.cu); 0 auto:
// conv2d_pick_rung: 3, except 1 when the product has fewer than 8 rows per group (depthwise-like), where a
// 64-row tile would be mostly empty.
//
// Padding modes: "zeros" is handled by skipping taps outside the input. "reflect" / "replicate" are read
// through an index map (load_padded) in the forward and weight-gradient gathers, so no padded copy is made;
// the input gradient is computed on the padded geometry into a workspace and folded back by a gather that sums
// every padded position mapping to an input pixel (fold_padded_grad_kernel).
//
// Determinism: every kernel here writes each output element exactly once from a fixed summation order, except
// the bilinear upsample backward (upsample.cu), which scatters with atomicAdd (its sums may differ in the last
// bit between runs).
#include <algorithm>
#include <climits>

#include "conv_common.cuh"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

using namespace conv_detail;

// The padded positions (half-open ranges, at most 3) whose padding reads input index i along one axis of
// length n with pads lo/hi: the inverse of pad_source. Returns the number of ranges.
__device__ __forceinline__ int padded_preimage(int64_t i, int64_t n, int64_t lo, int64_t hi, PaddingMode mode,
                                               int64_t* begin, int64_t* end) {
  if (mode == PaddingMode::replicate) {
    begin[0] = i == 0 ? 0 : i + lo;               // the first pixel also fills the whole low padding
    end[0] = i == n - 1 ? n + lo + hi : i + lo + 1;  // the last pixel the whole high padding
    return 1;
  }
  int cnt = 0;
  begin[cnt] = i + lo, end[cnt] = i + lo + 1, ++cnt;  // the pixel itself
  if (mode == PaddingMode::reflect) {
    if (i >= 1 && i <= lo) begin[cnt] = lo - i, end[cnt] = lo - i + 1, ++cnt;  // mirrored into the low pad
    const int64_t r = 2 * (n - 1) - i;                                        // mirrored into the high pad
    if (r >= n && r <= n - 1 + hi) begin[cnt] = r + lo, end[cnt] = r + lo + 1, ++cnt;
  }
  return cnt;
}

// ---- padding modes: fold the padded input gradient back -------------------------------------------------
// dpad (N,C,H+pt+pb,W+pl+pr) -> dinp (N,C,H,W): each input pixel sums every padded position that read it.
template <class T>
__global__ void fold_padded_grad_kernel(T* __restrict__ dinp, const T* __restrict__ dpad, Conv2dParams p) {
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  const int64_t total = p.N * p.C * p.H * p.W;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % p.W, ih = (idx / p.W) % p.H, plane = idx / (p.H * p.W);
    int64_t hb[3], he[3], wb[3], we[3];
    const int nh = padded_preimage(ih, p.H, p.pad_top, p.pad_bottom, p.mode, hb, he);
    const int nw = padded_preimage(iw, p.W, p.pad_left, p.pad_right, p.mode, wb, we);
    const T* src = dpad + plane * Hp * Wp;
    T acc = T(0);
    for (int a = 0; a < nh; ++a)
      for (int64_t i = hb[a]; i < he[a]; ++i)
        for (int b = 0; b < nw; ++b)
          for (int64_t j = wb[b]; j < we[b]; ++j) acc += src[i * Wp + j];
    dinp[idx] = acc;
  }
}

// Rung 3 indexes in 32 bits: every tensor it touches (and the split-K workspace) must stay below 2^31.
bool fits_int32(const Conv2dParams& p) {
  const int64_t lim = INT_MAX;
  const int64_t Cg = p.C / p.groups;
  return p.N * p.C * p.H * p.W < lim && p.N * p.OC * p.OH * p.OW < lim && p.OC * Cg * p.KH * p.KW < lim &&
         p.N * p.OH * p.OW < lim && (p.W + 1) * p.stride_w < lim && (p.H + 1) * p.stride_h < lim &&
         p.KH * p.dilation_h < lim && p.KW * p.dilation_w < lim && p.pad_top < lim && p.pad_left < lim;
}

int resolve_rung(const Conv2dParams& p, int rung, int direction, const char* op) {
  FASTANN_CHECK(rung >= 0 && rung <= kConvNumRungs, op, ": rung must be None (0) or 1, 2, 3, got ", rung);
  if (rung == 0) rung = conv2d_pick_rung(p, direction);
  FASTANN_CHECK(rung != 3 || fits_int32(p), op, ": rung=3 (implicit GEMM) indexes in 32 bits and needs "
                "every tensor below 2^31 elements; use rung=2");
  return rung;
}

// ---- the ladder on zero-padding geometry (the forward and weight gradient read any padding mode) ----------
template <class T>
void forward_impl(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int rung,
                  cudaStream_t stream) {
  if (rung == 1) return conv2d_forward_rung1_direct(out, inp, weight, bias, p, stream);
  if (rung == 2) return conv2d_forward_rung2_im2col_gemm(out, inp, weight, bias, p, stream);
  conv2d_forward_rung3_implicit_gemm(out, inp, weight, bias, p, stream);
}

template <class T>
void backward_input_zeros(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int rung,
                          cudaStream_t stream) {
  if (rung == 1) return conv2d_backward_input_rung1_direct(dinp, dout, weight, p, stream);
  if (rung == 2) return conv2d_backward_input_rung2_im2col_gemm(dinp, dout, weight, p, stream);
  conv2d_backward_input_rung3_implicit_gemm(dinp, dout, weight, p, stream);
}

template <class T>
void backward_weight_impl(T* dweight, const T* dout, const T* inp, const Conv2dParams& p, int rung,
                          cudaStream_t stream) {
  if (rung == 1) return conv2d_backward_weight_rung1_direct(dweight, dout, inp, p, stream);
  if (rung == 2) return conv2d_backward_weight_rung2_im2col_gemm(dweight, dout, inp, p, stream);
  conv2d_backward_weight_rung3_implicit_gemm(dweight, dout, inp, p, stream);
}

}  // namespace

// ---- public entry points ---------------------------------------------------------------------------------
int conv2d_pick_rung(const Conv2dParams& p, int direction) {
  // The implicit GEMM's tile has 64 rows: OCg (forward, weight gradient) or Cg (input gradient). With only a
  // handful of rows per group (depthwise convolutions) most of it would be idle, and the direct loops win.
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  const int64_t rows = direction == 1 ? Cg : OCg;
  if (rows < 8) return 1;
  return fits_int32(p) ? 3 : 2;
}

template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int rung,
                    cudaStream_t stream) {
  rung = resolve_rung(p, rung, 0, "conv2d_forward");
  forward_impl(out, inp, weight, bias, p, rung, stream);
}

template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int rung,
                           cudaStream_t stream) {
  const bool automatic = rung == 0;
  rung = resolve_rung(p, rung, 1, "conv2d_backward_input");
  if (p.mode == PaddingMode::zeros) return backward_input_zeros(dinp, dout, weight, p, rung, stream);
  // reflect / replicate: the gradient w.r.t. the padded input, then fold the padding back onto the input.
  const Conv2dParams q = conv2d_on_padded_input(p);
  if (rung == 3 && !fits_int32(q)) {
    FASTANN_CHECK(automatic, "conv2d_backward_input: rung=3 needs every tensor below 2^31 elements (padded "
                  "input included); use rung=2");
    rung = 2;
  }
  Workspace<T> dpad(q.N * q.C * q.H * q.W, stream);
  backward_input_zeros(dpad.get(), dout, weight, q, rung, stream);
  const int64_t total = p.N * p.C * p.H * p.W;
  fold_padded_grad_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(dinp, dpad.get(), p);
  FASTANN_CUDA_CHECK_LAUNCH("fold_padded_grad_kernel");
}

template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int rung,
                            cudaStream_t stream) {
  rung = resolve_rung(p, rung, 2, "conv2d_backward_weight");
  backward_weight_impl(dweight, dout, inp, p, rung, stream);
  if (dbias) conv2d_bias_grad(dbias, dout, p, stream);
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dParams&, int, cudaStream_t);      \
  template void conv2d_backward_input<T>(T*, const T*, const T*, const Conv2dParams&, int, cudaStream_t);         \
  template void conv2d_backward_weight<T>(T*, T*, const T*, const T*, const Conv2dParams&, int, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
