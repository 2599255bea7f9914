// fastann/cuda/prelu.hpp: launchers of the CUDA parametric ReLU (csrc/cuda/prelu.cu), float32 and float64;
// layout and math as the CPU's (fastann/cpu/prelu.hpp). Enqueued on `stream`, no synchronisation.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// inp/out (N,C,S); weight (C,) or (1,) when shared.
template <class T>
void prelu_forward(T* out, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S, bool shared,
                   cudaStream_t stream);

// dout, inp, dinp (N,C,S); weight, dweight (C,) or (1,) when shared.
template <class T>
void prelu_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S,
                    bool shared, cudaStream_t stream);

}  // namespace fastann::cuda
