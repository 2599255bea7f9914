// fastann/cpu/dropout.hpp: inverted dropout with a mask regenerated from a counter-based hash
// (csrc/cpu/dropout.cpp).
//
// The mask is never stored: element i is kept iff dropout_bits(seed, i) >> 32 >= dropout_threshold(p),
// i.e. with probability 1 - p, and a kept element is scaled by 1 / (1 - p). The forward and the backward
// regenerate the same mask from (seed, i), on any thread count, and the CUDA kernels use the same
// integer function, so CPU and GPU masks agree bit for bit. NaN in the input stays NaN (out = x * m).
#pragma once

#include <cmath>
#include <cstdint>

namespace fastann::cpu {

// SplitMix64's output function (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators";
// the constants of Vigna's splitmix64.c): a bijective 64-bit mixer.
inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
constexpr uint64_t kSplitmixGamma = 0x9E3779B97F4A7C15ULL;

// 64 random bits for element i: the i-th output of a SplitMix64 stream whose state starts at a mixed seed
// (mixing the seed first keeps nearby seeds from giving shifted copies of one stream).
inline uint64_t dropout_bits(uint64_t seed, uint64_t i) {
  const uint64_t key = splitmix64_mix(seed + kSplitmixGamma);
  return splitmix64_mix(key + (i + 1) * kSplitmixGamma);
}

// Keep iff (bits >> 32) >= ceil(p * 2^32): exact integer comparison, P(keep) = 1 - p to within 2^-32.
inline uint64_t dropout_threshold(double p) { return static_cast<uint64_t>(std::ceil(p * 4294967296.0)); }

// inp, out (n,): out_i = inp_i * (keep_i ? 1/(1-p) : 0); 0 <= p < 1. out may alias inp.
template <class T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed);

// dout, dinp (n,): dinp_i = dout_i * (keep_i ? 1/(1-p) : 0), the same mask as the forward with this seed.
template <class T>
void dropout_backward(T* dinp, const T* dout, int64_t n, double p, uint64_t seed);

}  // namespace fastann::cpu
