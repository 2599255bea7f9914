// pool_avx512.cpp: max_pool2d rung 3, the 2x2 / stride-2 window with AVX-512 (compiled with AVX-512 flags,
// entered only when fastann::simd_level() reports avx512).
//
// One output row needs two input rows. For 16 float outputs we load 32 floats of each row (two registers),
// and split even and odd columns with vpermt2ps (a permute that picks from two source registers):
//     r0 = [x0 x1 x2 x3 ... x31]  ->  even = [x0 x2 ... x30], odd = [x1 x3 ... x31]
// The four taps of the 16 windows are then four registers: r0 even, r0 odd, r1 even, r1 odd. Going through
// them in PyTorch's order, a lane takes the next tap when it is greater or NaN (two compares into one mask),
// and the same mask moves the tap's offset (0, 1, W, W+1) into the int64 index registers. Edges (fewer
// than 16 outputs left) use masked loads and stores, so there is no scalar tail loop.
#include <immintrin.h>

#include <cstdint>

#include "fastann/cpu/pool.hpp"

namespace fastann::cpu {

// ---- helpers ----------------------------------------------------------------------------------------
namespace {

// Lanes [0, n) set (none for n <= 0, all for n >= 16 / 8).
inline __mmask16 first_lanes16(int64_t n) {
  return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}
inline __mmask8 first_lanes8(int64_t n) {
  return n <= 0 ? __mmask8(0) : n >= 8 ? __mmask8(0xFF) : __mmask8((1u << n) - 1u);
}

// Lanes where v replaces best: v > best, or v is NaN (a NaN best is then never replaced: nothing is > NaN).
inline __mmask16 takes_over(__m512 v, __m512 best) {
  return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}
inline __mmask8 takes_over(__m512d v, __m512d best) {
  return _mm512_cmp_pd_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
}

}  // namespace

// ---- kernels ----------------------------------------------------------------------------------------

// inp (H,W) with H >= 2*OH and W >= 2*OW, out (OH,OW), indices (OH,OW); float32, 16 outputs per step.
void max_pool2d_kernel3_2x2_avx512(float* out, int64_t* indices, const float* inp, int64_t W, int64_t OH,
                                   int64_t OW) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  // Column of each lane's window (2*lane), as int64 for the two halves of 8 lanes.
  const __m512i lane_col_lo = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i lane_col_hi = _mm512_setr_epi64(16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i off_r0c1 = _mm512_set1_epi64(1), off_r1c0 = _mm512_set1_epi64(W),
                off_r1c1 = _mm512_set1_epi64(W + 1);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* row0 = inp + 2 * oh * W;
    const float* row1 = row0 + W;
    float* o = out + oh * OW;
    int64_t* ix = indices + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const int64_t n = OW - ow < 16 ? OW - ow : 16;  // outputs in this step
      const __mmask16 m_out = first_lanes16(n);
      const __mmask16 m_in_lo = first_lanes16(2 * n), m_in_hi = first_lanes16(2 * n - 16);
      const float* a = row0 + 2 * ow;
      const float* b = row1 + 2 * ow;
      const __m512 a_lo = _mm512_maskz_loadu_ps(m_in_lo, a), a_hi = _mm512_maskz_loadu_ps(m_in_hi, a + 16);
      const __m512 b_lo = _mm512_maskz_loadu_ps(m_in_lo, b), b_hi = _mm512_maskz_loadu_ps(m_in_hi, b + 16);
      const __m512 r0c0 = _mm512_permutex2var_ps(a_lo, even, a_hi);
      const __m512 r0c1 = _mm512_permutex2var_ps(a_lo, odd, a_hi);
      const __m512 r1c0 = _mm512_permutex2var_ps(b_lo, even, b_hi);
      const __m512 r1c1 = _mm512_permutex2var_ps(b_lo, odd, b_hi);

      __m512 best = r0c0;
      __m512i off_lo = _mm512_setzero_si512(), off_hi = _mm512_setzero_si512();
      __mmask16 m = takes_over(r0c1, best);
      best = _mm512_mask_mov_ps(best, m, r0c1);
      off_lo = _mm512_mask_mov_epi64(off_lo, __mmask8(m), off_r0c1);
      off_hi = _mm512_mask_mov_epi64(off_hi, __mmask8(m >> 8), off_r0c1);
      m = takes_over(r1c0, best);
      best = _mm512_mask_mov_ps(best, m, r1c0);
      off_lo = _mm512_mask_mov_epi64(off_lo, __mmask8(m), off_r1c0);
      off_hi = _mm512_mask_mov_epi64(off_hi, __mmask8(m >> 8), off_r1c0);
      m = takes_over(r1c1, best);
      best = _mm512_mask_mov_ps(best, m, r1c1);
      off_lo = _mm512_mask_mov_epi64(off_lo, __mmask8(m), off_r1c1);
      off_hi = _mm512_mask_mov_epi64(off_hi, __mmask8(m >> 8), off_r1c1);

      // Flat index = (2*oh)*W + 2*(ow + lane) + winning offset.
      const __m512i base = _mm512_set1_epi64(2 * oh * W + 2 * ow);
      _mm512_mask_storeu_ps(o + ow, m_out, best);
      _mm512_mask_storeu_epi64(ix + ow, __mmask8(m_out),
                               _mm512_add_epi64(_mm512_add_epi64(base, lane_col_lo), off_lo));
      _mm512_mask_storeu_epi64(ix + ow + 8, __mmask8(m_out >> 8),
                               _mm512_add_epi64(_mm512_add_epi64(base, lane_col_hi), off_hi));
    }
  }
}

// The same for float64: 8 outputs per step (16 input doubles of each row, two registers).
void max_pool2d_kernel3_2x2_avx512(double* out, int64_t* indices, const double* inp, int64_t W, int64_t OH,
                                   int64_t OW) {
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const __m512i lane_col = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i off_r0c1 = _mm512_set1_epi64(1), off_r1c0 = _mm512_set1_epi64(W),
                off_r1c1 = _mm512_set1_epi64(W + 1);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const double* row0 = inp + 2 * oh * W;
    const double* row1 = row0 + W;
    double* o = out + oh * OW;
    int64_t* ix = indices + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += 8) {
      const int64_t n = OW - ow < 8 ? OW - ow : 8;
      const __mmask8 m_out = first_lanes8(n);
      const __mmask8 m_in_lo = first_lanes8(2 * n), m_in_hi = first_lanes8(2 * n - 8);
      const double* a = row0 + 2 * ow;
      const double* b = row1 + 2 * ow;
      const __m512d a_lo = _mm512_maskz_loadu_pd(m_in_lo, a), a_hi = _mm512_maskz_loadu_pd(m_in_hi, a + 8);
      const __m512d b_lo = _mm512_maskz_loadu_pd(m_in_lo, b), b_hi = _mm512_maskz_loadu_pd(m_in_hi, b + 8);
      const __m512d r0c0 = _mm512_permutex2var_pd(a_lo, even, a_hi);
      const __m512d r0c1 = _mm512_permutex2var_pd(a_lo, odd, a_hi);
      const __m512d r1c0 = _mm512_permutex2var_pd(b_lo, even, b_hi);
      const __m512d r1c1 = _mm512_permutex2var_pd(b_lo, odd, b_hi);

      __m512d best = r0c0;
      __m512i off = _mm512_setzero_si512();
      __mmask8 m = takes_over(r0c1, best);
      best = _mm512_mask_mov_pd(best, m, r0c1);
      off = _mm512_mask_mov_epi64(off, m, off_r0c1);
      m = takes_over(r1c0, best);
      best = _mm512_mask_mov_pd(best, m, r1c0);
      off = _mm512_mask_mov_epi64(off, m, off_r1c0);
      m = takes_over(r1c1, best);
      best = _mm512_mask_mov_pd(best, m, r1c1);
      off = _mm512_mask_mov_epi64(off, m, off_r1c1);

      const __m512i base = _mm512_set1_epi64(2 * oh * W + 2 * ow);
      _mm512_mask_storeu_pd(o + ow, m_out, best);
      _mm512_mask_storeu_epi64(ix + ow, m_out, _mm512_add_epi64(_mm512_add_epi64(base, lane_col), off));
    }
  }
}

}  // namespace fastann::cpu
