// rnn_rung3_fused.cpp: rung 3 of the RNN ladder, the dispatch on the instruction set. The code is
// rnn_rung3_fused_loops.hpp, compiled once per ISA (rnn_rung3_fused_avx512.cpp, rnn_rung3_fused_scalar.cpp);
// a CPU without AVX-512 runs the scalar path (rnn_forward's auto choice then takes rung 2, whose GEMM has
// an AVX2 micro-kernel).
#include "fastann/common.hpp"
#include "fastann/cpu/rnn.hpp"
#include "rnn_rung3_fused_isa.hpp"

namespace fastann::cpu {

template <class T>
void rnn_rung3_fused_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a) {
  if (simd_level() == SimdLevel::avx512) avx512::rnn_rung3_fused_forward(output, h_n, c_n, saved, a);
  else scalar::rnn_rung3_fused_forward(output, h_n, c_n, saved, a);
}

template <class T>
void rnn_rung3_fused_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                              const T* saved, const RnnArgs<T>& a) {
  if (simd_level() == SimdLevel::avx512)
    avx512::rnn_rung3_fused_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output,
                                     grad_h_n, grad_c_n, output, saved, a);
  else
    scalar::rnn_rung3_fused_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output,
                                     grad_h_n, grad_c_n, output, saved, a);
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void rnn_rung3_fused_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&);                                   \
  template void rnn_rung3_fused_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, \
                                            const T*, const RnnArgs<T>&);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cpu
