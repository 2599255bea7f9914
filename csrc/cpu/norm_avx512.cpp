// norm_avx512.cpp: batch norm's inner loops compiled with the AVX-512 flags (CMakeLists.txt), in namespace
// fastann::cpu::avx512; norm.cpp takes these tables when simd_level() is avx512 (csrc/cpu/README.md).
//
// normalize, grad_input and the double loops are the plain loops of norm_loops.hpp, which the compiler
// vectorises well. Written out here, float32 (float64 for the two plain reductions):
//   - the reductions (shifted_sums, grad_sums, relu_grad_sums): float32 values are widened to double (the
//     sums are kept in double) and each sum has two independent accumulators, because a single accumulator
//     chain is bound by the add latency (each add waits for the previous one);
//   - the fused kernels' 2x2-window loops, which GCC leaves scalar (see below).
#include <immintrin.h>

#include <cstdint>

#include "norm_isa.hpp"
#include "simd_avx512.hpp"

#define FASTANN_ISA avx512
#include "norm_loops.hpp"

namespace fastann::cpu::avx512 {

// ---- helpers ----------------------------------------------------------------------------------------
namespace {

using F = simd::Avx512<float>;
using D = simd::Avx512<double>;

// The 16 floats of v as two vectors of 8 doubles.
inline __m512d widen_lo(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d widen_hi(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

// ---- kernels ----------------------------------------------------------------------------------------

// s1 += sum(x - shift), s2 += sum((x - shift)^2); x float32, sums in double. 16 values per step.
void shifted_sums_f32(const float* x, int64_t n, double shift, double* s1, double* s2) {
  const D::reg k = D::set1(shift);
  D::reg a0 = D::zero(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const F::reg v = F::loadu(x + i);
    const D::reg lo = D::sub(widen_lo(v), k), hi = D::sub(widen_hi(v), k);
    a0 = D::add(a0, lo);
    a1 = D::add(a1, hi);
    b0 = D::fmadd(lo, lo, b0);
    b1 = D::fmadd(hi, hi, b1);
  }
  double a = D::hsum(D::add(a0, a1)), b = D::hsum(D::add(b0, b1));
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
  const D::reg k = D::set1(shift);
  D::reg a0 = D::zero(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const D::reg lo = D::sub(D::loadu(x + i), k), hi = D::sub(D::loadu(x + i + 8), k);
    a0 = D::add(a0, lo);
    a1 = D::add(a1, hi);
    b0 = D::fmadd(lo, lo, b0);
    b1 = D::fmadd(hi, hi, b1);
  }
  double a = D::hsum(D::add(a0, a1)), b = D::hsum(D::add(b0, b1));
  for (; i < n; ++i) {
    const double d = x[i] - shift;
    a += d;
    b += d * d;
  }
  *s1 += a;
  *s2 += b;
}

// sum_dy += sum(dz), sum_dy_xmu += sum(dz * (x - mean)); float32 in, double sums. dz = dy, or with Relu
// dz = (y > 0 ? dy : 0), both factors zeroed where y <= 0 (so that a NaN there cannot leak through 0 * NaN).
template <bool Relu>
inline void dz_sums_f32(const float* dy, const float* y, const float* x, int64_t n, float mean, double* sum_dy,
                        double* sum_dy_xmu) {
  const F::reg m = F::set1(mean);
  D::reg a0 = D::zero(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    F::reg g = F::loadu(dy + i);
    F::reg xm = F::sub(F::loadu(x + i), m);  // x - mean in float, as the scalar path
    if constexpr (Relu) {
      const F::mask live = F::cmp_gt(F::loadu(y + i), F::zero());
      g = F::maskz_mov(live, g);
      xm = F::maskz_mov(live, xm);
    }
    const D::reg g_lo = widen_lo(g), g_hi = widen_hi(g);
    a0 = D::add(a0, g_lo);
    a1 = D::add(a1, g_hi);
    b0 = D::fmadd(g_lo, widen_lo(xm), b0);
    b1 = D::fmadd(g_hi, widen_hi(xm), b1);
  }
  double a = D::hsum(D::add(a0, a1)), b = D::hsum(D::add(b0, b1));
  for (; i < n; ++i) {
    if (Relu && !(y[i] > 0.0f)) continue;
    a += double(dy[i]);
    b += double(dy[i]) * double(x[i] - mean);
  }
  *sum_dy += a;
  *sum_dy_xmu += b;
}

void grad_sums_f32(const float* dy, const float* x, int64_t n, float mean, double* sum_dy, double* sum_dy_xmu) {
  dz_sums_f32<false>(dy, nullptr, x, n, mean, sum_dy, sum_dy_xmu);
}
// The fused backward's sums without a pool (and, with x = y, its sums from the output; see norm.cpp).
void relu_grad_sums_f32(const float* dy, const float* y, const float* x, int64_t n, float mean, double* sum_dz,
                        double* sum_dz_xmu) {
  dz_sums_f32<true>(dy, y, x, n, mean, sum_dz, sum_dz_xmu);
}

void grad_sums_f64(const double* dy, const double* x, int64_t n, double mean, double* sum_dy, double* sum_dy_xmu) {
  const D::reg m = D::set1(mean);
  D::reg a0 = D::zero(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const D::reg g0 = D::loadu(dy + i), g1 = D::loadu(dy + i + 8);
    a0 = D::add(a0, g0);
    a1 = D::add(a1, g1);
    b0 = D::fmadd(g0, D::sub(D::loadu(x + i), m), b0);
    b1 = D::fmadd(g1, D::sub(D::loadu(x + i + 8), m), b1);
  }
  double a = D::hsum(D::add(a0, a1)), b = D::hsum(D::add(b0, b1));
  for (; i < n; ++i) {
    a += dy[i];
    b += dy[i] * (x[i] - mean);
  }
  *sum_dy += a;
  *sum_dy_xmu += b;
}

// ---- the fused kernels' 2x2-window loops, float32 ---------------------------------------------------
// GCC 12 leaves the byte-index loops of norm_loops.hpp scalar, so the loops over the 2x2 windows are
// written out. A step takes 16 windows of one output row: the 32 input columns of each of the two rows
// are two vectors, split into even and odd columns with vpermt2ps (as in pool_avx512.cpp).
//
// Rows are short (OW = 14 or 7 in the CNN), so nearly every step is a row's partial last step, and masked
// loads and stores in every row cost several times the whole loop (docs/batchnorm.md, Measured). So, as in
// pool_avx512.cpp, a step uses full-width accesses that run on into the plane's next rows whenever they
// stay inside the plane, and masks only near the plane's end. Lanes past the row are then ignored in
// registers (the `m` masks), and full-width stores that run into the next rows are overwritten when those
// rows are processed.

// 16 floats at p (all 16 when p + 16 <= end, else only lanes m, the rest zero).
inline F::reg load16(const float* p, const float* end, F::mask m) {
  return p + 16 <= end ? F::loadu(p) : F::maskz_loadu(m, p);
}
// 16 window indices at p, widened to int32 (the same rule).
inline __m512i load16_index(const uint8_t* p, const uint8_t* end, F::mask m) {
  const __m128i v = p + 16 <= end ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)) : _mm_maskz_loadu_epi8(m, p);
  return _mm512_cvtepu8_epi32(v);
}
// Store 16 floats at p: all of them when p + 16 <= end (the extra lanes land on later rows of the plane,
// rewritten later), else only lanes m.
inline void store16(float* p, const float* end, F::mask m, F::reg v) {
  if (p + 16 <= end)
    F::storeu(p, v);
  else
    F::mask_storeu(p, m, v);
}

void relu_pool2_grad_sums_f32(const float* dy, const float* y, const uint8_t* window_index, const float* x,
                              int64_t H, int64_t W, float mean, double* sum_dz, double* sum_dz_xmu) {
  const int64_t OH = H / 2, OW = W / 2;
  const float *x_end = x + H * W, *y_end = y + OH * OW, *dy_end = dy + OH * OW;
  const uint8_t* wi_end = window_index + OH * OW;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const F::reg vmean = F::set1(mean);
  D::reg a0 = D::zero(), a1 = a0, b0 = a0, b1 = a0;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    const float* r1 = r0 + W;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const int64_t o = oh * OW + ow;
      const F::mask m = F::tail(OW - ow), mlo = F::tail(2 * (OW - ow)), mhi = F::tail(2 * (OW - ow) - 16);
      const __m512i k = load16_index(window_index + o, wi_end, m);
      const F::mask live = F::mask_cmp_gt(m, load16(y + o, y_end, m), F::zero());
      const F::reg g = F::maskz_mov(live, load16(dy + o, dy_end, m));
      const F::reg x0lo = load16(r0 + 2 * ow, x_end, mlo), x0hi = load16(r0 + 2 * ow + 16, x_end, mhi);
      const F::reg x1lo = load16(r1 + 2 * ow, x_end, mlo), x1hi = load16(r1 + 2 * ow + 16, x_end, mhi);
      F::reg xw = _mm512_permutex2var_ps(x0lo, even, x0hi);
      xw = F::mask_mov(xw, _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(1)),
                       _mm512_permutex2var_ps(x0lo, odd, x0hi));
      xw = F::mask_mov(xw, _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(2)),
                       _mm512_permutex2var_ps(x1lo, even, x1hi));
      xw = F::mask_mov(xw, _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(3)),
                       _mm512_permutex2var_ps(x1lo, odd, x1hi));
      // x - mean in float, as the generic loop; lanes without a live window are zeroed (0 * NaN would not be)
      const F::reg xm = F::maskz_sub(live, xw, vmean);
      const D::reg g_lo = widen_lo(g), g_hi = widen_hi(g);
      a0 = D::add(a0, g_lo);
      a1 = D::add(a1, g_hi);
      b0 = D::fmadd(g_lo, widen_lo(xm), b0);
      b1 = D::fmadd(g_hi, widen_hi(xm), b1);
    }
  }
  *sum_dz += D::hsum(D::add(a0, a1));
  *sum_dz_xmu += D::hsum(D::add(b0, b1));
}

void relu_pool2_grad_input_f32(float* dx, const float* dy, const float* y, const uint8_t* window_index,
                               const float* x, int64_t H, int64_t W, float mean, float a, float b, float c) {
  const int64_t OH = H / 2, OW = W / 2;
  const float *x_end = x + H * W, *y_end = y + OH * OW, *dy_end = dy + OH * OW;
  const float* dx_end = dx + H * W;
  const uint8_t* wi_end = window_index + OH * OW;
  // Interleave two 16-lane vectors p (even columns) and q (odd): lo = p0 q0 p1 q1 ... p7 q7, hi = p8 q8 ...
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const F::reg va = F::set1(a), vb = F::set1(b), vc = F::set1(c), vmean = F::set1(mean);
  // d = g + b*(x - mean) + c over one input row's 32 columns from 2*ow (two vectors).
  auto row = [&](float* d, const float* xr, F::reg g_even, F::reg g_odd, F::mask mlo, F::mask mhi) {
    const F::reg glo = _mm512_permutex2var_ps(g_even, lo_idx, g_odd);
    const F::reg ghi = _mm512_permutex2var_ps(g_even, hi_idx, g_odd);
    const F::reg xlo = load16(xr, x_end, mlo), xhi = load16(xr + 16, x_end, mhi);
    store16(d, dx_end, mlo, F::add(F::fmadd(vb, F::sub(xlo, vmean), vc), glo));
    store16(d + 16, dx_end, mhi, F::add(F::fmadd(vb, F::sub(xhi, vmean), vc), ghi));
  };
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int r = 0; r < 2; ++r) {  // row 2*oh+r whole, so its stores that run on only touch later rows
      const float* xr = x + (2 * oh + r) * W;
      float* dr = dx + (2 * oh + r) * W;
      for (int64_t ow = 0; ow < OW; ow += 16) {
        const int64_t o = oh * OW + ow;
        const F::mask m = F::tail(OW - ow), mlo = F::tail(2 * (OW - ow)), mhi = F::tail(2 * (OW - ow) - 16);
        const __m512i k = load16_index(window_index + o, wi_end, m);
        const F::mask live = F::mask_cmp_gt(m, load16(y + o, y_end, m), F::zero());
        const F::reg g = F::maskz_mul(live, va, load16(dy + o, dy_end, m));
        auto tap = [&](int t) { return F::maskz_mov(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(t)), g); };
        row(dr + 2 * ow, xr + 2 * ow, tap(2 * r), tap(2 * r + 1), mlo, mhi);
      }
    }
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    float* d0 = dx + 2 * oh * W;
    if (W % 2) {  // the odd last column is in no window (the full-width stores may have run over it)
      d0[W - 1] = b * (r0[W - 1] - mean) + c;
      d0[2 * W - 1] = b * (r0[2 * W - 1] - mean) + c;
    }
  }
  if (H % 2)  // the odd last row likewise
    for (int64_t i = (H - 1) * W; i < H * W; ++i) dx[i] = b * (x[i] - mean) + c;
}

// relu_pool2_route for float32 (see norm_loops.hpp), laid out as relu_pool2_grad_input_f32: per input row,
// the gradients of 16 windows interleaved into two full vectors.
void relu_pool2_route_f32(float* dx, const float* dy, const float* y, const uint8_t* window_index, int64_t H,
                          int64_t W) {
  const int64_t OH = H / 2, OW = W / 2;
  const float *y_end = y + OH * OW, *dy_end = dy + OH * OW, *dx_end = dx + H * W;
  const uint8_t* wi_end = window_index + OH * OW;
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const F::reg zero = F::zero(), one = F::set1(1.0f);
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int r = 0; r < 2; ++r) {  // row 2*oh+r whole, so its stores that run on only touch later rows
      float* dr = dx + (2 * oh + r) * W;
      for (int64_t ow = 0; ow < OW; ow += 16) {
        const int64_t o = oh * OW + ow;
        const F::mask m = F::tail(OW - ow), mlo = F::tail(2 * (OW - ow)), mhi = F::tail(2 * (OW - ow) - 16);
        const F::reg v = load16(y + o, y_end, m);
        const F::mask live = F::mask_cmp_gt(m, v, zero), nan = F::cmp_unord(v, v) & m;
        // A window whose output is 0 routes to its first tap (four zeros after the ReLU).
        const __m512i k = _mm512_mask_mov_epi32(load16_index(window_index + o, wi_end, m),
                                                m & ~live & ~nan, _mm512_setzero_si512());
        const F::reg slope = F::mask_mov(F::maskz_mov(live, one), nan, v);  // relu'(z): 1, NaN or 0
        const F::reg g = F::mul(F::add(zero, load16(dy + o, dy_end, m)), slope);
        auto tap = [&](int t) { return F::maskz_mov(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(t)), g); };
        const F::reg ge = tap(2 * r), go = tap(2 * r + 1);
        store16(dr + 2 * ow, dx_end, mlo, _mm512_permutex2var_ps(ge, lo_idx, go));
        store16(dr + 2 * ow + 16, dx_end, mhi, _mm512_permutex2var_ps(ge, hi_idx, go));
      }
    }
  if (W % 2)  // the odd last column is in no window (the full-width stores may have run over it)
    for (int64_t h = 0; h < 2 * OH; ++h) dx[h * W + W - 1] = 0.0f;
  if (H % 2)  // the odd last row likewise
    for (int64_t i = (H - 1) * W; i < H * W; ++i) dx[i] = 0.0f;
}

void relu_pool2_f32(float* y, uint8_t* window_index, const float* x, int64_t H, int64_t W, float mean, float scale,
                    float beta) {
  const int64_t OH = H / 2, OW = W / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const F::reg vmean = F::set1(mean), vscale = F::set1(scale), vbeta = F::set1(beta);
  const F::reg zero = F::zero();
  const float *x_end = x + H * W, *y_end = y + OH * OW;
  uint8_t* wi_end = window_index + OH * OW;
  auto z = [&](F::reg v) { return F::fmadd(F::sub(v, vmean), vscale, vbeta); };
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    const float* r1 = r0 + W;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const F::mask m = F::tail(OW - ow), mlo = F::tail(2 * (OW - ow)), mhi = F::tail(2 * (OW - ow) - 16);
      const F::reg a_lo = z(load16(r0 + 2 * ow, x_end, mlo)), a_hi = z(load16(r0 + 2 * ow + 16, x_end, mhi));
      const F::reg b_lo = z(load16(r1 + 2 * ow, x_end, mlo)), b_hi = z(load16(r1 + 2 * ow + 16, x_end, mhi));
      // Taps in row-major order; a tap takes over where it is greater or NaN (max_pool2d's rule).
      F::reg best = _mm512_permutex2var_ps(a_lo, even, a_hi);
      __m512i k = _mm512_setzero_si512();
      auto take = [&](F::reg tap, int t) {
        const F::mask w = F::cmp_gt(tap, best) | F::cmp_unord(tap, tap);
        best = F::mask_mov(best, w, tap);
        k = _mm512_mask_mov_epi32(k, w, _mm512_set1_epi32(t));
      };
      take(_mm512_permutex2var_ps(a_lo, odd, a_hi), 1);
      take(_mm512_permutex2var_ps(b_lo, even, b_hi), 2);
      take(_mm512_permutex2var_ps(b_lo, odd, b_hi), 3);
      // ReLU keeping NaN: zero the lanes that are neither > 0 nor NaN.
      const F::mask keep = F::cmp_nle(best, zero);  // !(best <= 0): > 0 or NaN
      const int64_t o = oh * OW + ow;
      store16(y + o, y_end, m, F::maskz_mov(keep, best));
      if (window_index + o + 16 <= wi_end)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(window_index + o), _mm512_cvtepi32_epi8(k));
      else
        _mm_mask_storeu_epi8(window_index + o, m, _mm512_cvtepi32_epi8(k));
    }
  }
}

}  // namespace

// ---- dispatch (entry points called from norm.cpp) ----------------------------------------------------
BatchNormLoops<float> batch_norm_loops(float) {
  BatchNormLoops<float> l = make_loops<float>();
  l.shifted_sums = &shifted_sums_f32;
  l.grad_sums = &grad_sums_f32;
  return l;
}
BatchNormLoops<double> batch_norm_loops(double) {
  BatchNormLoops<double> l = make_loops<double>();
  l.shifted_sums = &shifted_sums_f64;
  l.grad_sums = &grad_sums_f64;
  return l;
}
BatchNormReluLoops<float> batch_norm_relu_loops(float) {
  BatchNormReluLoops<float> l = make_relu_loops<float>();
  l.relu_pool2 = &relu_pool2_f32;
  l.relu_grad_sums = &relu_grad_sums_f32;
  l.relu_pool2_grad_sums = &relu_pool2_grad_sums_f32;
  l.relu_pool2_grad_input = &relu_pool2_grad_input_f32;
  l.relu_pool2_route = &relu_pool2_route_f32;
  return l;
}
BatchNormReluLoops<double> batch_norm_relu_loops(double) { return make_relu_loops<double>(); }

}  // namespace fastann::cpu::avx512
