// gemm_avx512.cpp: the AVX-512 micro-kernels of the packed GEMM (rungs 3 and 4) and the FMA-peak probe.
// Compiled with -mavx512f... (CMakeLists.txt); entered only when fastann::simd_level() == avx512.
//
// Micro-tile: MR = 6 rows x NR = 4 vectors (64 fp32 / 32 fp64 columns). Per step p of the K loop it loads
// four B vectors and, for each of the 6 rows, broadcasts one A value into four FMAs: 24 independent FMAs,
// enough to cover the 4-cycle FMA latency on two FMA pipes, and 24 accumulators + 4 B registers + 1
// broadcast fit the 32 zmm registers.
#include <immintrin.h>

#include <algorithm>
#include <time.h>

#include "gemm_isa.hpp"
#include "gemm_packed.hpp"
#include "simd_avx512.hpp"

namespace fastann::cpu::avx512 {
namespace {

template <class T> using Vec = simd::Avx512<T>;

// CPU time of the calling thread: unlike wall time it does not count the time another process holds the
// core, so the peak probe stays right on a shared machine.
inline double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// ---- kernels -------------------------------------------------------------------------------------

// ap: MR x kc micro-panel (ap[p*MR + i]), bp: kc x NR micro-panel (bp[p*NR + j]), 64-byte aligned;
// c: the MR x NR tile of C (row stride ldc), of which mr x nr is inside the matrix.
// NV <= NR/W vectors are computed: the last, narrow panel of a matrix (N = 100 -> 64 + 36) runs a variant
// with fewer vectors instead of multiplying zero padding.
// STRIDED_A: A is read in place from a row-major op(A) (a(i,p) = ap[i*lda + p]) instead of a packed
// micro-panel (ap[p*MR + i]); see gemm_packed.hpp for when that pays off.
template <class T, int MR, int NV, int NR, bool STRIDED_A = false>
void micro_kernel(int64_t kc, const T* __restrict ap, int64_t lda, const T* __restrict bp, T* __restrict c,
                  int64_t ldc, int mr, int nr, T alpha, T beta, const T* bias, bool relu) {
  constexpr int64_t a_step = STRIDED_A ? 1 : MR;  // how far ap moves per step p
  using V = Vec<T>;
  constexpr int W = V::W;
  static_assert(NV * W <= NR, "micro_kernel: NV vectors must fit the packed panel width");
  // Narrow variants have fewer than 16 accumulators, too few to hide the FMA latency (4 cycles x 2 pipes):
  // they keep S = 2 sets, one for even and one for odd steps p, summed at the end.
  constexpr int S = MR * NV >= 16 ? 1 : 2;
  typename V::reg acc[S][MR][NV];
#pragma GCC unroll 2
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[s][i][v] = V::zero();

  // Touch the C tile early so its lines arrive while the K loop runs.
  for (int i = 0; i < mr; ++i)
    for (int off = 0; off < NV * W * int(sizeof(T)); off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc) + off, _MM_HINT_T0);

  // One step p: a rank-1 update of the tile, acc[s] += ap[0:MR] (column) x bp[0:NV*W] (row).
  auto step = [&](auto& a_s, const T* a_p, const T* b_p) {
    typename V::reg b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = V::load(b_p + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::reg a = V::set1(STRIDED_A ? a_p[i * lda] : a_p[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) a_s[i][v] = V::fmadd(a, b[v], a_s[i][v]);
    }
  };
  int64_t p = 0;
  if constexpr (S == 2) {
    for (; p + 2 <= kc; p += 2, ap += 2 * a_step, bp += 2 * NR) {
      step(acc[0], ap, bp);
      step(acc[1], ap + a_step, bp + NR);
    }
  }
#pragma GCC unroll 2
  for (; p < kc; ++p, ap += a_step, bp += NR) step(acc[0], ap, bp);
  if constexpr (S == 2) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[0][i][v] = V::add(acc[0][i][v], acc[1][i][v]);
  }

  // Store: c = act(alpha*acc + beta*c + bias). Masks cut the columns past nr; rows past mr are skipped.
  typename V::mask m[NV];
  typename V::reg vbias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    m[v] = V::tail(nr - v * W);
    vbias[v] = bias ? V::maskz_loadu(m[v], bias + v * W) : V::zero();
  }
  const typename V::reg valpha = V::set1(alpha), vbeta = V::set1(beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    T* crow = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      typename V::reg r = V::mul(acc[0][i][v], valpha);
      if (beta != T(0)) r = V::fmadd(vbeta, V::maskz_loadu(m[v], crow + v * W), r);
      if (bias) r = V::add(r, vbias[v]);
      if (relu) r = V::relu(r);
      V::mask_storeu(crow + v * W, m[v], r);
    }
  }
}

// Transpose 16 rows of 16 floats in registers (r[i][j] -> r[j][i]): 64 shuffles for 256 values, against
// 256 scalar loads and stores for the naive copy.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // interleave 32-bit elements of row pairs
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // interleave 64-bit pairs
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  for (int h = 0; h < 16; h += 8) {  // gather 128-bit lanes: first across 4-row groups ...
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  }
  for (int i = 0; i < 8; ++i) {  // ... then across 8-row halves
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// dst[p*64 + j] = src[j*ldb + p] for j < cols (0 beyond), p < kc: 16 x 16 blocks through transpose16x16.
// (The linear layer's forward reads its weight (out, in) this way.)
inline void pack_b_transposed_f32(const float* src, int64_t ldb, int64_t kc, int cols, float* dst) {
  constexpr int NR = 64;
  for (int j0 = 0; j0 < NR; j0 += 16) {
    const int rows = std::max(0, std::min(16, cols - j0));
    if (rows == 0) {
      for (int64_t p = 0; p < kc; ++p) _mm512_store_ps(dst + p * NR + j0, _mm512_setzero_ps());
      continue;
    }
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
      const int len = static_cast<int>(std::min<int64_t>(16, kc - p0));
      const __mmask16 m = Vec<float>::tail(len);
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(m, src + (j0 + i) * ldb + p0) : _mm512_setzero_ps();
      transpose16x16(r);
      for (int q = 0; q < len; ++q) _mm512_store_ps(dst + (p0 + q) * NR + j0, r[q]);
    }
  }
}

// The widest variant that covers nr columns (nr <= NR).
template <class T, int MR, int NR, bool STRIDED_A>
inline void dispatch_width(int64_t kc, const T* ap, int64_t lda, const T* bp, T* c, int64_t ldc, int mr, int nr,
                           T alpha, T beta, const T* bias, bool relu) {
  constexpr int W = Vec<T>::W;
  static_assert(NR == 4 * W, "dispatch_width expects a 4-vector panel");
  if (nr > 3 * W) micro_kernel<T, MR, 4, NR, STRIDED_A>(kc, ap, lda, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  else if (nr > 2 * W) micro_kernel<T, MR, 3, NR, STRIDED_A>(kc, ap, lda, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  else if (nr > W) micro_kernel<T, MR, 2, NR, STRIDED_A>(kc, ap, lda, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  else micro_kernel<T, MR, 1, NR, STRIDED_A>(kc, ap, lda, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
}

// Micro-tile and KC ceiling (the cache blocks themselves come from the caches at run time: gemm.cpp,
// derive_blocking). A long KC matters most, because every K block re-reads and re-writes all of C (Zen 5,
// thread CPU time, n = 1024 and 2048: KC = 256 -> ~165 GFLOP/s, KC = 1024 -> ~215); past 1024 fp32 the B
// micro-panel (KC x 64) outgrows a quarter of a 1 MiB L2. fp64 keeps the same bytes per A row (KC = 512).
// 6 x 64 beat 14 x 32, 12 x 32 and 8 x 48 there: 4 vector loads + 6 broadcasts feed 24 FMAs per step, and a
// 6-row C tile never exceeds the L1's 12 ways even when ldc is a power of two.
struct KernelF32 {
  using T = float;
  static constexpr int MR = 6, NR = 64, KC_MAX = 1024;
  static constexpr bool kTransposePack = true;
  static void pack_b_transposed(const T* src, int64_t ldb, int64_t kc, int cols, T* dst) {
    pack_b_transposed_f32(src, ldb, kc, cols, dst);
  }
  static constexpr bool kStridedA = true;
  static void micro_kernel(int64_t kc, const T* ap, const T* bp, T* c, int64_t ldc, int mr, int nr, T alpha,
                           T beta, const T* bias, bool relu) {
    dispatch_width<T, MR, NR, false>(kc, ap, 0, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  }
  static void micro_kernel_strided_a(int64_t kc, const T* a, int64_t lda, const T* bp, T* c, int64_t ldc, int nr,
                                     T alpha, T beta, const T* bias, bool relu) {
    dispatch_width<T, MR, NR, true>(kc, a, lda, bp, c, ldc, MR, nr, alpha, beta, bias, relu);
  }
};
// fp64: the same register tile (6 rows x 4 zmm = 6 x 32 doubles).
struct KernelF64 {
  using T = double;
  static constexpr int MR = 6, NR = 32, KC_MAX = 512;
  static constexpr bool kTransposePack = false;
  static constexpr bool kStridedA = true;
  static void micro_kernel(int64_t kc, const T* ap, const T* bp, T* c, int64_t ldc, int mr, int nr, T alpha,
                           T beta, const T* bias, bool relu) {
    dispatch_width<T, MR, NR, false>(kc, ap, 0, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  }
  static void micro_kernel_strided_a(int64_t kc, const T* a, int64_t lda, const T* bp, T* c, int64_t ldc, int nr,
                                     T alpha, T beta, const T* bias, bool relu) {
    dispatch_width<T, MR, NR, true>(kc, a, lda, bp, c, ldc, MR, nr, alpha, beta, bias, relu);
  }
};

}  // namespace

// ---- dispatch (entry points called from gemm.cpp) ---------------------------------------------------
void gemm_packed(const GemmArgs<float>& g, const GemmBlocking& b) { packed::gemm_packed<KernelF32>(g, b); }
void gemm_packed(const GemmArgs<double>& g, const GemmBlocking& b) { packed::gemm_packed<KernelF64>(g, b); }
GemmKernelShape kernel_shape(float) {
  return {KernelF32::MR, KernelF32::NR, KernelF32::KC_MAX, Vec<float>::W, 2 * Vec<float>::W};
}
GemmKernelShape kernel_shape(double) {
  return {KernelF64::MR, KernelF64::NR, KernelF64::KC_MAX, Vec<double>::W, 2 * Vec<double>::W};
}
FASTANN_GEMM_PACKED_FORWARDERS(float)
FASTANN_GEMM_PACKED_FORWARDERS(double)
void linear_store_transposed(float* out, const float* yt, const float* bias, int64_t n, int64_t out_features,
                             bool relu) {
  // 16 x 16 blocks through transpose16x16: 16 rows of yt (o0.., columns i0..) become 16 rows of out; the same
  // v + bias and max(0, v) as the micro-kernel's epilogue.
  for (int64_t o0 = 0; o0 < out_features; o0 += 16) {
    const int rows = static_cast<int>(std::min<int64_t>(16, out_features - o0));
    const __mmask16 om = Vec<float>::tail(rows);
    const __m512 vbias = bias ? _mm512_maskz_loadu_ps(om, bias + o0) : _mm512_setzero_ps();
    for (int64_t i0 = 0; i0 < n; i0 += 16) {
      const int len = static_cast<int>(std::min<int64_t>(16, n - i0));
      const __mmask16 im = Vec<float>::tail(len);
      __m512 r[16];
#pragma GCC unroll 16
      for (int q = 0; q < 16; ++q)
        r[q] = q < rows ? _mm512_maskz_loadu_ps(im, yt + (o0 + q) * n + i0) : _mm512_setzero_ps();
      transpose16x16(r);
      for (int q = 0; q < len; ++q) {
        __m512 v = r[q];
        if (bias) v = _mm512_add_ps(v, vbias);
        if (relu) v = Vec<float>::relu(v);
        _mm512_mask_storeu_ps(out + (i0 + q) * out_features + o0, om, v);
      }
    }
  }
}
void linear_store_transposed(double* out, const double* yt, const double* bias, int64_t n, int64_t out_features,
                             bool relu) {
  packed::linear_store_transposed(out, yt, bias, n, out_features, relu);
}

// 12 independent chains of fp32 FMAs on zmm registers: more than latency (4) x pipes (2), so the FMA
// units never wait. Returns GFLOP/s of one core (16 lanes x 2 flops per FMA).
double fma_peak_gflops(double seconds) {
  constexpr int kChains = 12;
  constexpr int64_t kInner = 1 << 16;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + 1e-3f * i);
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
  int64_t fmas = 0;
  const double t0 = thread_cpu_seconds();
  double elapsed = 0;
  do {
    for (int64_t r = 0; r < kInner; ++r) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
    }
    fmas += kInner * kChains;
    elapsed = thread_cpu_seconds() - t0;
  } while (elapsed < seconds);
  // Keep the result alive so the loop is not optimised away.
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return fmas * 16.0 * 2.0 / elapsed * 1e-9;
}

}  // namespace fastann::cpu::avx512
