// conv_common.hpp: what conv2d's CPU rungs share (baseline code; include it only from baseline files): where a
// work item's channels lie, the im2col index ranges, the padded image of rungs 3 and 4, the flipped-kernel
// form of the input gradient, the bias gradient, the scan for infinities and NaNs. Docs: docs/conv.md.
//
// Notation: Cg = C/groups, OCg = OC/groups, K = Cg*KH*KW (the reduction length of one output element),
// P = OH*OW (output positions per image). Per image n and group g, a convolution is the matrix product
//   out[n,g] (OCg x P) = W[g] (OCg x K) * col[n,g] (K x P)
// where col ("im2col") holds, in row k=(c,kh,kw) and column p=(oh,ow), the input element that tap (kh,kw)
// of channel c multiplies for output position p. Its two gradients are the two other products:
//   dcol (K x P) = W[g]^T * dout[n,g]          then col2im scatters dcol back onto the input gradient
//   dW[g] (OCg x K) += dout[n,g] * col^T       summed over the images
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "conv_avx512.hpp"
#include "fastann/common.hpp"
#include "fastann/cpu/conv.hpp"

namespace fastann::cpu::conv_detail {

inline bool have_avx512() { return simd_level() == SimdLevel::avx512; }

// 1x1, stride 1, no padding: the column matrix IS the input image (Cg x H*W); im2col can be skipped.
inline bool col_is_input(const Conv2dParams& p) {
  return p.KH == 1 && p.KW == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_bottom == 0 &&
         p.pad_left == 0 && p.pad_right == 0;
}

// Work item ng = n·groups + g is image n's group g. Its Cg input channels start at element ng·Cg·H·W of an
// (N,C,H,W) tensor (n·C + g·Cg = ng·Cg), its OCg output channels at ng·OCg·OH·OW of an (N,OC,OH,OW) one.
template <class T>
T* group_input(T* x, int64_t ng, const Conv2dParams& p) {
  return x + ng * (p.C / p.groups) * p.H * p.W;
}
template <class T>
T* group_output(T* y, int64_t ng, const Conv2dParams& p) {
  return y + ng * (p.OC / p.groups) * p.OH * p.OW;
}

// Asks `prefetch` for work item ng's input channels in x (N,C,H,W) and output channels in y (N,OC,OH,OW): the
// next item's, while this one computes (its output too, so that its first stores find their lines cached).
// Nothing when ng < 0 (no next item).
template <class T>
void prefetch_item(SpreadPrefetch& prefetch, const T* x, const T* y, int64_t ng, const Conv2dParams& p) {
  if (ng < 0) return;
  prefetch.add(group_input(x, ng, p), p.C / p.groups * p.H * p.W * int64_t(sizeof(T)));
  prefetch.add(group_output(y, ng, p), p.OC / p.groups * p.OH * p.OW * int64_t(sizeof(T)));
}

// dbias (OC) = dout (N,OC,OH,OW) summed over N, OH, OW; threads over channels.
template <class T>
void bias_grad(T* dbias, const T* dout, const Conv2dParams& p) {
  const int64_t P = p.OH * p.OW;
  parallel_for(p.OC, 8, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      // 16 independent partial sums: a single running sum would serialize on the add latency (4 cycles per
      // element); 16 lanes let the compiler use vector adds and keep the loop memory-bound.
      T part[16] = {};
      for (int64_t n = 0; n < p.N; ++n) {
        const T* row = dout + (n * p.OC + o) * P;
        int64_t i = 0;
        for (; i + 16 <= P; i += 16)
          for (int j = 0; j < 16; ++j) part[j] += row[i + j];
        for (; i < P; ++i) part[i % 16] += row[i];
      }
      T sum = T(0);
      for (int j = 0; j < 16; ++j) sum += part[j];
      dbias[o] = sum;
    }
  });
}

// Range of output columns ow whose input column ow*s - pad + tap*d lies in [0, n): [lo, hi).
inline void valid_range(int64_t n, int64_t pad, int64_t tap_offset, int64_t s, int64_t out, int64_t& lo,
                        int64_t& hi) {
  // iw = ow*s + (tap_offset - pad) >= 0  <=>  ow >= ceil((pad - tap_offset) / s)
  const int64_t shift = tap_offset - pad;
  lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
  // iw <= n-1  <=>  ow <= floor((n - 1 - shift) / s)
  hi = (n - 1 - shift) < 0 ? 0 : (n - 1 - shift) / s + 1;
  lo = std::min(lo, out);
  hi = std::min(std::max(hi, lo), out);
}

// img (Cg,H,W) of one image and group -> col (K, P), K = Cg*KH*KW, P = OH*OW. Zero padding.
template <class T>
void im2col(T* col, const T* img, const Conv2dParams& p, int64_t Cg) {
  const int64_t P = p.OH * p.OW;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        T* row = col + ((c * p.KH + kh) * p.KW + kw) * P;
        int64_t lo, hi;
        valid_range(p.W, p.pad_left, kw * p.dilation_w, p.stride_w, p.OW, lo, hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          T* dst = row + oh * p.OW;
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) {
            std::fill(dst, dst + p.OW, T(0));
            continue;
          }
          const T* src = img + (c * p.H + ih) * p.W + kw * p.dilation_w - p.pad_left;
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (p.stride_w == 1)
            std::memcpy(dst + lo, src + lo, (hi - lo) * sizeof(T));
          else
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * p.stride_w];
          for (int64_t ow = hi; ow < p.OW; ++ow) dst[ow] = T(0);
        }
      }
}

// The adjoint of im2col: img (Cg,H,W) += scatter of col (K, P). img must be zeroed by the caller.
template <class T>
void col2im(T* img, const T* col, const Conv2dParams& p, int64_t Cg) {
  const int64_t P = p.OH * p.OW;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const T* row = col + ((c * p.KH + kh) * p.KW + kw) * P;
        int64_t lo, hi;
        valid_range(p.W, p.pad_left, kw * p.dilation_w, p.stride_w, p.OW, lo, hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) continue;
          const T* src = row + oh * p.OW;
          T* dst = img + (c * p.H + ih) * p.W + kw * p.dilation_w - p.pad_left;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * p.stride_w] += src[ow];
        }
      }
}

// ---- the padded-image ("shifted rows") formulation of rungs 3 and 4 (stride 1) ------------------------
// With stride 1, put the output positions on the padded input's grid: q = oh*Wp + ow (ow < Wp, the last
// Wp-OW columns of each row are computed and thrown away). Then the column matrix's row k=(c,kh,kw) is
// simply the padded image shifted by off[k] = c*Hp*Wp + kh*dh*Wp + kw*dw:  col[k, q] = xpad[off[k] + q].
// Packing it is a contiguous copy per row (vector speed) instead of im2col's index arithmetic; the price
// is (Wp-OW)/Wp extra columns (2/16 for a 14x14 image with padding 1).
struct ShiftedGeometry {
  int64_t Hp, Wp, Q;             // padded image, Q = OH*Wp positions on the padded grid
  int64_t plane;                 // Cg*Hp*Wp
  int64_t slack;                 // zeros after the image: the last shifted row reads up to (KW-1)*dw past it
  std::vector<int64_t> off;      // off[k], k = (c*KH + kh)*KW + kw
};

inline ShiftedGeometry shifted_geometry(const Conv2dParams& p, int64_t Cg) {
  ShiftedGeometry s;
  s.Hp = p.H + p.pad_top + p.pad_bottom;
  s.Wp = p.W + p.pad_left + p.pad_right;
  s.Q = p.OH * s.Wp;
  s.plane = Cg * s.Hp * s.Wp;
  s.slack = (p.KW - 1) * p.dilation_w + 64;
  s.off.resize(Cg * p.KH * p.KW);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw)
        s.off[(c * p.KH + kh) * p.KW + kw] = c * s.Hp * s.Wp + kh * p.dilation_h * s.Wp + kw * p.dilation_w;
  return s;
}

// img (Cg,H,W) -> xpad (Cg,Hp,Wp) with zero borders, followed by `slack` zeros.
template <class T>
void pad_image(T* xpad, const T* img, const Conv2dParams& p, int64_t Cg, const ShiftedGeometry& s) {
  std::fill(xpad + s.plane, xpad + s.plane + s.slack, T(0));
  if (have_avx512()) {  // vector rows; its stores may spill up to 64 bytes into the slack (zeros there too)
    pad_image_avx512(xpad, img, Cg, p.H, p.W, p.pad_top, p.pad_left, s.Hp, s.Wp);
    return;
  }
  for (int64_t c = 0; c < Cg; ++c) {
    T* d = xpad + c * s.Hp * s.Wp;
    std::fill(d, d + p.pad_top * s.Wp, T(0));
    for (int64_t i = 0; i < p.H; ++i) {
      T* row = d + (p.pad_top + i) * s.Wp;
      const T* src = img + (c * p.H + i) * p.W;
      for (int64_t j = 0; j < p.pad_left; ++j) row[j] = T(0);
      for (int64_t j = 0; j < p.W; ++j) row[p.pad_left + j] = src[j];
      for (int64_t j = p.pad_left + p.W; j < s.Wp; ++j) row[j] = T(0);
    }
    std::fill(d + (p.pad_top + p.H) * s.Wp, d + s.Hp * s.Wp, T(0));
  }
}

// Stride 1 with padding <= dilation*(kernel-1) on every side: the input gradient is itself a stride-1
// convolution of dout, padded by d*(k-1) - pad, with the kernel flipped and its channel axes swapped (the
// "full" correlation). flipped_conv gives that convolution's geometry and weight.
inline bool input_grad_is_forward(const Conv2dParams& p) {
  const int64_t span_h = p.dilation_h * (p.KH - 1), span_w = p.dilation_w * (p.KW - 1);
  return p.stride_h == 1 && p.stride_w == 1 && p.pad_top <= span_h && p.pad_bottom <= span_h &&
         p.pad_left <= span_w && p.pad_right <= span_w;
}

template <class T>
struct FlippedConv {
  Conv2dParams q;
  std::vector<T> weight;
};

template <class T>
FlippedConv<T> flipped_conv(const T* weight, const Conv2dParams& p) {
  const int64_t span_h = p.dilation_h * (p.KH - 1), span_w = p.dilation_w * (p.KW - 1);
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G;
  FlippedConv<T> f{p, std::vector<T>(p.OC * Cg * p.KH * p.KW)};
  Conv2dParams& q = f.q;
  q.C = p.OC, q.H = p.OH, q.W = p.OW, q.OC = p.C;
  q.pad_top = span_h - p.pad_top, q.pad_bottom = span_h - p.pad_bottom;
  q.pad_left = span_w - p.pad_left, q.pad_right = span_w - p.pad_right;
  q.OH = p.H, q.OW = p.W;
  // flipped[g*Cg + c, oc, kh, kw] = weight[g*OCg + oc, c, KH-1-kh, KW-1-kw]
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t oc = 0; oc < OCg; ++oc)
        for (int64_t kh = 0; kh < p.KH; ++kh)
          for (int64_t kw = 0; kw < p.KW; ++kw)
            f.weight[(((g * Cg + c) * OCg + oc) * p.KH + kh) * p.KW + kw] =
                weight[(((g * OCg + oc) * Cg + c) * p.KH + (p.KH - 1 - kh)) * p.KW + (p.KW - 1 - kw)];
  return f;
}


// True when one of the n values at x is an infinity or a NaN.
template <class T>
bool any_non_finite(const T* x, int64_t n) {
  if (have_avx512()) return any_non_finite_avx512(x, n);
  bool found = false;
  for (int64_t i = 0; i < n; ++i) found |= !std::isfinite(x[i]);
  return found;
}

// Rung 4 (Winograd) takes 3x3 kernels with stride 1 and dilation 1 (F(2x2, 3x3), conv_rung4_winograd.cpp)
// and 4x4 kernels with stride 2, dilation 1 and one group (F(4x4, 2x2) on the stride phases,
// conv_rung4_winograd_phases.cpp).
inline bool winograd_phases_fits(const Conv2dParams& p) {
  return p.KH == 4 && p.KW == 4 && p.stride_h == 2 && p.stride_w == 2 && p.dilation_h == 1 && p.dilation_w == 1 &&
         p.groups == 1;
}
inline bool winograd_fits(const Conv2dParams& p) {
  return (p.KH == 3 && p.KW == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1) ||
         winograd_phases_fits(p);
}

}  // namespace fastann::cpu::conv_detail
