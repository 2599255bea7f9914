// conv_rung4_winograd_phases.cpp: rung 4 of conv2d's CPU ladder for 4x4 kernels with stride 2 (the strided
// down- and up-sampling layers of DCGANs and autoencoders; Conv2DTranspose runs them as the input gradient).
// Over rung 3's phase path (conv_rung3_phases.cpp) it adds Winograd's minimal filtering on the phases:
//   * a 4x4 kernel with stride 2 is the sum, over the 4 stride phases (p, q) of the input, of 2x2 stride-1
//     correlations: y[i][j] = sum_{p,q,a,b} w[2a+p][2b+q] X_pq[i+a][j+b] with X_pq[u][v] = x_pad[2u+p][2v+q].
//     So it is one 2x2 stride-1 correlation over 4*C channels c' = (p, q, c) (a space-to-depth of the input);
//   * that correlation runs as Winograd's F(4x4, 2x2) (Lavin & Gray 2016): each 4x4 block of outputs (a tile)
//     from the 5x5 phase patch under it, 25 multiplications per tile and channel pair instead of 64 (2.56x
//     fewer), as 25 GEMMs in the transformed domain, one per point xi of the 5x5 transform;
//   * the input gradient is the same correlation of the zero-extended dout with the flipped 2x2 kernels, per
//     phase (its 4x4 tiles cover each phase of dx, which then interleaves into dx);
//   * the weight gradient is F(2x2, 4x4): the 2x2 taps of each phase as a correlation of the 5x5 phase patch
//     with a 4x4 tile of dout. Its input transform is the forward's, its 25 GEMMs reduce over the tiles.
// The transforms run with channels innermost (the image is first copied to a zero-padded channels-last
// block). The forward's and input gradient's 25 GEMMs run rung 3's row micro-kernel on weights transformed
// once per call straight into its packed layout (AVX-512), or rung 3's packed GEMM (gemm.cpp); the weight
// gradient's run the packed GEMM. Work items are chunks of images; the weight gradient sums them in a fixed
// order (RunSums: the same bits in every call at a given thread count).
// Infinities and NaNs: as rung 4's 3x3 path, a call whose input, dout or weights hold one is rung 3's (the
// transforms would mix it with values the direct sum never meets). Docs: docs/conv.md.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <vector>

#include "fastann/cpu/gemm.hpp"
#include "internal/aligned_scratch.hpp"
#include "internal/conv_avx512.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_pack.hpp"
#include "internal/conv_rungs.hpp"
#include "internal/run_sums.hpp"
#include "internal/work_queue.hpp"

#define FASTANN_WP_NS phases_portable
#define FASTANN_WP_AVX512 0
#include "internal/conv_winograd_phases.hpp"

namespace fastann::cpu::conv_detail {

// The float32 transforms compiled with the AVX-512 flags (conv_rung4_winograd_phases_avx512.cpp).
namespace phases_avx512 {
bool to_padded_channels_last(float* dst, const float* x, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left,
                             int64_t Hp, int64_t Wp);
void phase_input_transform(float* V, int64_t xi_stride, const float* xt, int64_t th, int64_t tw, int64_t Wp,
                           int64_t b, int64_t C, float* tmp);
void transform_patch(float* dst, int64_t xi_stride, const float* src, int64_t row, int64_t col, int64_t n,
                     float* tmp);
void tile_output(float* Y, const float* M, int64_t xi_stride, int64_t t, int64_t n, float* tmp);
void dout_tile(float* D, int64_t xi_stride, int64_t t, const float* dyt, int64_t oh0, int64_t ow0, int64_t OH,
               int64_t OW, int64_t OC, const float* zero, float* tmp);
void transpose(float* dst, const float* src, int64_t rows, int64_t cols);
void weight_transform(float* dst, int64_t xi_stride, int64_t nr, int64_t blk_stride, const float* taps, int64_t ci_n,
                      int64_t co_n, int64_t plane, const float* inv);
void weight_grad_output(float* taps, const float* M, int64_t count, int64_t n, const float* inv);
}  // namespace phases_avx512

namespace {

// The transforms, from the Toom-Cook construction at the points 0, 1, -1, 2 and infinity (Lavin & Gray 2016,
// section 4): for a correlation y = g (*) d with m outputs and r taps (n = m + r - 1 = 5 inputs),
// y = A^T [(G g) (.) (B^T d)] with B^T = (V_n^{-1})^T, G = V_r, A^T = V_m^T (V_k: the k-column Vandermonde
// matrix of the points, infinity's row [0 ... 0 1]). B^T's rows are scaled by s = (2, 2, 6, 6, 1) to integers:
//   B^T = [2 -1 -2 1 0; 0 2 1 -1 0; 0 -2 3 -1 0; 0 -1 0 1 0; 0 2 -1 -2 1]
// and the 1/s goes into G. F(4, 2): A^T = [1 1 1 1 0; 0 1 -1 2 0; 0 1 1 4 0; 0 1 -1 8 1],
// G = diag(1/s) [1 0; 1 1; 1 -1; 1 2; 0 1]. F(2, 4): A^T = [1 1 1 1 0; 0 1 -1 2 1],
// G = diag(1/s) [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 2 4 8; 0 0 0 1] (the 1/s applied to the summed products).
// The transforms themselves are in internal/conv_winograd_phases.hpp.
constexpr int kXi = 25;  // points of the 5x5 transformed domain
constexpr double kScale[5] = {2, 2, 6, 6, 1};

// The transforms a call runs: the portable templates, or the AVX-512 float32 ones.
template <class T>
struct PortableKernels {
  template <class... A> static void weight_grad_output(A... a) { phases_portable::weight_grad_output<T>(a...); }
  template <class... A> static void weight_transform(A... a) { phases_portable::weight_transform<T>(a...); }
  template <class... A> static bool to_padded_channels_last(A... a) { return phases_portable::to_padded_channels_last<T>(a...); }
  template <class... A> static void phase_input_transform(A... a) { phases_portable::phase_input_transform<T>(a...); }
  template <class... A> static void transform_patch(A... a) { phases_portable::transform_patch<T>(a...); }
  template <class... A> static void tile_output(A... a) { phases_portable::tile_output<T>(a...); }
  template <class... A> static void dout_tile(A... a) { phases_portable::dout_tile<T>(a...); }
  template <class... A> static void transpose(A... a) { phases_portable::transpose<T>(a...); }
};
struct Avx512Kernels {
  template <class... A> static void weight_grad_output(A... a) { phases_avx512::weight_grad_output(a...); }
  template <class... A> static void weight_transform(A... a) { phases_avx512::weight_transform(a...); }
  template <class... A> static bool to_padded_channels_last(A... a) { return phases_avx512::to_padded_channels_last(a...); }
  template <class... A> static void phase_input_transform(A... a) { phases_avx512::phase_input_transform(a...); }
  template <class... A> static void transform_patch(A... a) { phases_avx512::transform_patch(a...); }
  template <class... A> static void tile_output(A... a) { phases_avx512::tile_output(a...); }
  template <class... A> static void dout_tile(A... a) { phases_avx512::dout_tile(a...); }
  template <class... A> static void transpose(A... a) { phases_avx512::transpose(a...); }
};

// M[xi] (rows x n) = A[xi] (rows x k) * B[xi] (k x n) + beta * M[xi], for the 25 points, by rung 3's GEMM.
template <class T>
void gemm25(T* c, int64_t c_stride, const T* a, int64_t a_stride, bool trans_a, int64_t lda, const T* b,
            int64_t b_stride, int64_t m, int64_t n, int64_t k, T beta) {
  for (int xi = 0; xi < kXi; ++xi) {
    GemmArgs<T> g;
    g.m = m, g.n = n, g.k = k;
    g.a = a + xi * a_stride, g.lda = lda, g.trans_a = trans_a;
    g.b = b + xi * b_stride, g.ldb = n;
    g.c = c + xi * c_stride, g.ldc = n;
    g.beta = beta;
    gemm_kernel3_packed_simd(g);
  }
}

// The 2x2 kernels of the phase correlation, tap by tap: taps[(2a + b)*ci_n*co_n + ci*co_n + co] for input
// channel ci and output channel co. Forward: ci = (ph, c), co = o, tap (a, b) = w[o][c][2a+p][2b+q]; input
// gradient (flip): ci = o, co = (ph, c), tap (a, b) = w[o][c][2(1-a)+p][2(1-b)+q].
template <class T>
std::vector<T> phase_taps(const T* w, int64_t OC, int64_t C, bool flip) {
  const int64_t C4 = 4 * C, plane = C4 * OC;
  std::vector<T> taps(4 * plane);
  parallel_for(OC, 16, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t kh = 0; kh < 4; ++kh)
          for (int64_t kw = 0; kw < 4; ++kw) {
            const int64_t ph = (kh % 2) * 2 + kw % 2, a = kh / 2, b = kw / 2;
            const int64_t tap = flip ? (1 - a) * 2 + 1 - b : a * 2 + b;
            const int64_t at = flip ? o * C4 + ph * C + c : (ph * C + c) * OC + o;
            taps[tap * plane + at] = w[((o * C + c) * 4 + kh) * 4 + kw];
          }
  });
  return taps;
}

// The forward's and input gradient's products, M[xi] (rows x n) = V[xi] (rows x k) * U[xi] (k x n), U[xi] =
// (G g G^T)[xi] of each 2x2 kernel (the phase weights, once per call). With AVX-512, U is written straight
// into pack_b's layout and V's rows are read in place by rung 3's row micro-kernel (gemm_rows_a: a 12 x 32
// register tile); elsewhere U is row-major and the products are rung 3's packed GEMM (gemm25).
template <class T>
struct TransformedWeights {
  AlignedScratch<T> U;  // 25 blocks of xi_stride: row-major (k x n), or packed (every entry written)
  int64_t k, n, xi_stride;
  std::vector<int64_t> row_offsets;  // V's row m at m * k
  bool row_kernel;

  template <class K>
  TransformedWeights(K, const T* w, int64_t OC, int64_t C, bool flip, int64_t max_rows)
      : k(flip ? OC : 4 * C), n(flip ? 4 * C : OC), row_kernel(have_avx512()) {
    const std::vector<T> taps = phase_taps(w, OC, C, flip);
    T inv[kXi];
    for (int xi = 0; xi < kXi; ++xi) inv[xi] = T(1.0 / (kScale[xi / 5] * kScale[xi % 5]));
    xi_stride = row_kernel ? packed_b_size<T>(k, n) : k * n;
    U.resize(kXi * xi_stride);  // uninitialized: weight_transform writes every entry
    // rows [r0, r1) of every U[xi]: weight_transform on the taps' rows from r0 (same per-element arithmetic)
    parallel_for(k, 16, [&](int64_t r0, int64_t r1) {
      const T* t = taps.data() + r0 * n;
      if (row_kernel)
        K::weight_transform(U.data() + r0 * NR<T>, xi_stride, NR<T>, k * NR<T>, t, r1 - r0, n, k * n, inv);
      else
        K::weight_transform(U.data() + r0 * n, xi_stride, n, 0, t, r1 - r0, n, k * n, inv);
    });
    row_offsets.resize(max_rows);
    for (int64_t m = 0; m < max_rows; ++m) row_offsets[m] = m * k;
  }
  void multiply(T* M, int64_t m_stride, const T* V, int64_t v_stride, int64_t rows) const {
    if (!row_kernel) return gemm25(M, m_stride, V, v_stride, false, k, U.data(), xi_stride, rows, n, k, T(0));
    for (int xi = 0; xi < kXi; ++xi)
      gemm_rows_a(rows, n, k, k, 0, V + xi * v_stride, row_offsets.data(), U.data() + xi * xi_stride, M + xi * m_stride,
                  n, false, true);
  }
};

// The tiling of one call. Forward and weight gradient: tiles of 4x4 outputs, th x tw per image, over the phase
// planes X_pq of rows 4*th + 1 (image rows 2u + p - pad_top). Input gradient: tiles of 4x4 phase positions
// of dx, uh x uw positions per phase.
struct PhasePlan {
  int64_t th, tw, tiles;  // tiles per image
  int64_t Hp, Wp;         // the padded channels-last block the patches are read from
  int64_t images;         // images per work item (chunk)
};

// Images per work item: about 64 GEMM rows (tiles). Measured on the DCGAN's 64 -> 128 layer (N 128, 14x14):
// 32 to 128 rows within 5% on one thread; 64 balances two threads best (128 leaves 4 items for 2 threads).
int64_t chunk_images(int64_t tiles) { return std::max<int64_t>(1, 64 / tiles); }

PhasePlan forward_plan(const Conv2dParams& p) {
  PhasePlan g;
  g.th = (p.OH + 3) / 4, g.tw = (p.OW + 3) / 4, g.tiles = g.th * g.tw;
  g.Hp = 8 * g.th + 2, g.Wp = 8 * g.tw + 2;
  g.images = chunk_images(g.tiles);
  return g;
}

// Input gradient: phase rows u = 0 .. uh-1 hold dx rows h = 2u + p - pad_top; dout is read shifted by one
// (the correlation with the flipped kernel reads dout[u - 1 .. u]).
PhasePlan input_grad_plan(const Conv2dParams& p) {
  PhasePlan g;
  const int64_t uh = (p.H - 1 + p.pad_top) / 2 + 1, uw = (p.W - 1 + p.pad_left) / 2 + 1;
  g.th = (uh + 3) / 4, g.tw = (uw + 3) / 4, g.tiles = g.th * g.tw;
  g.Hp = 4 * g.th + 1, g.Wp = 4 * g.tw + 1;
  g.images = chunk_images(g.tiles);
  return g;
}

// Each direction returns false, its result incomplete, when an image (or dout) holds an infinity or a NaN.
template <class K, class T>
bool forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t C = p.C, OC = p.OC, C4 = 4 * C, P = p.OH * p.OW;
  const PhasePlan g = forward_plan(p);
  const int64_t chunks = (p.N + g.images - 1) / g.images, rows = g.images * g.tiles;
  const TransformedWeights<T> U(K{}, weight, OC, C, false, rows);
  const int64_t v_stride = rows * C4, m_stride = rows * OC;
  std::atomic<bool> non_finite{false};
  parallel_dynamic(chunks, [&](int, WorkQueue& queue) {
    AlignedScratch<T> xt(g.Hp * g.Wp * C), V(kXi * v_stride), M(kXi * m_stride), tmp(kXi * std::max(C, OC)),
        Y(16 * OC), yt(P * OC);
    for (int64_t chunk; (chunk = queue.next()) >= 0;) {
      const int64_t n0 = chunk * g.images, nb = std::min(g.images, p.N - n0);
      for (int64_t b = 0; b < nb; ++b) {
        if (K::to_padded_channels_last(xt.data(), inp + (n0 + b) * C * p.H * p.W, C, p.H, p.W, p.pad_top,
                                       p.pad_left, g.Hp, g.Wp))
          non_finite = true;
        K::phase_input_transform(V.data(), v_stride, xt.data(), g.th, g.tw, g.Wp, b, C, tmp.data());
      }
      U.multiply(M.data(), m_stride, V.data(), v_stride, nb * g.tiles);
      for (int64_t b = 0; b < nb; ++b) {
        for (int64_t ti = 0; ti < g.th; ++ti)
          for (int64_t tj = 0; tj < g.tw; ++tj) {
            K::tile_output(Y.data(), M.data(), m_stride, (b * g.th + ti) * g.tw + tj, OC, tmp.data());
            for (int64_t i = 0; i < 4 && 4 * ti + i < p.OH; ++i)
              for (int64_t j = 0; j < 4 && 4 * tj + j < p.OW; ++j) {
                T* dst = yt.data() + ((4 * ti + i) * p.OW + 4 * tj + j) * OC;
                const T* src = Y.data() + (i * 4 + j) * OC;
                if (bias) {
#pragma omp simd
                  for (int64_t o = 0; o < OC; ++o) dst[o] = src[o] + bias[o];
                } else {
                  std::memcpy(dst, src, OC * sizeof(T));
                }
              }
          }
        K::transpose(out + (n0 + b) * OC * P, yt.data(), P, OC);
      }
    }
  });
  return !non_finite;
}

template <class K, class T>
bool backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  const int64_t C = p.C, OC = p.OC, C4 = 4 * C, P = p.OH * p.OW, HW = p.H * p.W;
  const PhasePlan g = input_grad_plan(p);
  const int64_t chunks = (p.N + g.images - 1) / g.images, rows = g.images * g.tiles;
  const TransformedWeights<T> U(K{}, weight, OC, C, true, rows);
  const int64_t v_stride = rows * OC, m_stride = rows * C4;
  std::atomic<bool> non_finite{false};
  parallel_dynamic(chunks, [&](int, WorkQueue& queue) {
    AlignedScratch<T> dt(g.Hp * g.Wp * OC), V(kXi * v_stride), M(kXi * m_stride), tmp(kXi * std::max(C4, OC)),
        Y(16 * C4), dxt(HW * C);
    for (int64_t chunk; (chunk = queue.next()) >= 0;) {
      const int64_t n0 = chunk * g.images, nb = std::min(g.images, p.N - n0);
      for (int64_t b = 0; b < nb; ++b) {  // dout, zero-extended by one row and column before, channels last
        if (K::to_padded_channels_last(dt.data(), dout + (n0 + b) * OC * P, OC, p.OH, p.OW, 1, 1, g.Hp, g.Wp))
          non_finite = true;
        for (int64_t ti = 0; ti < g.th; ++ti)
          for (int64_t tj = 0; tj < g.tw; ++tj) {
            const int64_t t = (b * g.th + ti) * g.tw + tj;
            K::transform_patch(V.data() + t * OC, v_stride, dt.data() + (4 * ti * g.Wp + 4 * tj) * OC, g.Wp * OC, OC,
                            OC, tmp.data());
          }
      }
      U.multiply(M.data(), m_stride, V.data(), v_stride, nb * g.tiles);
      for (int64_t b = 0; b < nb; ++b) {
        for (int64_t ti = 0; ti < g.th; ++ti)
          for (int64_t tj = 0; tj < g.tw; ++tj) {
            K::tile_output(Y.data(), M.data(), m_stride, (b * g.th + ti) * g.tw + tj, C4, tmp.data());
            for (int64_t i = 0; i < 4; ++i)
              for (int64_t j = 0; j < 4; ++j)
                for (int64_t ph = 0; ph < 4; ++ph) {  // phase position (u, v) is dx's (2u + p - top, 2v + q - left)
                  const int64_t h = 2 * (4 * ti + i) + ph / 2 - p.pad_top, w = 2 * (4 * tj + j) + ph % 2 - p.pad_left;
                  if (h < 0 || h >= p.H || w < 0 || w >= p.W) continue;
                  std::memcpy(dxt.data() + (h * p.W + w) * C, Y.data() + (i * 4 + j) * C4 + ph * C, C * sizeof(T));
                }
          }
        K::transpose(dinp + (n0 + b) * C * HW, dxt.data(), HW, C);
      }
    }
  });
  return !non_finite;
}

template <class K, class T>
bool backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p) {
  const int64_t C = p.C, OC = p.OC, C4 = 4 * C, P = p.OH * p.OW;
  const PhasePlan g = forward_plan(p);
  const int64_t chunks = (p.N + g.images - 1) / g.images, rows = g.images * g.tiles;
  const int64_t v_stride = rows * C4, d_stride = rows * OC, msz = kXi * C4 * OC;
  RunSums<T> sums(chunks, msz + OC);  // the 25 products (C4 x OC each), then dbias
  std::atomic<bool> non_finite{false};
  sums.parallel([&](RunCursor& queue) {
    AlignedScratch<T> xt(g.Hp * g.Wp * C), V(kXi * v_stride), D(kXi * d_stride), tmp(kXi * std::max(C, OC)),
        dyt(P * OC), zero(OC);
    std::fill(zero.data(), zero.data() + OC, T(0));
    for (int64_t chunk; (chunk = queue.next()) >= 0;) {
      T* acc = sums.buffer(chunk);
      const int64_t n0 = chunk * g.images, nb = std::min(g.images, p.N - n0);
      for (int64_t b = 0; b < nb; ++b) {
        if (K::to_padded_channels_last(xt.data(), inp + (n0 + b) * C * p.H * p.W, C, p.H, p.W, p.pad_top,
                                       p.pad_left, g.Hp, g.Wp))
          non_finite = true;
        K::phase_input_transform(V.data(), v_stride, xt.data(), g.th, g.tw, g.Wp, b, C, tmp.data());
        const T* dy = dout + (n0 + b) * OC * P;
        K::transpose(dyt.data(), dy, OC, P);  // (OH*OW) x OC
        T* db = acc + msz;
        for (int64_t pos = 0; pos < P; ++pos) {
          const T* row = dyt.data() + pos * OC;
#pragma omp simd
          for (int64_t o = 0; o < OC; ++o) db[o] += row[o];
        }
        for (int64_t ti = 0; ti < g.th; ++ti)
          for (int64_t tj = 0; tj < g.tw; ++tj) {
            K::dout_tile(D.data(), d_stride, (b * g.th + ti) * g.tw + tj, dyt.data(), 4 * ti, 4 * tj, p.OH, p.OW,
                         OC, zero.data(), tmp.data());
          }
      }
      // M[xi] (C4 x OC) += V[xi]^T (C4 x tiles) * D[xi] (tiles x OC)
      gemm25(acc, C4 * OC, V.data(), v_stride, true, C4, D.data(), d_stride, C4, OC, nb * g.tiles, T(1));
    }
  });
  const T* M = sums.total();
  // dout's values all reach dbias's sums: a non-finite one leaves one there (so may an overflow of finite
  // values, which then runs rung 3 for nothing but the same result)
  if (non_finite || any_non_finite(M + msz, OC)) return false;
  if (dbias) std::copy(M + msz, M + msz + OC, dbias);
  // dW'[a][b][ci][o] = (A^T (M / (s s^T)) A)[a][b], ci = (ph, c) -> dweight[o][c][2a+p][2b+q]
  T inv[kXi];
  for (int xi = 0; xi < kXi; ++xi) inv[xi] = T(1.0 / (kScale[xi / 5] * kScale[xi % 5]));
  std::vector<T> taps(4 * C4 * OC);
  parallel_for(C4 * OC, 4096, [&](int64_t i0, int64_t i1) {
    K::weight_grad_output(taps.data() + i0, M + i0, i1 - i0, C4 * OC, inv);
  });
  parallel_for(OC, 16, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t kh = 0; kh < 4; ++kh)
          for (int64_t kw = 0; kw < 4; ++kw) {
            const int64_t ci = ((kh % 2) * 2 + kw % 2) * C + c, tap = (kh / 2) * 2 + kw / 2;
            dweight[((o * C + c) * 4 + kh) * 4 + kw] = taps[(tap * C4 + ci) * OC + o];
          }
  });
  return true;
}

}  // namespace

// run(kernels): with the AVX-512 transforms for float32 on a CPU that has AVX-512, the portable ones otherwise.
template <class T, class Run>
bool with_kernels(Run&& run) {
  if constexpr (std::is_same_v<T, float>)
    if (have_avx512()) return run(Avx512Kernels{});
  return run(PortableKernels<T>{});
}

// A weight with an infinity or a NaN sends the call to rung 3 at once; an image or dout with one is found while
// it is copied, and the call then runs rung 3 (rung 3's exact values: the transforms would mix the value with
// others, inf - inf or 0 * inf giving NaN where the direct sum gives +-inf).
template <class T>
void conv2d_forward_rung4_phases(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const bool done = !any_non_finite(weight, p.OC * p.C * 16) && with_kernels<T>([&](auto k) {
    return forward<decltype(k)>(out, inp, weight, bias, p);
  });
  if (!done) conv2d_forward_rung3_direct(out, inp, weight, bias, p);
}

template <class T>
void conv2d_backward_input_rung4_phases(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  const bool done = !any_non_finite(weight, p.OC * p.C * 16) && with_kernels<T>([&](auto k) {
    return backward_input<decltype(k)>(dinp, dout, weight, p);
  });
  if (!done) conv2d_backward_input_rung3_direct(dinp, dout, weight, p);
}

template <class T>
void conv2d_backward_weight_rung4_phases(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p) {
  const bool done = with_kernels<T>([&](auto k) { return backward_weight<decltype(k)>(dweight, dbias, dout, inp, p); });
  if (!done) conv2d_backward_weight_rung3_direct(dweight, dbias, dout, inp, p);
}

FASTANN_CONV_INSTANTIATE_RUNG(rung4_phases, float)
FASTANN_CONV_INSTANTIATE_RUNG(rung4_phases, double)

}  // namespace fastann::cpu::conv_detail
