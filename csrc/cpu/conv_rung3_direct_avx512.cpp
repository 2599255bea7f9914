// conv_rung3_direct_avx512.cpp: the AVX-512 micro-kernels of conv2d's rung 3 (conv_rung3_direct.cpp), and the
// padding and dout^T packing rung 4 shares with it. Compiled with the AVX-512 flags; entered
// only when fastann::simd_level() says the CPU has AVX-512. Docs: docs/conv.md.
//
// C[0:mr, 0:nr] (+)= A (mr x K, packed) * B (K x nr). The tile is MR=12 rows by two 512-bit vectors (32
// floats or 16 doubles): 24 accumulator registers of the 32, one vector FMA per accumulator per k, the A
// value broadcast straight from memory. 24 independent FMA chains hide the FMA latency (4 cycles x 2 pipes
// needs >= 8); the loads per k (2 vectors of B + 12 broadcasts) stay under the 2-3 loads/cycle the core
// sustains while it issues 24 FMAs in 12 cycles. Partial tiles (nr < NR) use AVX-512 masked loads/stores,
// which never touch memory in the masked-off lanes, so no edge copy is needed.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "internal/conv_avx512.hpp"
#include "internal/transpose16x16_avx512.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::conv_detail {

namespace {

using F32 = simd::Avx512<float>;
using F64 = simd::Avx512<double>;
using simd::transpose16x16;

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

// row, columns = 32 output channels. Position i's value for tap k is a_base[a_off[k] + i]: for one k the 14
// broadcasts come from 14 consecutive floats of the padded image, so A needs neither packing nor a grid
// with thrown-away columns. B = W^T packed (K x 32). 28 accumulators + 2 B vectors + 1 broadcast = 31 zmm.
// The tile is transposed in registers (16x16) and stored to NCHW rows: out[j*P + i] (+ bias[j]).
inline void microkernel_rowtile_f32(int64_t K, const float* a_base, const int64_t* a_off, const float* bblk,
                                    float* out, int64_t P, int64_t mr, int64_t nc, const float* bias) {
  constexpr int RT = 14;
  F32::reg acc[RT][2];
#pragma GCC unroll 14
  for (int i = 0; i < RT; ++i) acc[i][0] = acc[i][1] = F32::zero();
  for (int64_t k = 0; k < K; ++k) {
    const float* ak = a_base + a_off[k];
    const F32::reg b0 = F32::loadu(bblk + k * 32);
    const F32::reg b1 = F32::loadu(bblk + k * 32 + 16);
#pragma GCC unroll 14
    for (int i = 0; i < RT; ++i) {
      const F32::reg ai = F32::set1(ak[i]);
      acc[i][0] = F32::fmadd(ai, b0, acc[i][0]);
      acc[i][1] = F32::fmadd(ai, b1, acc[i][1]);
    }
  }
  const F32::mask m = F32::tail(mr);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    F32::reg r[16];
#pragma GCC unroll 14
    for (int i = 0; i < RT; ++i) r[i] = acc[i][h];
    r[14] = r[15] = F32::zero();
    transpose16x16(r);  // r[j] = channel h*16+j at positions 0..15
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
      const int64_t c = h * 16 + j;
      if (c >= nc) break;
      const F32::reg v = bias ? F32::add(r[j], F32::set1(bias[c])) : r[j];
      F32::mask_storeu(out + c * P, m, v);
    }
  }
}

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

// img (C,H,W) -> xpad (C,Hp,Wp): each padded row is built in vectors of L lanes, lane j holding
// img[row][j - pad_left] where that column exists and 0 elsewhere. Inside the image buffer that is a plain
// load with the other lanes zeroed in the register (masked loads were slow on the Zen 5 this was tuned on);
// a vector that would reach before the buffer's start or past its end is a masked load, whose masked-off
// lanes are never read. Stores are full-width: a vector that runs past the row's end spills into the next
// row, which is written afterwards, and past the last row into the caller's slack (>= L elements).
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
          const F32::mask m = F32::tail(cnt);
          F32::reg r[16];
#pragma GCC unroll 16
          for (int i = 0; i < 16; ++i)
            r[i] = i < rows ? F32::maskz_loadu(m, dout + (j0 + i) * P + oh * OW + ow0) : F32::zero();
          transpose16x16(r);
          float* d = blk + (oh * Wp + ow0) * NB + (j0 - o0);
#pragma GCC unroll 16
          for (int c = 0; c < 16; ++c)
            if (c < cnt) F32::storeu(d + c * NB, r[c]);
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
