// conv_winograd_phases.hpp: the transforms and layout changes of rung 4's stride-2 4x4 path
// (conv_rung4_winograd_phases.cpp explains the method and runs them). Included twice: by
// conv_rung4_winograd_phases.cpp (portable flags, both dtypes) and by conv_rung4_winograd_phases_avx512.cpp
// (AVX-512 flags, float32), each inside its own namespace (FASTANN_WP_NS), so no function compiled for AVX-512
// can be picked by the linker for the portable path; only std headers are included here for the same reason.
// FASTANN_WP_AVX512 selects the in-register 16x16 transpose. Internal to csrc/cpu.
#include <algorithm>
#include <cstdint>
#include <cstring>
#if FASTANN_WP_AVX512
#include <immintrin.h>

#include "transpose16x16_avx512.hpp"
#endif

namespace fastann::cpu::conv_detail::FASTANN_WP_NS {

// out_i[c] = (B^T in)_i for c < n: the 5-point input transform along one axis, channels innermost.
template <class T>
inline void input_transform(T* const out[5], const T* const in[5], int64_t n) {
  const T *d0 = in[0], *d1 = in[1], *d2 = in[2], *d3 = in[3], *d4 = in[4];
  T *o0 = out[0], *o1 = out[1], *o2 = out[2], *o3 = out[3], *o4 = out[4];
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    const T a = d0[c], b = d1[c], e = d2[c], f = d3[c];
    o0[c] = 2 * a - b - 2 * e + f;
    o1[c] = 2 * b + e - f;
    o2[c] = -2 * b + 3 * e - f;
    o3[c] = f - b;
    o4[c] = 2 * b - e - 2 * f + d4[c];
  }
}

// out_i[c] = (A^T in)_i, F(4, 2)'s output transform (4 of 5 points) along one axis.
template <class T>
inline void output_transform4(T* const out[4], const T* const in[5], int64_t n) {
  const T *m0 = in[0], *m1 = in[1], *m2 = in[2], *m3 = in[3], *m4 = in[4];
  T *o0 = out[0], *o1 = out[1], *o2 = out[2], *o3 = out[3];
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    const T b = m1[c], e = m2[c], f = m3[c];
    o0[c] = m0[c] + b + e + f;
    o1[c] = b - e + 2 * f;
    o2[c] = b + e + 4 * f;
    o3[c] = b - e + 8 * f + m4[c];
  }
}

// out_i[c] = (G' in)_i with G' = [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 2 4 8; 0 0 0 1] (F(2, 4)'s G without 1/s):
// dout's transform along one axis.
template <class T>
inline void dout_transform(T* const out[5], const T* const in[4], int64_t n) {
  const T *g0 = in[0], *g1 = in[1], *g2 = in[2], *g3 = in[3];
  T *o0 = out[0], *o1 = out[1], *o2 = out[2], *o3 = out[3], *o4 = out[4];
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    const T a = g0[c], b = g1[c], e = g2[c], f = g3[c];
    o0[c] = a;
    o1[c] = a + b + e + f;
    o2[c] = a - b + e - f;
    o3[c] = a + 2 * b + 4 * e + 8 * f;
    o4[c] = f;
  }
}

// The 5x5 transform B^T d B of every patch of one tile: d[r][s] at src + r*row + s*col (n channels each,
// contiguous), result xi = u*5 + w at dst + xi*xi_stride. tmp: 25*n scratch.
template <class T>
void transform_patch(T* dst, int64_t xi_stride, const T* src, int64_t row, int64_t col, int64_t n, T* tmp) {
  for (int64_t s = 0; s < 5; ++s) {  // along the rows: tmp[u][s] = sum_r B^T[u][r] d[r][s]
    const T* in[5];
    T* out[5];
    for (int r = 0; r < 5; ++r) in[r] = src + r * row + s * col, out[r] = tmp + (r * 5 + s) * n;
    input_transform(out, in, n);
  }
  for (int64_t u = 0; u < 5; ++u) {  // along the columns: V[u][w] = sum_s tmp[u][s] B[s][w]
    const T* in[5];
    T* out[5];
    for (int w = 0; w < 5; ++w) in[w] = tmp + (u * 5 + w) * n, out[w] = dst + (u * 5 + w) * xi_stride;
    input_transform(out, in, n);
  }
}

// Transposes a (rows x cols) row-major block into dst (cols x rows).
template <class T>
void transpose(T* dst, const T* src, int64_t rows, int64_t cols) {
#if FASTANN_WP_AVX512
  if constexpr (sizeof(T) == 4) {  // 16x16 blocks in registers; masked loads and stores at the edges
    for (int64_t i0 = 0; i0 < rows; i0 += 16)
      for (int64_t j0 = 0; j0 < cols; j0 += 16) {
        const int64_t ni = std::min<int64_t>(16, rows - i0), nj = std::min<int64_t>(16, cols - j0);
        const __mmask16 mj = __mmask16((1u << nj) - 1), mi = __mmask16((1u << ni) - 1);
        __m512 r[16];
        for (int64_t i = 0; i < 16; ++i)
          r[i] = i < ni ? _mm512_maskz_loadu_ps(mj, src + (i0 + i) * cols + j0) : _mm512_setzero_ps();
        simd::transpose16x16(r);
        for (int64_t j = 0; j < nj; ++j) _mm512_mask_storeu_ps(dst + (j0 + j) * rows + i0, mi, r[j]);
      }
    return;
  }
#endif
  constexpr int64_t B = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t i1 = std::min(rows, i0 + B), j1 = std::min(cols, j0 + B);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) dst[j * rows + i] = src[i * cols + j];
    }
}

// One image (C planes of H x W) -> channels-last rows of a zero frame: dst[(hp*Wp + wp)*C + c] =
// x[c][hp - top][wp - left] inside the image, 0 elsewhere (Hp x Wp positions; image rows and columns past the
// frame are not read). Returns true when a value it copied is an infinity or a NaN.
template <class T>
bool to_padded_channels_last(T* dst, const T* x, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left,
                             int64_t Hp, int64_t Wp) {
  const int64_t h1 = std::min(H, Hp - top), w1 = std::min(W, Wp - left);  // image rows / columns in the frame
  std::fill(dst, dst + top * Wp * C, T(0));                               // the frame's margins
  if (h1 < 0) {
    std::fill(dst + top * Wp * C, dst + Hp * Wp * C, T(0));
    return false;
  }
  std::fill(dst + (top + h1) * Wp * C, dst + Hp * Wp * C, T(0));
  for (int64_t h = 0; h < h1; ++h) {
    T* row = dst + (h + top) * Wp * C;
    std::fill(row, row + left * C, T(0));
    std::fill(row + (left + std::max<int64_t>(w1, 0)) * C, row + Wp * C, T(0));
  }
  if (w1 <= 0) return false;
#if FASTANN_WP_AVX512
  if constexpr (sizeof(T) == 4) {  // 16 channels x 16 columns at a time, transposed in registers
    __mmask16 bad = 0;
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t h = 0; h < h1; ++h)
      for (int64_t w0 = 0; w0 < w1; w0 += 16)
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
          const int64_t nw = std::min<int64_t>(16, w1 - w0), nc = std::min<int64_t>(16, C - c0);
          const __mmask16 mw = __mmask16((1u << nw) - 1), mc = __mmask16((1u << nc) - 1);
          __m512 r[16];
          for (int64_t c = 0; c < 16; ++c) {
            r[c] = c < nc ? _mm512_maskz_loadu_ps(mw, x + ((c0 + c) * H + h) * W + w0) : zero;
            const __m512 z = _mm512_mul_ps(r[c], zero);  // NaN exactly where r is not finite
            bad |= _mm512_cmp_ps_mask(z, z, _CMP_UNORD_Q);
          }
          simd::transpose16x16(r);
          T* d = dst + ((h + top) * Wp + left + w0) * C + c0;
          for (int64_t j = 0; j < nw; ++j) _mm512_mask_storeu_ps(d + j * C, mc, r[j]);
        }
    return bad != 0;
  }
#endif
  bool bad = false;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < h1; ++h) {
      const T* src = x + (c * H + h) * W;
      T* d = dst + ((h + top) * Wp + left) * C + c;
      for (int64_t w = 0; w < w1; ++w) {
        d[w * C] = src[w];
        bad |= !(src[w] - src[w] == 0);  // false for an infinity or a NaN
      }
    }
  return bad;
}

// V[xi][t][(ph, c)] for the forward and weight gradient: the phase patches of tile t = (image b, ti, tj).
template <class T>
void phase_input_transform(T* V, int64_t xi_stride, const T* xt, int64_t th, int64_t tw, int64_t Wp, int64_t b,
                           int64_t C, T* tmp) {
  const int64_t C4 = 4 * C;
  for (int64_t ti = 0; ti < th; ++ti)
    for (int64_t tj = 0; tj < tw; ++tj) {
      const int64_t t = (b * th + ti) * tw + tj;
      for (int64_t ph = 0; ph < 4; ++ph) {
        const int64_t p = ph / 2, q = ph % 2;
        const T* src = xt + ((8 * ti + p) * Wp + 8 * tj + q) * C;
        transform_patch(V + t * C4 + ph * C, xi_stride, src, 2 * Wp * C, 2 * C, C, tmp);
      }
    }
}

// Y (4x4 positions x n channels, position stride n) = A^T M A of tile t's 25 products M[xi][t][.].
template <class T>
void tile_output(T* Y, const T* M, int64_t xi_stride, int64_t t, int64_t n, T* tmp) {
  for (int64_t u = 0; u < 5; ++u) {  // tmp[u][j] = sum_w M[u][w] A[w][j]
    const T* in[5];
    T* out[4];
    for (int w = 0; w < 5; ++w) in[w] = M + (u * 5 + w) * xi_stride + t * n;
    for (int j = 0; j < 4; ++j) out[j] = tmp + (u * 4 + j) * n;
    output_transform4(out, in, n);
  }
  for (int64_t j = 0; j < 4; ++j) {  // Y[i][j] = sum_u A^T[i][u] tmp[u][j]
    const T* in[5];
    T* out[4];
    for (int u = 0; u < 5; ++u) in[u] = tmp + (u * 4 + j) * n;
    for (int i = 0; i < 4; ++i) out[i] = Y + (i * 4 + j) * n;
    output_transform4(out, in, n);
  }
}


// D[xi][t] (OC channels at D + xi*xi_stride + t*OC) = G' dy G'^T of the 4x4 tile of dout at output (oh0, ow0);
// dyt: dout channels-last (OH*OW x OC); rows and columns past the output read `zero` (OC zeros). tmp: 20*OC.
template <class T>
void dout_tile(T* D, int64_t xi_stride, int64_t t, const T* dyt, int64_t oh0, int64_t ow0, int64_t OH, int64_t OW,
               int64_t OC, const T* zero, T* tmp) {
  for (int64_t s = 0; s < 4; ++s) {  // along the rows, one column s of the tile at a time
    const T* rows[4];
    for (int64_t r = 0; r < 4; ++r)
      rows[r] = oh0 + r < OH && ow0 + s < OW ? dyt + ((oh0 + r) * OW + ow0 + s) * OC : zero;
    T* out[5];
    for (int u = 0; u < 5; ++u) out[u] = tmp + (u * 4 + s) * OC;
    dout_transform(out, rows, OC);
  }
  for (int64_t u = 0; u < 5; ++u) {  // along the columns
    const T* in[4];
    T* out[5];
    for (int s = 0; s < 4; ++s) in[s] = tmp + (u * 4 + s) * OC;
    for (int w = 0; w < 5; ++w) out[w] = D + (u * 5 + w) * xi_stride + t * OC;
    dout_transform(out, in, OC);
  }
}

// U[xi] = (G g G^T)[xi] * inv[xi] of every 2x2 kernel g (taps: 4 planes, `plane` apart, of ci_n rows of co_n,
// tap 2a + b), G's rows (1 0), (1 1), (1 -1), (1 2), (0 1). Point xi, row ci, column co goes to dst +
// xi*xi_stride + (co / nr)*blk_stride + ci*nr + co % nr: row-major with nr = co_n, blk_stride = 0; pack_b's
// layout with nr = NR, blk_stride = (all rows)*NR (the columns past co_n in the last block are zeroed). A
// range of rows is transformed by passing dst, taps and ci_n of that range.
template <class T>
void weight_transform(T* dst, int64_t xi_stride, int64_t nr, int64_t blk_stride, const T* taps, int64_t ci_n,
                      int64_t co_n, int64_t plane, const T* inv) {
  for (int64_t ci = 0; ci < ci_n; ++ci)
    for (int64_t j0 = 0; j0 < co_n; j0 += nr) {
      const int64_t len = std::min(nr, co_n - j0);
      const T *g00 = taps + ci * co_n + j0, *g01 = g00 + plane, *g10 = g01 + plane, *g11 = g10 + plane;
      T* d = dst + (j0 / nr) * blk_stride + ci * nr;
#pragma omp simd
      for (int64_t c = 0; c < len; ++c) {
        const T gg[5][2] = {{g00[c], g01[c]},
                            {g00[c] + g10[c], g01[c] + g11[c]},
                            {g00[c] - g10[c], g01[c] - g11[c]},
                            {g00[c] + 2 * g10[c], g01[c] + 2 * g11[c]},
                            {g10[c], g11[c]}};
        for (int u = 0; u < 5; ++u) {
          const T a = gg[u][0], b = gg[u][1];
          d[(u * 5 + 0) * xi_stride + c] = a * inv[u * 5 + 0];
          d[(u * 5 + 1) * xi_stride + c] = (a + b) * inv[u * 5 + 1];
          d[(u * 5 + 2) * xi_stride + c] = (a - b) * inv[u * 5 + 2];
          d[(u * 5 + 3) * xi_stride + c] = (a + 2 * b) * inv[u * 5 + 3];
          d[(u * 5 + 4) * xi_stride + c] = b * inv[u * 5 + 4];
        }
      }
      if (blk_stride)
        for (int xi = 0; xi < 25; ++xi) std::fill(d + xi * xi_stride + len, d + xi * xi_stride + nr, T(0));
    }
}

// The weight gradient's output transform: taps[(2a + b)*n + i] = (A^T m A)[a][b] with m[xi] = M[xi*n + i] *
// inv[xi] and F(2, 4)'s A^T = [1 1 1 1 0; 0 1 -1 2 1], for `count` entries i from taps and M (of the n = C4*OC
// entries of the summed products).
template <class T>
void weight_grad_output(T* taps, const T* M, int64_t count, int64_t n, const T* inv) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) {
    T r[5][2];  // r[u][b] = sum_w m[u][w] A[w][b]
    for (int u = 0; u < 5; ++u) {
      const T m0 = M[(u * 5) * n + i] * inv[u * 5], m1 = M[(u * 5 + 1) * n + i] * inv[u * 5 + 1],
              m2 = M[(u * 5 + 2) * n + i] * inv[u * 5 + 2], m3 = M[(u * 5 + 3) * n + i] * inv[u * 5 + 3],
              m4 = M[(u * 5 + 4) * n + i] * inv[u * 5 + 4];
      r[u][0] = m0 + m1 + m2 + m3;
      r[u][1] = m1 - m2 + 2 * m3 + m4;
    }
    for (int b = 0; b < 2; ++b) {
      taps[b * n + i] = r[0][b] + r[1][b] + r[2][b] + r[3][b];
      taps[(2 + b) * n + i] = r[1][b] - r[2][b] + 2 * r[3][b] + r[4][b];
    }
  }
}

}  // namespace fastann::cpu::conv_detail::FASTANN_WP_NS
