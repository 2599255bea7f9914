// rnn_rung3_fused_isa.hpp: the entry points of rung 3 of the RNN ladder in each ISA namespace
// (csrc/cpu/README.md), defined by rnn_rung3_fused_loops.hpp as included from rnn_rung3_fused_scalar.cpp
// and rnn_rung3_fused_avx512.cpp; rnn_rung3_fused.cpp calls the ones simd_level() names (AVX2 runs the
// scalar path). Arguments as rnn_forward / rnn_backward in fastann/cpu/rnn.hpp.
#pragma once

#include "fastann/cpu/rnn.hpp"

#define FASTANN_RNN3_ENTRY_POINTS(T)                                                                        \
  void rnn_rung3_fused_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a);                 \
  void rnn_rung3_fused_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih,       \
                                T* dbias_hh, const T* grad_output, const T* grad_h_n, const T* grad_c_n,    \
                                const T* output, const T* saved, const RnnArgs<T>& a);
namespace fastann::cpu::scalar { FASTANN_RNN3_ENTRY_POINTS(float) FASTANN_RNN3_ENTRY_POINTS(double) }
namespace fastann::cpu::avx512 { FASTANN_RNN3_ENTRY_POINTS(float) FASTANN_RNN3_ENTRY_POINTS(double) }
#undef FASTANN_RNN3_ENTRY_POINTS
