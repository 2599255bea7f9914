// dropout_loops.hpp: the dropout mask loop, compiled once per ISA (csrc/cpu/README.md): included by
// dropout_scalar.cpp, dropout_avx2.cpp and dropout_avx512.cpp, each with its own FASTANN_ISA namespace. The
// hash is 64-bit integer arithmetic: with AVX-512 (vpmullq) it vectorizes 8 lanes wide, AVX2 emulates the
// 64-bit multiply 4 lanes wide, and the scalar build runs it one element at a time. The keep decision is
// turned into a 0/1 number and multiplied, never branched on: a branch on random bits mispredicts half the
// time (docs/activations.md, Dropout, Measured).
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cpu/dropout.hpp"

namespace fastann::cpu::FASTANN_ISA {

// src, dst (n,): dst_i = src_i * (keep_i ? scale : 0), keep_i = (bits(seed, i) >> 32) >= threshold
template <class T>
void dropout_apply(T* dst, const T* src, int64_t n, uint64_t key, uint64_t threshold, T scale) {
  // elements per thread below which the loop stays on one thread: ~0.4 ns per element, so ~3 us of work
  // where handing a chunk to the thread team costs ~1 us (2 threads 1.3x one at 16 384 elements)
  constexpr int64_t kGrain = 8192;
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint64_t bits = splitmix64_mix(key + (uint64_t(i) + 1) * kSplitmixGamma);  // dropout_bits(seed, i)
      const T keep = static_cast<T>((bits >> 32) >= threshold);                        // 0 or 1
      dst[i] = src[i] * (keep * scale);  // a multiply, so NaN * 0 stays NaN
    }
  });
}

template void dropout_apply<float>(float*, const float*, int64_t, uint64_t, uint64_t, float);
template void dropout_apply<double>(double*, const double*, int64_t, uint64_t, uint64_t, double);

}  // namespace fastann::cpu::FASTANN_ISA
