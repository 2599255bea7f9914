// conv_rung4_winograd_avx512.cpp: the AVX-512 float path of conv2d's rung 4 (conv_rung4_winograd.cpp): Winograd
// F(2x2, 3x3) forward of one image and group, and the input and dout transforms of the F(3x3, 2x2) weight
// gradient. Compiled with the AVX-512 flags; entered only when fastann::simd_level() says the CPU has
// AVX-512. Docs: docs/conv.md.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "internal/conv_avx512.hpp"
#include "internal/transpose16x16_avx512.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::conv_detail {

namespace {

using F32 = simd::Avx512<float>;
using F64 = simd::Avx512<double>;
using simd::transpose16x16;

// ---- chunks of tiles --------------------------------------------------------------------------------
// A chunk is up to 14 output tiles (2x2 outputs each) whose 4x4 input patches lie in two 16-float windows of
// every patch row: xpad[pa + i*Wp + 0..15] and xpad[pb + i*Wp + 0..15], i = 0..3. Lane l of a vector holds
// tile l; its patch column j is element base[l] + j of the 32 floats (window a, window b), which one
// vpermt2ps picks for all lanes at once. Narrow images (tw <= 7 tiles per row) put two tile rows in a chunk
// (window b = two rows further down); wide ones put up to 14 tiles of one row (window b = the next 16 columns).
struct WinogradChunk {
  int64_t pa, pb;    // the two windows' offsets in a channel plane of xpad
  int64_t ty, tx0;   // first tile (tile row, tile column)
  int64_t rows;      // tile rows in the chunk (1 or 2)
  int64_t per_row;   // tiles per tile row in the chunk
  int64_t count() const { return rows * per_row; }
};

// The chunks of an image of th x tw tiles (padded row stride Wp), in tile order (chunk tiles ty*tw + tx0 + lane).
template <class F>
void for_each_winograd_chunk(int64_t th, int64_t tw, int64_t Wp, F&& f) {
  if (tw <= 7) {  // two tile rows per chunk
    for (int64_t ty = 0; ty < th; ty += 2) {
      const int64_t rows = std::min<int64_t>(2, th - ty);
      const int64_t pa = 2 * ty * Wp;
      f(WinogradChunk{pa, rows == 2 ? pa + 2 * Wp : pa, ty, 0, rows, tw});
    }
  } else {  // up to 14 tiles of one tile row per chunk
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx0 = 0; tx0 < tw; tx0 += 14) {
        const int64_t pa = 2 * ty * Wp + 2 * tx0;
        f(WinogradChunk{pa, pa + 16, ty, tx0, 1, std::min<int64_t>(14, tw - tx0)});
      }
  }
}

// V = B^T d B for every lane, d the 4x4 patch (Lavin & Gray 2016, F(2x2, 3x3)):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
// v[(u*4 + w)*xi_stride + c*ldv + lane]: the 16 tiles of one (xi, c) in a row, the layout the GEMMs
// broadcast from (the forward's ldv = 16: one chunk; the weight gradient's: all tiles of the image).
inline void winograd_input_chunk(float* v, int64_t ldv, int64_t xi_stride, const float* xpad, int64_t plane,
                                 int64_t Wp, int64_t Cg, const WinogradChunk& ch) {
  alignas(64) int32_t base[16];
  for (int l = 0; l < 16; ++l) {
    const int64_t r = l / ch.per_row, t = l % ch.per_row;
    base[l] = l >= ch.count() ? 0 : static_cast<int32_t>(r * 16 + 2 * t);
  }
  __m512i idx[4];
  for (int j = 0; j < 4; ++j) idx[j] = _mm512_add_epi32(_mm512_load_si512(base), _mm512_set1_epi32(j));
  for (int64_t c = 0; c < Cg; ++c) {
    const float* xc = xpad + c * plane;
    F32::reg t[4][4];  // t = d B (patch rows transformed along the columns)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const F32::reg ra = F32::loadu(xc + ch.pa + i * Wp), rb = F32::loadu(xc + ch.pb + i * Wp);
      const F32::reg d0 = _mm512_permutex2var_ps(ra, idx[0], rb), d1 = _mm512_permutex2var_ps(ra, idx[1], rb);
      const F32::reg d2 = _mm512_permutex2var_ps(ra, idx[2], rb), d3 = _mm512_permutex2var_ps(ra, idx[3], rb);
      t[i][0] = F32::sub(d0, d2);
      t[i][1] = F32::add(d1, d2);
      t[i][2] = F32::sub(d2, d1);
      t[i][3] = F32::sub(d1, d3);
    }
    // V[u][w] = (B^T t)[u][w], stored xi = u*4 + w apart by xi_stride
    float* q = v + c * ldv;
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) F32::storeu(q, F32::sub(t[0][w], t[2][w]));
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) F32::storeu(q, F32::add(t[1][w], t[2][w]));
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) F32::storeu(q, F32::sub(t[2][w], t[1][w]));
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) F32::storeu(q, F32::sub(t[1][w], t[3][w]));
  }
}

// M (R tiles x 32 channels) = V (R x K, tile i of reduction index k at a[k*16 + i]) * U (K x 32, packed),
// stored to m[i*32 + 0..31]. The rowtile kernel's register tile without its transpose.
template <int R>
inline void winograd_gemm_tile(int64_t K, const float* a, const float* b, float* m) {
  F32::reg acc[R][2];
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = F32::zero();
  for (int64_t k = 0; k < K; ++k) {
    const F32::reg b0 = F32::loadu(b + k * 32), b1 = F32::loadu(b + k * 32 + 16);
    const float* ak = a + k * 16;
#pragma GCC unroll 14
    for (int i = 0; i < R; ++i) {
      const F32::reg ai = F32::set1(ak[i]);
      acc[i][0] = F32::fmadd(ai, b0, acc[i][0]);
      acc[i][1] = F32::fmadd(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) {
    F32::storeu(m + i * 32, acc[i][0]);
    F32::storeu(m + i * 32 + 16, acc[i][1]);
  }
}

// winograd_gemm_tile<R> for R = 1..14, indexed by R - 1: a chunk's tile count sets the register tile's height.
using WinogradGemmTile = void (*)(int64_t, const float*, const float*, float*);
template <int... I>
constexpr std::array<WinogradGemmTile, sizeof...(I)> winograd_gemm_tiles(std::integer_sequence<int, I...>) {
  return {&winograd_gemm_tile<I + 1>...};
}
constexpr auto kWinogradGemmTiles = winograd_gemm_tiles(std::make_integer_sequence<int, 14>{});

// x*0 is 0 for a finite x and NaN for an infinity or a NaN, so the sums of x*0 stay 0 unless one of the
// values is not finite. Two accumulators, masked loads for the tail.
template <class S>
inline bool any_non_finite_simd(const typename S::T* x, int64_t n) {
  using V = typename S::reg;
  const V zero = S::zero();
  V a0 = zero, a1 = zero;
  int64_t i = 0;
  for (; i + 2 * S::W <= n; i += 2 * S::W) {
    a0 = S::add(a0, S::mul(S::loadu(x + i), zero));
    a1 = S::add(a1, S::mul(S::loadu(x + i + S::W), zero));
  }
  for (; i < n; i += S::W) a0 = S::add(a0, S::mul(S::maskz_loadu(S::tail(n - i), x + i), zero));
  const typename S::T sum = S::hsum(S::add(a0, a1));
  return sum != sum;
}

}  // namespace

// Winograd F(2x2, 3x3) forward of one image and group (float; see internal/conv_avx512.hpp). Per chunk of
// tiles: V = B^T d B (winograd_input_chunk), then per 32-channel block the 16 products M[xi] = V[xi] U[xi]
// (winograd_gemm_tile), then Y = A^T M A with A^T = [1 1 1 0; 0 1 -1 -1] for each tile and 16 channels
// (channels in the lanes), staged by output row and transposed 16x16 into the NCHW output rows.
void winograd_f23_forward_avx512(float* out, const float* xpad, const float* upack, int64_t Cg, int64_t OCg,
                                 int64_t OH, int64_t OW, int64_t Hp, int64_t Wp, const float* bias, float* vbuf,
                                 float* mbuf, SpreadPrefetch& next) {
  const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2, P = OH * OW, plane = Hp * Wp;
  const int64_t blocks = (OCg + 31) / 32, usz = blocks * Cg * 32;  // one xi's packed U
  alignas(64) float stage[4][32][16];  // [output row in chunk][output column in chunk][16 channels]
  auto run_chunk = [&](const WinogradChunk& ch) {
    winograd_input_chunk(vbuf, 16, winograd_v_stride(Cg), xpad, plane, Wp, Cg, ch);
    const int64_t R = ch.count();
    const auto gemm_tile = kWinogradGemmTiles[R - 1];
    for (int64_t blk = 0; blk < blocks; ++blk) {
      for (int xi = 0; xi < 16; ++xi) {
        next.step();
        const float* a = vbuf + xi * winograd_v_stride(Cg);
        const float* b = upack + xi * usz + blk * Cg * 32;
        gemm_tile(Cg, a, b, mbuf + xi * kWinogradMStride);
      }
      for (int64_t h = 0; h < 2; ++h) {
        const int64_t c0 = blk * 32 + h * 16;
        if (c0 >= OCg) break;
        const F32::reg bv = bias ? F32::maskz_loadu(F32::tail(OCg - c0), bias + c0) : F32::zero();
        for (int64_t l = 0; l < R; ++l) {
          F32::reg m[16];
#pragma GCC unroll 16
          for (int xi = 0; xi < 16; ++xi) m[xi] = F32::loadu(mbuf + xi * kWinogradMStride + l * 32 + h * 16);
          F32::reg s0[4], s1[4];  // A^T M
#pragma GCC unroll 4
          for (int w = 0; w < 4; ++w) {
            s0[w] = F32::add(F32::add(m[w], m[4 + w]), m[8 + w]);
            s1[w] = F32::sub(F32::sub(m[4 + w], m[8 + w]), m[12 + w]);
          }
          const int64_t r = 2 * (l / ch.per_row), col = 2 * (l % ch.per_row);
          const F32::reg* s[2] = {s0, s1};
#pragma GCC unroll 2
          for (int a = 0; a < 2; ++a) {  // (A^T M) A, + bias
            F32::store(stage[r + a][col],
                            F32::add(F32::add(F32::add(s[a][0], s[a][1]), s[a][2]), bv));
            F32::store(stage[r + a][col + 1],
                            F32::add(F32::sub(F32::sub(s[a][1], s[a][2]), s[a][3]), bv));
          }
        }
        // stage row rr holds output row 2*(ty + rr/2) + rr%2, columns 2*tx0 + 0..2*per_row-1
        const int64_t nc = std::min<int64_t>(16, OCg - c0);
        for (int64_t rr = 0; rr < 2 * ch.rows; ++rr) {
          const int64_t oh = 2 * (ch.ty + rr / 2) + rr % 2;
          if (oh >= OH) continue;
          const int64_t ow_end = std::min(OW, 2 * (ch.tx0 + ch.per_row));
          for (int64_t j0 = 0; 2 * ch.tx0 + j0 < ow_end; j0 += 16) {
            F32::reg v[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; ++j) v[j] = F32::load(stage[rr][j0 + j]);  // j0 + j < 32 (<= 28 columns)
            transpose16x16(v);  // v[j] = channel c0 + j at 16 columns
            const int64_t ow0 = 2 * ch.tx0 + j0;
            const F32::mask mk = F32::tail(ow_end - ow0);
            float* o = out + c0 * P + oh * OW + ow0;
#pragma GCC unroll 16
            for (int j = 0; j < 16; ++j) {
              if (j >= nc) break;
              F32::mask_storeu(o + j * P, mk, v[j]);
            }
          }
        }
      }
    }
  };
  for_each_winograd_chunk(th, tw, Wp, run_chunk);
}

// The weight gradient's transformed input: v[xi*xi_stride + c*ldv + t] for the image's tiles t = ty*tw + tx
// in order (each chunk's 16-lane rows stored at its first tile; the lanes past its tiles are overwritten by
// the next chunk, or lie past the last tile).
void winograd_input_avx512(float* v, int64_t ldv, int64_t xi_stride, const float* xpad, int64_t Cg, int64_t OH,
                           int64_t OW, int64_t Hp, int64_t Wp) {
  const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2;
  for_each_winograd_chunk(th, tw, Wp, [&](const WinogradChunk& ch) {
    winograd_input_chunk(v + ch.ty * tw + ch.tx0, ldv, xi_stride, xpad, Hp * Wp, Wp, Cg, ch);
  });
}

// D4 = G4 dt G4^T for each 2x2 tile dt of dout, G4 = [1 0; 1 1; 1 -1; 0 1], from dout^T packed by
// pack_dout_t_avx512 with row stride Wp2 = 2*ceil(OW/2) (rows past OH read as zeros). Stored as the B operand
// of the per-xi GEMMs over tiles: d[xi*xi_stride + blk*T*32 + t*32 + j] for output channel blk*32 + j.
void winograd_dout_avx512(float* d, int64_t xi_stride, const float* dpack, int64_t OCg, int64_t OH, int64_t OW,
                          int64_t Wp2) {
  const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2, T = th * tw, Q = OH * Wp2;
  for (int64_t blk = 0; blk < (OCg + 31) / 32; ++blk)
    for (int64_t ty = 0; ty < th; ++ty) {
      const bool second_row = 2 * ty + 1 < OH;
      for (int64_t tx = 0; tx < tw; ++tx)
        for (int64_t h = 0; h < 2; ++h) {
          const float* x = dpack + blk * Q * 32 + (2 * ty * Wp2 + 2 * tx) * 32 + h * 16;
          const F32::reg x00 = F32::loadu(x), x01 = F32::loadu(x + 32);
          const F32::reg x10 = second_row ? F32::loadu(x + Wp2 * 32) : F32::zero();
          const F32::reg x11 = second_row ? F32::loadu(x + Wp2 * 32 + 32) : F32::zero();
          const F32::reg e[4][2] = {{x00, x01},
                                  {F32::add(x00, x10), F32::add(x01, x11)},
                                  {F32::sub(x00, x10), F32::sub(x01, x11)},
                                  {x10, x11}};  // G4 dt
          float* o = d + blk * T * 32 + (ty * tw + tx) * 32 + h * 16;
#pragma GCC unroll 4
          for (int u = 0; u < 4; ++u) {  // (G4 dt) G4^T
            F32::storeu(o + (u * 4 + 0) * xi_stride, e[u][0]);
            F32::storeu(o + (u * 4 + 1) * xi_stride, F32::add(e[u][0], e[u][1]));
            F32::storeu(o + (u * 4 + 2) * xi_stride, F32::sub(e[u][0], e[u][1]));
            F32::storeu(o + (u * 4 + 3) * xi_stride, e[u][1]);
          }
        }
    }
}

bool any_non_finite_avx512(const float* x, int64_t n) { return any_non_finite_simd<F32>(x, n); }
bool any_non_finite_avx512(const double* x, int64_t n) { return any_non_finite_simd<F64>(x, n); }

}  // namespace fastann::cpu::conv_detail
