// conv_validate.cpp: conv2d_validate, the geometry checks every conv2d entry point runs first (the CPU
// bindings call it). Docs: docs/conv.md.
#include <algorithm>
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cpu/conv.hpp"

namespace fastann::cpu {

namespace {

int64_t mul_checked(int64_t a, int64_t b, const char* op) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail(op, ": array size overflows int64 (", a, " x ", b, ")");
  return r;
}

}  // namespace

void conv2d_validate(Conv2dParams& p, const char* op) {
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
  FASTANN_CHECK(p.KH < (int64_t(1) << 31) && p.KW < (int64_t(1) << 31) && p.dilation_h < (int64_t(1) << 31) &&
                    p.dilation_w < (int64_t(1) << 31) && p.H < (int64_t(1) << 40) && p.W < (int64_t(1) << 40),
                op, ": sizes too large");
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

}  // namespace fastann::cpu
