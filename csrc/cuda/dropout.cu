// dropout.cu: inverted dropout on the GPU (Srivastava et al. 2014), float32 and float64.
//
// No mask is stored and no random state is kept on the device: element i's keep/drop decision is a pure
// function of (seed, i), the SplitMix64 mixer of csrc/cpu/dropout.cpp (Steele, Lea & Flood 2014; Vigna's
// constants), evaluated by whichever thread handles i. That is what makes the GPU mask equal the CPU mask
// bit for bit, the backward regenerate the forward's mask, and the result independent of the launch shape.
// The kernel is memory-bound: one load and one store per element; the hash is a few integer multiplies.
//
// Sections: helpers, kernels, launchers.
#include <cmath>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/dropout.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers (identical integer arithmetic to fastann/cpu/dropout.hpp)
// =====================================================================================================

constexpr uint64_t kSplitmixGamma = 0x9E3779B97F4A7C15ULL;

__host__ __device__ __forceinline__ uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Keep iff (bits >> 32) >= ceil(p * 2^32): P(keep) = 1 - p to within 2^-32.
uint64_t dropout_threshold(double p) { return static_cast<uint64_t>(std::ceil(p * 4294967296.0)); }

// =====================================================================================================
// Kernels
// =====================================================================================================

// src, dst (n,): dst_i = src_i * (keep_i ? scale : 0); multiplying keeps a NaN a NaN.
// key = splitmix64_mix(seed + gamma), computed once on the host.
template <class T>
__global__ void dropout_kernel(T* dst, const T* src, int64_t n, uint64_t key, uint64_t threshold, T scale) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const uint64_t bits = splitmix64_mix(key + (static_cast<uint64_t>(i) + 1) * kSplitmixGamma);
    const T m = (bits >> 32) >= threshold ? scale : T(0);
    dst[i] = src[i] * m;
  }
}

template <class T>
void apply_mask(T* dst, const T* src, int64_t n, double p, uint64_t seed, cudaStream_t s) {
  FASTANN_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  if (n <= 0) return;
  const uint64_t key = splitmix64_mix(seed + kSplitmixGamma);
  dropout_kernel<T><<<grid_for(n), kBlock, 0, s>>>(dst, src, n, key, dropout_threshold(p), T(1.0 / (1.0 - p)));
  FASTANN_CUDA_CHECK_LAUNCH("dropout_kernel");
}

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

template <class T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed, cudaStream_t s) {
  apply_mask(out, inp, n, p, seed, s);
}

template <class T>
void dropout_backward(T* dinp, const T* dout, int64_t n, double p, uint64_t seed, cudaStream_t s) {
  apply_mask(dinp, dout, n, p, seed, s);
}

uint64_t dropout_bits(uint64_t seed, uint64_t i) {
  return splitmix64_mix(splitmix64_mix(seed + kSplitmixGamma) + (i + 1) * kSplitmixGamma);
}

template void dropout_forward<float>(float*, const float*, int64_t, double, uint64_t, cudaStream_t);
template void dropout_forward<double>(double*, const double*, int64_t, double, uint64_t, cudaStream_t);
template void dropout_backward<float>(float*, const float*, int64_t, double, uint64_t, cudaStream_t);
template void dropout_backward<double>(double*, const double*, int64_t, double, uint64_t, cudaStream_t);

}  // namespace fastann::cuda
