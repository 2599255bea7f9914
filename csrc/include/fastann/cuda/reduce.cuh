// fastann/cuda/reduce.cuh: warp and block reductions shared by the softmax, loss and norm kernels.
#pragma once

#include "fastann/cuda/common.cuh"

namespace fastann::cuda {

#ifdef __CUDACC__
// max that keeps a NaN: fmax would drop it, and a NaN in a row must reach that row's output.
template <class T>
__device__ __forceinline__ T nan_max(T a, T b) { return (a > b || a != a) ? a : b; }

// Sum / max over the 32 lanes of a warp; every lane gets the result. All 32 lanes must call it.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// Sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets the result.
// `scratch` holds 32 values; the call ends with a __syncthreads so scratch can be reused right away.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = T(0);
  for (int w = 0; w < nwarps; ++w) total += scratch[w];  // fixed order: deterministic
  __syncthreads();
  return total;
}
#endif

}  // namespace fastann::cuda
