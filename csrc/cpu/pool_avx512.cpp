// pool_avx512.cpp: max_pool2d rung 3, the 2x2 / stride-2 window with AVX-512 (compiled with AVX-512 flags,
// entered only when fastann::simd_level() reports avx512).
//
// One output row needs two input rows. For 16 float outputs we load 32 floats of each row (two registers),
// and split even and odd columns with vpermt2ps (a permute that picks from two source registers):
//     r0 = [x0 x1 x2 x3 ... x31]  ->  even = [x0 x2 ... x30], odd = [x1 x3 ... x31]
// The four taps of the 16 windows are then four registers: r0 even, r0 odd, r1 even, r1 odd. Going through
// them in PyTorch's order, a lane takes the next tap when it is greater or NaN (two compares into one mask),
// and the same mask moves the tap's offset (0, 1, W, W+1) into the int64 index registers.
//
// The row tail (OW not a multiple of 16, e.g. 14 for 28x28 input) is where the time goes if done naively:
// on the Zen 5 this was written on, masked loads/stores in every row made the kernel 6x slower (2.4 ms vs
// 0.4 ms for 128x32x28x28 on one thread). So a tail step uses FULL-WIDTH loads that read ahead into the
// next rows and FULL-WIDTH stores whose extra lanes land on outputs of later rows of the same plane, which
// are rewritten moments later, in order. Only where the step would reach past the plane (its last rows) do
// we fall back to masked loads/stores, so nothing outside the plane is read or written.
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

namespace {

// 16 float windows: taps from a (row 2*oh) and b (row 2*oh+1), both at column 2*ow; idx0 = 2*oh*W + 2*ow.
// kMasked: load/store only the lanes in the masks (the plane's last steps), else full width.
template <bool kMasked>
inline void max_2x2_step_f32(float* o, int64_t* ix, const float* a, const float* b, int64_t idx0, int64_t W,
                             __mmask16 m_in_lo, __mmask16 m_in_hi, __mmask16 m_out) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  // Column of each lane's window (2*lane), as int64 for the two halves of 8 lanes.
  const __m512i lane_col_lo = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i lane_col_hi = _mm512_setr_epi64(16, 18, 20, 22, 24, 26, 28, 30);
  __m512 a_lo, a_hi, b_lo, b_hi;
  if (kMasked) {
    a_lo = _mm512_maskz_loadu_ps(m_in_lo, a), a_hi = _mm512_maskz_loadu_ps(m_in_hi, a + 16);
    b_lo = _mm512_maskz_loadu_ps(m_in_lo, b), b_hi = _mm512_maskz_loadu_ps(m_in_hi, b + 16);
  } else {
    a_lo = _mm512_loadu_ps(a), a_hi = _mm512_loadu_ps(a + 16);
    b_lo = _mm512_loadu_ps(b), b_hi = _mm512_loadu_ps(b + 16);
  }
  const __m512 r0c0 = _mm512_permutex2var_ps(a_lo, even, a_hi);
  const __m512 r0c1 = _mm512_permutex2var_ps(a_lo, odd, a_hi);
  const __m512 r1c0 = _mm512_permutex2var_ps(b_lo, even, b_hi);
  const __m512 r1c1 = _mm512_permutex2var_ps(b_lo, odd, b_hi);

  __m512 best = r0c0;
  __m512i off_lo = _mm512_setzero_si512(), off_hi = _mm512_setzero_si512();
  auto take = [&](__m512 tap, int64_t offset) {
    const __mmask16 m = takes_over(tap, best);
    const __m512i off = _mm512_set1_epi64(offset);
    best = _mm512_mask_mov_ps(best, m, tap);
    off_lo = _mm512_mask_mov_epi64(off_lo, __mmask8(m), off);
    off_hi = _mm512_mask_mov_epi64(off_hi, __mmask8(m >> 8), off);
  };
  take(r0c1, 1);
  take(r1c0, W);
  take(r1c1, W + 1);

  // Flat index = (2*oh)*W + 2*(ow + lane) + winning offset.
  const __m512i base = _mm512_set1_epi64(idx0);
  const __m512i idx_lo = _mm512_add_epi64(_mm512_add_epi64(base, lane_col_lo), off_lo);
  const __m512i idx_hi = _mm512_add_epi64(_mm512_add_epi64(base, lane_col_hi), off_hi);
  if (kMasked) {
    _mm512_mask_storeu_ps(o, m_out, best);
    _mm512_mask_storeu_epi64(ix, __mmask8(m_out), idx_lo);
    _mm512_mask_storeu_epi64(ix + 8, __mmask8(m_out >> 8), idx_hi);
  } else {
    _mm512_storeu_ps(o, best);
    _mm512_storeu_si512(ix, idx_lo);
    _mm512_storeu_si512(ix + 8, idx_hi);
  }
}

// 8 double windows, the same steps (8 lanes: one int64 index register).
template <bool kMasked>
inline void max_2x2_step_f64(double* o, int64_t* ix, const double* a, const double* b, int64_t idx0, int64_t W,
                             __mmask8 m_in_lo, __mmask8 m_in_hi, __mmask8 m_out) {
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const __m512i lane_col = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  __m512d a_lo, a_hi, b_lo, b_hi;
  if (kMasked) {
    a_lo = _mm512_maskz_loadu_pd(m_in_lo, a), a_hi = _mm512_maskz_loadu_pd(m_in_hi, a + 8);
    b_lo = _mm512_maskz_loadu_pd(m_in_lo, b), b_hi = _mm512_maskz_loadu_pd(m_in_hi, b + 8);
  } else {
    a_lo = _mm512_loadu_pd(a), a_hi = _mm512_loadu_pd(a + 8);
    b_lo = _mm512_loadu_pd(b), b_hi = _mm512_loadu_pd(b + 8);
  }
  const __m512d r0c0 = _mm512_permutex2var_pd(a_lo, even, a_hi);
  const __m512d r0c1 = _mm512_permutex2var_pd(a_lo, odd, a_hi);
  const __m512d r1c0 = _mm512_permutex2var_pd(b_lo, even, b_hi);
  const __m512d r1c1 = _mm512_permutex2var_pd(b_lo, odd, b_hi);

  __m512d best = r0c0;
  __m512i off = _mm512_setzero_si512();
  auto take = [&](__m512d tap, int64_t offset) {
    const __mmask8 m = takes_over(tap, best);
    best = _mm512_mask_mov_pd(best, m, tap);
    off = _mm512_mask_mov_epi64(off, m, _mm512_set1_epi64(offset));
  };
  take(r0c1, 1);
  take(r1c0, W);
  take(r1c1, W + 1);

  const __m512i idx = _mm512_add_epi64(_mm512_add_epi64(_mm512_set1_epi64(idx0), lane_col), off);
  if (kMasked) {
    _mm512_mask_storeu_pd(o, m_out, best);
    _mm512_mask_storeu_epi64(ix, m_out, idx);
  } else {
    _mm512_storeu_pd(o, best);
    _mm512_storeu_si512(ix, idx);
  }
}

}  // namespace

// inp (H,W) with H >= 2*OH and W >= 2*OW, out (OH,OW), indices (OH,OW); float32, 16 outputs per step.
void max_pool2d_kernel3_2x2_avx512(float* out, int64_t* indices, const float* inp, int64_t W, int64_t OH,
                                   int64_t OW) {
  constexpr int64_t L = 16;  // outputs per step
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;  // plane bounds (elements) the steps stay inside
  const int64_t full = OW / L * L, rem = OW - full;
  const __mmask16 m_out = first_lanes16(rem), m_in_lo = first_lanes16(2 * rem), m_in_hi = first_lanes16(2 * rem - L);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const int64_t r0 = 2 * oh * W, r1 = r0 + W;  // offsets of the two input rows
    float* o = out + oh * OW;
    int64_t* ix = indices + oh * OW;
    int64_t ow = 0;
    for (; ow < full; ow += L)
      max_2x2_step_f32<false>(o + ow, ix + ow, inp + r0 + 2 * ow, inp + r1 + 2 * ow, r0 + 2 * ow, W, 0, 0, 0);
    if (rem == 0) continue;
    // Tail: full width if its reads (2L values from row 2*oh+1) and writes (L outputs) stay in the plane.
    if (r1 + 2 * ow + 2 * L <= in_end && oh * OW + ow + L <= out_end)
      max_2x2_step_f32<false>(o + ow, ix + ow, inp + r0 + 2 * ow, inp + r1 + 2 * ow, r0 + 2 * ow, W, 0, 0, 0);
    else
      max_2x2_step_f32<true>(o + ow, ix + ow, inp + r0 + 2 * ow, inp + r1 + 2 * ow, r0 + 2 * ow, W, m_in_lo,
                             m_in_hi, m_out);
  }
}

// The same for float64: 8 outputs per step (16 input doubles of each row, two registers).
void max_pool2d_kernel3_2x2_avx512(double* out, int64_t* indices, const double* inp, int64_t W, int64_t OH,
                                   int64_t OW) {
  constexpr int64_t L = 8;
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;
  const int64_t full = OW / L * L, rem = OW - full;
  const __mmask8 m_out = first_lanes8(rem), m_in_lo = first_lanes8(2 * rem), m_in_hi = first_lanes8(2 * rem - L);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const int64_t r0 = 2 * oh * W, r1 = r0 + W;
    double* o = out + oh * OW;
    int64_t* ix = indices + oh * OW;
    int64_t ow = 0;
    for (; ow < full; ow += L)
      max_2x2_step_f64<false>(o + ow, ix + ow, inp + r0 + 2 * ow, inp + r1 + 2 * ow, r0 + 2 * ow, W, 0, 0, 0);
    if (rem == 0) continue;
    if (r1 + 2 * ow + 2 * L <= in_end && oh * OW + ow + L <= out_end)
      max_2x2_step_f64<false>(o + ow, ix + ow, inp + r0 + 2 * ow, inp + r1 + 2 * ow, r0 + 2 * ow, W, 0, 0, 0);
    else
      max_2x2_step_f64<true>(o + ow, ix + ow, inp + r0 + 2 * ow, inp + r1 + 2 * ow, r0 + 2 * ow, W, m_in_lo,
                             m_in_hi, m_out);
  }
}

// avg_pool2d's 2x2 / stride-2 case: add the two rows, then even + odd columns (the same permutes), times
// 1/4. Same full-width tail rule as above. inp (H,W), out (OH,OW).
void avg_pool2d_2x2_avx512(float* out, const float* inp, int64_t W, int64_t OH, int64_t OW) {
  constexpr int64_t L = 16;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 quarter = _mm512_set1_ps(0.25f);
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* a = inp + 2 * oh * W;
    const float* b = a + W;
    float* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += L) {
      const bool full_width = ow + L <= OW || ((2 * oh + 1) * W + 2 * ow + 2 * L <= in_end && oh * OW + ow + L <= out_end);
      const int64_t n = OW - ow < L ? OW - ow : L;
      const __mmask16 m_lo = full_width ? __mmask16(0xFFFF) : first_lanes16(2 * n),
                      m_hi = full_width ? __mmask16(0xFFFF) : first_lanes16(2 * n - L);
      __m512 lo, hi;
      if (full_width) {
        lo = _mm512_add_ps(_mm512_loadu_ps(a + 2 * ow), _mm512_loadu_ps(b + 2 * ow));
        hi = _mm512_add_ps(_mm512_loadu_ps(a + 2 * ow + L), _mm512_loadu_ps(b + 2 * ow + L));
      } else {
        lo = _mm512_add_ps(_mm512_maskz_loadu_ps(m_lo, a + 2 * ow), _mm512_maskz_loadu_ps(m_lo, b + 2 * ow));
        hi = _mm512_add_ps(_mm512_maskz_loadu_ps(m_hi, a + 2 * ow + L), _mm512_maskz_loadu_ps(m_hi, b + 2 * ow + L));
      }
      const __m512 sum = _mm512_add_ps(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
      const __m512 mean = _mm512_mul_ps(sum, quarter);
      if (full_width) _mm512_storeu_ps(o + ow, mean);
      else _mm512_mask_storeu_ps(o + ow, first_lanes16(n), mean);
    }
  }
}

void avg_pool2d_2x2_avx512(double* out, const double* inp, int64_t W, int64_t OH, int64_t OW) {
  constexpr int64_t L = 8;
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const __m512d quarter = _mm512_set1_pd(0.25);
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const double* a = inp + 2 * oh * W;
    const double* b = a + W;
    double* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += L) {
      const bool full_width = ow + L <= OW || ((2 * oh + 1) * W + 2 * ow + 2 * L <= in_end && oh * OW + ow + L <= out_end);
      const int64_t n = OW - ow < L ? OW - ow : L;
      __m512d lo, hi;
      if (full_width) {
        lo = _mm512_add_pd(_mm512_loadu_pd(a + 2 * ow), _mm512_loadu_pd(b + 2 * ow));
        hi = _mm512_add_pd(_mm512_loadu_pd(a + 2 * ow + L), _mm512_loadu_pd(b + 2 * ow + L));
      } else {
        const __mmask8 m_lo = first_lanes8(2 * n), m_hi = first_lanes8(2 * n - L);
        lo = _mm512_add_pd(_mm512_maskz_loadu_pd(m_lo, a + 2 * ow), _mm512_maskz_loadu_pd(m_lo, b + 2 * ow));
        hi = _mm512_add_pd(_mm512_maskz_loadu_pd(m_hi, a + 2 * ow + L), _mm512_maskz_loadu_pd(m_hi, b + 2 * ow + L));
      }
      const __m512d sum = _mm512_add_pd(_mm512_permutex2var_pd(lo, even, hi), _mm512_permutex2var_pd(lo, odd, hi));
      const __m512d mean = _mm512_mul_pd(sum, quarter);
      if (full_width) _mm512_storeu_pd(o + ow, mean);
      else _mm512_mask_storeu_pd(o + ow, first_lanes8(n), mean);
    }
  }
}

}  // namespace fastann::cpu
