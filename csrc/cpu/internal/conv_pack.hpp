// conv_pack.hpp: the packed operand layouts of conv2d's rungs 3 and 4 and the loops that feed them to the
// AVX-512 micro-kernels (conv_avx512.hpp) or to the portable micro-kernel here (CPUs without AVX-512). Baseline
// code; include it only from baseline files. Docs: docs/conv.md.
#pragma once

#include <algorithm>
#include <cstdint>

#include "conv_avx512.hpp"
#include "conv_common.hpp"
#include "spread_prefetch.hpp"

namespace fastann::cpu::conv_detail {


// Pack the (M x K) matrix A (element (m,k) at src[m*rs + k*cs]) into ceil(M/MR) panels of K x MR:
// panel q holds rows q*MR..q*MR+MR-1 interleaved so the micro-kernel reads MR values per k contiguously.
// Rows past M are zero so a partial panel computes harmless zeros.
// R: the panel height (MR = 12 by default; 8 for the forward when that wastes fewer rows).
template <class T>
void pack_a(T* dst, const T* src, int64_t M, int64_t K, int64_t rs, int64_t cs, int64_t R = MR) {
  for (int64_t m0 = 0; m0 < M; m0 += R) {
    T* panel = dst + (m0 / R) * K * R;
    const int64_t mr = std::min(R, M - m0);
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t i = 0; i < mr; ++i) panel[k * R + i] = src[(m0 + i) * rs + k * cs];
      for (int64_t i = mr; i < R; ++i) panel[k * R + i] = T(0);
    }
  }
}

template <class T>
int64_t packed_size(int64_t M, int64_t K, int64_t R = MR) {
  return (M + R - 1) / R * R * K;
}

// Tile height for M rows: 8 when it pads fewer rows than 12 (M = 32, 64: 8-row tiles fit exactly where
// 12-row tiles compute 4 or 8 rows of zeros), else 12 (more FMAs per B load).
inline int64_t tile_rows(int64_t M) {
  const int64_t waste12 = (M + 11) / 12 * 12 - M, waste8 = (M + 7) / 8 * 8 - M;
  return waste8 < waste12 ? 8 : MR;
}

// Portable micro-kernel with the same contract as microkernel_avx512 (CPUs without AVX-512).
template <class T>
void microkernel_generic(int64_t K, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t mr,
                         int64_t nr, bool accumulate) {
  T acc[MR][NR<T>] = {};
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < MR; ++i) {
      const T ai = a[k * MR + i];
      for (int64_t j = 0; j < nr; ++j) acc[i][j] += ai * b[k * ldb + j];
    }
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

// A 64-byte aligned scratch buffer (one cache line, one AVX-512 vector): the packed panels the

// Packed B layout: the (K x N) matrix cut into ceil(N/NR) column blocks, each stored K x NR contiguously,
// zero-padded on the right. The micro-kernel then reads one contiguous, aligned 2-vector row per k.
template <class T>
int64_t packed_b_size(int64_t K, int64_t N) {
  return (N + NR<T> - 1) / NR<T> * NR<T> * K;
}

// src (K x N) row-major with row stride ld -> packed B.
template <class T>
void pack_b(T* dst, const T* src, int64_t K, int64_t N, int64_t ld) {
  for (int64_t n0 = 0; n0 < N; n0 += NR<T>) {
    T* blk = dst + (n0 / NR<T>) * K * NR<T>;
    const int64_t nr = std::min(NR<T>, N - n0);
    for (int64_t k = 0; k < K; ++k) {
      T* d = blk + k * NR<T>;
      const T* s = src + k * ld + n0;
      for (int64_t j = 0; j < nr; ++j) d[j] = s[j];
      for (int64_t j = nr; j < NR<T>; ++j) d[j] = T(0);
    }
  }
}

// src (N x K) row-major (the transpose of the wanted B) -> packed B of src^T (K x N).
template <class T>
void pack_b_transposed(T* dst, const T* src, int64_t K, int64_t N) {
  for (int64_t n0 = 0; n0 < N; n0 += NR<T>) {
    T* blk = dst + (n0 / NR<T>) * K * NR<T>;
    const int64_t nr = std::min(NR<T>, N - n0);
    for (int64_t j = 0; j < NR<T>; ++j) {
      if (j < nr) {
        const T* s = src + (n0 + j) * K;
        for (int64_t k = 0; k < K; ++k) blk[k * NR<T> + j] = s[k];
      } else {
        for (int64_t k = 0; k < K; ++k) blk[k * NR<T> + j] = T(0);
      }
    }
  }
}

// im2col straight into the packed B layout (K x P cut into NR-column blocks): the forward's B operand
// is written once, contiguous, and never re-laid out.
template <class T>
void im2col_packed_b(T* dst, const T* img, const Conv2dParams& p, int64_t Cg) {
  const int64_t P = p.OH * p.OW, K = Cg * p.KH * p.KW;
  const int64_t nblocks = (P + NR<T> - 1) / NR<T>;
  // zero the padded tail of the last block (positions P .. nblocks*NR-1)
  if (P % NR<T>)
    for (int64_t k = 0; k < K; ++k) {
      T* d = dst + (nblocks - 1) * K * NR<T> + k * NR<T>;
      for (int64_t j = P % NR<T>; j < NR<T>; ++j) d[j] = T(0);
    }
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const int64_t k = (c * p.KH + kh) * p.KW + kw;
        int64_t lo, hi;
        valid_range(p.W, p.pad_left, kw * p.dilation_w, p.stride_w, p.OW, lo, hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          const bool row_ok = ih >= 0 && ih < p.H;
          const T* src = img + (c * p.H + (row_ok ? ih : 0)) * p.W + kw * p.dilation_w - p.pad_left;
          // The row's OW positions, cut where they cross from one NR-column block into the next.
          for (int64_t ow = 0; ow < p.OW;) {
            const int64_t pos = oh * p.OW + ow, j = pos % NR<T>;
            const int64_t len = std::min(NR<T> - j, p.OW - ow);
            T* d = dst + (pos / NR<T>) * K * NR<T> + k * NR<T> + j;  // d[t - ow] holds position ow' = t
            const int64_t a = row_ok ? std::min(std::max(lo, ow), ow + len) : ow + len;
            const int64_t b = row_ok ? std::max(std::min(hi, ow + len), a) : ow + len;
            for (int64_t t = ow; t < a; ++t) d[t - ow] = T(0);
            for (int64_t t = a; t < b; ++t) d[t - ow] = src[t * p.stride_w];
            for (int64_t t = b; t < ow + len; ++t) d[t - ow] = T(0);
            ow += len;
          }
        }
      }
}

// im2col straight into the packed A layout (K x P as MR-row panels, K padded to a multiple of MR):
// the weight gradient's A operand.
template <class T>
void im2col_packed_a(T* dst, const T* img, const Conv2dParams& p, int64_t Cg) {
  const int64_t P = p.OH * p.OW, K = Cg * p.KH * p.KW;
  for (int64_t k = K; k < (K + MR - 1) / MR * MR; ++k)  // zero rows of the last partial panel
    for (int64_t pos = 0; pos < P; ++pos) dst[(k / MR) * P * MR + pos * MR + k % MR] = T(0);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const int64_t k = (c * p.KH + kh) * p.KW + kw;
        T* panel = dst + (k / MR) * P * MR + k % MR;
        int64_t lo, hi;
        valid_range(p.W, p.pad_left, kw * p.dilation_w, p.stride_w, p.OW, lo, hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          const bool row_ok = ih >= 0 && ih < p.H;
          const T* src = img + (c * p.H + (row_ok ? ih : 0)) * p.W + kw * p.dilation_w - p.pad_left;
          T* d = panel + oh * p.OW * MR;
          for (int64_t ow = 0; ow < p.OW; ++ow)
            d[ow * MR] = (row_ok && ow >= lo && ow < hi) ? src[ow * p.stride_w] : T(0);
        }
      }
}

// C (M x N, ldc) (+)= A * B with A packed by pack_a and B packed by pack_b / im2col_packed_b.
template <class T>
void gemm_packed_ab(int64_t M, int64_t N, int64_t K, const T* apack, const T* bpack, T* c, int64_t ldc,
                    bool accumulate, bool avx512) {
  for (int64_t n0 = 0; n0 < N; n0 += NR<T>) {
    const int64_t nr = std::min(NR<T>, N - n0);
    const T* blk = bpack + (n0 / NR<T>) * K * NR<T>;
    for (int64_t m0 = 0; m0 < M; m0 += MR) {
      const int64_t mr = std::min(MR, M - m0);
      const T* panel = apack + (m0 / MR) * K * MR;
      if (avx512)
        microkernel_avx512(K, panel, blk, NR<T>, c + m0 * ldc + n0, ldc, mr, nr, accumulate);
      else
        microkernel_generic(K, panel, blk, NR<T>, c + m0 * ldc + n0, ldc, mr, nr, accumulate);
    }
  }
}

// Packed B (K x Q in NR-column blocks) from the shifted rows of xpad: one contiguous copy per row and block.
template <class T>
void pack_b_shifted(T* dst, const T* xpad, const ShiftedGeometry& s) {
  const int64_t K = static_cast<int64_t>(s.off.size());
  for (int64_t n0 = 0; n0 < s.Q; n0 += NR<T>) {
    T* blk = dst + (n0 / NR<T>) * K * NR<T>;
    const int64_t nr = std::min(NR<T>, s.Q - n0);
    for (int64_t k = 0; k < K; ++k) {
      const T* src = xpad + s.off[k] + n0;
      T* d = blk + k * NR<T>;
      if (nr == NR<T>) {
        for (int64_t j = 0; j < NR<T>; ++j) d[j] = src[j];
      } else {
        for (int64_t j = 0; j < nr; ++j) d[j] = src[j];
        for (int64_t j = nr; j < NR<T>; ++j) d[j] = T(0);
      }
    }
  }
}

// C (M x N) (+)= A * B with A's rows read in place (row m at a_base + a_off[m], no packing) and B packed.
// The reduction (length K) runs in runs of run_len: index r*run_len + t reads A at r*a_run_stride + t.
template <class T>
void gemm_rows_a(int64_t M, int64_t N, int64_t K, int64_t run_len, int64_t a_run_stride, const T* a_base,
                 const int64_t* a_off, const T* bpack, T* c, int64_t ldc, bool accumulate, bool avx512,
                 SpreadPrefetch* next = nullptr) {
  for (int64_t n0 = 0; n0 < N; n0 += NR<T>) {
    const int64_t nr = std::min(NR<T>, N - n0);
    const T* blk = bpack + (n0 / NR<T>) * K * NR<T>;
    for (int64_t m0 = 0; m0 < M; m0 += MR) {
      const int64_t mr = std::min(MR, M - m0);
      if (next) next->step();
      if (avx512) {
        microkernel_rows_avx512(K, run_len, a_run_stride, a_base, a_off + m0, blk, NR<T>,
                                             c + m0 * ldc + n0, ldc, mr, nr, accumulate);
        continue;
      }
      for (int64_t i = 0; i < mr; ++i) {
        const T* arow = a_base + a_off[m0 + i];
        for (int64_t j = 0; j < nr; ++j) {
          T sum = T(0);
          for (int64_t r0 = 0, sh = 0; r0 < K; r0 += run_len, sh += a_run_stride)
            for (int64_t t = 0; t < run_len; ++t) sum += arow[sh + t] * blk[(r0 + t) * NR<T> + j];
          T& cij = c[(m0 + i) * ldc + n0 + j];
          cij = accumulate ? cij + sum : sum;
        }
      }
    }
  }
}

}  // namespace fastann::cpu::conv_detail
