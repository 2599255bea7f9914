// fastann/cuda/softmax.hpp: softmax and log_softmax along one axis on the GPU (csrc/cuda/softmax.cu).
// The array is seen as (outer, L, inner): the axis has length L, `inner` is the product of the extents after
// it. Numerically stable (the row maximum is subtracted); a NaN anywhere in a row makes that row NaN.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// inp, out (outer, L, inner): out = exp(x - max) / sum exp(x - max)   (log: x - max - log sum exp(x - max))
template <class T>
void softmax_forward(T* out, const T* inp, int64_t outer, int64_t L, int64_t inner, bool log, cudaStream_t stream);

// dout, out, dinp (outer, L, inner), out = the forward's output:
//   softmax:      dinp = y * (g - sum_L(g * y))
//   log_softmax:  dinp = g - exp(y) * sum_L(g)
template <class T>
void softmax_backward(T* dinp, const T* dout, const T* out, int64_t outer, int64_t L, int64_t inner, bool log,
                      cudaStream_t stream);

}  // namespace fastann::cuda
