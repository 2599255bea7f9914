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

#include <algorithm>
#include <array>
#include <utility>
#include <type_traits>

#include "fastann/cpu/conv.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::conv_detail {

namespace {

using F32 = simd::Avx512<float>;
using F64 = simd::Avx512<double>;

template <class S>
inline void microkernel(int64_t K, const typename S::T* a, const typename S::T* b, int64_t ldb,
                        typename S::T* c, int64_t ldc, int64_t mr, int64_t nr, bool accumulate) {
  using V = typename S::reg;
  V acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = S::zero();

  if (nr == 2 * S::W) {  // full tile: plain loads
    for (int64_t k = 0; k < K; ++k) {
      const V b0 = S::loadu(b + k * ldb);
      const V b1 = S::loadu(b + k * ldb + S::W);
      const typename S::T* ak = a + k * MR;
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const V ai = S::set1(ak[i]);
        acc[i][0] = S::fmadd(ai, b0, acc[i][0]);
        acc[i][1] = S::fmadd(ai, b1, acc[i][1]);
      }
    }
  } else {  // right edge: masked loads read only the nr valid columns
    const auto m0 = S::tail(nr), m1 = S::tail(nr - S::W);
    for (int64_t k = 0; k < K; ++k) {
      const V b0 = S::maskz_loadu(m0, b + k * ldb);
      const V b1 = S::maskz_loadu(m1, b + k * ldb + S::W);
      const typename S::T* ak = a + k * MR;
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const V ai = S::set1(ak[i]);
        acc[i][0] = S::fmadd(ai, b0, acc[i][0]);
        acc[i][1] = S::fmadd(ai, b1, acc[i][1]);
      }
    }
  }

  const auto m0 = S::tail(nr), m1 = S::tail(nr - S::W);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    typename S::T* ci = c + i * ldc;
    V v0 = acc[i][0], v1 = acc[i][1];
    if (accumulate) {
      v0 = S::add(v0, S::maskz_loadu(m0, ci));
      v1 = S::add(v1, S::maskz_loadu(m1, ci + S::W));
    }
    S::mask_storeu(ci, m0, v0);
    S::mask_storeu(ci + S::W, m1, v1);
  }
}

// The same tile with A read in place: row i of A is a_base + a_off[i] (rows past mr repeat row 0 and are
// never stored). The reduction runs in runs of run_len: reduction index r*run_len + t reads A at
// r*a_run_stride + t and B row r*run_len + t. The weight gradient uses it to read the padded image's
// shifted rows without packing them, visiting only real output positions (run = one output row: OW
// positions, a_run_stride = the padded row stride Wp).
template <class S>
inline void microkernel_rows(int64_t K, int64_t run_len, int64_t a_run_stride, const typename S::T* a_base,
                             const int64_t* a_off, const typename S::T* b, int64_t ldb, typename S::T* c,
                             int64_t ldc, int64_t mr, int64_t nr, bool accumulate) {
  using V = typename S::reg;
  using T = typename S::T;
  const T* rows[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) rows[i] = a_base + a_off[i < mr ? i : 0];
  V acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = S::zero();
  const auto m0 = S::tail(nr), m1 = S::tail(nr - S::W);
  // A full tile loads B whole rather than through a mask on every k (2-3% faster on the 14x14 weight
  // gradient in a same-process A/B on Zen 5, about the size of code-layout effects: a small, not a sure, win).
  auto k_loop = [&](auto full) {
    int64_t a_shift = 0;
    for (int64_t r0 = 0; r0 < K; r0 += run_len, a_shift += a_run_stride) {
      const T* bk = b + r0 * ldb;
      for (int64_t t = 0; t < run_len; ++t, bk += ldb) {
        const V b0 = full ? S::loadu(bk) : S::maskz_loadu(m0, bk);
        const V b1 = full ? S::loadu(bk + S::W) : S::maskz_loadu(m1, bk + S::W);
        const int64_t ka = a_shift + t;
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
          const V ai = S::set1(rows[i][ka]);
          acc[i][0] = S::fmadd(ai, b0, acc[i][0]);
          acc[i][1] = S::fmadd(ai, b1, acc[i][1]);
        }
      }
    }
  };
  if (nr == 2 * S::W)
    k_loop(std::true_type{});
  else
    k_loop(std::false_type{});
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    T* ci = c + i * ldc;
    V v0 = acc[i][0], v1 = acc[i][1];
    if (accumulate) {
      v0 = S::add(v0, S::maskz_loadu(m0, ci));
      v1 = S::add(v1, S::maskz_loadu(m1, ci + S::W));
    }
    S::mask_storeu(ci, m0, v0);
    S::mask_storeu(ci + S::W, m1, v1);
  }
}

// R = rows of the tile (12, or 8 when the channel count is a multiple of 8 but not of 12).
template <int R, class S>
inline void microkernel_boff(int64_t K, const typename S::T* a, const typename S::T* b_base, const int64_t* b_off,
                             typename S::T* c, int64_t ldc, int64_t room, int64_t mr, uint64_t valid,
                             const typename S::T* bias) {
  using V = typename S::reg;
  using T = typename S::T;
  V acc[R][2];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = S::zero();
  for (int64_t k = 0; k < K; ++k) {
    const T* bk = b_base + b_off[k];
    const V b0 = S::loadu(bk);
    const V b1 = S::loadu(bk + S::W);
    const T* ak = a + k * R;
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const V ai = S::set1(ak[i]);
      acc[i][0] = S::fmadd(ai, b0, acc[i][0]);
      acc[i][1] = S::fmadd(ai, b1, acc[i][1]);
    }
  }
  const auto m0 = static_cast<typename S::mask>(valid & ((uint64_t(1) << S::W) - 1));
  const auto m1 = static_cast<typename S::mask>((valid >> S::W) & ((uint64_t(1) << S::W) - 1));
  const int64_t n0 = __builtin_popcountll(static_cast<uint64_t>(m0));
  const int64_t n1 = __builtin_popcountll(static_cast<uint64_t>(m1));
  // The valid columns are packed to the front of a register (vcompressps to a register: a memory
  // destination is microcoded on Zen 4/5 and was the hottest instruction of the first layer's forward),
  // then stored whole where the row has room for a full vector (the lanes past the valid ones land on
  // positions the next tiles write), masked only at the row's end.
  auto put = [&](typename S::T* p, int64_t left, int64_t n, V v) {
    if (left >= S::W)
      S::storeu(p, v);
    else
      S::mask_storeu(p, S::tail(n), v);
  };
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    if (i >= mr) break;
    const V bv = bias ? S::set1(bias[i]) : S::zero();
    put(c + i * ldc, room, n0, S::maskz_compress(m0, S::add(acc[i][0], bv)));
    put(c + i * ldc + n0, room - n0, n1, S::maskz_compress(m1, S::add(acc[i][1], bv)));
  }
}

// Weight gradient as dot products over the output positions, vectorized along ow:
//   dw[oc*ld_oc + k*ld_k] += sum_{oh, ow<OW} dout[oc*P + oh*OW + ow] * xpad[off[k] + oh*Wp + ow]
// Tiles of 8 output channels x 3 taps = 24 vector accumulators; each step loads 3 image vectors and 8
// gradient vectors for 24 FMAs. dout is read in its own layout (no transpose); one horizontal sum per
// (oc, k) pair per image, cheap when OH*OW/16 is large.
template <class S>
inline void dw_dot(typename S::T* dw, int64_t ld_oc, int64_t ld_k, const typename S::T* dout,
                   const typename S::T* xpad, const int64_t* off, int64_t OCg, int64_t K, int64_t OH, int64_t OW,
                   int64_t Wp) {
  using V = typename S::reg;
  using T = typename S::T;
  constexpr int MO = 8, MK = 3;
  const int64_t P = OH * OW;
  for (int64_t oc0 = 0; oc0 < OCg; oc0 += MO) {
    const int64_t mo = std::min<int64_t>(MO, OCg - oc0);
    const T* drow[MO];
    for (int i = 0; i < MO; ++i) drow[i] = dout + (oc0 + (i < mo ? i : 0)) * P;
    for (int64_t k0 = 0; k0 < K; k0 += MK) {
      const int64_t mk = std::min<int64_t>(MK, K - k0);
      const T* xrow[MK];
      for (int j = 0; j < MK; ++j) xrow[j] = xpad + off[k0 + (j < mk ? j : 0)];
      V acc[MO][MK];
#pragma GCC unroll 8
      for (int i = 0; i < MO; ++i) {
        acc[i][0] = S::zero();
        acc[i][1] = S::zero();
        acc[i][2] = S::zero();
      }
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow0 = 0; ow0 < OW; ow0 += S::W) {
          const auto m = S::tail(OW - ow0);
          const V x0 = S::maskz_loadu(m, xrow[0] + oh * Wp + ow0);
          const V x1 = S::maskz_loadu(m, xrow[1] + oh * Wp + ow0);
          const V x2 = S::maskz_loadu(m, xrow[2] + oh * Wp + ow0);
#pragma GCC unroll 8
          for (int i = 0; i < MO; ++i) {
            const V d = S::maskz_loadu(m, drow[i] + oh * OW + ow0);
            acc[i][0] = S::fmadd(d, x0, acc[i][0]);
            acc[i][1] = S::fmadd(d, x1, acc[i][1]);
            acc[i][2] = S::fmadd(d, x2, acc[i][2]);
          }
        }
      // constant indices only (unrolled, guarded), so the accumulators stay in registers in the loop above
#pragma GCC unroll 8
      for (int i = 0; i < MO; ++i) {
        if (i >= mo) break;
        T* d = dw + (oc0 + i) * ld_oc + k0 * ld_k;
        d[0] += S::hsum(acc[i][0]);
        if (mk > 1) d[ld_k] += S::hsum(acc[i][1]);
        if (mk > 2) d[2 * ld_k] += S::hsum(acc[i][2]);
      }
    }
  }
}

// In-register transpose of 16 vectors of 16 floats (r[i][j] -> r[j][i]): unpack pairs, then 128-bit lane
// shuffles (the standard AVX-512 16x16 sequence, 64 shuffles for 256 elements).
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// "Channels in vectors" forward tile (float): rows = up to 14 consecutive output positions of one output
// row, columns = 32 output channels. Position i's value for tap k is a_base[a_off[k] + i]: for one k the 14
// broadcasts come from 14 consecutive floats of the padded image, so A needs neither packing nor a grid
// with thrown-away columns. B = W^T packed (K x 32). 28 accumulators + 2 B vectors + 1 broadcast = 31 zmm.
// The tile is transposed in registers (16x16) and stored to NCHW rows: out[j*P + i] (+ bias[j]).
inline void microkernel_rowtile_f32(int64_t K, const float* a_base, const int64_t* a_off, const float* bblk,
                                    float* out, int64_t P, int64_t mr, int64_t nc, const float* bias) {
  constexpr int RT = 14;
  __m512 acc[RT][2];
#pragma GCC unroll 14
  for (int i = 0; i < RT; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const float* ak = a_base + a_off[k];
    const __m512 b0 = _mm512_loadu_ps(bblk + k * 32);
    const __m512 b1 = _mm512_loadu_ps(bblk + k * 32 + 16);
#pragma GCC unroll 14
    for (int i = 0; i < RT; ++i) {
      const __m512 ai = _mm512_set1_ps(ak[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __mmask16 m = F32::tail(mr);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    __m512 r[16];
#pragma GCC unroll 14
    for (int i = 0; i < RT; ++i) r[i] = acc[i][h];
    r[14] = r[15] = _mm512_setzero_ps();
    transpose16x16(r);  // r[j] = channel h*16+j at positions 0..15
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
      const int64_t c = h * 16 + j;
      if (c >= nc) break;
      const __m512 v = bias ? _mm512_add_ps(r[j], _mm512_set1_ps(bias[c])) : r[j];
      _mm512_mask_storeu_ps(out + c * P, m, v);
    }
  }
}

// ---- Winograd F(2x2, 3x3) (kernel 4) -------------------------------------------------------------
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
    __m512 t[4][4];  // t = d B (patch rows transformed along the columns)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512 ra = _mm512_loadu_ps(xc + ch.pa + i * Wp), rb = _mm512_loadu_ps(xc + ch.pb + i * Wp);
      const __m512 d0 = _mm512_permutex2var_ps(ra, idx[0], rb), d1 = _mm512_permutex2var_ps(ra, idx[1], rb);
      const __m512 d2 = _mm512_permutex2var_ps(ra, idx[2], rb), d3 = _mm512_permutex2var_ps(ra, idx[3], rb);
      t[i][0] = _mm512_sub_ps(d0, d2);
      t[i][1] = _mm512_add_ps(d1, d2);
      t[i][2] = _mm512_sub_ps(d2, d1);
      t[i][3] = _mm512_sub_ps(d1, d3);
    }
    // V[u][w] = (B^T t)[u][w], stored xi = u*4 + w apart by xi_stride
    float* q = v + c * ldv;
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) _mm512_storeu_ps(q, _mm512_sub_ps(t[0][w], t[2][w]));
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) _mm512_storeu_ps(q, _mm512_add_ps(t[1][w], t[2][w]));
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) _mm512_storeu_ps(q, _mm512_sub_ps(t[2][w], t[1][w]));
#pragma GCC unroll 4
    for (int w = 0; w < 4; ++w, q += xi_stride) _mm512_storeu_ps(q, _mm512_sub_ps(t[1][w], t[3][w]));
  }
}

// M (R tiles x 32 channels) = V (R x K, tile i of reduction index k at a[k*16 + i]) * U (K x 32, packed),
// stored to m[i*32 + 0..31]. The rowtile kernel's register tile without its transpose.
template <int R>
inline void winograd_gemm_tile(int64_t K, const float* a, const float* b, float* m) {
  __m512 acc[R][2];
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b + k * 32), b1 = _mm512_loadu_ps(b + k * 32 + 16);
    const float* ak = a + k * 16;
#pragma GCC unroll 14
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(ak[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 14
  for (int i = 0; i < R; ++i) {
    _mm512_storeu_ps(m + i * 32, acc[i][0]);
    _mm512_storeu_ps(m + i * 32 + 16, acc[i][1]);
  }
}

// winograd_gemm_tile<R> for R = 1..14, indexed by R - 1: a chunk's tile count sets the register tile's height.
using WinogradGemmTile = void (*)(int64_t, const float*, const float*, float*);
template <int... I>
constexpr std::array<WinogradGemmTile, sizeof...(I)> winograd_gemm_tiles(std::integer_sequence<int, I...>) {
  return {&winograd_gemm_tile<I + 1>...};
}
constexpr auto kWinogradGemmTiles = winograd_gemm_tiles(std::make_integer_sequence<int, 14>{});

}  // namespace

// Stride-1 forward of one image and group on the padded image, channels in vectors (see
// microkernel_rowtile_f32): xpad with row stride Wp and tap offsets off[K]; wt = W^T packed in 32-channel
// blocks (K x 32 each); out (OCg x OH*OW). Steps `next` (the prefetch of the next image) once per tile.
void conv_forward_rowtiles_avx512(float* out, const float* xpad, const int64_t* off, const float* wt, int64_t K,
                                  int64_t OCg, int64_t OH, int64_t OW, int64_t Wp, const float* bias,
                                  SpreadPrefetch& next) {
  const int64_t P = OH * OW;
  for (int64_t c0 = 0; c0 < OCg; c0 += 32) {
    const float* bblk = wt + (c0 / 32) * K * 32;
    const int64_t nc = std::min<int64_t>(32, OCg - c0);
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow0 = 0; ow0 < OW; ow0 += 14) {
        next.step();
        microkernel_rowtile_f32(K, xpad + oh * Wp + ow0, off, bblk, out + c0 * P + oh * OW + ow0, P,
                                std::min<int64_t>(14, OW - ow0), nc, bias ? bias + c0 : nullptr);
      }
  }
}

// Winograd F(2x2, 3x3) forward of one image and group (float; see conv.hpp). Per chunk of tiles: V = B^T d B
// (winograd_input_chunk), then per 32-channel block the 16 products M[xi] = V[xi] U[xi] (winograd_gemm_tile),
// then Y = A^T M A with A^T = [1 1 1 0; 0 1 -1 -1] for each tile and 16 channels (channels in the lanes),
// staged by output row and transposed 16x16 into the NCHW output rows.
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
        const __m512 bv = bias ? _mm512_maskz_loadu_ps(F32::tail(OCg - c0), bias + c0) : _mm512_setzero_ps();
        for (int64_t l = 0; l < R; ++l) {
          __m512 m[16];
#pragma GCC unroll 16
          for (int xi = 0; xi < 16; ++xi) m[xi] = _mm512_loadu_ps(mbuf + xi * kWinogradMStride + l * 32 + h * 16);
          __m512 s0[4], s1[4];  // A^T M
#pragma GCC unroll 4
          for (int w = 0; w < 4; ++w) {
            s0[w] = _mm512_add_ps(_mm512_add_ps(m[w], m[4 + w]), m[8 + w]);
            s1[w] = _mm512_sub_ps(_mm512_sub_ps(m[4 + w], m[8 + w]), m[12 + w]);
          }
          const int64_t r = 2 * (l / ch.per_row), col = 2 * (l % ch.per_row);
          const __m512* s[2] = {s0, s1};
#pragma GCC unroll 2
          for (int a = 0; a < 2; ++a) {  // (A^T M) A, + bias
            _mm512_store_ps(stage[r + a][col],
                            _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]), bv));
            _mm512_store_ps(stage[r + a][col + 1],
                            _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]), bv));
          }
        }
        // stage row rr holds output row 2*(ty + rr/2) + rr%2, columns 2*tx0 + 0..2*per_row-1
        const int64_t nc = std::min<int64_t>(16, OCg - c0);
        for (int64_t rr = 0; rr < 2 * ch.rows; ++rr) {
          const int64_t oh = 2 * (ch.ty + rr / 2) + rr % 2;
          if (oh >= OH) continue;
          const int64_t ow_end = std::min(OW, 2 * (ch.tx0 + ch.per_row));
          for (int64_t j0 = 0; 2 * ch.tx0 + j0 < ow_end; j0 += 16) {
            __m512 v[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; ++j) v[j] = _mm512_load_ps(stage[rr][j0 + j]);  // j0 + j < 32 (<= 28 columns)
            transpose16x16(v);  // v[j] = channel c0 + j at 16 columns
            const int64_t ow0 = 2 * ch.tx0 + j0;
            const __mmask16 mk = F32::tail(ow_end - ow0);
            float* o = out + c0 * P + oh * OW + ow0;
#pragma GCC unroll 16
            for (int j = 0; j < 16; ++j) {
              if (j >= nc) break;
              _mm512_mask_storeu_ps(o + j * P, mk, v[j]);
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
          const __m512 x00 = _mm512_loadu_ps(x), x01 = _mm512_loadu_ps(x + 32);
          const __m512 x10 = second_row ? _mm512_loadu_ps(x + Wp2 * 32) : _mm512_setzero_ps();
          const __m512 x11 = second_row ? _mm512_loadu_ps(x + Wp2 * 32 + 32) : _mm512_setzero_ps();
          const __m512 e[4][2] = {{x00, x01},
                                  {_mm512_add_ps(x00, x10), _mm512_add_ps(x01, x11)},
                                  {_mm512_sub_ps(x00, x10), _mm512_sub_ps(x01, x11)},
                                  {x10, x11}};  // G4 dt
          float* o = d + blk * T * 32 + (ty * tw + tx) * 32 + h * 16;
#pragma GCC unroll 4
          for (int u = 0; u < 4; ++u) {  // (G4 dt) G4^T
            _mm512_storeu_ps(o + (u * 4 + 0) * xi_stride, e[u][0]);
            _mm512_storeu_ps(o + (u * 4 + 1) * xi_stride, _mm512_add_ps(e[u][0], e[u][1]));
            _mm512_storeu_ps(o + (u * 4 + 2) * xi_stride, _mm512_sub_ps(e[u][0], e[u][1]));
            _mm512_storeu_ps(o + (u * 4 + 3) * xi_stride, e[u][1]);
          }
        }
    }
}

// img (C,H,W) -> xpad (C,Hp,Wp): each padded row is built in vectors of L lanes, lane j holding
// img[row][j - pad_left] where that column exists and 0 elsewhere. Inside the image buffer that is a plain
// load with the other lanes zeroed in the register (masked loads were slow on the Zen 5 this was tuned on);
// a vector that would reach before the buffer's start or past its end is a masked load, whose masked-off
// lanes are never read. Stores are full-width: a vector that runs past the row's end spills into the next
// row, which is written afterwards, and past the last row into the caller's slack (>= L elements). It
// replaced a per-element copy (three short loops per 14-float row).
template <class S>
inline void pad_image_simd(typename S::T* xpad, const typename S::T* img, int64_t C, int64_t H, int64_t W,
                           int64_t pad_top, int64_t pad_left, int64_t Hp, int64_t Wp) {
  using T = typename S::T;
  const int64_t chunks = (Wp + S::W - 1) / S::W;
  auto image_lanes = [&](int64_t v) {  // lanes of vector v that hold image columns
    const int64_t lo = pad_left - v * S::W, hi = pad_left + W - v * S::W;
    return static_cast<typename S::mask>(S::tail(hi) & ~S::tail(lo));
  };
  const typename S::reg zero = S::zero();
  const T* img_end = img + C * H * W;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < Hp; ++r) {
      T* dst = xpad + (c * Hp + r) * Wp;
      const int64_t i = r - pad_top;
      if (i < 0 || i >= H) {
        for (int64_t v = 0; v < chunks; ++v) S::storeu(dst + v * S::W, zero);
        continue;
      }
      const T* src = img + (c * H + i) * W - pad_left;  // lane 0 of the padded row (may be before img)
      for (int64_t v = 0; v < chunks; ++v) {
        const T* p = src + v * S::W;
        const auto lanes = image_lanes(v);
        const typename S::reg row = p >= img && p + S::W <= img_end ? S::maskz_mov(lanes, S::loadu(p))
                                                                  : S::maskz_loadu(lanes, p);
        S::storeu(dst + v * S::W, row);
      }
    }
}

// dout of one image and group (OCg x OH*OW) -> packed B of dout^T on the padded grid: blocks of 32 channels,
// each (Q x 32), row q = oh*Wp + ow, zero where ow >= OW or the channel is past OCg. 16x16 tiles are
// transposed in registers instead of 256 scalar strided stores.
void pack_dout_t_avx512(float* bpack, const float* dout, int64_t OCg, int64_t OH, int64_t OW, int64_t Wp) {
  constexpr int64_t NB = NR<float>;  // 32
  const int64_t P = OH * OW, Q = OH * Wp;
  for (int64_t o0 = 0; o0 < OCg; o0 += NB) {
    float* blk = bpack + (o0 / NB) * Q * NB;
    std::fill(blk, blk + Q * NB, 0.0f);
    for (int64_t j0 = o0; j0 < std::min(OCg, o0 + NB); j0 += 16) {
      const int64_t rows = std::min<int64_t>(16, OCg - j0);
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
          const int64_t cnt = std::min<int64_t>(16, OW - ow0);
          const __mmask16 m = F32::tail(cnt);
          __m512 r[16];
#pragma GCC unroll 16
          for (int i = 0; i < 16; ++i)
            r[i] = i < rows ? _mm512_maskz_loadu_ps(m, dout + (j0 + i) * P + oh * OW + ow0) : _mm512_setzero_ps();
          transpose16x16(r);
          float* d = blk + (oh * Wp + ow0) * NB + (j0 - o0);
#pragma GCC unroll 16
          for (int c = 0; c < 16; ++c)
            if (c < cnt) _mm512_storeu_ps(d + c * NB, r[c]);
        }
    }
  }
}

void microkernel_boff_avx512(int64_t rows, int64_t K, const float* a_panel, const float* b_base, const int64_t* b_off,
                             float* c, int64_t ldc, int64_t room, int64_t mr, uint64_t valid, const float* bias) {
  if (rows == 8)
    microkernel_boff<8, F32>(K, a_panel, b_base, b_off, c, ldc, room, mr, valid, bias);
  else
    microkernel_boff<MR, F32>(K, a_panel, b_base, b_off, c, ldc, room, mr, valid, bias);
}
void microkernel_boff_avx512(int64_t rows, int64_t K, const double* a_panel, const double* b_base,
                             const int64_t* b_off, double* c, int64_t ldc, int64_t room, int64_t mr, uint64_t valid,
                             const double* bias) {
  if (rows == 8)
    microkernel_boff<8, F64>(K, a_panel, b_base, b_off, c, ldc, room, mr, valid, bias);
  else
    microkernel_boff<MR, F64>(K, a_panel, b_base, b_off, c, ldc, room, mr, valid, bias);
}
void dw_dot_avx512(float* dw, int64_t ld_oc, int64_t ld_k, const float* dout, const float* xpad, const int64_t* off,
                   int64_t OCg, int64_t K, int64_t OH, int64_t OW, int64_t Wp) {
  dw_dot<F32>(dw, ld_oc, ld_k, dout, xpad, off, OCg, K, OH, OW, Wp);
}
void dw_dot_avx512(double* dw, int64_t ld_oc, int64_t ld_k, const double* dout, const double* xpad,
                   const int64_t* off, int64_t OCg, int64_t K, int64_t OH, int64_t OW, int64_t Wp) {
  dw_dot<F64>(dw, ld_oc, ld_k, dout, xpad, off, OCg, K, OH, OW, Wp);
}

void microkernel_rows_avx512(int64_t K, int64_t run_len, int64_t a_run_stride, const float* a_base,
                             const int64_t* a_off, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                             int64_t nr, bool accumulate) {
  microkernel_rows<F32>(K, run_len, a_run_stride, a_base, a_off, b, ldb, c, ldc, mr, nr, accumulate);
}

void microkernel_rows_avx512(int64_t K, int64_t run_len, int64_t a_run_stride, const double* a_base,
                             const int64_t* a_off, const double* b, int64_t ldb, double* c, int64_t ldc, int64_t mr,
                             int64_t nr, bool accumulate) {
  microkernel_rows<F64>(K, run_len, a_run_stride, a_base, a_off, b, ldb, c, ldc, mr, nr, accumulate);
}

void microkernel_avx512(int64_t K, const float* a_panel, const float* b, int64_t ldb, float* c, int64_t ldc,
                        int64_t mr, int64_t nr, bool accumulate) {
  microkernel<F32>(K, a_panel, b, ldb, c, ldc, mr, nr, accumulate);
}

void microkernel_avx512(int64_t K, const double* a_panel, const double* b, int64_t ldb, double* c, int64_t ldc,
                        int64_t mr, int64_t nr, bool accumulate) {
  microkernel<F64>(K, a_panel, b, ldb, c, ldc, mr, nr, accumulate);
}

void pad_image_avx512(float* xpad, const float* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                      int64_t pad_left, int64_t Hp, int64_t Wp) {
  pad_image_simd<F32>(xpad, img, C, H, W, pad_top, pad_left, Hp, Wp);
}
void pad_image_avx512(double* xpad, const double* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                      int64_t pad_left, int64_t Hp, int64_t Wp) {
  pad_image_simd<F64>(xpad, img, C, H, W, pad_top, pad_left, Hp, Wp);
}

}  // namespace fastann::cpu::conv_detail
