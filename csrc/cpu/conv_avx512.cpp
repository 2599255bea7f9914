// conv_avx512.cpp: the AVX-512 micro-kernel of conv2d's kernel 3 (compiled with AVX-512 flags; entered only
// when fastann::simd_level() says the CPU has AVX-512).
//
// C[0:mr, 0:nr] (+)= A (mr x K, packed) * B (K x nr). The tile is MR=12 rows by two 512-bit vectors (32
// floats or 16 doubles): 24 accumulator registers of the 32, one vector FMA per accumulator per k, the A
// value broadcast straight from memory. 24 independent FMA chains hide the FMA latency (4 cycles x 2 pipes
// needs >= 8); the loads per k (2 vectors of B + 12 broadcasts) stay under the 2-3 loads/cycle the core
// sustains while it issues 24 FMAs in 12 cycles. Partial tiles (nr < NR) use AVX-512 masked loads/stores,
// which never touch memory in the masked-off lanes, so no edge copy is needed.
#include <immintrin.h>

#include "fastann/cpu/conv.hpp"

namespace fastann::cpu::conv_detail {

namespace {

struct F32 {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V loadm(M m, const T* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void storem(T* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V loadm(M m, const T* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void storem(T* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
};

template <class S>
inline typename S::M lane_mask(int64_t n) {  // the first n lanes (n clamped to [0, L])
  if (n <= 0) return 0;
  if (n >= S::L) return static_cast<typename S::M>(~0u);
  return static_cast<typename S::M>((1u << n) - 1);
}

template <class S>
inline void microkernel(int64_t K, const typename S::T* a, const typename S::T* b, int64_t ldb,
                        typename S::T* c, int64_t ldc, int64_t mr, int64_t nr, bool accumulate) {
  using V = typename S::V;
  V acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = S::zero();

  if (nr == 2 * S::L) {  // full tile: plain loads
    for (int64_t k = 0; k < K; ++k) {
      const V b0 = S::load(b + k * ldb);
      const V b1 = S::load(b + k * ldb + S::L);
      const typename S::T* ak = a + k * MR;
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const V ai = S::bcast(ak + i);
        acc[i][0] = S::fma(ai, b0, acc[i][0]);
        acc[i][1] = S::fma(ai, b1, acc[i][1]);
      }
    }
  } else {  // right edge: masked loads read only the nr valid columns
    const auto m0 = lane_mask<S>(nr), m1 = lane_mask<S>(nr - S::L);
    for (int64_t k = 0; k < K; ++k) {
      const V b0 = S::loadm(m0, b + k * ldb);
      const V b1 = S::loadm(m1, b + k * ldb + S::L);
      const typename S::T* ak = a + k * MR;
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const V ai = S::bcast(ak + i);
        acc[i][0] = S::fma(ai, b0, acc[i][0]);
        acc[i][1] = S::fma(ai, b1, acc[i][1]);
      }
    }
  }

  const auto m0 = lane_mask<S>(nr), m1 = lane_mask<S>(nr - S::L);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    typename S::T* ci = c + i * ldc;
    V v0 = acc[i][0], v1 = acc[i][1];
    if (accumulate) {
      v0 = S::add(v0, S::loadm(m0, ci));
      v1 = S::add(v1, S::loadm(m1, ci + S::L));
    }
    S::storem(ci, m0, v0);
    S::storem(ci + S::L, m1, v1);
  }
}

}  // namespace

void microkernel_avx512(int64_t K, const float* a_panel, const float* b, int64_t ldb, float* c, int64_t ldc,
                        int64_t mr, int64_t nr, bool accumulate) {
  microkernel<F32>(K, a_panel, b, ldb, c, ldc, mr, nr, accumulate);
}

void microkernel_avx512(int64_t K, const double* a_panel, const double* b, int64_t ldb, double* c, int64_t ldc,
                        int64_t mr, int64_t nr, bool accumulate) {
  microkernel<F64>(K, a_panel, b, ldb, c, ldc, mr, nr, accumulate);
}

}  // namespace fastann::cpu::conv_detail
