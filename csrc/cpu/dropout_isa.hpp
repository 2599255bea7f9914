// dropout_isa.hpp: the entry point of the dropout mask loop in each ISA namespace (csrc/cpu/README.md),
// defined by dropout_loops.hpp in dropout_scalar.cpp / dropout_avx2.cpp / dropout_avx512.cpp.
#pragma once

#include <cstdint>

// src, dst (n,): dst_i = src_i * (keep_i ? scale : 0), keep_i = (bits(seed, i) >> 32) >= threshold.
#define FASTANN_DROPOUT_ENTRY_POINTS \
  template <class T> void dropout_apply(T* dst, const T* src, int64_t n, uint64_t key, uint64_t threshold, T scale);
namespace fastann::cpu::scalar { FASTANN_DROPOUT_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_DROPOUT_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_DROPOUT_ENTRY_POINTS }
#undef FASTANN_DROPOUT_ENTRY_POINTS
