// fastann/cuda/dropout.hpp: inverted dropout on the GPU (csrc/cuda/dropout.cu) with the SAME counter-based
// mask as fastann/cpu/dropout.hpp: element i is kept iff dropout_bits(seed, i) >> 32 >= ceil(p * 2^32), so a
// (p, seed) pair gives bit-identical masks on the CPU and the GPU, in the forward and the backward.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// inp, out (n,): out_i = inp_i * (keep_i ? 1/(1-p) : 0); 0 <= p < 1. out may alias inp.
template <class T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed, cudaStream_t s);

// dout, dinp (n,): dinp_i = dout_i * (keep_i ? 1/(1-p) : 0), the forward's mask for this (p, seed).
template <class T>
void dropout_backward(T* dinp, const T* dout, int64_t n, double p, uint64_t seed, cudaStream_t s);

// The 64 mask bits of element i (host copy of the device function, for tests).
uint64_t dropout_bits(uint64_t seed, uint64_t i);

}  // namespace fastann::cuda
