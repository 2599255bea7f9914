// fastann/cuda/embedding.hpp: the embedding lookup and its backward on the GPU (csrc/cuda/embedding.cu), the
// twins of fastann/cpu/embedding.hpp with the same layouts and results: weight (V, D), indices (L,) int32 or
// int64, out / grad_output (L, D). Every index is checked against [0, V) first (a device search and one stream
// synchronisation); an index out of range throws std::invalid_argument (a ValueError) before anything is read
// or written.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// out (L, D): out[l] = weight[indices[l]].
template <class T, class I>
void embedding_forward(T* out, const T* weight, const I* indices, int64_t L, int64_t V, int64_t D, cudaStream_t s);

// dweight (V, D) = sum over the positions l with indices[l] = v of grad_output[l], in increasing l (the same
// order as the CPU's, so the same float result); rows no index names and row padding_idx (-1: none) are zero.
template <class T, class I>
void embedding_backward(T* dweight, const T* grad_output, const I* indices, int64_t L, int64_t V, int64_t D,
                        int64_t padding_idx, cudaStream_t s);

}  // namespace fastann::cuda
