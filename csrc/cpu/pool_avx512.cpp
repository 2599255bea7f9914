// pool_avx512.cpp: the 2x2 / stride-2 pooling loops (pool_isa.hpp) compiled with the AVX-512 flags
// (CMakeLists.txt), in namespace fastann::cpu::avx512; pool.cpp calls them when simd_level() is avx512.
//
// One output row needs two input rows. For 16 float outputs we load 32 floats of each row (two registers),
// and split even and odd columns with vpermt2ps (a permute that picks from two source registers):
//     r0 = [x0 x1 x2 x3 ... x31]  ->  even = [x0 x2 ... x30], odd = [x1 x3 ... x31]
// The four taps of the 16 windows are then four registers: r0 even, r0 odd, r1 even, r1 odd. Going through
// them in PyTorch's order, a lane takes the next tap when it is greater or NaN (two compares into one mask),
// and the same mask moves the tap's offset (0, 1, W, W+1) into the int64 index registers.
//
// The row tail (OW not a multiple of 16, e.g. 14 for 28x28 input) is most of the steps, and masked loads
// and stores in every row cost several times the whole loop (docs/pooling.md, Measured). So a tail step
// uses FULL-WIDTH loads that read ahead into the next rows and FULL-WIDTH stores whose extra lanes land on
// outputs of later rows of the same plane, which are rewritten moments later, in order. Only where the step
// would reach past the plane (its last rows) does it fall back to masked loads/stores, so nothing outside
// the plane is read or written.
#include <immintrin.h>

#include <cstdint>

#include "pool_isa.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::avx512 {

// ---- helpers ----------------------------------------------------------------------------------------
namespace {

using F = simd::Avx512<float>;
using D = simd::Avx512<double>;

// Lanes where v replaces best: v > best, or v is NaN (a NaN best is then never replaced: nothing is > NaN).
template <class V>
inline typename V::mask takes_over(typename V::reg v, typename V::reg best) {
  return V::cmp_gt(v, best) | V::cmp_unord(v, v);
}

// ---- kernels ----------------------------------------------------------------------------------------

// 16 float windows: taps from a (row 2*oh) and b (row 2*oh+1), both at column 2*ow; idx0 = 2*oh*W + 2*ow.
// kMasked: load/store only the lanes in the masks (the plane's last steps), else full width.
template <bool kMasked>
inline void max_2x2_step_f32(float* o, int64_t* ix, const float* a, const float* b, int64_t idx0, int64_t W,
                             F::mask m_in_lo, F::mask m_in_hi, F::mask m_out) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  // Column of each lane's window (2*lane), as int64 for the two halves of 8 lanes.
  const __m512i lane_col_lo = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i lane_col_hi = _mm512_setr_epi64(16, 18, 20, 22, 24, 26, 28, 30);
  F::reg a_lo, a_hi, b_lo, b_hi;
  if (kMasked) {
    a_lo = F::maskz_loadu(m_in_lo, a), a_hi = F::maskz_loadu(m_in_hi, a + 16);
    b_lo = F::maskz_loadu(m_in_lo, b), b_hi = F::maskz_loadu(m_in_hi, b + 16);
  } else {
    a_lo = F::loadu(a), a_hi = F::loadu(a + 16);
    b_lo = F::loadu(b), b_hi = F::loadu(b + 16);
  }
  const F::reg r0c0 = _mm512_permutex2var_ps(a_lo, even, a_hi);
  const F::reg r0c1 = _mm512_permutex2var_ps(a_lo, odd, a_hi);
  const F::reg r1c0 = _mm512_permutex2var_ps(b_lo, even, b_hi);
  const F::reg r1c1 = _mm512_permutex2var_ps(b_lo, odd, b_hi);

  F::reg best = r0c0;
  __m512i off_lo = _mm512_setzero_si512(), off_hi = _mm512_setzero_si512();
  auto take = [&](F::reg tap, int64_t offset) {
    const F::mask m = takes_over<F>(tap, best);
    const __m512i off = _mm512_set1_epi64(offset);
    best = F::mask_mov(best, m, tap);
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
    F::mask_storeu(o, m_out, best);
    _mm512_mask_storeu_epi64(ix, __mmask8(m_out), idx_lo);
    _mm512_mask_storeu_epi64(ix + 8, __mmask8(m_out >> 8), idx_hi);
  } else {
    F::storeu(o, best);
    _mm512_storeu_si512(ix, idx_lo);
    _mm512_storeu_si512(ix + 8, idx_hi);
  }
}

// 8 double windows, the same steps (8 lanes: one int64 index register).
template <bool kMasked>
inline void max_2x2_step_f64(double* o, int64_t* ix, const double* a, const double* b, int64_t idx0, int64_t W,
                             D::mask m_in_lo, D::mask m_in_hi, D::mask m_out) {
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const __m512i lane_col = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  D::reg a_lo, a_hi, b_lo, b_hi;
  if (kMasked) {
    a_lo = D::maskz_loadu(m_in_lo, a), a_hi = D::maskz_loadu(m_in_hi, a + 8);
    b_lo = D::maskz_loadu(m_in_lo, b), b_hi = D::maskz_loadu(m_in_hi, b + 8);
  } else {
    a_lo = D::loadu(a), a_hi = D::loadu(a + 8);
    b_lo = D::loadu(b), b_hi = D::loadu(b + 8);
  }
  const D::reg r0c0 = _mm512_permutex2var_pd(a_lo, even, a_hi);
  const D::reg r0c1 = _mm512_permutex2var_pd(a_lo, odd, a_hi);
  const D::reg r1c0 = _mm512_permutex2var_pd(b_lo, even, b_hi);
  const D::reg r1c1 = _mm512_permutex2var_pd(b_lo, odd, b_hi);

  D::reg best = r0c0;
  __m512i off = _mm512_setzero_si512();
  auto take = [&](D::reg tap, int64_t offset) {
    const D::mask m = takes_over<D>(tap, best);
    best = D::mask_mov(best, m, tap);
    off = _mm512_mask_mov_epi64(off, m, _mm512_set1_epi64(offset));
  };
  take(r0c1, 1);
  take(r1c0, W);
  take(r1c1, W + 1);

  const __m512i idx = _mm512_add_epi64(_mm512_add_epi64(_mm512_set1_epi64(idx0), lane_col), off);
  if (kMasked) {
    D::mask_storeu(o, m_out, best);
    _mm512_mask_storeu_epi64(ix, m_out, idx);
  } else {
    D::storeu(o, best);
    _mm512_storeu_si512(ix, idx);
  }
}

}  // namespace

// ---- dispatch (entry points called from pool.cpp) ----------------------------------------------------

// inp (H,W) with H >= 2*OH and W >= 2*OW, out (OH,OW), indices (OH,OW); float32, 16 outputs per step.
void max_pool2d_2x2(float* out, int64_t* indices, const float* inp, int64_t W, int64_t OH, int64_t OW) {
  constexpr int64_t L = F::W;  // outputs per step
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;  // plane bounds (elements) the steps stay inside
  const int64_t full = OW / L * L, rem = OW - full;
  const F::mask m_out = F::tail(rem), m_in_lo = F::tail(2 * rem), m_in_hi = F::tail(2 * rem - L);
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
void max_pool2d_2x2(double* out, int64_t* indices, const double* inp, int64_t W, int64_t OH, int64_t OW) {
  constexpr int64_t L = D::W;
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;
  const int64_t full = OW / L * L, rem = OW - full;
  const D::mask m_out = D::tail(rem), m_in_lo = D::tail(2 * rem), m_in_hi = D::tail(2 * rem - L);
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
void avg_pool2d_2x2(float* out, const float* inp, int64_t W, int64_t OH, int64_t OW) {
  constexpr int64_t L = F::W;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const F::reg quarter = F::set1(0.25f);
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* a = inp + 2 * oh * W;
    const float* b = a + W;
    float* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += L) {
      const bool full_width =
          ow + L <= OW || ((2 * oh + 1) * W + 2 * ow + 2 * L <= in_end && oh * OW + ow + L <= out_end);
      const int64_t n = OW - ow < L ? OW - ow : L;
      F::reg lo, hi;
      if (full_width) {
        lo = F::add(F::loadu(a + 2 * ow), F::loadu(b + 2 * ow));
        hi = F::add(F::loadu(a + 2 * ow + L), F::loadu(b + 2 * ow + L));
      } else {
        const F::mask m_lo = F::tail(2 * n), m_hi = F::tail(2 * n - L);
        lo = F::add(F::maskz_loadu(m_lo, a + 2 * ow), F::maskz_loadu(m_lo, b + 2 * ow));
        hi = F::add(F::maskz_loadu(m_hi, a + 2 * ow + L), F::maskz_loadu(m_hi, b + 2 * ow + L));
      }
      const F::reg sum = F::add(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
      const F::reg mean = F::mul(sum, quarter);
      if (full_width) F::storeu(o + ow, mean);
      else F::mask_storeu(o + ow, F::tail(n), mean);
    }
  }
}

void avg_pool2d_2x2(double* out, const double* inp, int64_t W, int64_t OH, int64_t OW) {
  constexpr int64_t L = D::W;
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const D::reg quarter = D::set1(0.25);
  const int64_t in_end = (2 * OH) * W, out_end = OH * OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const double* a = inp + 2 * oh * W;
    const double* b = a + W;
    double* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += L) {
      const bool full_width =
          ow + L <= OW || ((2 * oh + 1) * W + 2 * ow + 2 * L <= in_end && oh * OW + ow + L <= out_end);
      const int64_t n = OW - ow < L ? OW - ow : L;
      D::reg lo, hi;
      if (full_width) {
        lo = D::add(D::loadu(a + 2 * ow), D::loadu(b + 2 * ow));
        hi = D::add(D::loadu(a + 2 * ow + L), D::loadu(b + 2 * ow + L));
      } else {
        const D::mask m_lo = D::tail(2 * n), m_hi = D::tail(2 * n - L);
        lo = D::add(D::maskz_loadu(m_lo, a + 2 * ow), D::maskz_loadu(m_lo, b + 2 * ow));
        hi = D::add(D::maskz_loadu(m_hi, a + 2 * ow + L), D::maskz_loadu(m_hi, b + 2 * ow + L));
      }
      const D::reg sum = D::add(_mm512_permutex2var_pd(lo, even, hi), _mm512_permutex2var_pd(lo, odd, hi));
      const D::reg mean = D::mul(sum, quarter);
      if (full_width) D::storeu(o + ow, mean);
      else D::mask_storeu(o + ow, D::tail(n), mean);
    }
  }
}

}  // namespace fastann::cpu::avx512
