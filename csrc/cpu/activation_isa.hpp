// activation_isa.hpp: the entry points of the activation loops in each ISA namespace (csrc/cpu/README.md),
// defined by activation_loops.hpp in activation_scalar.cpp / activation_avx2.cpp / activation_avx512.cpp.
#pragma once

#include <cstdint>

#include "fastann/cpu/activation.hpp"

// inp, out, dout, dinp (n,); kind checked by the caller.
#define FASTANN_ACTIVATION_ENTRY_POINTS                                                  \
  template <class T> void act_forward(T* out, const T* inp, int64_t n, Activation kind, T p); \
  template <class T>                                                                     \
  void act_backward(T* dinp, const T* inp, const T* dout, int64_t n, Activation kind, T p);
namespace fastann::cpu::scalar { FASTANN_ACTIVATION_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_ACTIVATION_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_ACTIVATION_ENTRY_POINTS }
#undef FASTANN_ACTIVATION_ENTRY_POINTS
