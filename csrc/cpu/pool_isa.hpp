// pool_isa.hpp: the per-plane 2x2 / stride-2 pooling loops in each ISA namespace (csrc/cpu/README.md),
// defined in pool_scalar.cpp and pool_avx512.cpp; pool.cpp calls the ones simd_level() names (pool has no
// AVX2 file: avx2 runs the scalar loops).
//
// One (H,W) plane whose windows are 2x2 at stride 2, no padding or dilation, all inside the plane
// (max_pool2d_is_2x2_stride2): inp (H,W) with H >= 2*OH and W >= 2*OW, out and indices (OH,OW).
//   max_pool2d_2x2: the maximum of each window and its flat index ih*W + iw (max_pool2d's rule: taps in
//                   row-major order, a tap takes over when greater or NaN).
//   avg_pool2d_2x2: ((r0c0 + r0c1) + (r1c0 + r1c1)) * 0.25.
#pragma once

#include <cstdint>

#define FASTANN_POOL_ENTRY_POINTS                                                                              \
  void max_pool2d_2x2(float* out, int64_t* indices, const float* inp, int64_t W, int64_t OH, int64_t OW);     \
  void max_pool2d_2x2(double* out, int64_t* indices, const double* inp, int64_t W, int64_t OH, int64_t OW);   \
  void avg_pool2d_2x2(float* out, const float* inp, int64_t W, int64_t OH, int64_t OW);                       \
  void avg_pool2d_2x2(double* out, const double* inp, int64_t W, int64_t OH, int64_t OW);
namespace fastann::cpu::scalar { FASTANN_POOL_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_POOL_ENTRY_POINTS }
#undef FASTANN_POOL_ENTRY_POINTS
