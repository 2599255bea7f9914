// simd_avx512.hpp: the one AVX-512 vocabulary of the CPU kernels. Avx512<T> names the 512-bit register, its
// lane mask and the handful of intrinsics the kernels use, for float (16 lanes) and double (8 lanes), so a
// kernel is written once as a template over T. Include it only from files compiled with the AVX-512 flags
// (CMakeLists.txt), which run only after fastann::simd_level() reported avx512.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace fastann::cpu::simd {

template <class T> struct Avx512;

template <> struct Avx512<float> {
  using T = float;
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int W = 16;  // lanes
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float* p) { return _mm512_load_ps(p); }  // p 64-byte aligned
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static reg maskz_loadu(mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, reg v) { _mm512_store_ps(p, v); }  // p 64-byte aligned
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static void mask_storeu(float* p, mask m, reg v) { _mm512_mask_storeu_ps(p, m, v); }
  static reg maskz_mov(mask m, reg v) { return _mm512_maskz_mov_ps(m, v); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg maskz_sub(mask m, reg a, reg b) { return _mm512_maskz_sub_ps(m, a, b); }
  static reg maskz_mul(mask m, reg a, reg b) { return _mm512_maskz_mul_ps(m, a, b); }
  static reg mask_mov(reg src, mask m, reg v) { return _mm512_mask_mov_ps(src, m, v); }  // v in lanes m, else src
  // Lane compares into a mask: a > b (false where either is NaN), either is NaN, !(a <= b) (true for NaN).
  static mask cmp_gt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static mask mask_cmp_gt(mask m, reg a, reg b) { return _mm512_mask_cmp_ps_mask(m, a, b, _CMP_GT_OQ); }
  static mask cmp_unord(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
  static mask cmp_nle(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ); }
  // MAXPS returns its second operand when either is NaN: max(0, x) keeps a NaN x (relu propagates NaN).
  static reg relu(reg x) { return _mm512_max_ps(_mm512_setzero_ps(), x); }
  static float hsum(reg v) { return _mm512_reduce_add_ps(v); }
  static reg maskz_compress(mask m, reg v) { return _mm512_maskz_compress_ps(m, v); }
  // The first n lanes (none for n <= 0, all for n >= W).
  static mask tail(int64_t n) { return n >= W ? mask(0xFFFF) : n <= 0 ? mask(0) : mask((1u << n) - 1); }
};

template <> struct Avx512<double> {
  using T = double;
  using reg = __m512d;
  using mask = __mmask8;
  static constexpr int W = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg set1(double x) { return _mm512_set1_pd(x); }
  static reg load(const double* p) { return _mm512_load_pd(p); }
  static reg loadu(const double* p) { return _mm512_loadu_pd(p); }
  static reg maskz_loadu(mask m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, reg v) { _mm512_store_pd(p, v); }
  static void storeu(double* p, reg v) { _mm512_storeu_pd(p, v); }
  static void mask_storeu(double* p, mask m, reg v) { _mm512_mask_storeu_pd(p, m, v); }
  static reg maskz_mov(mask m, reg v) { return _mm512_maskz_mov_pd(m, v); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
  static reg maskz_sub(mask m, reg a, reg b) { return _mm512_maskz_sub_pd(m, a, b); }
  static reg maskz_mul(mask m, reg a, reg b) { return _mm512_maskz_mul_pd(m, a, b); }
  static reg mask_mov(reg src, mask m, reg v) { return _mm512_mask_mov_pd(src, m, v); }
  static mask cmp_gt(reg a, reg b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
  static mask mask_cmp_gt(mask m, reg a, reg b) { return _mm512_mask_cmp_pd_mask(m, a, b, _CMP_GT_OQ); }
  static mask cmp_unord(reg a, reg b) { return _mm512_cmp_pd_mask(a, b, _CMP_UNORD_Q); }
  static mask cmp_nle(reg a, reg b) { return _mm512_cmp_pd_mask(a, b, _CMP_NLE_UQ); }
  static reg relu(reg x) { return _mm512_max_pd(_mm512_setzero_pd(), x); }
  static double hsum(reg v) { return _mm512_reduce_add_pd(v); }
  static reg maskz_compress(mask m, reg v) { return _mm512_maskz_compress_pd(m, v); }
  static mask tail(int64_t n) { return n >= W ? mask(0xFF) : n <= 0 ? mask(0) : mask((1u << n) - 1); }
};

}  // namespace fastann::cpu::simd
