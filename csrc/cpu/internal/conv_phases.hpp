// conv_phases.hpp: rung 3's float32 AVX-512 path for strides > 1 by phase decomposition
// (conv_rung3_phases.cpp, kernels in conv_rung3_phases_avx512.cpp). Docs: docs/conv.md, "Stride > 1: phases".
//
// With stride s, output (oh, ow) reads the padded input at rows s*oh + kh*d: split the padded input into its
// s_h*s_w phase planes xph[c][a][b][i][j] = xpad[c][s_h*i + a][s_w*j + b], and tap (kh, kw) of channel c reads
// plane (c, (kh*d_h) % s_h, (kw*d_w) % s_w) shifted by ((kh*d_h) / s_h, (kw*d_w) / s_w): a stride-1 access with a
// fixed offset per tap, so the forward and the weight gradient read their operands in place, as rung 3 does for
// stride 1. The input gradient's phase (a, b) (input elements at padded rows = a mod s_h, columns = b mod s_w)
// is a stride-1 correlation of dout with the taps of that phase only: no col2im scatter.
#pragma once

#include <cstdint>

#include "fastann/cpu/conv.hpp"
#include "spread_prefetch.hpp"

namespace fastann::cpu::conv_detail {

// ---- the rung-3 hooks (conv_rung3_phases.cpp): false when the layer is not one this path takes ----------
bool conv2d_forward_stride_phases(float* out, const float* inp, const float* weight, const float* bias,
                                  const Conv2dParams& p);
bool conv2d_backward_input_stride_phases(float* dinp, const float* dout, const float* weight, const Conv2dParams& p);
bool conv2d_backward_weight_stride_phases(float* dweight, float* dbias, const float* dout, const float* inp,
                                          const Conv2dParams& p);

// ---- AVX-512 kernels (conv_rung3_phases_avx512.cpp) -----------------------------------------------------
// img (C,H,W) -> xph: plane (c, a, b) at xph + ((c*sh + a)*sw + b)*Hph*Wph holds xph[i][j] =
// img[c][sh*i + a - pt][sw*j + b - pl], 0 outside the image. Writes exactly C*sh*sw*Hph*Wph floats.
void split_phases_avx512(float* xph, const float* img, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                         int64_t sh, int64_t sw, int64_t Hph, int64_t Wph);
// out[ch*ldc + r*ldr + c] (+ bias[ch]) = sum_k a[a_off[k] + r*a_rs + c] * B[k][ch] for r < nrows, c < ncols,
// ch < nch; B packed in 32-channel blocks (K x 32 each, zero past nch). Reads up to 13 columns past ncols and
// one row past nrows of a (the caller leaves slack); those lanes are never stored. `next` (the prefetch of the
// next work item) is stepped once per tile: phase_tile_count(nrows, ncols, nch) times.
inline int64_t phase_tile_count(int64_t nrows, int64_t ncols, int64_t nch) {
  if (ncols > 7) return (nch + 31) / 32 * nrows * ((ncols + 13) / 14);
  return nch > 32 ? (nch + 63) / 64 * nrows : (nch + 31) / 32 * ((nrows + 1) / 2);
}
void phase_tiles_avx512(float* out, int64_t ldc, int64_t ldr, int64_t nrows, int64_t ncols, const float* a,
                        int64_t a_rs, const int64_t* a_off, int64_t K, const float* bpack, int64_t nch,
                        const float* bias, SpreadPrefetch& next);
// The input gradient's phases back into dx (C,H,W) for sw == 2: row ih interleaves the compact rows of its two
// column phases, phase (pl % 2) in the even columns. ph[a][b] = phase (a, b)'s buffer (C x nI[a] x nJ[b]);
// each buffer is followed by >= 16 readable floats.
void merge_phases_w2_avx512(float* dx, const float* const* ph, const int64_t* ilo, const int64_t* nI,
                            const int64_t* nJ, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl, int64_t sh);

}  // namespace fastann::cpu::conv_detail
