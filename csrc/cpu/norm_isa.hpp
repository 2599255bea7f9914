// norm_isa.hpp: the tables of batch norm's inner loops and the entry points that return them in each ISA
// namespace (csrc/cpu/README.md), defined in norm_scalar.cpp and norm_avx512.cpp; norm.cpp takes the
// tables of the ISA simd_level() names (norm has no AVX2 file: avx2 runs the scalar loops) and its kernels
// call through them, one run or plane per call.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// The inner loops over one contiguous run of a channel's values.
template <class T>
struct BatchNormLoops {
  // s1 += sum(x - shift), s2 += sum((x - shift)^2) over x[0..n), in double.
  void (*shifted_sums)(const T* x, int64_t n, double shift, double* s1, double* s2);
  // y = (x - mean) * scale + beta.
  void (*normalize)(T* y, const T* x, int64_t n, T mean, T scale, T beta);
  // sum_dy += sum(dy), sum_dy_xmu += sum(dy * (x - mean)), in double.
  void (*grad_sums)(const T* dy, const T* x, int64_t n, T mean, double* sum_dy, double* sum_dy_xmu);
  // dx = a*dy + b*(x - mean) + c.
  void (*grad_input)(T* dx, const T* dy, const T* x, int64_t n, T mean, T a, T b, T c);
};

// The fused kernels' loops over one (n, c) plane.
template <class T>
struct BatchNormReluLoops {
  // y = relu((x - mean) * scale + beta) over n values.
  void (*relu)(T* y, const T* x, int64_t n, T mean, T scale, T beta);
  // y (H/2 x W/2), window_index <- the 2x2 max of the same, H x W plane.
  void (*relu_pool2)(T* y, uint8_t* window_index, const T* x, int64_t H, int64_t W, T mean, T scale, T beta);
  // dz = y > 0 ? dy : 0; sum_dz += sum(dz), sum_dz_xmu += sum(dz * (x - mean)).
  void (*relu_grad_sums)(const T* dy, const T* y, const T* x, int64_t n, T mean, double* sum_dz,
                         double* sum_dz_xmu);
  // dx = a*dz + b*(x - mean) + c.
  void (*relu_grad_input)(T* dx, const T* dy, const T* y, const T* x, int64_t n, T mean, T a, T b, T c);
  // The same two with dz routed through the 2x2 windows' winners.
  void (*relu_pool2_grad_sums)(const T* dy, const T* y, const uint8_t* window_index, const T* x, int64_t H,
                               int64_t W, T mean, double* sum_dz, double* sum_dz_xmu);
  void (*relu_pool2_grad_input)(T* dx, const T* dy, const T* y, const uint8_t* window_index, const T* x,
                                int64_t H, int64_t W, T mean, T a, T b, T c);
  // dx (H x W) = dy routed to the winners where y > 0, zero elsewhere (no normalization behind it).
  void (*relu_pool2_route)(T* dx, const T* dy, const T* y, const uint8_t* window_index, int64_t H, int64_t W);
};

}  // namespace fastann::cpu

// The argument only selects the overload.
#define FASTANN_NORM_ENTRY_POINTS                         \
  BatchNormLoops<float> batch_norm_loops(float);          \
  BatchNormLoops<double> batch_norm_loops(double);        \
  BatchNormReluLoops<float> batch_norm_relu_loops(float); \
  BatchNormReluLoops<double> batch_norm_relu_loops(double);
namespace fastann::cpu::scalar { FASTANN_NORM_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_NORM_ENTRY_POINTS }
#undef FASTANN_NORM_ENTRY_POINTS
