// gemm_isa.hpp: the entry points of the packed GEMM in each ISA namespace (csrc/cpu/README.md), defined in
// gemm_scalar.cpp, gemm_avx2.cpp and gemm_avx512.cpp; gemm.cpp calls the ones simd_level() names.
#pragma once

#include "fastann/cpu/gemm.hpp"

// gemm_packed: rung 3 on one thread; micro_tile: that path's MR x NR (rung 4 cuts C into multiples of it).
#define FASTANN_GEMM_ENTRY_POINTS                 \
  void gemm_packed(const GemmArgs<float>& g);     \
  void gemm_packed(const GemmArgs<double>& g);    \
  void micro_tile(float, int* mr, int* nr);       \
  void micro_tile(double, int* mr, int* nr);
namespace fastann::cpu::scalar { FASTANN_GEMM_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_GEMM_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_GEMM_ENTRY_POINTS }
#undef FASTANN_GEMM_ENTRY_POINTS

// GFLOP/s of one core's fp32 FMAs, measured for `seconds` of thread CPU time (the vector ISAs only).
namespace fastann::cpu::avx2 { double fma_peak_gflops(double seconds); }
namespace fastann::cpu::avx512 { double fma_peak_gflops(double seconds); }
