// conv_thin.hpp: rung 3's paths for thin layers, where one side has few channels (a grayscale first layer, a
// one-channel output layer, their transposes): the drivers (conv_rung3_thin.cpp, baseline code) and their
// AVX-512 micro-kernels (conv_rung3_thin_avx512.cpp). Declarations and integer helpers only, so that baseline
// and AVX-512 files can both include it. float32 with AVX-512 only; everything else keeps rung 3's general
// paths. Docs: docs/conv.md ("Rung 3 on thin layers").
#pragma once

#include <cstdint>

#include "fastann/cpu/conv.hpp"
#include "spread_prefetch.hpp"

namespace fastann::cpu::conv_detail {

// ---- drivers (conv_rung3_thin.cpp) -------------------------------------------------------------------------
// Each computes the whole call and returns true when the layer is thin and the CPU has AVX-512; otherwise it
// returns false having done nothing, and rung 3 goes on with its general path. Zero-padding geometry (as every
// rung receives it). Same arguments as the rung-3 entry points (conv_rungs.hpp).
bool conv2d_forward_thin(float* out, const float* inp, const float* weight, const float* bias, const Conv2dParams& p);
bool conv2d_backward_input_thin(float* dinp, const float* dout, const float* weight, const Conv2dParams& p);
bool conv2d_backward_weight_thin(float* dweight, float* dbias, const float* dout, const float* inp,
                                 const Conv2dParams& p);

// ---- AVX-512 micro-kernels (conv_rung3_thin_avx512.cpp) ----------------------------------------------------
// The inline helpers sit in anonymous namespaces: baseline and AVX-512 files each keep their own copy (a shared
// inline function would be merged by the linker into the copy of whichever file came first; gemm_packed.hpp).
// thin_rows_forward_avx512 computes thin_rows_block(OH, OW) output rows together; its
// input needs thin_rows_slack(Wp) readable floats after the last plane (rows past the image feed only
// accumulators that are never stored). It steps `next` (the next item's prefetch) once per tile and input
// channel: thin_rows_steps(Cin, OCn, OH, OW) times.
namespace {
inline int64_t thin_rows_block(int64_t OH, int64_t OW) {
  // 7 or 8 rows of two vectors (16 accumulators), 14 or 16 rows of one vector when the rows are <= 16 wide:
  // the one computing the fewest rows past OH, the taller on a tie.
  const int64_t options[2][2] = {{8, 7}, {16, 14}};
  int64_t best = 0, cost = 0;
  for (const int64_t rb : options[OW <= 16 ? 1 : 0]) {
    const int64_t c = (OH + rb - 1) / rb * rb;
    if (!best || c < cost) best = rb, cost = c;
  }
  return best;
}
inline int64_t thin_rows_slack(int64_t Wp) { return 17 * Wp + 64; }
inline int64_t thin_rows_steps(int64_t Cin, int64_t OCn, int64_t OH, int64_t OW) {
  const int64_t rb = thin_rows_block(OH, OW);
  return Cin * OCn * ((OH + rb - 1) / rb) * ((OW + 31) / 32);
}

// Stride-1 correlation with the positions of output rows in the vector lanes, for few output channels:
//   out[o, i, j] = bias[o] + sum_{c<Cin, kh<KH, kw<KW} w[((o*Cin + c)*KH + kh)*KW + kw] * x[c*plane + (i+kh)*Wp + j + kw*dw]
// out (OCn, OH, OW) contiguous; bias (OCn) or nullptr; KH <= 7. Tiles of 7 or 8 output rows x 32 positions (14
// or 16 rows x 16 where the rows are that short) of one channel: each loaded input vector serves the KH output
// rows that read it.
}  // namespace

void thin_rows_forward_avx512(float* out, const float* x, int64_t plane, int64_t Wp, const float* w, int64_t Cin,
                              int64_t OCn, int64_t KH, int64_t KW, int64_t dw, int64_t OH, int64_t OW,
                              const float* bias, SpreadPrefetch& next);

namespace {
// The register tile of thin_dw_avx512: mo output channels x mt taps (8 x 3 or 6 x 4, 4 x 6, 2 x 12, or 1 x up to
// 24).
inline void thin_dw_shape(int64_t OCg, int64_t K, int64_t& mo, int64_t& mt) {
  mo = OCg >= 8 ? 8 : OCg >= 4 ? 4 : OCg >= 2 ? 2 : 1;
  mt = mo == 8 ? 3 : mo == 4 ? 6 : mo == 2 ? 12 : K <= 8 ? 8 : K <= 12 ? 12 : K <= 16 ? 16 : 24;
  if (mo == 8 && K % 3 != 0 && K % 4 == 0) mo = 6, mt = 4;  // e.g. a 4x4 kernel: no empty tap rows
}
// thin_dw_avx512 steps `next` once per output row of each tile: thin_dw_steps(OCg, K, OH) times.
inline int64_t thin_dw_steps(int64_t OCg, int64_t K, int64_t OH) {
  int64_t mo, mt;
  thin_dw_shape(OCg, K, mo, mt);
  return (OCg + mo - 1) / mo * ((K + mt - 1) / mt) * OH;
}

// Weight gradient of one image as dot products along the output rows, kept as 16-lane partial sums:
//   acc[(o*K + t)*16 + lane] += sum over i < OH, j < OW with j % 16 == lane of
//                                 dout[o*OH*OW + i*OW + j] * xs[off[t] + i*rs + j]
// (o < OCg, t < K). Lanes past OW are masked on both operands, so nothing outside the sum is multiplied.
}  // namespace

void thin_dw_avx512(float* acc, const float* dout, const float* xs, const int64_t* off, int64_t rs, int64_t OCg,
                    int64_t K, int64_t OH, int64_t OW, SpreadPrefetch& next);

// img (C,H,W) -> xpad (C,Hp,Wp) with the image at (pad_top, pad_left) and zeros around it; Wp a multiple of 16
// (whole-vector stores that never overlap: with the 64-byte aligned xpad of the drivers, aligned ones).
void thin_pad_avx512(float* xpad, const float* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                     int64_t pad_left, int64_t Hp, int64_t Wp);

// The same sums for stride 1 and no dilation, x the padded image (Cg planes of `plane` floats, row stride Wp),
// t = (c*KH + kh)*KW + kw: each input vector is loaded once for all kh (see dw_rows_tile). Kernels 2x2, 3x3
// and 4x4; returns false (doing nothing) for others. Steps `next` thin_dw_rows_steps(Cg, OCg, KH, OH) times.
bool thin_dw_rows_avx512(float* acc, const float* dout, const float* x, int64_t plane, int64_t Wp, int64_t Cg,
                         int64_t OCg, int64_t KH, int64_t KW, int64_t OH, int64_t OW, SpreadPrefetch& next);
namespace {
inline int64_t thin_dw_rows_steps(int64_t Cg, int64_t OCg, int64_t KH, int64_t OH) {
  const int64_t cb = KH == 2 ? 4 : KH == 3 ? 2 : 1;  // channels per tile; the last Cg % cb one at a time
  return OCg * (Cg / cb + Cg % cb) * (OH + KH - 1);  // one step per input row of each tile
}

// Forward with few input channels and many output channels, taps read in place (any stride, dilation):
//   out[o, i, j] = bias[o] + sum_{t<K} w[o*K + t] * xs[off[t] + i*rs + j]
// Tiles of 8 output channels x 3 output rows of 16 positions (24 accumulators): per tap 3 loads and 8
// broadcasts. xs needs thin_taps_slack(rs) readable floats past its last output row's reads. Steps `next`
// thin_taps_steps(OCn, OH, OW) times.
inline int64_t thin_taps_slack(int64_t rs) { return 3 * rs + 64; }
inline int64_t thin_taps_steps(int64_t OCn, int64_t OH, int64_t OW) {
  return (OCn + 7) / 8 * ((OH + 2) / 3) * ((OW + 15) / 16);
}
}  // namespace

void thin_taps_forward_avx512(float* out, const float* xs, const int64_t* off, int64_t rs, const float* w, int64_t K,
                              int64_t OCn, int64_t OH, int64_t OW, const float* bias, SpreadPrefetch& next);

// One padded row split by column parity: even[m] = src[2m], odd[m] = src[2m + 1] for m < Wm. Reads up to
// 2*Wm + 32 floats from src.
void split_columns2_avx512(float* even, float* odd, const float* src, int64_t Wm);

}  // namespace fastann::cpu::conv_detail
