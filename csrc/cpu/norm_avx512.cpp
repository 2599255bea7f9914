// norm_avx512.cpp: batch norm's inner loops for AVX-512 (compiled with AVX-512 flags). Entered only
// through batch_norm_loops_avx512, which norm.cpp calls when fastann::simd_level() reports avx512.
//
// normalize and grad_input are the plain loops of norm_loops.inl, which the compiler vectorises well.
// The two reductions (shifted_sums, grad_sums) are written out: float32 values are widened to double
// (the sums are kept in double) and each sum has two independent accumulators, because a single
// accumulator chain is bound by the add latency (each add waits for the previous one). Measured gain over
// the compiler's one-accumulator loop: ~10% on 128x64x14x14, within noise on 128x32x28x28 (those runs are
// memory-bound; the access order in norm.cpp mattered far more).
#include <immintrin.h>

#include <cstdint>

#include "fastann/cpu/norm.hpp"

namespace fastann::cpu {

// ---- helpers ----------------------------------------------------------------------------------------
namespace norm_avx512 {
#include "norm_loops.inl"

// The 16 floats of v as two vectors of 8 doubles.
inline __m512d widen_lo(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d widen_hi(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

// ---- kernels ----------------------------------------------------------------------------------------

// s1 += sum(x - shift), s2 += sum((x - shift)^2); x float32, sums in double. 16 values per step.
void shifted_sums_f32(const float* x, int64_t n, double shift, double* s1, double* s2) {
  const __m512d k = _mm512_set1_pd(shift);
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512d lo = _mm512_sub_pd(widen_lo(v), k), hi = _mm512_sub_pd(widen_hi(v), k);
    a0 = _mm512_add_pd(a0, lo);
    a1 = _mm512_add_pd(a1, hi);
    b0 = _mm512_fmadd_pd(lo, lo, b0);
    b1 = _mm512_fmadd_pd(hi, hi, b1);
  }
  double a = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), b = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
  for (; i < n; ++i) {
    const double d = double(x[i]) - shift;
    a += d;
    b += d * d;
  }
  *s1 += a;
  *s2 += b;
}

// The same for float64: 16 values per step as two vectors of 8.
void shifted_sums_f64(const double* x, int64_t n, double shift, double* s1, double* s2) {
  const __m512d k = _mm512_set1_pd(shift);
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512d lo = _mm512_sub_pd(_mm512_loadu_pd(x + i), k), hi = _mm512_sub_pd(_mm512_loadu_pd(x + i + 8), k);
    a0 = _mm512_add_pd(a0, lo);
    a1 = _mm512_add_pd(a1, hi);
    b0 = _mm512_fmadd_pd(lo, lo, b0);
    b1 = _mm512_fmadd_pd(hi, hi, b1);
  }
  double a = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), b = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
  for (; i < n; ++i) {
    const double d = x[i] - shift;
    a += d;
    b += d * d;
  }
  *s1 += a;
  *s2 += b;
}

// sum_dy += sum(dy), sum_dy_xmu += sum(dy * (x - mean)); float32 in, double sums.
void grad_sums_f32(const float* dy, const float* x, int64_t n, float mean, double* sum_dy, double* sum_dy_xmu) {
  const __m512 m = _mm512_set1_ps(mean);
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(dy + i);
    const __m512 xm = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);  // x - mean in float, as the scalar path
    const __m512d g_lo = widen_lo(g), g_hi = widen_hi(g);
    a0 = _mm512_add_pd(a0, g_lo);
    a1 = _mm512_add_pd(a1, g_hi);
    b0 = _mm512_fmadd_pd(g_lo, widen_lo(xm), b0);
    b1 = _mm512_fmadd_pd(g_hi, widen_hi(xm), b1);
  }
  double a = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), b = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
  for (; i < n; ++i) {
    a += double(dy[i]);
    b += double(dy[i]) * double(x[i] - mean);
  }
  *sum_dy += a;
  *sum_dy_xmu += b;
}

void grad_sums_f64(const double* dy, const double* x, int64_t n, double mean, double* sum_dy, double* sum_dy_xmu) {
  const __m512d m = _mm512_set1_pd(mean);
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512d g0 = _mm512_loadu_pd(dy + i), g1 = _mm512_loadu_pd(dy + i + 8);
    a0 = _mm512_add_pd(a0, g0);
    a1 = _mm512_add_pd(a1, g1);
    b0 = _mm512_fmadd_pd(g0, _mm512_sub_pd(_mm512_loadu_pd(x + i), m), b0);
    b1 = _mm512_fmadd_pd(g1, _mm512_sub_pd(_mm512_loadu_pd(x + i + 8), m), b1);
  }
  double a = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), b = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
  for (; i < n; ++i) {
    a += dy[i];
    b += dy[i] * (x[i] - mean);
  }
  *sum_dy += a;
  *sum_dy_xmu += b;
}

}  // namespace norm_avx512

// ---- dispatch ---------------------------------------------------------------------------------------
BatchNormLoops<float> batch_norm_loops_avx512(float) {
  BatchNormLoops<float> l = norm_avx512::make_loops<float>();
  l.shifted_sums = &norm_avx512::shifted_sums_f32;
  l.grad_sums = &norm_avx512::grad_sums_f32;
  return l;
}
BatchNormLoops<double> batch_norm_loops_avx512(double) {
  BatchNormLoops<double> l = norm_avx512::make_loops<double>();
  l.shifted_sums = &norm_avx512::shifted_sums_f64;
  l.grad_sums = &norm_avx512::grad_sums_f64;
  return l;
}

}  // namespace fastann::cpu
