// conv.cpp: conv2d forward / backward-input / backward-weight (the ladder of conv.hpp), the padding modes,
// and upsample2d. Baseline x86-64 code; the AVX-512 micro-kernel lives in conv_avx512.cpp.
//
// Notation used throughout: Cg = C/groups, OCg = OC/groups, K = Cg*KH*KW (the reduction length of one
// output element), P = OH*OW (output positions per image). Per image n and group g, a convolution is the
// matrix product   out[n,g] (OCg x P) = W[g] (OCg x K) * col[n,g] (K x P)
// where col ("im2col") holds, in row k=(c,kh,kw) and column p=(oh,ow), the input element that tap (kh,kw)
// of channel c multiplies for output position p. Its two gradients are the two other products:
//   dcol (K x P) = W[g]^T * dout[n,g]          then col2im scatters dcol back onto the input gradient
//   dW[g] (OCg x K) += dout[n,g] * col^T       summed over the images
#include "fastann/cpu/conv.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "fastann/common.hpp"
#include "fastann/cpu/gemm.hpp"

namespace fastann::cpu {

// ===================================================================================================
// helpers
// ===================================================================================================
namespace {

using conv_detail::MR;
using conv_detail::NR;

// The input index a padded position copies: reflect mirrors without repeating the edge (torch "reflect"),
// replicate repeats the edge. Only called for modes other than zeros.
inline int64_t source_index(int64_t i, int64_t n, PaddingMode mode) {
  if (mode == PaddingMode::reflect) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
  }
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// The same convolution on an input that already carries its padding: pads 0, zeros mode.
Conv2dParams on_padded_input(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.H = p.H + p.pad_top + p.pad_bottom;
  q.W = p.W + p.pad_left + p.pad_right;
  q.pad_top = q.pad_bottom = q.pad_left = q.pad_right = 0;
  q.mode = PaddingMode::zeros;
  return q;
}

// inp (N,C,H,W) -> xpad (N,C,H+pt+pb,W+pl+pr) for reflect / replicate padding
template <class T>
void materialize_padded(T* xpad, const T* inp, const Conv2dParams& p) {
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  std::vector<int64_t> col_src(Wp);
  for (int64_t j = 0; j < Wp; ++j) col_src[j] = source_index(j - p.pad_left, p.W, p.mode);
  parallel_for(p.N * p.C, 16, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      const T* src = inp + plane * p.H * p.W;
      T* dst = xpad + plane * Hp * Wp;
      for (int64_t i = 0; i < Hp; ++i) {
        const T* srow = src + source_index(i - p.pad_top, p.H, p.mode) * p.W;
        for (int64_t j = 0; j < Wp; ++j) dst[i * Wp + j] = srow[col_src[j]];
      }
    }
  });
}

// The adjoint of materialize_padded: dpad (N,C,Hp,Wp) -> dinp (N,C,H,W), each padded position's gradient
// added to the input element it copied.
template <class T>
void fold_padded_grad(T* dinp, const T* dpad, const Conv2dParams& p) {
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  std::vector<int64_t> col_src(Wp);
  for (int64_t j = 0; j < Wp; ++j) col_src[j] = source_index(j - p.pad_left, p.W, p.mode);
  parallel_for(p.N * p.C, 16, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      T* dst = dinp + plane * p.H * p.W;
      const T* src = dpad + plane * Hp * Wp;
      std::fill(dst, dst + p.H * p.W, T(0));
      for (int64_t i = 0; i < Hp; ++i) {
        T* drow = dst + source_index(i - p.pad_top, p.H, p.mode) * p.W;
        for (int64_t j = 0; j < Wp; ++j) drow[col_src[j]] += src[i * Wp + j];
      }
    }
  });
}

// Range of output columns ow whose input column ow*s - pad + tap*d lies in [0, n): [lo, hi).
inline void valid_range(int64_t n, int64_t pad, int64_t tap_offset, int64_t s, int64_t out, int64_t& lo,
                        int64_t& hi) {
  // iw = ow*s + (tap_offset - pad) >= 0  <=>  ow >= ceil((pad - tap_offset) / s)
  const int64_t shift = tap_offset - pad;
  lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
  // iw <= n-1  <=>  ow <= floor((n - 1 - shift) / s)
  hi = (n - 1 - shift) < 0 ? 0 : (n - 1 - shift) / s + 1;
  lo = std::min(lo, out);
  hi = std::min(std::max(hi, lo), out);
}

// img (Cg,H,W) of one image and group -> col (K, P), K = Cg*KH*KW, P = OH*OW. Zero padding.
template <class T>
void im2col(T* col, const T* img, const Conv2dParams& p, int64_t Cg) {
  const int64_t P = p.OH * p.OW;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        T* row = col + ((c * p.KH + kh) * p.KW + kw) * P;
        int64_t lo, hi;
        valid_range(p.W, p.pad_left, kw * p.dilation_w, p.stride_w, p.OW, lo, hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          T* dst = row + oh * p.OW;
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) {
            std::fill(dst, dst + p.OW, T(0));
            continue;
          }
          const T* src = img + (c * p.H + ih) * p.W + kw * p.dilation_w - p.pad_left;
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (p.stride_w == 1)
            std::memcpy(dst + lo, src + lo, (hi - lo) * sizeof(T));
          else
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * p.stride_w];
          for (int64_t ow = hi; ow < p.OW; ++ow) dst[ow] = T(0);
        }
      }
}

// The adjoint of im2col: img (Cg,H,W) += scatter of col (K, P). img must be zeroed by the caller.
template <class T>
void col2im(T* img, const T* col, const Conv2dParams& p, int64_t Cg) {
  const int64_t P = p.OH * p.OW;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const T* row = col + ((c * p.KH + kh) * p.KW + kw) * P;
        int64_t lo, hi;
        valid_range(p.W, p.pad_left, kw * p.dilation_w, p.stride_w, p.OW, lo, hi);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) continue;
          const T* src = row + oh * p.OW;
          T* dst = img + (c * p.H + ih) * p.W + kw * p.dilation_w - p.pad_left;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * p.stride_w] += src[ow];
        }
      }
}

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

// Portable micro-kernel with the same contract as conv_detail::microkernel_avx512 (CPUs without AVX-512).
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
// micro-kernel streams start on a line boundary, so no vector load splits across two lines.
template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t n = 0) { resize(n); }
  ~Scratch() { std::free(ptr_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void resize(int64_t n) {
    std::free(ptr_);
    ptr_ = nullptr;
    if (n > 0) {
      const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;
      ptr_ = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (!ptr_) throw std::bad_alloc();
    }
  }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
};

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
        conv_detail::microkernel_avx512(K, panel, blk, NR<T>, c + m0 * ldc + n0, ldc, mr, nr, accumulate);
      else
        microkernel_generic(K, panel, blk, NR<T>, c + m0 * ldc + n0, ldc, mr, nr, accumulate);
    }
  }
}

bool have_avx512() { return simd_level() == SimdLevel::avx512; }

// ---- the padded-image ("shifted rows") formulation used by kernel 3 for stride 1 -----------------
// With stride 1, put the output positions on the padded input's grid: q = oh*Wp + ow (ow < Wp, the last
// Wp-OW columns of each row are computed and thrown away). Then the column matrix's row k=(c,kh,kw) is
// simply the padded image shifted by off[k] = c*Hp*Wp + kh*dh*Wp + kw*dw:  col[k, q] = xpad[off[k] + q].
// Packing it is a contiguous copy per row (vector speed) instead of im2col's index arithmetic; the price
// is (Wp-OW)/Wp extra columns (2/16 for a 14x14 image with padding 1).
struct ShiftedGeometry {
  int64_t Hp, Wp, Q;             // padded image, Q = OH*Wp positions on the padded grid
  int64_t plane;                 // Cg*Hp*Wp
  int64_t slack;                 // zeros after the image: the last shifted row reads up to (KW-1)*dw past it
  std::vector<int64_t> off;      // off[k], k = (c*KH + kh)*KW + kw
};

ShiftedGeometry shifted_geometry(const Conv2dParams& p, int64_t Cg) {
  ShiftedGeometry s;
  s.Hp = p.H + p.pad_top + p.pad_bottom;
  s.Wp = p.W + p.pad_left + p.pad_right;
  s.Q = p.OH * s.Wp;
  s.plane = Cg * s.Hp * s.Wp;
  s.slack = (p.KW - 1) * p.dilation_w + 64;
  s.off.resize(Cg * p.KH * p.KW);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw)
        s.off[(c * p.KH + kh) * p.KW + kw] = c * s.Hp * s.Wp + kh * p.dilation_h * s.Wp + kw * p.dilation_w;
  return s;
}

// img (Cg,H,W) -> xpad (Cg,Hp,Wp) with zero borders, followed by `slack` zeros.
template <class T>
void pad_image(T* xpad, const T* img, const Conv2dParams& p, int64_t Cg, const ShiftedGeometry& s) {
  std::fill(xpad + s.plane, xpad + s.plane + s.slack, T(0));
  if (have_avx512()) {  // vector rows; its stores may spill up to 64 bytes into the slack (zeros there too)
    conv_detail::pad_image_avx512(xpad, img, Cg, p.H, p.W, p.pad_top, p.pad_left, s.Hp, s.Wp);
    return;
  }
  for (int64_t c = 0; c < Cg; ++c) {
    T* d = xpad + c * s.Hp * s.Wp;
    std::fill(d, d + p.pad_top * s.Wp, T(0));
    for (int64_t i = 0; i < p.H; ++i) {
      T* row = d + (p.pad_top + i) * s.Wp;
      const T* src = img + (c * p.H + i) * p.W;
      for (int64_t j = 0; j < p.pad_left; ++j) row[j] = T(0);
      for (int64_t j = 0; j < p.W; ++j) row[p.pad_left + j] = src[j];
      for (int64_t j = p.pad_left + p.W; j < s.Wp; ++j) row[j] = T(0);
    }
    std::fill(d + (p.pad_top + p.H) * s.Wp, d + s.Hp * s.Wp, T(0));
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
                 conv_detail::SpreadPrefetch* next = nullptr) {
  for (int64_t n0 = 0; n0 < N; n0 += NR<T>) {
    const int64_t nr = std::min(NR<T>, N - n0);
    const T* blk = bpack + (n0 / NR<T>) * K * NR<T>;
    for (int64_t m0 = 0; m0 < M; m0 += MR) {
      const int64_t mr = std::min(MR, M - m0);
      if (next) next->step();
      if (avx512) {
        conv_detail::microkernel_rows_avx512(K, run_len, a_run_stride, a_base, a_off + m0, blk, NR<T>,
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

// Work handed out one item at a time (an atomic counter) rather than in fixed chunks: on a shared machine a
// thread whose core is busy with another process simply takes fewer images instead of holding up the rest.
class WorkQueue {
 public:
  explicit WorkQueue(int64_t n) : n_(n) {}
  int64_t next() {  // the next item, or -1 when all are taken
    const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    return i < n_ ? i : -1;
  }

 private:
  const int64_t n_;
  std::atomic<int64_t> next_{0};
};

// A sum over work items that comes out the same in every call: the items are cut into runs of consecutive
// items, a WorkQueue hands out whole runs, and each run is summed in item order into its own buffer; the
// buffers are then added in run order. Which thread took which run does not matter (as it would with one
// buffer per thread); only the cut does, and that depends on the item and thread counts alone.
// The runs shrink as they go (OpenMP's "guided" schedule): each is 1/threads of the items left, so the
// first are long (few buffers to add up) and the last are single items (a thread that runs out of work
// waits at most one item for the others).
struct Runs {
  std::vector<int64_t> start;  // run r is items [start[r], start[r+1])
  int64_t count() const { return int64_t(start.size()) - 1; }
  int64_t of(int64_t item) const {  // the run an item belongs to
    return std::upper_bound(start.begin(), start.end(), item) - start.begin() - 1;
  }
};

inline Runs guided_runs(int64_t items, int threads) {
  Runs runs{{0}};
  for (int64_t s = 0; s < items;) {
    s += std::max<int64_t>(1, (items - s) / threads);
    runs.start.push_back(s);
  }
  return runs;
}

// One thread's items, in order: those of the runs it claims, one run after another; -1 at the end.
class RunCursor {
 public:
  RunCursor(WorkQueue& queue, const Runs& runs) : queue_(queue), runs_(runs) {}
  int64_t next() {
    if (cur_ == end_) {
      const int64_t r = queue_.next();
      if (r < 0) return -1;
      cur_ = runs_.start[r];
      end_ = runs_.start[r + 1];
    }
    return cur_++;
  }

 private:
  WorkQueue& queue_;
  const Runs& runs_;
  int64_t cur_ = 0, end_ = 0;
};

// Threads used for n items: fastann's thread count, at most n.
inline int team_size(int64_t n) { return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), n))); }

// body(t, queue) runs once on each of team_size(n) threads (t = 0..team-1) and pulls items from the queue.
template <class Body>
void parallel_dynamic(int64_t n, Body&& body) {
  WorkQueue queue(n);
  const int nt = team_size(n);
  if (nt == 1) {
    body(0, queue);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  body(omp_get_thread_num(), queue);
#else
  body(0, queue);
#endif
}

// A deterministic sum over work items (see Runs), with one buffer of `size` elements per run.
//   RunSums<T> sums(items, size);
//   sums.parallel([&](RunCursor& items) { for (ng; (ng = items.next()) >= 0;) add item ng into sums.buffer(ng); });
//   T* total = sums.total();
// buffer(ng) is ng's run's buffer, zeroed when the run's first item asks for it (a run's items come in order,
// on one thread); total() adds the runs into the first, in run order.
template <class T>
class RunSums {
 public:
  RunSums(int64_t items, int64_t size)
      : runs_(guided_runs(items, team_size(items))), size_(size), partial_(runs_.count()) {}

  // body(cursor) runs on each thread of the team; the cursor hands it whole runs.
  template <class Body>
  void parallel(Body&& body) {
    parallel_dynamic(runs_.count(), [&](int, WorkQueue& run_queue) {
      RunCursor items(run_queue, runs_);
      body(items);
    });
  }
  T* buffer(int64_t item) {
    const int64_t r = runs_.of(item);
    if (item == runs_.start[r]) partial_[r].assign(size_, T(0));
    return partial_[r].data();
  }
  T* total() {
    T* first = partial_[0].data();
    parallel_for(size_, 4096, [&](int64_t b, int64_t e) {  // contiguous, vectorized
      for (size_t r = 1; r < partial_.size(); ++r) {
        const T* run = partial_[r].data();
        for (int64_t i = b; i < e; ++i) first[i] += run[i];
      }
    });
    return first;
  }

 private:
  const Runs runs_;
  const int64_t size_;
  std::vector<std::vector<T>> partial_;
};

// Row-major C (M x N) = op(A) * op(B) (+ C when accumulate) with fastann's own GEMM (csrc/cpu/gemm.cpp,
// kernel 0 = its fastest rung, threaded): the im2col rung is "unfold, then call the GEMM".
// A is stored (M x K), or (K x M) when trans_a; B is stored (K x N), or (N x K) when trans_b.
template <class T>
void gemm_for_im2col(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C,
                     bool accumulate) {
  GemmArgs<T> g;
  g.m = M, g.n = N, g.k = K;
  g.a = A, g.lda = trans_a ? M : K, g.trans_a = trans_a;
  g.b = B, g.ldb = trans_b ? K : N, g.trans_b = trans_b;
  g.c = C, g.ldc = N;
  g.alpha = T(1), g.beta = accumulate ? T(1) : T(0);
  gemm<T>(g, 0);
}

}  // namespace

// ===================================================================================================
// kernels
// ===================================================================================================
namespace {

// ---- kernel 1: naive direct loops (zero padding) --------------------------------------------------
// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_kernel1_naive(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  parallel_for(p.N * p.OC, 1, [&](int64_t b, int64_t e) {
    for (int64_t no = b; no < e; ++no) {
      const int64_t n = no / p.OC, o = no % p.OC, g = o / OCg;
      for (int64_t oh = 0; oh < p.OH; ++oh)
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          T sum = bias ? bias[o] : T(0);
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < p.KH; ++kh) {
              const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t kw = 0; kw < p.KW; ++kw) {
                const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (iw < 0 || iw >= p.W) continue;
                sum += weight[((o * Cg + c) * p.KH + kh) * p.KW + kw] *
                       inp[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
              }
            }
          out[(no * p.OH + oh) * p.OW + ow] = sum;
        }
    }
  });
}

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
// Gather form: each input element sums the outputs it contributed to (ih = oh*s - pad + kh*d).
template <class T>
void conv2d_backward_input_kernel1_naive(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / p.C, ci = nc % p.C, g = ci / Cg, c = ci % Cg;
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw) {
          T sum = T(0);
          for (int64_t kh = 0; kh < p.KH; ++kh) {
            const int64_t th = ih + p.pad_top - kh * p.dilation_h;  // = oh * stride_h
            if (th < 0 || th % p.stride_h) continue;
            const int64_t oh = th / p.stride_h;
            if (oh >= p.OH) continue;
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              const int64_t tw = iw + p.pad_left - kw * p.dilation_w;
              if (tw < 0 || tw % p.stride_w) continue;
              const int64_t ow = tw / p.stride_w;
              if (ow >= p.OW) continue;
              for (int64_t o = g * OCg; o < (g + 1) * OCg; ++o)
                sum += weight[((o * Cg + c) * p.KH + kh) * p.KW + kw] *
                       dout[((n * p.OC + o) * p.OH + oh) * p.OW + ow];
            }
          }
          dinp[(nc * p.H + ih) * p.W + iw] = sum;
        }
    }
  });
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight_kernel1_naive(T* dweight, T* dbias, const T* dout, const T* inp,
                                          const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  parallel_for(p.OC * Cg * p.KH * p.KW, 1, [&](int64_t b, int64_t e) {
    for (int64_t idx = b; idx < e; ++idx) {
      const int64_t kw = idx % p.KW, kh = idx / p.KW % p.KH, c = idx / (p.KW * p.KH) % Cg;
      const int64_t o = idx / (p.KW * p.KH * Cg), g = o / OCg;
      T sum = T(0);
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.H) continue;
          for (int64_t ow = 0; ow < p.OW; ++ow) {
            const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
            if (iw < 0 || iw >= p.W) continue;
            sum += dout[((n * p.OC + o) * p.OH + oh) * p.OW + ow] *
                   inp[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
          }
        }
      dweight[idx] = sum;
    }
  });
  if (dbias)
    for (int64_t o = 0; o < p.OC; ++o) {
      T sum = T(0);
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < p.OH * p.OW; ++i) sum += dout[(n * p.OC + o) * p.OH * p.OW + i];
      dbias[o] = sum;
    }
}

// dbias (OC) = dout (N,OC,OH,OW) summed over N, OH, OW; threads over channels.
template <class T>
void bias_grad(T* dbias, const T* dout, const Conv2dParams& p) {
  const int64_t P = p.OH * p.OW;
  parallel_for(p.OC, 8, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      // 16 independent partial sums: a single running sum would serialize on the add latency (4 cycles per
      // element); 16 lanes let the compiler use vector adds and keep the loop memory-bound.
      T part[16] = {};
      for (int64_t n = 0; n < p.N; ++n) {
        const T* row = dout + (n * p.OC + o) * P;
        int64_t i = 0;
        for (; i + 16 <= P; i += 16)
          for (int j = 0; j < 16; ++j) part[j] += row[i + j];
        for (; i < P; ++i) part[i % 16] += row[i];
      }
      T sum = T(0);
      for (int j = 0; j < 16; ++j) sum += part[j];
      dbias[o] = sum;
    }
  });
}

// 1x1, stride 1, no padding: the column matrix IS the input image (Cg x H*W); im2col can be skipped.
bool col_is_input(const Conv2dParams& p) {
  return p.KH == 1 && p.KW == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_bottom == 0 &&
         p.pad_left == 0 && p.pad_right == 0;
}

// Work item ng = n·groups + g is image n's group g. Its Cg input channels start at element ng·Cg·H·W of an
// (N,C,H,W) tensor (n·C + g·Cg = ng·Cg), its OCg output channels at ng·OCg·OH·OW of an (N,OC,OH,OW) one.
template <class T>
T* group_input(T* x, int64_t ng, const Conv2dParams& p) {
  return x + ng * (p.C / p.groups) * p.H * p.W;
}
template <class T>
T* group_output(T* y, int64_t ng, const Conv2dParams& p) {
  return y + ng * (p.OC / p.groups) * p.OH * p.OW;
}

// Asks `prefetch` for work item ng's input channels in x (N,C,H,W) and output channels in y (N,OC,OH,OW): the
// next item's, while this one computes (its output too, so that its first stores find their lines cached).
// Nothing when ng < 0 (no next item).
template <class T>
void prefetch_item(conv_detail::SpreadPrefetch& prefetch, const T* x, const T* y, int64_t ng, const Conv2dParams& p) {
  if (ng < 0) return;
  prefetch.add(group_input(x, ng, p), p.C / p.groups * p.H * p.W * int64_t(sizeof(T)));
  prefetch.add(group_output(y, ng, p), p.OC / p.groups * p.OH * p.OW * int64_t(sizeof(T)));
}

// ---- kernel 2: im2col + GEMM, one image at a time -------------------------------------------------
// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_kernel2_im2col_gemm(T* out, const T* inp, const T* weight, const T* bias,
                                        const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  std::vector<T> col(col_is_input(p) ? 0 : K * P);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      const int64_t ng = n * p.groups + g;
      const T* img = group_input(inp, ng, p);
      const T* cm = img;
      if (!col_is_input(p)) {
        im2col(col.data(), img, p, Cg);
        cm = col.data();
      }
      T* o = group_output(out, ng, p);
      gemm_for_im2col<T>(false, false, OCg, P, K, weight + g * OCg * K, cm, o, false);
      if (bias)
        for (int64_t oc = 0; oc < OCg; ++oc)
          for (int64_t i = 0; i < P; ++i) o[oc * P + i] += bias[g * OCg + oc];
    }
}

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input_kernel2_im2col_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  std::vector<T> dcol(K * P);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      const int64_t ng = n * p.groups + g;
      T* img = group_input(dinp, ng, p);
      // dcol (K x P) = W[g]^T (K x OCg) * dout[n,g] (OCg x P)
      gemm_for_im2col<T>(true, false, K, P, OCg, weight + g * OCg * K, group_output(dout, ng, p),
                         dcol.data(), false);
      std::fill(img, img + Cg * p.H * p.W, T(0));
      col2im(img, dcol.data(), p, Cg);
    }
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight_kernel2_im2col_gemm(T* dweight, T* dbias, const T* dout, const T* inp,
                                                const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  std::vector<T> col(col_is_input(p) ? 0 : K * P);
  std::fill(dweight, dweight + p.OC * K, T(0));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      const int64_t ng = n * p.groups + g;
      const T* img = group_input(inp, ng, p);
      const T* cm = img;
      if (!col_is_input(p)) {
        im2col(col.data(), img, p, Cg);
        cm = col.data();
      }
      // dW[g] (OCg x K) += dout[n,g] (OCg x P) * col^T (P x K)
      gemm_for_im2col<T>(false, true, OCg, K, P, group_output(dout, ng, p), cm, dweight + g * OCg * K,
                         true);
    }
  if (dbias) bias_grad(dbias, dout, p);
}

// ---- kernel 3: conv-specific operands for AVX-512 micro-kernels, whole images per thread ----------
// Each thread takes whole (image, group) pairs from a work queue, so its outputs never overlap another
// thread's. The operands it builds for one image (tens to hundreds of KB) stay in its L1/L2 cache.
// Stride-1 forward on the padded image (see ShiftedGeometry). float with enough channels: channels in the
// vector lanes, 14-position row tiles (conv_forward_rowtiles_avx512). Otherwise: the padded grid, B's shifted
// rows read in place, valid columns packed in registers and stored (+ bias); without AVX-512 the same
// through packed B, a tile buffer and a compaction pass.
// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_kernel3_stride1(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512();
  const ShiftedGeometry sg = shifted_geometry(p, Cg);
  if constexpr (std::is_same_v<T, float>) {
    // Channels in the vector lanes, tiles of 14 positions of one output row: no thrown-away grid columns.
    // Chosen when it computes fewer padded positions than the 32-wide tiles of the grid (e.g. 14x14: 196 vs
    // 224), K is long enough to amortize the in-register transpose of each tile, and there are enough
    // output channels to fill the lanes.
    const int64_t rowtile_cols = (p.OW + 13) / 14 * 14 * p.OH, grid_cols = (sg.Q + NR<T> - 1) / NR<T> * NR<T>;
    if (simd && K >= 32 && OCg >= 16 && rowtile_cols < grid_cols) {
      const int64_t wsz = packed_b_size<T>(K, OCg);
      Scratch<T> wt(G * wsz);
      for (int64_t g = 0; g < G; ++g) pack_b_transposed(wt.data() + g * wsz, weight + g * OCg * K, K, OCg);
      parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
        Scratch<T> xpad(sg.plane + sg.slack);
        // The next item is claimed one ahead, so its image can be prefetched while this one computes.
        for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
          next = queue.next();
          const int64_t g = ng % G;
          pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
          conv_detail::SpreadPrefetch prefetch(conv_detail::rowtile_count(OCg, p.OH, p.OW));
          prefetch_item(prefetch, inp, out, next, p);
          conv_detail::conv_forward_rowtiles_avx512(group_output(out, ng, p), xpad.data(), sg.off.data(),
                                                    wt.data() + g * wsz, K, OCg, p.OH, p.OW, sg.Wp,
                                                    bias ? bias + g * OCg : nullptr, prefetch);
        }
      });
      return;
    }
  }
  const int64_t R = simd ? tile_rows(OCg) : MR;
  const int64_t wsz = packed_size<T>(OCg, K, R);
  Scratch<T> wpack(G * wsz);
  for (int64_t g = 0; g < G; ++g) pack_a(wpack.data() + g * wsz, weight + g * OCg * K, OCg, K, K, 1, R);
  // Per tile of NR grid columns from q0: which columns are real outputs (ow < OW), and the output index of
  // its first one; the same for every image, so computed once (a division per column, ~as long as a
  // first-layer tile's FMAs).
  const int64_t tiles = (sg.Q + NR<T> - 1) / NR<T>;
  std::vector<uint64_t> tile_valid(tiles, 0);
  std::vector<int64_t> tile_first(tiles);
  for (int64_t tq = 0; tq < tiles; ++tq) {
    const int64_t q0 = tq * NR<T>;
    for (int64_t j = 0; j < NR<T> && q0 + j < sg.Q; ++j)
      if ((q0 + j) % sg.Wp < p.OW) tile_valid[tq] |= uint64_t(1) << j;
    tile_first[tq] = (q0 / sg.Wp) * p.OW + std::min(q0 % sg.Wp, p.OW);
  }
  parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
    Scratch<T> xpad(sg.plane + sg.slack), bpack(simd ? 0 : packed_b_size<T>(K, sg.Q)), tile(simd ? 0 : OCg * sg.Q);
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
      const T* wg = wpack.data() + g * wsz;
      T* o = group_output(out, ng, p);
      const T* bg = bias ? bias + g * OCg : nullptr;
      if (simd) {
        // B's rows read in place from the padded image (L1/L2 resident); each tile's valid columns are
        // packed in registers and stored straight into the output, so no tile buffer and no compaction pass.
        for (int64_t tq = 0; tq < tiles; ++tq) {
          const int64_t q0 = tq * NR<T>, first = tile_first[tq];
          const uint64_t valid = tile_valid[tq];
          for (int64_t m0 = 0; m0 < OCg; m0 += R)
            conv_detail::microkernel_boff_avx512(R, K, wg + (m0 / R) * K * R, xpad.data() + q0, sg.off.data(),
                                                 o + m0 * P + first, P, P - first, std::min(R, OCg - m0), valid,
                                                 bg ? bg + m0 : nullptr);
        }
        continue;
      }
      pack_b_shifted(bpack.data(), xpad.data(), sg);
      gemm_packed_ab(OCg, sg.Q, K, wg, bpack.data(), tile.data(), sg.Q, false, simd);
      for (int64_t oc = 0; oc < OCg; ++oc) {
        const T bv = bg ? bg[oc] : T(0);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const T* src = tile.data() + oc * sg.Q + oh * sg.Wp;
          T* dst = o + oc * P + oh * p.OW;
          for (int64_t ow = 0; ow < p.OW; ++ow) dst[ow] = src[ow] + bv;
        }
      }
    }
  });
}

// Stride > 1: im2col straight into packed B per image, the packed micro-kernel, + bias.
// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_kernel3_fused_simd(T* out, const T* inp, const T* weight, const T* bias,
                                       const Conv2dParams& p) {
  if (p.stride_h == 1 && p.stride_w == 1) return conv2d_forward_kernel3_stride1(out, inp, weight, bias, p);
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512(), direct = col_is_input(p);
  // Weights packed once for all images (read-only, shared by the threads).
  const int64_t wsz = packed_size<T>(OCg, K);
  Scratch<T> wpack(G * wsz);
  for (int64_t g = 0; g < G; ++g) pack_a(wpack.data() + g * wsz, weight + g * OCg * K, OCg, K, K, 1);
  parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
    Scratch<T> col(packed_b_size<T>(K, P));  // this thread's column matrix, packed B layout
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      const T* img = group_input(inp, ng, p);
      if (direct)
        pack_b(col.data(), img, K, P, P);
      else
        im2col_packed_b(col.data(), img, p, Cg);
      T* o = group_output(out, ng, p);
      gemm_packed_ab(OCg, P, K, wpack.data() + g * wsz, col.data(), o, P, false, simd);
      if (bias)
        for (int64_t oc = 0; oc < OCg; ++oc) {
          const T bv = bias[g * OCg + oc];
          for (int64_t i = 0; i < P; ++i) o[oc * P + i] += bv;
        }
    }
  });
}

// Stride 1 with padding <= dilation*(kernel-1) on every side: the input gradient is itself a stride-1
// convolution of dout, padded by d*(k-1) - pad, with the kernel flipped and its channel axes swapped (the
// "full" correlation). flipped_conv gives that convolution's geometry and weight.
bool input_grad_is_forward(const Conv2dParams& p) {
  const int64_t span_h = p.dilation_h * (p.KH - 1), span_w = p.dilation_w * (p.KW - 1);
  return p.stride_h == 1 && p.stride_w == 1 && p.pad_top <= span_h && p.pad_bottom <= span_h &&
         p.pad_left <= span_w && p.pad_right <= span_w;
}

template <class T>
struct FlippedConv {
  Conv2dParams q;
  std::vector<T> weight;
};

template <class T>
FlippedConv<T> flipped_conv(const T* weight, const Conv2dParams& p) {
  const int64_t span_h = p.dilation_h * (p.KH - 1), span_w = p.dilation_w * (p.KW - 1);
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G;
  FlippedConv<T> f{p, std::vector<T>(p.OC * Cg * p.KH * p.KW)};
  Conv2dParams& q = f.q;
  q.C = p.OC, q.H = p.OH, q.W = p.OW, q.OC = p.C;
  q.pad_top = span_h - p.pad_top, q.pad_bottom = span_h - p.pad_bottom;
  q.pad_left = span_w - p.pad_left, q.pad_right = span_w - p.pad_right;
  q.OH = p.H, q.OW = p.W;
  // flipped[g*Cg + c, oc, kh, kw] = weight[g*OCg + oc, c, KH-1-kh, KW-1-kw]
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t oc = 0; oc < OCg; ++oc)
        for (int64_t kh = 0; kh < p.KH; ++kh)
          for (int64_t kw = 0; kw < p.KW; ++kw)
            f.weight[(((g * Cg + c) * OCg + oc) * p.KH + kh) * p.KW + kw] =
                weight[(((g * OCg + oc) * Cg + c) * p.KH + (p.KH - 1 - kh)) * p.KW + (p.KW - 1 - kw)];
  return f;
}

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input_kernel3_fused_simd(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  // The forward of the flipped kernel (only with >= 8 input channels per group: they are the flipped
  // convolution's output channels, i.e. the micro-kernel's rows; with fewer, e.g. an RGB or grayscale first
  // layer, W^T*dout + col2im wastes less).
  if (input_grad_is_forward(p) && p.C / p.groups >= 8) {
    const FlippedConv<T> f = flipped_conv(weight, p);
    return conv2d_forward_kernel3_stride1(dinp, dout, f.weight.data(), static_cast<const T*>(nullptr), f.q);
  }
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512(), direct = col_is_input(p);
  // W[g]^T (K x OCg) packed once: element (k, oc) = W[g][oc*K + k].
  const int64_t wsz = packed_size<T>(K, OCg);
  Scratch<T> wpack(G * wsz);
  for (int64_t g = 0; g < G; ++g) pack_a(wpack.data() + g * wsz, weight + g * OCg * K, K, OCg, 1, K);
  parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
    Scratch<T> dcol(direct ? 0 : K * P), dpack(packed_b_size<T>(OCg, P));
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      T* img = group_input(dinp, ng, p);
      pack_b(dpack.data(), group_output(dout, ng, p), OCg, P, P);
      if (direct) {  // dcol is the input gradient itself
        gemm_packed_ab(K, P, OCg, wpack.data() + g * wsz, dpack.data(), img, P, false, simd);
        continue;
      }
      gemm_packed_ab(K, P, OCg, wpack.data() + g * wsz, dpack.data(), dcol.data(), P, false, simd);
      std::fill(img, img + Cg * p.H * p.W, T(0));
      col2im(img, dcol.data(), p, Cg);
    }
  });
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
// Computed transposed, dW[g]^T (K x OCg) = col (K x P) * dout[n,g]^T (P x OCg): the long K side becomes the
// micro-kernel's row panels and the OCg side its vector columns (full 32-wide vectors for OC=32 or 64 even
// when K is as small as 9). The images are summed in runs (RunCursor): each run of consecutive images
// accumulates into its own dW^T, and the runs are added in order at the end, so the gradient is the same in
// every call (for a given thread count) however the threads share the work.
template <class T>
void conv2d_backward_weight_kernel3_fused_simd(T* dweight, T* dbias, const T* dout, const T* inp,
                                               const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512(), direct = col_is_input(p);
  RunSums<T> sums(p.N * G, G * K * OCg);
  const bool stride1 = p.stride_h == 1 && p.stride_w == 1;
  const ShiftedGeometry sg = shifted_geometry(p, Cg);
  sums.parallel([&](RunCursor& queue) {
    auto acc = [&](int64_t ng) { return sums.buffer(ng) + ng % G * K * OCg; };  // dW^T of ng's group
    // The general form for one (image, group): im2col straight into packed A, dout^T packed as B.
    Scratch<T> cpack, dpack;
    auto general = [&](int64_t ng) {
      if (!cpack.data()) {
        cpack.resize(packed_size<T>(K, P));
        dpack.resize(packed_b_size<T>(P, OCg));
      }
      const T* img = group_input(inp, ng, p);
      if (direct)
        pack_a(cpack.data(), img, K, P, P, 1);
      else
        im2col_packed_a(cpack.data(), img, p, Cg);
      pack_b_transposed(dpack.data(), group_output(dout, ng, p), P, OCg);  // dout[n,g]^T (P x OCg)
      gemm_packed_ab(K, OCg, P, cpack.data(), dpack.data(), acc(ng), OCg, true, simd);
    };
    // Many output rows per image: dot products along ow (no transposed copy of dout, one horizontal sum
    // per (oc, k) per image); few: the GEMM form below, whose packing of dout^T is the cheaper overhead.
    const int64_t lanes = 64 / sizeof(T);
    const bool dot = simd && stride1 && K < 64 && p.OH * ((p.OW + lanes - 1) / lanes) >= 16;
    if (dot) {
      Scratch<T> xpad(sg.plane + sg.slack);
      for (int64_t ng; (ng = queue.next()) >= 0;) {
        pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
        conv_detail::dw_dot_avx512(acc(ng), 1, OCg, group_output(dout, ng, p), xpad.data(),
                                   sg.off.data(), OCg, K, p.OH, p.OW, sg.Wp);
      }
      return;
    }
    if (stride1) {
      // dW^T (K x OCg) += shifted rows (K x P) * dout^T (P x OCg): A read in place from the padded image
      // one output row (OW real positions, row stride Wp) at a time, so no discarded grid column is ever
      // multiplied; B = dout^T packed (P x OCg).
      Scratch<T> xpad(sg.plane + sg.slack), bpack(packed_b_size<T>(P, OCg));
      // The next item is claimed one ahead: its image and gradient are prefetched while this one computes.
      for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
        next = queue.next();
        conv_detail::SpreadPrefetch prefetch((K + MR - 1) / MR * ((OCg + NR<T> - 1) / NR<T>));
        prefetch_item(prefetch, inp, dout, next, p);
        pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
        const T* dn = group_output(dout, ng, p);
        bool packed = false;
        if constexpr (std::is_same_v<T, float>) {
          if (simd) {
            conv_detail::pack_dout_t_avx512(bpack.data(), dn, OCg, p.OH, p.OW, p.OW);
            packed = true;
          }
        }
        if (!packed) pack_b_transposed(bpack.data(), dn, P, OCg);
        gemm_rows_a(K, OCg, P, p.OW, sg.Wp, xpad.data(), sg.off.data(), bpack.data(), acc(ng), OCg, true, simd,
                    &prefetch);
      }
      return;
    }
    for (int64_t ng; (ng = queue.next()) >= 0;) general(ng);
  });
  // The runs' dW^T added in run order, then transposed back to (OC, Cg*KH*KW).
  const T* total = sums.total();
  parallel_for(p.OC, 8, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t g = o / OCg, oc = o % OCg;
      for (int64_t k = 0; k < K; ++k) {
        dweight[o * K + k] = total[(g * K + k) * OCg + oc];
      }
    }
  });
  if (dbias) bias_grad(dbias, dout, p);
}

// ---- kernel 4: Winograd F(2x2, 3x3) ------------------------------------------------------------
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), after Winograd's minimal
// filtering algorithms. A 3x3, stride-1 correlation gives each 2x2 block of outputs (a "tile") from the 4x4
// input patch d under it as
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          ((.) = elementwise product)
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// 16 multiplications per tile and channel pair instead of 36: 2.25x fewer. Summed over the input channels,
// the 16 elementwise products become 16 independent GEMMs, one per point xi = (u, w) of the 4x4 transformed
// domain: M[xi] (tiles x OCg) = V[xi] (tiles x Cg) * U[xi] (Cg x OCg), with U = G g G^T, V = B^T d B. The
// transforms are additions only (and halvings in G), so they cost little next to the GEMMs. Mixing up to 4
// inputs before the product can cost precision; measured, the float32 error is the size of rung 3's (its
// sums are shorter: Cg terms, not 9*Cg), see docs/conv.md.
bool winograd_fits(const Conv2dParams& p) {
  return p.KH == 3 && p.KW == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1;
}

// U[((g*16 + xi)*Cg + c)*OCg + oc] = (G w[g*OCg + oc, c] G^T)[u][w], xi = u*4 + w.
template <class T>
std::vector<T> winograd_weights(const T* weight, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G;
  std::vector<T> U(G * 16 * Cg * OCg);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t oc = 0; oc < OCg; ++oc)
      for (int64_t c = 0; c < Cg; ++c) {
        const T* k = weight + ((g * OCg + oc) * Cg + c) * 9;  // k[r*3 + s]
        T gk[4][3];                                            // G g
        for (int64_t s = 0; s < 3; ++s) {
          gk[0][s] = k[s];
          gk[1][s] = (k[s] + k[3 + s] + k[6 + s]) / 2;
          gk[2][s] = (k[s] - k[3 + s] + k[6 + s]) / 2;
          gk[3][s] = k[6 + s];
        }
        for (int64_t u = 0; u < 4; ++u) {  // (G g) G^T
          const T row[4] = {gk[u][0], (gk[u][0] + gk[u][1] + gk[u][2]) / 2, (gk[u][0] - gk[u][1] + gk[u][2]) / 2,
                            gk[u][2]};
          for (int64_t w = 0; w < 4; ++w) U[((g * 16 + u * 4 + w) * Cg + c) * OCg + oc] = row[w];
        }
      }
  return U;
}

// v[u*4 + w] = (B^T d B)[u][w] for the 4x4 patch d[i*ld + j].
template <class T>
void winograd_input_tile(T v[16], const T* d, int64_t ld) {
  T bd[4][4];  // B^T d
  for (int64_t j = 0; j < 4; ++j) {
    const T d0 = d[j], d1 = d[ld + j], d2 = d[2 * ld + j], d3 = d[3 * ld + j];
    bd[0][j] = d0 - d2, bd[1][j] = d1 + d2, bd[2][j] = d2 - d1, bd[3][j] = d1 - d3;
  }
  for (int64_t u = 0; u < 4; ++u) {
    v[u * 4 + 0] = bd[u][0] - bd[u][2];
    v[u * 4 + 1] = bd[u][1] + bd[u][2];
    v[u * 4 + 2] = bd[u][2] - bd[u][1];
    v[u * 4 + 3] = bd[u][1] - bd[u][3];
  }
}

// The padded image of kernel 4: it covers every tile's 4x4 patch.
Conv2dParams winograd_padded(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.pad_bottom = 2 * ((p.OH + 1) / 2) + 2 - p.H - p.pad_top;
  q.pad_right = 2 * ((p.OW + 1) / 2) + 2 - p.W - p.pad_left;
  return q;
}

// Requires winograd_fits(p). The padded image (winograd_padded) has 2*ceil(OH/2) + 2 rows and 2*ceil(OW/2) + 2
// columns: one zero row (column) more than the padding asks for when OH (OW) is odd.
template <class T>
void conv2d_forward_kernel4_winograd(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, P = p.OH * p.OW;
  const int64_t th = (p.OH + 1) / 2, tw = (p.OW + 1) / 2, tiles = th * tw;
  const Conv2dParams q = winograd_padded(p);
  const ShiftedGeometry sg = shifted_geometry(q, Cg);  // its slack (>= 64 elements) covers the vector reads
  const std::vector<T> U = winograd_weights(weight, p);
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx512()) {
      // U[g][xi] packed as the B operand of a (Cg x OCg) GEMM: 32-channel blocks, zeros past OCg.
      const int64_t usz = packed_b_size<T>(Cg, OCg);
      Scratch<T> upack(G * 16 * usz);
      for (int64_t gx = 0; gx < G * 16; ++gx) pack_b(upack.data() + gx * usz, U.data() + gx * Cg * OCg, Cg, OCg, OCg);
      parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
        Scratch<T> xpad(sg.plane + sg.slack), vbuf(16 * conv_detail::winograd_v_stride(Cg)),
            mbuf(16 * conv_detail::kWinogradMStride);
        // The next item is claimed one ahead, so its image can be prefetched while this one computes.
        for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
          next = queue.next();
          const int64_t g = ng % G;
          pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
          conv_detail::SpreadPrefetch prefetch(conv_detail::winograd_step_count(OCg, p.OH, p.OW));
          prefetch_item(prefetch, inp, out, next, p);
          conv_detail::winograd_f23_forward_avx512(group_output(out, ng, p), xpad.data(), upack.data() + g * 16 * usz,
                                                   Cg, OCg, p.OH, p.OW, sg.Hp, sg.Wp, bias ? bias + g * OCg : nullptr,
                                                   vbuf.data(), mbuf.data(), prefetch);
        }
      });
      return;
    }
  }
  // Portable form (float64, or no AVX-512): the same three steps, written out, on blocks of TB tiles.
  constexpr int64_t TB = 32;
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    std::vector<T> xpad(sg.plane + sg.slack), V(16 * Cg * TB), M(16 * OCg * TB);  // V[xi][c][t], M[xi][oc][t]
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      const T* Ug = U.data() + g * 16 * Cg * OCg;
      T* o = group_output(out, ng, p);
      pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
      for (int64_t t0 = 0; t0 < tiles; t0 += TB) {
        const int64_t nt = std::min(TB, tiles - t0);
        for (int64_t c = 0; c < Cg; ++c)  // V = B^T d B
          for (int64_t t = 0; t < nt; ++t) {
            const int64_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
            T v[16];
            winograd_input_tile(v, xpad.data() + c * sg.Hp * sg.Wp + 2 * ty * sg.Wp + 2 * tx, sg.Wp);
            for (int64_t xi = 0; xi < 16; ++xi) V[(xi * Cg + c) * TB + t] = v[xi];
          }
        std::fill(M.begin(), M.end(), T(0));  // M[xi] = U[xi]^T V[xi]
        for (int64_t xi = 0; xi < 16; ++xi)
          for (int64_t c = 0; c < Cg; ++c) {
            const T* v = V.data() + (xi * Cg + c) * TB;
            for (int64_t oc = 0; oc < OCg; ++oc) {
              const T u = Ug[(xi * Cg + c) * OCg + oc];
              T* m = M.data() + (xi * OCg + oc) * TB;
              for (int64_t t = 0; t < nt; ++t) m[t] += u * v[t];
            }
          }
        for (int64_t oc = 0; oc < OCg; ++oc)  // Y = A^T M A (+ bias)
          for (int64_t t = 0; t < nt; ++t) {
            auto m = [&](int64_t u, int64_t w) { return M[((u * 4 + w) * OCg + oc) * TB + t]; };
            T s[2][4];  // A^T M
            for (int64_t w = 0; w < 4; ++w) {
              s[0][w] = m(0, w) + m(1, w) + m(2, w);
              s[1][w] = m(1, w) - m(2, w) - m(3, w);
            }
            const int64_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
            const T b = bias ? bias[g * OCg + oc] : T(0);
            for (int64_t a = 0; a < 2; ++a) {
              const T y[2] = {s[a][0] + s[a][1] + s[a][2], s[a][1] - s[a][2] - s[a][3]};
              for (int64_t e = 0; e < 2; ++e) {
                const int64_t oh = 2 * ty + a, ow = 2 * tx + e;
                if (oh < p.OH && ow < p.OW) o[oc * P + oh * p.OW + ow] = y[e] + b;
              }
            }
          }
      }
    }
  });
}

// The weight gradient by F(3x3, 2x2): per tile, the 3x3 taps dW[kh][kw] += sum_{a,b} dt[a][b] d[a+kh][b+kw]
// are a 3x3 correlation of the 4x4 patch d with the 2x2 dout tile dt, so
//   dW = A'^T [ (G' dt G'^T) (.) (B^T d B) ] A'
//   A'^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]   G' = [1 0; 1/2 1/2; 1/2 -1/2; 0 -1] = diag(1, 1/2, 1/2, -1) G4,
// with the forward's B (G' carries the sign of B'^T's last row [0 -1 0 1] in Lavin & Gray's F(3, 2)).
// Summed over tiles and images, M[xi] (Cg x OCg) = V[xi] (Cg x tiles) * D[xi] (tiles x OCg): 16 GEMMs whose
// reduction runs over every tile of the batch. The kernels use G4 (no halvings, no sign) and the scale
// s_u s_w, s = (1, 1/2, 1/2, -1), is applied once to the sums (exact: powers of two).
// M4[((g*16 + xi)*Cg + c)*OCg + oc] summed over the batch -> dweight (OC, Cg, 3, 3).
template <class T>
void winograd_weight_output(T* dweight, const T* M4, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G;
  const T s[4] = {T(1), T(0.5), T(0.5), T(-1)};
  const T At[3][4] = {{1, 1, 1, 0}, {0, 1, -1, 0}, {0, 1, 1, 1}};
  parallel_for(G * OCg, 8, [&](int64_t b, int64_t e) {
    for (int64_t go = b; go < e; ++go) {
      const int64_t g = go / OCg, oc = go % OCg;
      for (int64_t c = 0; c < Cg; ++c) {
        T m[4][4];
        for (int64_t xi = 0; xi < 16; ++xi)
          m[xi / 4][xi % 4] = s[xi / 4] * s[xi % 4] * M4[((g * 16 + xi) * Cg + c) * OCg + oc];
        T* dw = dweight + (go * Cg + c) * 9;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            T acc = 0;  // the zero coefficients are skipped, not multiplied: 0 * NaN would leak a NaN
            for (int64_t u = 0; u < 4; ++u)
              for (int64_t w = 0; w < 4; ++w)
                if (At[kh][u] != 0 && At[kw][w] != 0) acc += At[kh][u] * m[u][w] * At[kw][w];
            dw[kh * 3 + kw] = acc;
          }
      }
    }
  });
}

template <class T>
void conv2d_backward_weight_kernel4_winograd(T* dweight, T* dbias, const T* dout, const T* inp,
                                             const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, P = p.OH * p.OW;
  const int64_t th = (p.OH + 1) / 2, tw = (p.OW + 1) / 2, tiles = th * tw, msz = 16 * Cg * OCg;
  const Conv2dParams q = winograd_padded(p);
  const ShiftedGeometry sg = shifted_geometry(q, Cg);
  // Deterministic sum over images, as rung 3's weight gradient: M4 of item ng's group in its run's buffer.
  RunSums<T> sums(p.N * G, G * msz);
  auto acc_of = [&](int64_t ng) { return sums.buffer(ng) + ng % G * msz; };
  bool done = false;
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx512()) {
      const int64_t ldv = tiles + 16, vs = Cg * ldv + 16;               // V[xi][c][t]
      const int64_t Wp2 = 2 * tw, blocks = (OCg + 31) / 32, ds = blocks * tiles * 32 + 16;  // D[xi][blk][t][32]
      std::vector<int64_t> a_off(Cg);
      for (int64_t c = 0; c < Cg; ++c) a_off[c] = c * ldv;
      sums.parallel([&](RunCursor& queue) {
        Scratch<T> xpad(sg.plane + sg.slack), v(16 * vs), dpack(blocks * p.OH * Wp2 * 32), d(16 * ds);
        // The next item is claimed one ahead: its image and gradient are prefetched while this one computes.
        for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
          next = queue.next();
          conv_detail::SpreadPrefetch prefetch(16);
          prefetch_item(prefetch, inp, dout, next, p);
          T* acc = acc_of(ng);
          pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
          conv_detail::winograd_input_avx512(v.data(), ldv, vs, xpad.data(), Cg, p.OH, p.OW, sg.Hp, sg.Wp);
          conv_detail::pack_dout_t_avx512(dpack.data(), group_output(dout, ng, p), OCg, p.OH, p.OW, Wp2);
          conv_detail::winograd_dout_avx512(d.data(), ds, dpack.data(), OCg, p.OH, p.OW, Wp2);
          for (int64_t xi = 0; xi < 16; ++xi) {  // M4[xi] (Cg x OCg) += V[xi] (Cg x tiles) * D4[xi] (tiles x OCg)
            prefetch.step();
            gemm_rows_a(Cg, OCg, tiles, tiles, 0, v.data() + xi * vs, a_off.data(), d.data() + xi * ds,
                        acc + xi * Cg * OCg, OCg, true, true);
          }
        }
      });
      done = true;
    }
  }
  if (!done) {  // portable form: the same sums, tile by tile
    sums.parallel([&](RunCursor& queue) {
      std::vector<T> xpad(sg.plane + sg.slack), V(16 * Cg), D(16 * OCg);  // V[xi][c], D[xi][oc] of one tile
      for (int64_t ng; (ng = queue.next()) >= 0;) {
        T* acc = acc_of(ng);
        const T* dn = group_output(dout, ng, p);
        pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
        for (int64_t t = 0; t < tiles; ++t) {
          const int64_t ty = t / tw, tx = t % tw;
          for (int64_t c = 0; c < Cg; ++c) {
            T vt[16];
            winograd_input_tile(vt, xpad.data() + c * sg.Hp * sg.Wp + 2 * ty * sg.Wp + 2 * tx, sg.Wp);
            for (int64_t xi = 0; xi < 16; ++xi) V[xi * Cg + c] = vt[xi];
          }
          for (int64_t oc = 0; oc < OCg; ++oc) {  // D4 = G4 dt G4^T, dout outside the output read as 0
            auto at = [&](int64_t a, int64_t b) {
              const int64_t oh = 2 * ty + a, ow = 2 * tx + b;
              return oh < p.OH && ow < p.OW ? dn[oc * P + oh * p.OW + ow] : T(0);
            };
            T e[4][2];
            for (int64_t b = 0; b < 2; ++b) {
              const T x0 = at(0, b), x1 = at(1, b);
              e[0][b] = x0, e[1][b] = x0 + x1, e[2][b] = x0 - x1, e[3][b] = x1;
            }
            for (int64_t u = 0; u < 4; ++u) {
              D[(u * 4 + 0) * OCg + oc] = e[u][0];
              D[(u * 4 + 1) * OCg + oc] = e[u][0] + e[u][1];
              D[(u * 4 + 2) * OCg + oc] = e[u][0] - e[u][1];
              D[(u * 4 + 3) * OCg + oc] = e[u][1];
            }
          }
          for (int64_t xi = 0; xi < 16; ++xi)
            for (int64_t c = 0; c < Cg; ++c) {
              const T vc = V[xi * Cg + c];
              T* m = acc + (xi * Cg + c) * OCg;
              for (int64_t oc = 0; oc < OCg; ++oc) m[oc] += vc * D[xi * OCg + oc];
            }
        }
      }
    });
  }
  winograd_weight_output(dweight, sums.total(), p);
  if (dbias) bias_grad(dbias, dout, p);
}

// The input gradient as the Winograd forward of the flipped kernel; rung 3 where that needs a negative
// padding (padding > 2).
template <class T>
void conv2d_backward_input_kernel4_winograd(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  if (!input_grad_is_forward(p)) return conv2d_backward_input_kernel3_fused_simd(dinp, dout, weight, p);
  const FlippedConv<T> f = flipped_conv(weight, p);
  conv2d_forward_kernel4_winograd(dinp, dout, f.weight.data(), static_cast<const T*>(nullptr), f.q);
}

// ---- the ladder on zero-padded geometry ----------------------------------------------------------
template <class T>
void forward_zeros(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int kernel) {
  switch (kernel) {
    case 1: return conv2d_forward_kernel1_naive(out, inp, weight, bias, p);
    case 2: return conv2d_forward_kernel2_im2col_gemm(out, inp, weight, bias, p);
    case 4: return conv2d_forward_kernel4_winograd(out, inp, weight, bias, p);
    default: return conv2d_forward_kernel3_fused_simd(out, inp, weight, bias, p);
  }
}
template <class T>
void backward_input_zeros(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int kernel) {
  switch (kernel) {
    case 1: return conv2d_backward_input_kernel1_naive(dinp, dout, weight, p);
    case 2: return conv2d_backward_input_kernel2_im2col_gemm(dinp, dout, weight, p);
    case 4: return conv2d_backward_input_kernel4_winograd(dinp, dout, weight, p);
    default: return conv2d_backward_input_kernel3_fused_simd(dinp, dout, weight, p);
  }
}
template <class T>
void backward_weight_zeros(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int kernel) {
  switch (kernel) {
    case 1: return conv2d_backward_weight_kernel1_naive(dweight, dbias, dout, inp, p);
    case 2: return conv2d_backward_weight_kernel2_im2col_gemm(dweight, dbias, dout, inp, p);
    case 4: return conv2d_backward_weight_kernel4_winograd(dweight, dbias, dout, inp, p);
    default: return conv2d_backward_weight_kernel3_fused_simd(dweight, dbias, dout, inp, p);
  }
}

template <class T>
int resolve_kernel(const Conv2dParams& p, int kernel, int direction, const char* op) {
  FASTANN_CHECK(kernel >= 0 && kernel <= 4, op, ": kernel must be None (0) or 1, 2, 3, 4, got ", kernel);
  FASTANN_CHECK(kernel != 4 || winograd_fits(p), op,
                ": kernel 4 (Winograd F(2x2, 3x3)) needs a 3x3 kernel with stride 1 and dilation 1, got kernel (",
                p.KH, ", ", p.KW, "), stride (", p.stride_h, ", ", p.stride_w, "), dilation (", p.dilation_h, ", ",
                p.dilation_w, ")");
  return kernel == 0 ? conv2d_pick_kernel(p, direction, std::is_same_v<T, float>) : kernel;
}

// ---- upsample ------------------------------------------------------------------------------------
// Bilinear source coordinate of output index j (torch's area_pixel_compute_source_index, integer scale).
struct LinearTap {
  int64_t i0, i1;
  double lambda;  // weight of i1
};
std::vector<LinearTap> linear_taps(int64_t n_in, int64_t scale, bool align_corners) {
  const int64_t n_out = n_in * scale;
  std::vector<LinearTap> taps(n_out);
  for (int64_t j = 0; j < n_out; ++j) {
    double src;
    if (align_corners)
      src = n_out > 1 ? double(j) * double(n_in - 1) / double(n_out - 1) : 0.0;
    else
      src = std::max((double(j) + 0.5) / double(scale) - 0.5, 0.0);
    int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), n_in - 1);
    taps[j] = {i0, std::min(i0 + 1, n_in - 1), src - double(i0)};
  }
  return taps;
}

}  // namespace

int conv2d_pick_kernel(const Conv2dParams& p, int direction, bool float32) {
  // Rung 3 was fastest or within noise on every shape measured (docs/conv.md), depthwise included (there
  // rung 1's scalar loops are 4-10x slower; rung 2 is within ~10% for forward / input gradient), except
  // that Winograd (rung 4) beats it on 3x3 stride-1 layers in float32 with AVX-512 when the channels fill its
  // GEMMs (`bench_conv.py --sweep-winograd`, 1 thread, rung 3 time / rung 4 time):
  //   forward and input gradient: 1.2-2.3x with >= 32 channels on both sides at every size from 5x5 to 56x56,
  //     1.0-1.8x with 16 from 10x10 up, 0.8-1.5x with 16 at 5x5 and 7x7, 0.5-1.2x with 8 input channels;
  //   weight gradient (its GEMMs reduce over the tiles of one image, so small images are short GEMMs):
  //     1.1-1.5x with >= 32 channels from 10x10 up, 0.8-1.0x at 5x5 and 7x7, 0.9-1.05x with 16 channels.
  // Its float64 form is the portable one, slower than rung 3's AVX-512 micro-kernels.
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, channels = std::min(Cg, OCg), positions = p.OH * p.OW;
  if (!float32 || !have_avx512() || !winograd_fits(p)) return 3;
  if (direction == 2) return channels >= 32 && positions >= 100 ? 4 : 3;
  const bool as_forward = direction == 0 || p.mode != PaddingMode::zeros || input_grad_is_forward(p);
  return as_forward && (channels >= 32 || (channels >= 16 && positions >= 100)) ? 4 : 3;
}

// ===================================================================================================
// dispatch: padding modes, then the chosen rung
// ===================================================================================================
template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int kernel) {
  kernel = resolve_kernel<T>(p, kernel, 0, "conv2d_forward");
  if (p.mode == PaddingMode::zeros) return forward_zeros(out, inp, weight, bias, p, kernel);
  const Conv2dParams q = on_padded_input(p);
  std::vector<T> xpad(q.N * q.C * q.H * q.W);
  materialize_padded(xpad.data(), inp, p);
  forward_zeros(out, xpad.data(), weight, bias, q, kernel);
}

template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int kernel) {
  kernel = resolve_kernel<T>(p, kernel, 1, "conv2d_backward_input");
  if (p.mode == PaddingMode::zeros) return backward_input_zeros(dinp, dout, weight, p, kernel);
  const Conv2dParams q = on_padded_input(p);
  std::vector<T> dpad(q.N * q.C * q.H * q.W);
  backward_input_zeros(dpad.data(), dout, weight, q, kernel);
  fold_padded_grad(dinp, dpad.data(), p);
}

template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int kernel) {
  kernel = resolve_kernel<T>(p, kernel, 2, "conv2d_backward_weight");
  if (p.mode == PaddingMode::zeros) return backward_weight_zeros(dweight, dbias, dout, inp, p, kernel);
  const Conv2dParams q = on_padded_input(p);
  std::vector<T> xpad(q.N * q.C * q.H * q.W);
  materialize_padded(xpad.data(), inp, p);
  backward_weight_zeros(dweight, dbias, dout, xpad.data(), q, kernel);
}

// inp (N,C,H,W), out (N,C,H*sh,W*sw)
template <class T>
void upsample2d_nearest_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw;
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* src = inp + (plane * H + oh / sh) * W;
        T* dst = out + (plane * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow / sw];
      }
  });
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W): each input pixel sums its sh x sw block.
template <class T>
void upsample2d_nearest_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw;
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t ih = 0; ih < H; ++ih) {
        T* dst = dinp + (plane * H + ih) * W;
        for (int64_t iw = 0; iw < W; ++iw) dst[iw] = T(0);
        for (int64_t r = 0; r < sh; ++r) {
          const T* src = dout + (plane * OH + ih * sh + r) * OW;
          for (int64_t ow = 0; ow < OW; ++ow) dst[ow / sw] += src[ow];
        }
      }
  });
}

// inp (N,C,H,W), out (N,C,H*sh,W*sw)
template <class T>
void upsample2d_bilinear_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw, bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw;
  const auto th = linear_taps(H, sh, align_corners), tw = linear_taps(W, sw, align_corners);
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* r0 = inp + (plane * H + th[oh].i0) * W;
        const T* r1 = inp + (plane * H + th[oh].i1) * W;
        const T lh = T(th[oh].lambda);
        T* dst = out + (plane * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const LinearTap& t = tw[ow];
          const T lw = T(t.lambda);
          // a + l*(b - a): exact where a == b (a constant image stays constant), NaN still propagates
          const T top = r0[t.i0] + lw * (r0[t.i1] - r0[t.i0]);
          const T bot = r1[t.i0] + lw * (r1[t.i1] - r1[t.i0]);
          dst[ow] = top + lh * (bot - top);
        }
      }
  });
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W): the transpose of the forward's interpolation weights.
template <class T>
void upsample2d_bilinear_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                  int64_t sw, bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw;
  const auto th = linear_taps(H, sh, align_corners), tw = linear_taps(W, sw, align_corners);
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      T* d = dinp + plane * H * W;
      std::fill(d, d + H * W, T(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        T* r0 = d + th[oh].i0 * W;
        T* r1 = d + th[oh].i1 * W;
        const T lh = T(th[oh].lambda);
        const T* src = dout + (plane * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const LinearTap& t = tw[ow];
          const T lw = T(t.lambda), g = src[ow];
          r0[t.i0] += (T(1) - lh) * (T(1) - lw) * g;
          r0[t.i1] += (T(1) - lh) * lw * g;
          r1[t.i0] += lh * (T(1) - lw) * g;
          r1[t.i1] += lh * lw * g;
        }
      }
    }
  });
}

#define FASTANN_CONV_INSTANTIATE(T)                                                                            \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dParams&, int);                 \
  template void conv2d_backward_input<T>(T*, const T*, const T*, const Conv2dParams&, int);                    \
  template void conv2d_backward_weight<T>(T*, T*, const T*, const T*, const Conv2dParams&, int);               \
  template void upsample2d_nearest_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,      \
                                              int64_t);                                                        \
  template void upsample2d_nearest_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,     \
                                               int64_t);                                                       \
  template void upsample2d_bilinear_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,     \
                                               int64_t, bool);                                                 \
  template void upsample2d_bilinear_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,    \
                                                int64_t, bool);
FASTANN_CONV_INSTANTIATE(float)
FASTANN_CONV_INSTANTIATE(double)
#undef FASTANN_CONV_INSTANTIATE

}  // namespace fastann::cpu
