// rnn_rung3_fused_scalar.cpp: rung 3 of the RNN ladder (rnn_rung3_fused_loops.hpp) compiled without ISA
// flags, in namespace fastann::cpu::scalar; rnn_rung3_fused.cpp calls it on CPUs without AVX-512.
#include <cstdint>

namespace fastann::cpu::scalar {
namespace {

// The recurrent GEMM's micro-tile in plain loops over W = 4 "lanes" (the compiler may use SSE2).
template <class T>
struct Rnn3Kernel {
  static constexpr int W = 4;
  template <int MR, int NV>
  static void gemm_tile(int64_t kc, const T* __restrict a, int64_t lda, const T* __restrict bp, T* __restrict tile) {
    constexpr int L = NV * W;
    T acc[MR][L] = {};
    for (int64_t p = 0; p < kc; ++p, bp += L)
      for (int i = 0; i < MR; ++i) {
        const T ai = a[i * lda + p];
        for (int c = 0; c < L; ++c) acc[i][c] += ai * bp[c];
      }
    for (int i = 0; i < MR; ++i)
      for (int c = 0; c < L; ++c) tile[i * L + c] = acc[i][c];
  }
};

}  // namespace
}  // namespace fastann::cpu::scalar

#define FASTANN_ISA scalar
#include "rnn_rung3_fused_loops.hpp"
