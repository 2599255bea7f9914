// simd_avx2.hpp: the AVX2 vocabulary of the CPU kernels, in the style of simd_avx512.hpp: Avx2<T> names the
// 256-bit register, its lane mask and the intrinsics the kernels use, for float (8 lanes) and double (4 lanes).
// AVX2 has no mask registers: a mask is an integer vector with all bits set in the lanes to keep. Include it
// only from files compiled with the AVX2 flags (CMakeLists.txt), which run only after fastann::simd_level()
// reported avx2.
#pragma once

#include <immintrin.h>

namespace fastann::cpu::simd {

template <class T> struct Avx2;

template <> struct Avx2<float> {
  using T = float;
  using reg = __m256;
  using mask = __m256i;
  static constexpr int W = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg load(const float* p) { return _mm256_load_ps(p); }
  static reg maskz_loadu(mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void mask_storeu(float* p, mask m, reg v) { _mm256_maskstore_ps(p, m, v); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg relu(reg x) { return _mm256_max_ps(_mm256_setzero_ps(), x); }  // NaN x stays NaN
  // The first n lanes (none for n <= 0, all for n >= W).
  static mask tail(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};
template <> struct Avx2<double> {
  using T = double;
  using reg = __m256d;
  using mask = __m256i;
  static constexpr int W = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg set1(double x) { return _mm256_set1_pd(x); }
  static reg load(const double* p) { return _mm256_load_pd(p); }
  static reg maskz_loadu(mask m, const double* p) { return _mm256_maskload_pd(p, m); }
  static void mask_storeu(double* p, mask m, reg v) { _mm256_maskstore_pd(p, m, v); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg relu(reg x) { return _mm256_max_pd(_mm256_setzero_pd(), x); }
  static mask tail(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
};

}  // namespace fastann::cpu::simd
