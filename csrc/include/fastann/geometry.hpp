// Geometry shared by the CPU and CUDA backends (host code, compiled by g++ and nvcc alike): the parameter
// structs of conv2d and 2-D pooling, their output-size formulas, and their one validation each
// (conv2d_validate, make_pool2d_geometry), which the bindings of both modules run before any kernel sees
// the numbers. Both namespaces fastann::cpu and fastann::cuda name these through using-declarations.
//
// Bounds: every size, stride, padding and dilation is bounded so that no index a kernel computes from them
// (input row/column, padded position, output position times stride, tap times dilation, buffer sizes)
// overflows int64; element counts must fit in int64 too.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fastann/common.hpp"

namespace fastann {

// ---- conv2d --------------------------------------------------------------------------------------------
enum class PaddingMode : int { zeros = 0, reflect = 1, replicate = 2 };

// Geometry of one convolution, in conv2d's own terms (for conv_transpose2d: conv2d's input is the
// transpose's output). Every size is validated by conv2d_validate before any kernel runs.
struct Conv2dParams {
  int64_t N = 0, C = 0, H = 0, W = 0;         // input (N,C,H,W)
  int64_t OC = 0, KH = 0, KW = 0;              // weight (OC, C/groups, KH, KW)
  int64_t OH = 0, OW = 0;                      // output (N,OC,OH,OW)
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  PaddingMode mode = PaddingMode::zeros;
};

// Output length of a convolution along one axis (PyTorch's formula):
//   out = floor((n + pad_lo + pad_hi - dilation*(k - 1) - 1) / stride) + 1
// The numerator is >= 0 once conv2d_validate has checked that the dilated kernel fits the padded input,
// so C++'s truncating division is the floor.
inline int64_t conv2d_output_size(int64_t n, int64_t pad_lo, int64_t pad_hi, int64_t k, int64_t stride,
                                  int64_t dilation) {
  return (n + pad_lo + pad_hi - dilation * (k - 1) - 1) / stride + 1;
}

// a * b for non-negative sizes; ValueError (std::invalid_argument) naming `op` when it overflows int64.
inline int64_t mul_checked(int64_t a, int64_t b, const char* op) {
  FASTANN_CHECK(a >= 0 && b >= 0 && (a == 0 || b <= INT64_MAX / a), op, ": array size overflows int64 (", a,
                " x ", b, ")");
  return a * b;
}

// Fills p.OH/p.OW and throws std::invalid_argument (naming `op`) for any inconsistency: non-positive sizes,
// stride or dilation, negative padding, groups not dividing C and OC, reflect padding >= the input size, a
// (dilated) kernel larger than the padded input, sizes beyond the bounds in the header comment (kernel,
// stride, dilation < 2^31; input extent and padding < 2^40), element counts that overflow int64.
inline void conv2d_validate(Conv2dParams& p, const char* op) {
  FASTANN_CHECK(p.N > 0 && p.C > 0 && p.H > 0 && p.W > 0, op, ": input shape (", p.N, ", ", p.C, ", ", p.H, ", ",
                p.W, ") must be positive");
  FASTANN_CHECK(p.OC > 0 && p.KH > 0 && p.KW > 0, op, ": weight shape (", p.OC, ", _, ", p.KH, ", ", p.KW,
                ") must be positive");
  FASTANN_CHECK(p.stride_h > 0 && p.stride_w > 0, op, ": stride must be positive, got (", p.stride_h, ", ",
                p.stride_w, ")");
  FASTANN_CHECK(p.dilation_h > 0 && p.dilation_w > 0, op, ": dilation must be positive, got (", p.dilation_h,
                ", ", p.dilation_w, ")");
  FASTANN_CHECK(p.pad_top >= 0 && p.pad_bottom >= 0 && p.pad_left >= 0 && p.pad_right >= 0, op,
                ": padding must be non-negative, got (", p.pad_top, ", ", p.pad_bottom, ", ", p.pad_left, ", ",
                p.pad_right, ")");
  FASTANN_CHECK(p.groups > 0, op, ": groups must be positive, got ", p.groups);
  FASTANN_CHECK(p.C % p.groups == 0, op, ": groups=", p.groups, " does not divide the input channels C=", p.C);
  FASTANN_CHECK(p.OC % p.groups == 0, op, ": groups=", p.groups, " does not divide the output channels C_out=",
                p.OC);
  if (p.mode == PaddingMode::reflect)
    FASTANN_CHECK(std::max(p.pad_top, p.pad_bottom) < p.H && std::max(p.pad_left, p.pad_right) < p.W, op,
                  ": reflect padding (", p.pad_top, ", ", p.pad_bottom, ", ", p.pad_left, ", ", p.pad_right,
                  ") must be smaller than the input size (", p.H, ", ", p.W, ")");
  constexpr int64_t k31 = int64_t(1) << 31, k40 = int64_t(1) << 40;
  FASTANN_CHECK(p.KH < k31 && p.KW < k31 && p.dilation_h < k31 && p.dilation_w < k31 && p.stride_h < k31 &&
                    p.stride_w < k31 && p.H < k40 && p.W < k40 && p.pad_top < k40 && p.pad_bottom < k40 &&
                    p.pad_left < k40 && p.pad_right < k40,
                op, ": sizes too large (kernel, stride and dilation must be below 2^31, input size and padding "
                "below 2^40)");
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  FASTANN_CHECK(p.dilation_h * (p.KH - 1) + 1 <= Hp && p.dilation_w * (p.KW - 1) + 1 <= Wp, op, ": kernel (",
                p.KH, ", ", p.KW, ") with dilation (", p.dilation_h, ", ", p.dilation_w,
                ") is larger than the padded input (", Hp, ", ", Wp, ")");
  p.OH = conv2d_output_size(p.H, p.pad_top, p.pad_bottom, p.KH, p.stride_h, p.dilation_h);
  p.OW = conv2d_output_size(p.W, p.pad_left, p.pad_right, p.KW, p.stride_w, p.dilation_w);
  // Every buffer the kernels index: input, padded input, output, weight, and one image's column matrix.
  mul_checked(mul_checked(mul_checked(p.N, p.C, op), Hp, op), Wp, op);
  mul_checked(mul_checked(mul_checked(p.N, p.OC, op), p.OH, op), p.OW, op);
  mul_checked(mul_checked(mul_checked(p.OC, p.C, op), p.KH, op), p.KW, op);
  mul_checked(mul_checked(mul_checked(p.C, p.KH * p.KW, op), p.OH, op), p.OW + 64, op);
}

// The same convolution on an input that already carries its padding (reflect / replicate padding is
// materialised first, then convolved with no padding): pads 0, zeros mode.
inline Conv2dParams conv2d_on_padded_input(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.H = p.H + p.pad_top + p.pad_bottom;
  q.W = p.W + p.pad_left + p.pad_right;
  q.pad_top = q.pad_bottom = q.pad_left = q.pad_right = 0;
  q.mode = PaddingMode::zeros;
  return q;
}

// ---- 2-D pooling ---------------------------------------------------------------------------------------
// Geometry of one 2-D pooling call. Built and validated by make_pool2d_geometry.
struct Pool2dGeometry {
  int64_t N, C, H, W;     // input (N,C,H,W)
  int64_t KH, KW;         // window
  int64_t SH, SW;         // stride
  int64_t PH, PW;         // padding (each side)
  int64_t DH, DW;         // dilation
  int64_t OH, OW;         // output (N,C,OH,OW)
  bool ceil_mode;
};

// Floor division for a possibly negative numerator (PyTorch's div_rtn).
inline int64_t div_floor(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// PyTorch's pooled output size of one dimension. May return <= 0: make_pool2d_geometry rejects that.
inline int64_t pool2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                  bool ceil_mode) {
  int64_t out = div_floor(in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  // ceil_mode: the last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// True when a pooling window of one dimension (taps start, start + D, ..., start + (K-1) D) has no tap
// inside [0, I): with dilation a window can skip over the whole input and lie entirely in the padding.
inline bool pool2d_window_misses(int64_t start, int64_t K, int64_t D, int64_t I) {
  if (start >= I) return true;
  if (start >= 0) return false;
  const int64_t first = (-start + D - 1) / D;  // first tap at or right of 0
  return first >= K || start + first * D >= I;
}

// Checks every argument (kernel/stride/dilation >= 1 and <= 2^30, 0 <= padding <= kernel/2, input extent
// <= 2^40, output size >= 1, no window entirely inside the padding) and returns the geometry;
// std::invalid_argument naming `op` otherwise.
inline Pool2dGeometry make_pool2d_geometry(const char* op, int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH,
                                           int64_t KW, int64_t SH, int64_t SW, int64_t PH, int64_t PW, int64_t DH,
                                           int64_t DW, bool ceil_mode) {
  FASTANN_CHECK(N >= 1 && C >= 1 && H >= 1 && W >= 1, op, ": input is empty (shape (", N, ", ", C, ", ", H,
                ", ", W, "))");
  FASTANN_CHECK(KH >= 1 && KW >= 1, op, ": kernel_size must be positive, got (", KH, ", ", KW, ")");
  FASTANN_CHECK(SH >= 1 && SW >= 1, op, ": stride must be positive, got (", SH, ", ", SW, ")");
  FASTANN_CHECK(DH >= 1 && DW >= 1, op, ": dilation must be positive, got (", DH, ", ", DW, ")");
  FASTANN_CHECK(PH >= 0 && PW >= 0, op, ": padding must be non-negative, got (", PH, ", ", PW, ")");
  FASTANN_CHECK(PH <= KH / 2 && PW <= KW / 2, op, ": padding (", PH, ", ", PW,
                ") must be at most half the kernel_size (", KH, ", ", KW, ")");
  constexpr int64_t k30 = int64_t(1) << 30, k40 = int64_t(1) << 40;
  FASTANN_CHECK(KH <= k30 && KW <= k30 && SH <= k30 && SW <= k30 && DH <= k30 && DW <= k30, op,
                ": kernel_size, stride and dilation must be below 2^30");
  FASTANN_CHECK(H <= k40 && W <= k40, op, ": input (", H, ", ", W, ") too large (each extent at most 2^40)");
  mul_checked(mul_checked(mul_checked(N, C, op), H, op), W, op);
  Pool2dGeometry g{N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, 0, 0, ceil_mode};
  g.OH = pool2d_output_size(H, KH, SH, PH, DH, ceil_mode);
  g.OW = pool2d_output_size(W, KW, SW, PW, DW, ceil_mode);
  FASTANN_CHECK(g.OH >= 1 && g.OW >= 1, op, ": output size (", g.OH, ", ", g.OW, ") is too small for input (",
                H, ", ", W, "), kernel_size (", KH, ", ", KW, "), stride (", SH, ", ", SW, "), padding (", PH,
                ", ", PW, "), dilation (", DH, ", ", DW, ")");
  // Only windows that start in the left padding can miss the input (the output size rule makes every
  // window start before the input's end), so the windows o < ceil(P / S) are the ones to look at.
  auto some_window_misses = [](int64_t O, int64_t S, int64_t P, int64_t K, int64_t D, int64_t I) {
    for (int64_t o = 0; o < O && o * S < P; ++o)
      if (pool2d_window_misses(o * S - P, K, D, I)) return true;
    return pool2d_window_misses((O - 1) * S - P, K, D, I);
  };
  FASTANN_CHECK(!some_window_misses(g.OH, SH, PH, KH, DH, H) && !some_window_misses(g.OW, SW, PW, KW, DW, W),
                op, ": with this padding (", PH, ", ", PW, ") and dilation (", DH, ", ", DW,
                ") a pooling window lies entirely in the padding of input (", H, ", ", W, ")");
  return g;
}

}  // namespace fastann
