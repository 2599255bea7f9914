// cross_entropy_isa.hpp: the entry points of the softmax cross-entropy loops in each ISA namespace
// (csrc/cpu/README.md), defined by cross_entropy_loops.hpp in cross_entropy_scalar.cpp / cross_entropy_avx2.cpp /
// cross_entropy_avx512.cpp. Arguments as fastann::cpu::cross_entropy_sparse / cross_entropy_dense (loss.hpp).
#pragma once

#include <cstdint>

#define FASTANN_CROSS_ENTROPY_ENTRY_POINTS                                                                  \
  template <class T, class L>                                                                                \
  void cross_entropy_sparse_rows(T* loss, T* dinp, const T* inp, const L* labels, int64_t N, int64_t C,       \
                                 double g);                                                                 \
  template <class T>                                                                                         \
  void cross_entropy_dense_rows(T* loss, T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double g);
namespace fastann::cpu::scalar { FASTANN_CROSS_ENTROPY_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_CROSS_ENTROPY_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_CROSS_ENTROPY_ENTRY_POINTS }
#undef FASTANN_CROSS_ENTROPY_ENTRY_POINTS
