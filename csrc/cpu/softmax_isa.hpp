// softmax_isa.hpp: the entry point of the softmax loops in each ISA namespace (csrc/cpu/README.md), defined by
// softmax_loops.hpp in softmax_scalar.cpp / softmax_avx2.cpp / softmax_avx512.cpp.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// Which of the four kernels softmax_lines runs.
enum class SoftmaxOp { softmax, log_softmax, softmax_backward, log_softmax_backward };

}  // namespace fastann::cpu

// dst, x (outer, A, inner) C-contiguous; g (same shape) for the backwards, unused by the forwards; x is the
// input of a forward, the saved output of a backward.
#define FASTANN_SOFTMAX_ENTRY_POINTS \
  template <class T>                 \
  void softmax_lines(SoftmaxOp op, T* dst, const T* x, const T* g, int64_t outer, int64_t A, int64_t inner);
namespace fastann::cpu::scalar { FASTANN_SOFTMAX_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_SOFTMAX_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_SOFTMAX_ENTRY_POINTS }
#undef FASTANN_SOFTMAX_ENTRY_POINTS
