// rnn_dispatch.cpp: the RNN family's entry points: checks of the sizes and the rung, then the rung's code
// (rnn_rung1_naive.cpp, rnn_rung2_gemm.cpp, rnn_rung3_fused.cpp). Rung 0 (auto) runs rung 3 where the CPU has
// AVX-512 (its micro-kernel's ISA) and rung 2 elsewhere, whose GEMM also has an AVX2 micro-kernel.
#include "fastann/common.hpp"
#include "fastann/cpu/rnn.hpp"
#include "internal/aligned_scratch.hpp"

namespace fastann::cpu {

namespace {
template <class T>
void check(const RnnArgs<T>& a, int rung, const char* op) {
  FASTANN_CHECK(rung >= 0 && rung <= kRnnRungs, op, ": rung must be in [0, ", kRnnRungs, "], got ", rung);
  FASTANN_CHECK(a.n > 0 && a.t > 0 && a.f > 0 && a.h > 0, op, ": N, T, F and H must be positive, got ", a.n, ", ",
                a.t, ", ", a.f, ", ", a.h);
}
int pick(int rung) {
  if (rung != 0) return rung;
  return simd_level() == SimdLevel::avx512 ? 3 : 2;
}
}  // namespace

template <class T>
void rnn_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, int rung) {
  check(a, rung, "rnn_forward");
  rung = pick(rung);
  if (rung == 1) rnn_rung1_naive_forward(output, h_n, c_n, saved, a);
  else if (rung == 2) rnn_rung2_gemm_forward(output, h_n, c_n, saved, a);
  else rnn_rung3_fused_forward(output, h_n, c_n, saved, a);
}

template <class T>
void rnn_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                  const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output, const T* saved,
                  const RnnArgs<T>& a, int rung) {
  check(a, rung, "rnn_backward");
  rung = pick(rung);
  // Rungs 1 and 2 always form the input gradient: without dinput they write it to scratch.
  AlignedScratch<T> unused(dinput == nullptr && rung != 3 ? a.n * a.t * a.f : 0);
  if (dinput == nullptr) dinput = unused.data();
  if (rung == 1)
    rnn_rung1_naive_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output, grad_h_n,
                             grad_c_n, output, saved, a);
  else if (rung == 2)
    rnn_rung2_gemm_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output, grad_h_n,
                            grad_c_n, output, saved, a);
  else
    rnn_rung3_fused_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output,
                             grad_h_n, grad_c_n, output, saved, a);
}

#define FASTANN_INSTANTIATE(T)                                                                              \
  template void rnn_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&, int);                                     \
  template void rnn_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*, \
                                const RnnArgs<T>&, int);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cpu
