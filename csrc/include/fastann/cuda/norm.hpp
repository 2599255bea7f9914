// fastann/cuda/norm.hpp: launchers of the CUDA batch-normalization kernels (csrc/cuda/norm.cu), float32 and
// float64. Host-callable; every launcher enqueues on `stream` and returns without synchronising.
//
// Layout: input (N,C) or (N,C,H,W), seen as (N, C, HW) with HW = 1 for (N,C). Per channel c the statistics
// run over the M = N*HW values x[n, c, :]. The math is the CPU's (fastann/cpu/norm.hpp; Ioffe & Szegedy 2015
// with PyTorch's conventions):
//   training:  mean = sum(x)/M,  var = sum((x-mean)^2)/M (biased),  invstd = 1/sqrt(var + eps)
//              y = (x - mean) * invstd * gamma + beta
//              running_mean = (1-momentum)*running_mean + momentum*mean
//              running_var  = (1-momentum)*running_var  + momentum*var*M/(M-1)   (unbiased variance)
//   inference: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta
//   backward:  dbeta = sum(dy),  dgamma = sum(dy*xhat),  dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat))
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// inp/out (N,C,HW); save_mean, save_invstd (C,); running_mean, running_var (C,) updated in place (either may
// be null: no update); weight, bias (C,) or null (gamma = 1, beta = 0). Requires N*HW >= 2 (checked).
template <class T>
void batch_norm_forward_training(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                 const T* inp, const T* weight, const T* bias, int64_t N, int64_t C, int64_t HW,
                                 double momentum, double eps, cudaStream_t stream);

// inp/out (N,C,HW); running_mean, running_var (C,); weight, bias (C,) or null.
template <class T>
void batch_norm_forward_inference(T* out, const T* inp, const T* running_mean, const T* running_var,
                                  const T* weight, const T* bias, int64_t N, int64_t C, int64_t HW, double eps,
                                  cudaStream_t stream);

// dout, inp, dinp (N,C,HW); weight (C,) or null (gamma = 1); save_mean, save_invstd (C,) from the training
// forward; dweight = sum(dy*xhat), dbias = sum(dy) (C,), always written.
template <class T>
void batch_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t N, int64_t C, int64_t HW,
                         cudaStream_t stream);

}  // namespace fastann::cuda
