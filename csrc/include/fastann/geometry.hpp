// Geometry shared by the CPU and CUDA backends (host code, compiled by g++ and nvcc alike): the parameter
// structs of conv2d and 2-D pooling and their output-size formulas. Each backend validates the numbers
// itself (conv2d_validate, make_pool2d_geometry in csrc/cpu/ and csrc/cuda/) before any kernel sees them;
// both namespaces fastann::cpu and fastann::cuda name these types through using-declarations.
#pragma once

#include <cstdint>

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

}  // namespace fastann
