// rnn_rung3_fused_avx512.cpp: rung 3 of the RNN ladder (rnn_rung3_fused_loops.hpp) with its AVX-512
// micro-kernel, compiled with the AVX-512 flags (CMakeLists.txt), in namespace fastann::cpu::avx512;
// rnn_rung3_fused.cpp calls it when simd_level() is avx512.
#include <cstdint>

#include "simd_avx512.hpp"

namespace fastann::cpu::avx512 {
namespace {

// The recurrent GEMM's micro-tile: MR rows x NV zmm vectors of accumulators (MR * NV = 24: enough
// independent FMAs to cover the FMA latency on two pipes, and 24 + NV + 1 registers fit the 32). Per step p
// NV aligned loads of the packed W_hh panel and MR broadcasts of A, read in place (row stride lda).
template <class T>
struct Rnn3Kernel {
  using V = simd::Avx512<T>;
  static constexpr int W = V::W;
  template <int MR, int NV>
  static void gemm_tile(int64_t kc, const T* __restrict a, int64_t lda, const T* __restrict bp, T* __restrict tile) {
    typename V::reg acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
    for (int64_t p = 0; p < kc; ++p, bp += NV * W) {
      typename V::reg b[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) b[v] = V::load(bp + v * W);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const typename V::reg ai = V::set1(a[i * lda + p]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(ai, b[v], acc[i][v]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) V::store(tile + (i * NV + v) * W, acc[i][v]);
  }
};

}  // namespace
}  // namespace fastann::cpu::avx512

#define FASTANN_ISA avx512
#include "rnn_rung3_fused_loops.hpp"
