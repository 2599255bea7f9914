// rnn_dispatch.cu: the CUDA recurrent family's entry points: checks of the sizes and the rung, then the rung's
// launchers (rnn_rung1_naive.cu, rnn_rung2_gemm.cu). Docs: docs/rnn.md.
#include "fastann/common.hpp"
#include "fastann/cuda/rnn.hpp"

namespace fastann::cuda {

namespace {
template <class T>
void check(const RnnArgs<T>& a, int rung, const char* op) {
  FASTANN_CHECK(rung >= 0 && rung <= kRnnRungs, op, ": rung must be in [0, ", kRnnRungs,
                "] (the CUDA ladder), got ", rung);
  FASTANN_CHECK(a.n > 0 && a.t > 0 && a.f > 0 && a.h > 0, op, ": N, T, F and H must be positive, got ", a.n, ", ",
                a.t, ", ", a.f, ", ", a.h);
}
}  // namespace

template <class T>
void rnn_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, int rung, cudaStream_t stream) {
  check(a, rung, "rnn_forward");
  if (rung == 1) rnn_rung1_naive_forward(output, h_n, c_n, saved, a, stream);
  else rnn_rung2_gemm_forward(output, h_n, c_n, saved, a, stream);
}

template <class T>
void rnn_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                  const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output, const T* saved,
                  const RnnArgs<T>& a, int rung, cudaStream_t stream) {
  check(a, rung, "rnn_backward");
  if (rung == 1)
    rnn_rung1_naive_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output, grad_h_n,
                             grad_c_n, output, saved, a, stream);
  else
    rnn_rung2_gemm_backward(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output, grad_h_n,
                            grad_c_n, output, saved, a, stream);
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void rnn_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&, int, cudaStream_t);                            \
  template void rnn_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*,    \
                                const RnnArgs<T>&, int, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
