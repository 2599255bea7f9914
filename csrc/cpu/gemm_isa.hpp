// gemm_isa.hpp: the entry points of the packed GEMM in each ISA namespace (csrc/cpu/README.md), defined in
// gemm_scalar.cpp, gemm_avx2.cpp and gemm_avx512.cpp; gemm.cpp calls the ones simd_level() names.
#pragma once

#include "fastann/cpu/gemm.hpp"

namespace fastann::cpu {
// A SIMD path's micro-tile and its KC ceiling: past kc_max a longer K block was measured not to pay (the
// C traffic it saves is already small) while it pushes the packed panels out of the L2.
// col_step: a last, narrow column panel is computed rounded up to a multiple of col_step columns (the vector
// width; the full panel, nr, without narrow variants). split_max_cols: a panel of at most this many columns
// sums its even and odd steps p in separate accumulators (0: never), which rounds differently from one chain.
struct GemmKernelShape {
  int mr, nr;
  int64_t kc_max;
  int col_step, split_max_cols;
};
}  // namespace fastann::cpu

// gemm_packed: rung 3 on one thread with the given cache blocks; kernel_shape: that path's MR x NR (rung 4
// cuts C into multiples of it) and the longest KC worth running (gemm.cpp derives the blocks from both).
// linear_grad_prologue: the pass of the linear layer's backward before its GEMMs; linear_store_transposed: the
// store of its forward computed as y^T; linear_forward_narrow / linear_backward_narrow: the layer with few
// outputs as dot products (all in gemm_packed.hpp).
#define FASTANN_GEMM_ENTRY_POINTS                                                                       \
  void gemm_packed(const GemmArgs<float>& g, const GemmBlocking& b);                                    \
  void gemm_packed(const GemmArgs<double>& g, const GemmBlocking& b);                                   \
  GemmKernelShape kernel_shape(float);                                                                  \
  GemmKernelShape kernel_shape(double);                                                                 \
  void linear_grad_prologue(float* dz, float* dbias, const float* grad_output, const float* output,    \
                            int64_t n, int64_t out_features);                                           \
  void linear_grad_prologue(double* dz, double* dbias, const double* grad_output, const double* output, \
                            int64_t n, int64_t out_features);                                           \
  void linear_store_transposed(float* out, const float* yt, const float* bias, int64_t n,              \
                               int64_t out_features, bool relu);                                        \
  void linear_store_transposed(double* out, const double* yt, const double* bias, int64_t n,           \
                               int64_t out_features, bool relu);                                        \
  void linear_forward_narrow(float* y, const float* x, const float* w, const float* bias, int64_t n,    \
                             int64_t in, int64_t out, bool relu);                                       \
  void linear_forward_narrow(double* y, const double* x, const double* w, const double* bias, int64_t n, \
                             int64_t in, int64_t out, bool relu);                                       \
  void linear_backward_narrow(float* dinput, float* dweight, const float* dz, const float* x,           \
                              const float* w, int64_t n, int64_t in, int64_t out);                      \
  void linear_backward_narrow(double* dinput, double* dweight, const double* dz, const double* x,      \
                              const double* w, int64_t n, int64_t in, int64_t out);
namespace fastann::cpu::scalar { FASTANN_GEMM_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_GEMM_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_GEMM_ENTRY_POINTS }
#undef FASTANN_GEMM_ENTRY_POINTS

// GFLOP/s of one core's fp32 FMAs, measured for `seconds` of thread CPU time (the vector ISAs only).
namespace fastann::cpu::avx2 { double fma_peak_gflops(double seconds); }
namespace fastann::cpu::avx512 { double fma_peak_gflops(double seconds); }
