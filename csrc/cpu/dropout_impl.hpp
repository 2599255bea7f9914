// dropout_impl.hpp: the dropout mask loop, included by dropout.cpp (baseline x86-64), dropout_avx2.cpp and
// dropout_avx512.cpp inside their own namespace FASTANN_ISA. The hash is 64-bit integer arithmetic: with
// AVX-512 (vpmullq) it vectorizes 8 lanes wide, AVX2 emulates the 64-bit multiply 4 lanes wide, and the
// baseline build runs it scalar. The keep decision is turned into a 0/1 number and multiplied, never
// branched on: a branch on random bits mispredicts half the time (measured 13 ns/element vs ~1).
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cpu/dropout.hpp"

namespace fastann::cpu::FASTANN_ISA {

// src, dst (n,): dst_i = src_i * (keep_i ? scale : 0), keep_i = (bits(seed, i) >> 32) >= threshold
template <class T>
void dropout_apply(T* dst, const T* src, int64_t n, uint64_t key, uint64_t threshold, T scale) {
  constexpr int64_t kGrain = 32768;  // elements per thread below which the loop stays on one thread
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint64_t bits = splitmix64_mix(key + (uint64_t(i) + 1) * kSplitmixGamma);  // dropout_bits(seed, i)
      const T keep = static_cast<T>((bits >> 32) >= threshold);                        // 0 or 1
      dst[i] = src[i] * (keep * scale);  // a multiply, so NaN * 0 stays NaN
    }
  });
}

}  // namespace fastann::cpu::FASTANN_ISA
