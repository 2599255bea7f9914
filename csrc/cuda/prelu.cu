// prelu.cu: the parametric ReLU on the GPU, forward and backward, float32 and float64 (math and layout:
// fastann/cpu/prelu.hpp). y and dx: one thread per value. dw: one block per channel, its N*S values summed in
// double in a fixed order (block_sum), then, when the weight is shared, one thread adds the C channel sums in
// order: deterministic.
#include <algorithm>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/prelu.hpp"
#include "fastann/cuda/reduce.cuh"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

template <class T>
__global__ void prelu_forward_kernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ w,
                                     int64_t total, int64_t C, int64_t S, bool shared) {
  for (int64_t i = global_thread_index(); i < total; i += global_thread_stride()) {
    const T v = x[i];
    out[i] = v > T(0) ? v : w[shared ? 0 : (i / S) % C] * v;
  }
}

template <class T>
__global__ void prelu_grad_input_kernel(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ x,
                                        const T* __restrict__ w, int64_t total, int64_t C, int64_t S, bool shared) {
  for (int64_t i = global_thread_index(); i < total; i += global_thread_stride())
    dx[i] = x[i] > T(0) ? dy[i] : w[shared ? 0 : (i / S) % C] * dy[i];
}

// sums[c] = sum over (n, s) of dy x where x <= 0; one block per channel.
template <class T>
__global__ void prelu_weight_sums_kernel(double* __restrict__ sums, const T* __restrict__ dy, const T* __restrict__ x,
                                         int64_t N, int64_t C, int64_t S) {
  __shared__ double scratch[32];
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double a = 0.0;
    for (int64_t f = threadIdx.x; f < N * S; f += blockDim.x) {
      const int64_t i = ((f / S) * C + c) * S + f % S;
      a += x[i] > T(0) ? 0.0 : double(dy[i]) * double(x[i]);
    }
    a = block_sum(a, scratch);
    if (threadIdx.x == 0) sums[c] = a;
  }
}

template <class T>
__global__ void prelu_weight_finalize_kernel(T* __restrict__ dw, const double* __restrict__ sums, int64_t C,
                                             bool shared) {
  if (shared) {
    if (global_thread_index() == 0) {
      double s = 0.0;
      for (int64_t c = 0; c < C; ++c) s += sums[c];
      dw[0] = T(s);
    }
    return;
  }
  for (int64_t c = global_thread_index(); c < C; c += global_thread_stride()) dw[c] = T(sums[c]);
}

}  // namespace

template <class T>
void prelu_forward(T* out, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S, bool shared,
                   cudaStream_t stream) {
  const int64_t total = N * C * S;
  if (total <= 0) return;
  prelu_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, weight, total, C, S, shared);
  FASTANN_CUDA_CHECK_LAUNCH("prelu_forward_kernel");
}

template <class T>
void prelu_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S,
                    bool shared, cudaStream_t stream) {
  const int64_t total = N * C * S;
  if (total <= 0) return;
  prelu_grad_input_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(dinp, dout, inp, weight, total, C, S, shared);
  FASTANN_CUDA_CHECK_LAUNCH("prelu_grad_input_kernel");
  Workspace<double> sums(C, stream);
  prelu_weight_sums_kernel<T><<<unsigned(std::min<int64_t>(C, 65535)), kBlock, 0, stream>>>(sums.get(), dout, inp, N,
                                                                                            C, S);
  FASTANN_CUDA_CHECK_LAUNCH("prelu_weight_sums_kernel");
  prelu_weight_finalize_kernel<T><<<grid_for(C), kBlock, 0, stream>>>(dweight, sums.get(), C, shared);
  FASTANN_CUDA_CHECK_LAUNCH("prelu_weight_finalize_kernel");
}

#define FASTANN_PRELU_INSTANTIATE(T)                                                                          \
  template void prelu_forward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool, cudaStream_t);     \
  template void prelu_backward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, bool,     \
                                  cudaStream_t);
FASTANN_PRELU_INSTANTIATE(float)
FASTANN_PRELU_INSTANTIATE(double)
#undef FASTANN_PRELU_INSTANTIATE

}  // namespace fastann::cuda
