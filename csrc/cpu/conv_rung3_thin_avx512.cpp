// conv_rung3_thin_avx512.cpp: the AVX-512 micro-kernels of rung 3's thin-layer paths (conv_rung3_thin.cpp):
// layers with few channels on one side, where rung 3's general tiles (12 or 8 channels x 32 positions) would
// leave most of their rows empty. Here the vector lanes hold output positions instead of channels. Compiled
// with the AVX-512 flags; entered only when fastann::simd_level() says the CPU has AVX-512. float32 only.
// Docs: docs/conv.md ("Rung 3 on thin layers").
#include <immintrin.h>

#include <algorithm>

#include "internal/conv_thin.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::conv_detail {

namespace {

using F32 = simd::Avx512<float>;
using V = F32::reg;

// One tile of thin_rows_forward_avx512: output rows i0..i0+RB-1 (`rows` of them stored) x VB vectors of
// positions (the last stored through `mlast`) of one output channel. x points at input row i0, column j0 of
// channel 0; w at the channel's Cin*KH*KW weights. For each input channel and kernel column, input row i0+rr
// (rr < RB+KH-1) is loaded once and multiplied into the accumulators of the output rows i0+rr-kh that read it,
// with the KH weights of that column held in registers: RB*KH*VB FMAs for (RB+KH-1)*VB loads.
template <int RB, int KH, int VB>
inline void rows_tile(float* out, int64_t OW, const float* x, int64_t plane, int64_t Wp, const float* w,
                      int64_t Cin, int64_t KW, int64_t dw, int64_t rows, __mmask16 mlast, float bias,
                      SpreadPrefetch& next) {
  V acc[RB][VB];
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < VB; ++v) acc[r][v] = F32::zero();
  for (int64_t c = 0; c < Cin; ++c) {
    next.step();
    const float* xc = x + c * plane;
    const float* wc = w + c * KH * KW;
    for (int64_t kw = 0; kw < KW; ++kw) {
      V wk[KH];
#pragma GCC unroll 8
      for (int kh = 0; kh < KH; ++kh) wk[kh] = F32::set1(wc[kh * KW + kw]);
      const float* xr = xc + kw * dw;
#pragma GCC unroll 24
      for (int rr = 0; rr < RB + KH - 1; ++rr) {
        V xv[VB];
#pragma GCC unroll 2
        for (int v = 0; v < VB; ++v) {
          xv[v] = F32::loadu(xr + v * 16);
          asm("" : "+v"(xv[v]));  // one load per vector: kept from being folded into each of its KH FMAs
        }
        xr += Wp;
#pragma GCC unroll 8
        for (int kh = 0; kh < KH; ++kh) {
          const int r = rr - kh;
          if (r < 0 || r >= RB) continue;
#pragma GCC unroll 2
          for (int v = 0; v < VB; ++v) acc[r][v] = F32::fmadd(wk[kh], xv[v], acc[r][v]);
        }
      }
    }
  }
  const V b = F32::set1(bias);
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r) {
    if (r >= rows) break;
    float* o = out + r * OW;
#pragma GCC unroll 2
    for (int v = 0; v < VB; ++v) {
      if (v + 1 < VB)
        F32::storeu(o + v * 16, F32::add(acc[r][v], b));
      else
        F32::mask_storeu(o + v * 16, mlast, F32::add(acc[r][v], b));
    }
  }
}

template <int RB, int KH>
void rows_forward(float* out, const float* x, int64_t plane, int64_t Wp, const float* w, int64_t Cin, int64_t OCn,
                  int64_t KW, int64_t dw, int64_t OH, int64_t OW, const float* bias, SpreadPrefetch& next) {
  const int64_t K = Cin * KH * KW;
  for (int64_t o = 0; o < OCn; ++o) {
    const float bv = bias ? bias[o] : 0.0f;
    for (int64_t i0 = 0; i0 < OH; i0 += RB) {
      const int64_t rows = std::min<int64_t>(RB, OH - i0);
      for (int64_t j0 = 0; j0 < OW; j0 += 32) {
        const int64_t cols = std::min<int64_t>(32, OW - j0);
        float* dst = out + (o * OH + i0) * OW + j0;
        const float* src = x + i0 * Wp + j0;
        if constexpr (RB > 8)  // rows of at most 16 positions
          rows_tile<RB, KH, 1>(dst, OW, src, plane, Wp, w + o * K, Cin, KW, dw, rows, F32::tail(cols), bv, next);
        else if (cols > 16)
          rows_tile<RB, KH, 2>(dst, OW, src, plane, Wp, w + o * K, Cin, KW, dw, rows, F32::tail(cols - 16), bv, next);
        else
          rows_tile<RB, KH, 1>(dst, OW, src, plane, Wp, w + o * K, Cin, KW, dw, rows, F32::tail(cols), bv, next);
      }
    }
  }
}

// One tile of thin_dw_avx512: MO output channels x MT taps (mo, mt of them real) of acc, summed over the
// image. The smaller operand set is loaded first and held in registers; the other is streamed one vector
// per MO (or MT) FMAs. 24 accumulators.
template <int MO, int MT>
inline void dw_tile(float* acc, int64_t K, const float* dout, int64_t P, const float* xs, const int64_t* off,
                    int64_t rs, int64_t mo, int64_t mt, int64_t OH, int64_t OW, SpreadPrefetch& next) {
  const float* drow[MO];
  const float* xrow[MT];
#pragma GCC unroll 24
  for (int i = 0; i < MO; ++i) drow[i] = dout + (i < mo ? i : 0) * P;
#pragma GCC unroll 24
  for (int j = 0; j < MT; ++j) xrow[j] = xs + off[j < mt ? j : 0];
  V a[MO][MT];
#pragma GCC unroll 24
  for (int i = 0; i < MO; ++i)
#pragma GCC unroll 24
    for (int j = 0; j < MT; ++j) a[i][j] = i < mo && j < mt ? F32::loadu(acc + (i * K + j) * 16) : F32::zero();
  auto step = [&](int64_t xo, int64_t dofs, auto full, __mmask16 m) {
    auto ld = [&](const float* p) { return full ? F32::loadu(p) : F32::maskz_loadu(m, p); };
    if constexpr (MT <= MO) {
      V x[MT];
#pragma GCC unroll 24
      for (int j = 0; j < MT; ++j) x[j] = ld(xrow[j] + xo);
#pragma GCC unroll 24
      for (int i = 0; i < MO; ++i) {
        const V d = ld(drow[i] + dofs);
#pragma GCC unroll 24
        for (int j = 0; j < MT; ++j) a[i][j] = F32::fmadd(d, x[j], a[i][j]);
      }
    } else {
      V d[MO];
#pragma GCC unroll 24
      for (int i = 0; i < MO; ++i) d[i] = ld(drow[i] + dofs);
#pragma GCC unroll 24
      for (int j = 0; j < MT; ++j) {
        const V x = ld(xrow[j] + xo);
#pragma GCC unroll 24
        for (int i = 0; i < MO; ++i) a[i][j] = F32::fmadd(d[i], x, a[i][j]);
      }
    }
  };
  const int64_t full_end = OW / 16 * 16;
  const __mmask16 mtail = F32::tail(OW - full_end);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const int64_t xo = oh * rs, dofs = oh * OW;
    next.step();
    for (int64_t ow0 = 0; ow0 < full_end; ow0 += 16) step(xo + ow0, dofs + ow0, std::true_type{}, mtail);
    if (full_end < OW) step(xo + full_end, dofs + full_end, std::false_type{}, mtail);
  }
#pragma GCC unroll 24
  for (int i = 0; i < MO; ++i)
#pragma GCC unroll 24
    for (int j = 0; j < MT; ++j)
      if (i < mo && j < mt) F32::storeu(acc + (i * K + j) * 16, a[i][j]);
}

template <int MO, int MT>
void dw_all(float* acc, const float* dout, const float* xs, const int64_t* off, int64_t rs, int64_t OCg, int64_t K,
            int64_t OH, int64_t OW, SpreadPrefetch& next) {
  const int64_t P = OH * OW;
  for (int64_t o0 = 0; o0 < OCg; o0 += MO)
    for (int64_t t0 = 0; t0 < K; t0 += MT)
      dw_tile<MO, MT>(acc + (o0 * K + t0) * 16, K, dout + o0 * P, P, xs, off + t0, rs,
                      std::min<int64_t>(MO, OCg - o0), std::min<int64_t>(MT, K - t0), OH, OW, next);
}

// thin_dw_rows_avx512 for one output channel and CB input channels c0.. of a KH x KW kernel: input row r
// (loaded once per kernel column and vector) meets dout rows r - kh for every kh at once, with those KH dout
// vectors in registers: CB*KH*KW accumulators, KH + CB*KW loads per CB*KH*KW FMAs. The first and last KH-1
// rows have fewer valid kh (an edge variant skips the others: they must not be multiplied at all).
template <int KH, int KW, int CB>
inline void dw_rows_tile(float* acc, const float* dout, const float* x, int64_t plane, int64_t Wp, int64_t cb,
                         int64_t OH, int64_t OW, SpreadPrefetch& next) {
  V a[CB][KH][KW];
#pragma GCC unroll 4
  for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
    for (int kh = 0; kh < KH; ++kh)
#pragma GCC unroll 8
      for (int kw = 0; kw < KW; ++kw)
        a[c][kh][kw] = c < cb ? F32::loadu(acc + ((c * KH + kh) * KW + kw) * 16) : F32::zero();
  const float* xc[CB];
#pragma GCC unroll 4
  for (int c = 0; c < CB; ++c) xc[c] = x + (c < cb ? c : 0) * plane;
  const int64_t full_end = OW / 16 * 16;
  const __mmask16 mtail = F32::tail(OW - full_end);
  auto row = [&](int64_t r, auto edge) {
    auto col = [&](int64_t j0, auto full) {
      auto ld = [&](const float* p) { return full ? F32::loadu(p) : F32::maskz_loadu(mtail, p); };
      V d[KH];
#pragma GCC unroll 8
      for (int kh = 0; kh < KH; ++kh) {
        if (edge && (r - kh < 0 || r - kh >= OH)) continue;
        d[kh] = ld(dout + (r - kh) * OW + j0);
      }
#pragma GCC unroll 4
      for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw) {
          V xv = ld(xc[c] + r * Wp + j0 + kw);
          asm("" : "+v"(xv));  // one load, used by the KH FMAs below
#pragma GCC unroll 8
          for (int kh = 0; kh < KH; ++kh) {
            if (edge && (r - kh < 0 || r - kh >= OH)) continue;
            a[c][kh][kw] = F32::fmadd(d[kh], xv, a[c][kh][kw]);
          }
        }
    };
    for (int64_t j0 = 0; j0 < full_end; j0 += 16) col(j0, std::true_type{});
    if (full_end < OW) col(full_end, std::false_type{});
  };
  const int64_t rows = OH + KH - 1;
  for (int64_t r = 0; r < rows; ++r) {
    next.step();
    if (r >= KH - 1 && r < OH)
      row(r, std::false_type{});
    else
      row(r, std::true_type{});
  }
#pragma GCC unroll 4
  for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
    for (int kh = 0; kh < KH; ++kh)
#pragma GCC unroll 8
      for (int kw = 0; kw < KW; ++kw)
        if (c < cb) F32::storeu(acc + ((c * KH + kh) * KW + kw) * 16, a[c][kh][kw]);
}

template <int KH, int KW, int CB>
void dw_rows(float* acc, const float* dout, const float* x, int64_t plane, int64_t Wp, int64_t Cg, int64_t OCg,
             int64_t OH, int64_t OW, SpreadPrefetch& next) {
  const int64_t K = Cg * KH * KW;
  for (int64_t o = 0; o < OCg; ++o)
    for (int64_t c0 = 0; c0 < Cg;) {  // blocks of CB channels, the rest one at a time (no empty accumulators)
      float* a = acc + (o * K + c0 * KH * KW) * 16;
      if (Cg - c0 >= CB) {
        dw_rows_tile<KH, KW, CB>(a, dout + o * OH * OW, x + c0 * plane, plane, Wp, CB, OH, OW, next);
        c0 += CB;
      } else {
        dw_rows_tile<KH, KW, 1>(a, dout + o * OH * OW, x + c0 * plane, plane, Wp, 1, OH, OW, next);
        c0 += 1;
      }
    }
}

// One tile of thin_taps_forward_avx512: MO output channels (mo real; the others repeat channel 0 and are not
// stored) x NRW output rows (rows real) of 16 positions from j0 (the last masked by m).
template <int MO, int NRW>
inline void taps_tile(float* out, int64_t P, int64_t OW, const float* x, const int64_t* off, int64_t rs,
                      const float* w, int64_t K, int64_t mo, int64_t rows, __mmask16 m, const float* bias) {
  V acc[MO][NRW];
#pragma GCC unroll 8
  for (int i = 0; i < MO; ++i)
#pragma GCC unroll 4
    for (int r = 0; r < NRW; ++r) acc[i][r] = F32::zero();
  const float* wr[MO];
#pragma GCC unroll 8
  for (int i = 0; i < MO; ++i) wr[i] = w + (i < mo ? i : 0) * K;
  for (int64_t t = 0; t < K; ++t) {
    const float* xt = x + off[t];
    V xv[NRW];
#pragma GCC unroll 4
    for (int r = 0; r < NRW; ++r) xv[r] = F32::loadu(xt + r * rs);
#pragma GCC unroll 8
    for (int i = 0; i < MO; ++i) {
      const V wv = F32::set1(wr[i][t]);
#pragma GCC unroll 4
      for (int r = 0; r < NRW; ++r) acc[i][r] = F32::fmadd(wv, xv[r], acc[i][r]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MO; ++i) {
    if (i >= mo) break;
    const V b = F32::set1(bias ? bias[i] : 0.0f);
#pragma GCC unroll 4
    for (int r = 0; r < NRW; ++r) {
      if (r >= rows) break;
      F32::mask_storeu(out + i * P + r * OW, m, F32::add(acc[i][r], b));
    }
  }
}

template <int RB>
void rows_forward_kh(float* out, const float* x, int64_t plane, int64_t Wp, const float* w, int64_t Cin, int64_t OCn,
                     int64_t KH, int64_t KW, int64_t dw, int64_t OH, int64_t OW, const float* bias,
                     SpreadPrefetch& next) {
  switch (KH) {
    case 1: return rows_forward<RB, 1>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
    case 2: return rows_forward<RB, 2>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
    case 3: return rows_forward<RB, 3>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
    case 4: return rows_forward<RB, 4>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
    case 5: return rows_forward<RB, 5>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
    case 6: return rows_forward<RB, 6>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
    default: return rows_forward<RB, 7>(out, x, plane, Wp, w, Cin, OCn, KW, dw, OH, OW, bias, next);
  }
}

}  // namespace

void thin_rows_forward_avx512(float* out, const float* x, int64_t plane, int64_t Wp, const float* w, int64_t Cin,
                              int64_t OCn, int64_t KH, int64_t KW, int64_t dw, int64_t OH, int64_t OW,
                              const float* bias, SpreadPrefetch& next) {
  switch (thin_rows_block(OH, OW)) {
    case 7: return rows_forward_kh<7>(out, x, plane, Wp, w, Cin, OCn, KH, KW, dw, OH, OW, bias, next);
    case 8: return rows_forward_kh<8>(out, x, plane, Wp, w, Cin, OCn, KH, KW, dw, OH, OW, bias, next);
    case 14: return rows_forward_kh<14>(out, x, plane, Wp, w, Cin, OCn, KH, KW, dw, OH, OW, bias, next);
    default: return rows_forward_kh<16>(out, x, plane, Wp, w, Cin, OCn, KH, KW, dw, OH, OW, bias, next);
  }
}

void thin_dw_avx512(float* acc, const float* dout, const float* xs, const int64_t* off, int64_t rs, int64_t OCg,
                    int64_t K, int64_t OH, int64_t OW, SpreadPrefetch& next) {
  int64_t mo, mt;
  thin_dw_shape(OCg, K, mo, mt);
  if (mo == 8) return dw_all<8, 3>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  if (mo == 6) return dw_all<6, 4>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  if (mo == 4) return dw_all<4, 6>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  if (mo == 2) return dw_all<2, 12>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  if (mt == 8) return dw_all<1, 8>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  if (mt == 12) return dw_all<1, 12>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  if (mt == 16) return dw_all<1, 16>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
  dw_all<1, 24>(acc, dout, xs, off, rs, OCg, K, OH, OW, next);
}

void thin_pad_avx512(float* xpad, const float* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                     int64_t pad_left, int64_t Hp, int64_t Wp) {
  // Lane masks of the image columns, the same for every row (computed once: per vector they cost more
  // instructions than the copy); masked-off lanes are neither read nor faulted on.
  // (No std::vector here: its inline members compiled with AVX-512 flags could be the copy the linker keeps
  // for baseline files too.)
  const int64_t chunks = Wp / 16;
  auto mask_of = [&](int64_t v) {
    return static_cast<__mmask16>(F32::tail(pad_left + W - v * 16) & ~F32::tail(pad_left - v * 16));
  };
  constexpr int64_t kSaved = 64;
  __mmask16 lanes[kSaved];
  const int64_t saved = std::min(chunks, kSaved);
  for (int64_t v = 0; v < saved; ++v) lanes[v] = mask_of(v);
  const V zero = F32::zero();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < Hp; ++r) {
      float* dst = xpad + (c * Hp + r) * Wp;
      const int64_t i = r - pad_top;
      if (i < 0 || i >= H) {
        for (int64_t v = 0; v < chunks; ++v) F32::storeu(dst + v * 16, zero);
        continue;
      }
      const float* src = img + (c * H + i) * W - pad_left;  // lane 0 of the padded row
      if (chunks == 2) {  // rows of up to 32 floats (28x28 images): the masks stay in registers
        F32::storeu(dst, F32::maskz_loadu(lanes[0], src));
        F32::storeu(dst + 16, F32::maskz_loadu(lanes[1], src + 16));
        continue;
      }
      int64_t v = 0;
      for (; v < saved; ++v) F32::storeu(dst + v * 16, F32::maskz_loadu(lanes[v], src + v * 16));
      for (; v < chunks; ++v) F32::storeu(dst + v * 16, F32::maskz_loadu(mask_of(v), src + v * 16));
    }
}

void thin_taps_forward_avx512(float* out, const float* xs, const int64_t* off, int64_t rs, const float* w, int64_t K,
                              int64_t OCn, int64_t OH, int64_t OW, const float* bias, SpreadPrefetch& next) {
  constexpr int MO = 8, NRW = 3;
  const int64_t P = OH * OW;
  for (int64_t o0 = 0; o0 < OCn; o0 += MO)
    for (int64_t i0 = 0; i0 < OH; i0 += NRW)
      for (int64_t j0 = 0; j0 < OW; j0 += 16) {
        next.step();
        taps_tile<MO, NRW>(out + o0 * P + i0 * OW + j0, P, OW, xs + i0 * rs + j0, off, rs, w + o0 * K, K,
                           std::min<int64_t>(MO, OCn - o0), std::min<int64_t>(NRW, OH - i0), F32::tail(OW - j0),
                           bias ? bias + o0 : nullptr);
      }
}

bool thin_dw_rows_avx512(float* acc, const float* dout, const float* x, int64_t plane, int64_t Wp, int64_t Cg,
                         int64_t OCg, int64_t KH, int64_t KW, int64_t OH, int64_t OW, SpreadPrefetch& next) {
  if (KH == 3 && KW == 3) return dw_rows<3, 3, 2>(acc, dout, x, plane, Wp, Cg, OCg, OH, OW, next), true;
  if (KH == 4 && KW == 4) return dw_rows<4, 4, 1>(acc, dout, x, plane, Wp, Cg, OCg, OH, OW, next), true;
  if (KH == 2 && KW == 2) return dw_rows<2, 2, 4>(acc, dout, x, plane, Wp, Cg, OCg, OH, OW, next), true;
  return false;
}

void split_columns2_avx512(float* even, float* odd, const float* src, int64_t Wm) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t m0 = 0; m0 < Wm; m0 += 16) {
    const V a = F32::loadu(src + 2 * m0), b = F32::loadu(src + 2 * m0 + 16);
    const __mmask16 m = F32::tail(Wm - m0);
    F32::mask_storeu(even + m0, m, _mm512_permutex2var_ps(a, ie, b));
    F32::mask_storeu(odd + m0, m, _mm512_permutex2var_ps(a, io, b));
  }
}

}  // namespace fastann::cpu::conv_detail
