// fastann/cuda/layer_norm.hpp: launchers of the CUDA layer-normalization kernels (csrc/cuda/layer_norm.cu),
// float32 and float64. Host-callable; every launcher enqueues on `stream` and returns without synchronising.
// Layout and math as the CPU's (fastann/cpu/layer_norm.hpp): input (M,N), statistics per row over its N values.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// inp/out (M,N); save_mean, save_invstd (M,); weight, bias (N,) or null (gamma = 1, beta = 0).
template <class T>
void layer_norm_forward(T* out, T* save_mean, T* save_invstd, const T* inp, const T* weight, const T* bias,
                        int64_t M, int64_t N, double eps, cudaStream_t stream);

// dout, inp, dinp (M,N); weight (N,) or null; save_mean, save_invstd (M,); dweight = sum(dy*xhat),
// dbias = sum(dy) (N,), each skipped when null.
template <class T>
void layer_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t M, int64_t N, cudaStream_t stream);

}  // namespace fastann::cuda
