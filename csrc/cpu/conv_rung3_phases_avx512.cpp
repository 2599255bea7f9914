// conv_rung3_phases_avx512.cpp: the AVX-512 kernels of rung 3's stride > 1 path by phase decomposition
// (conv_rung3_phases.cpp, internal/conv_phases.hpp): the split of an image into its stride phases, the
// channels-in-lanes tiles that compute a stride-1 correlation on them, and the interleave of the input
// gradient's phases back into the image. Compiled with the AVX-512 flags; entered only after
// fastann::simd_level() reported avx512. Docs: docs/conv.md.
#include <immintrin.h>

#include <algorithm>

#include "internal/conv_phases.hpp"
#include "internal/transpose16x16_avx512.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::conv_detail {

namespace {

using F32 = simd::Avx512<float>;
using simd::transpose16x16;

// Lanes l of a 16-float load at column `base` of a row of n columns that lie inside the row.
inline F32::mask inside(int64_t base, int64_t n) {
  return static_cast<F32::mask>(F32::tail(n - base) & ~F32::tail(-base));
}

// A register tile of ROWS x COLS positions (position r*COLS + c reads a[a_off[k] + r*a_rs + c]) by NV vectors
// of 16 channels: ROWS*COLS*NV accumulators, for one k NV loads of B and ROWS*COLS broadcasts. Each 16-channel
// vector is transposed in registers (positions in the lanes) and stored as rows of the output.
template <int ROWS, int COLS, int NV>
inline void position_tile(int64_t K, const float* a, const int64_t* a_off, int64_t a_rs, const float* b,
                          int64_t b_blk, float* out, int64_t ldc, int64_t ldr, int64_t nrows, int64_t ncols,
                          int64_t nch, const float* bias) {
  constexpr int NP = ROWS * COLS;
  static_assert(NP <= 16 && NP * NV <= 28, "tile too large");
  F32::reg acc[NP][NV];
#pragma GCC unroll 16
  for (int i = 0; i < NP; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = F32::zero();
  for (int64_t k = 0; k < K; ++k) {
    const float* ak = a + a_off[k];
    F32::reg bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = F32::loadu(b + (v / 2) * b_blk + k * 32 + (v % 2) * 16);
#pragma GCC unroll 2
    for (int r = 0; r < ROWS; ++r) {
      const float* ar = ak + r * a_rs;
#pragma GCC unroll 14
      for (int c = 0; c < COLS; ++c) {
        const F32::reg ai = F32::set1(ar[c]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r * COLS + c][v] = F32::fmadd(ai, bv[v], acc[r * COLS + c][v]);
      }
    }
  }
  const F32::mask cols = F32::tail(ncols);
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    if (v * 16 >= nch) break;
    F32::reg t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) t[i] = i < NP ? acc[i][v] : F32::zero();
    transpose16x16(t);  // t[j] = channel v*16 + j, position i in lane i
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
      const int64_t ch = v * 16 + j;
      if (ch >= nch) break;
      const F32::reg val = bias ? F32::add(t[j], F32::set1(bias[ch])) : t[j];
      float* o = out + ch * ldc;
#pragma GCC unroll 2
      for (int r = 0; r < ROWS; ++r) {
        if (r >= nrows) break;
        // lanes r*COLS .. r*COLS + ncols - 1 hold row r: a masked store never touches the other lanes' memory
        F32::mask_storeu(o + r * ldr - r * COLS, static_cast<F32::mask>(cols << (r * COLS)), val);
      }
    }
  }
}

}  // namespace

void phase_tiles_avx512(float* out, int64_t ldc, int64_t ldr, int64_t nrows, int64_t ncols, const float* a,
                        int64_t a_rs, const int64_t* a_off, int64_t K, const float* bpack, int64_t nch,
                        const float* bias, SpreadPrefetch& next) {
  const int64_t b_blk = K * 32;
  // Rows of more than 7 positions: 14 positions of one row x 32 channels. Rows of up to 7: one row x 64
  // channels where there are more than 32 channels, else two rows x 32.
  if (ncols > 7) {
    for (int64_t c0 = 0; c0 < nch; c0 += 32)
      for (int64_t r = 0; r < nrows; ++r)
        for (int64_t j0 = 0; j0 < ncols; j0 += 14)
        {
          next.step();
          position_tile<1, 14, 2>(K, a + r * a_rs + j0, a_off, a_rs, bpack + (c0 / 32) * b_blk, b_blk,
                                  out + c0 * ldc + r * ldr + j0, ldc, ldr, 1, std::min<int64_t>(14, ncols - j0),
                                  std::min<int64_t>(32, nch - c0), bias ? bias + c0 : nullptr);
        }
    return;
  }
  for (int64_t c0 = 0; c0 < nch;) {
    const float* bb = bpack + (c0 / 32) * b_blk;
    float* o = out + c0 * ldc;
    const float* bs = bias ? bias + c0 : nullptr;
    if (nch - c0 > 32) {
      const int64_t n = std::min<int64_t>(64, nch - c0);
      for (int64_t r = 0; r < nrows; ++r, next.step())
        position_tile<1, 7, 4>(K, a + r * a_rs, a_off, a_rs, bb, b_blk, o + r * ldr, ldc, ldr, 1, ncols, n, bs);
      c0 += 64;
    } else {
      int64_t r = 0;
      for (; r + 1 < nrows; r += 2, next.step())
        position_tile<2, 7, 2>(K, a + r * a_rs, a_off, a_rs, bb, b_blk, o + r * ldr, ldc, ldr, 2, ncols, nch - c0, bs);
      if (r < nrows) {  // an odd last row: 7 positions (14 accumulators) rather than a half-empty pair
        next.step();
        position_tile<1, 7, 2>(K, a + r * a_rs, a_off, a_rs, bb, b_blk, o + r * ldr, ldc, ldr, 1, ncols, nch - c0, bs);
      }
      c0 += 32;
    }
  }
}

void split_phases_avx512(float* xph, const float* img, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                         int64_t sh, int64_t sw, int64_t Hph, int64_t Wph) {
  const int64_t plane = Hph * Wph;
  const F32::reg zero = F32::zero();
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t i = 0; i < Hph; ++i) {
        const int64_t ih = sh * i + a - pt;
        const bool row_in = ih >= 0 && ih < H;
        const float* row = img + (c * H + (row_in ? ih : 0)) * W;
        float* d = xph + (c * sh + a) * sw * plane + i * Wph;  // plane (c, a, 0), row i
        if (!row_in) {
          for (int64_t b = 0; b < sw; ++b)
            for (int64_t j0 = 0; j0 < Wph; j0 += 16) F32::mask_storeu(d + b * plane + j0, F32::tail(Wph - j0), zero);
          continue;
        }
        if (sw == 2) {  // two 16-column loads of the padded row, split into even and odd columns
          for (int64_t j0 = 0; j0 < Wph; j0 += 16) {
            const int64_t base = 2 * j0 - pl;
            const F32::reg v0 = F32::maskz_loadu(inside(base, W), row + base);
            const F32::reg v1 = F32::maskz_loadu(inside(base + 16, W), row + base + 16);
            const F32::mask m = F32::tail(Wph - j0);
            F32::mask_storeu(d + j0, m, _mm512_permutex2var_ps(v0, even, v1));
            F32::mask_storeu(d + plane + j0, m, _mm512_permutex2var_ps(v0, odd, v1));
          }
          continue;
        }
        for (int64_t b = 0; b < sw; ++b)
          for (int64_t j = 0; j < Wph; ++j) {
            const int64_t iw = sw * j + b - pl;
            d[b * plane + j] = iw >= 0 && iw < W ? row[iw] : 0.0f;
          }
      }
}

void merge_phases_w2_avx512(float* dx, const float* const* ph, const int64_t* ilo, const int64_t* nI,
                            const int64_t* nJ, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl, int64_t sh) {
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const int64_t b0 = pl % 2, b1 = 1 - b0;  // the phases of dx's even and odd columns
  for (int64_t ih = 0; ih < H; ++ih) {
    const int64_t a = (ih + pt) % sh, ii = (ih + pt) / sh - ilo[a];
    const float* e = ph[a * 2 + b0] + ii * nJ[b0];
    const float* o = ph[a * 2 + b1] + ii * nJ[b1];
    const int64_t ce = nI[a] * nJ[b0], co = nI[a] * nJ[b1];
    for (int64_t c = 0; c < C; ++c) {
      float* d = dx + (c * H + ih) * W;
      for (int64_t m0 = 0; 2 * m0 < W; m0 += 16) {
        const F32::reg ve = F32::loadu(e + c * ce + m0), vo = F32::loadu(o + c * co + m0);
        F32::mask_storeu(d + 2 * m0, F32::tail(W - 2 * m0), _mm512_permutex2var_ps(ve, lo, vo));
        F32::mask_storeu(d + 2 * m0 + 16, F32::tail(W - 2 * m0 - 16), _mm512_permutex2var_ps(ve, hi, vo));
      }
    }
  }
}

}  // namespace fastann::cpu::conv_detail
