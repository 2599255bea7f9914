// gemm_avx2.cpp: the AVX2 + FMA micro-kernels of the packed GEMM (rungs 3 and 4) and the FMA-peak probe.
// Compiled with -mavx2 -mfma (CMakeLists.txt); entered only when fastann::simd_level() == avx2.
//
// Micro-tile: MR = 6 rows x NR = 2 ymm vectors (16 fp32 / 8 fp64 columns): 12 accumulators + 2 B
// registers + 1 broadcast of the 16 ymm registers, 12 independent FMAs per step p.
#include <immintrin.h>

#include <time.h>

#include "gemm_isa.hpp"
#include "gemm_packed.hpp"
#include "simd_avx2.hpp"

namespace fastann::cpu::avx2 {
namespace {

template <class T> using Vec = simd::Avx2<T>;

// CPU time of the calling thread: unlike wall time it does not count the time another process holds the
// core, so the peak probe stays right on a shared machine.
inline double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// ---- kernels -------------------------------------------------------------------------------------

// Same contract as the AVX-512 micro-kernel (see gemm_packed.hpp).
// NV <= NR/W vectors are computed (a one-vector variant runs the last, narrow panel).
template <class T, int MR, int NV, int NR>
void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* __restrict c, int64_t ldc,
                  int mr, int nr, T alpha, T beta, const T* bias, bool relu) {
  using V = Vec<T>;
  constexpr int W = V::W;
  static_assert(NV * W <= NR, "micro_kernel: NV vectors must fit the packed panel width");
  typename V::reg acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    typename V::reg b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = V::load(bp + v * W);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const typename V::reg a = V::set1(ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(a, b[v], acc[i][v]);
    }
    ap += MR;
    bp += NR;
  }

  typename V::mask m[NV];
  typename V::reg vbias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    m[v] = V::tail(nr - v * W);
    vbias[v] = bias ? V::maskz_loadu(m[v], bias + v * W) : V::zero();
  }
  const typename V::reg valpha = V::set1(alpha), vbeta = V::set1(beta);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    T* crow = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      typename V::reg r = V::mul(acc[i][v], valpha);
      if (beta != T(0)) r = V::fmadd(vbeta, V::maskz_loadu(m[v], crow + v * W), r);
      if (bias) r = V::add(r, vbias[v]);
      if (relu) r = V::relu(r);
      V::mask_storeu(crow + v * W, m[v], r);
    }
  }
}

// Micro-tile and KC ceiling; the cache blocks come from the caches at run time (gemm.cpp). A long KC (every
// K block re-reads and re-writes C) runs closer to the FMA peak than KC = 256 (docs/gemm.md, Measured).
struct KernelF32 {
  using T = float;
  static constexpr int MR = 6, NR = 16, KC_MAX = 1024;
  static constexpr bool kTransposePack = false;
  static constexpr bool kStridedA = false;
  static void micro_kernel(int64_t kc, const T* ap, const T* bp, T* c, int64_t ldc, int mr, int nr, T alpha,
                           T beta, const T* bias, bool relu) {
    if (nr > Vec<T>::W) avx2::micro_kernel<T, MR, 2, NR>(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
    else avx2::micro_kernel<T, MR, 1, NR>(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  }
};
struct KernelF64 {
  using T = double;
  static constexpr int MR = 6, NR = 8, KC_MAX = 512;
  static constexpr bool kTransposePack = false;
  static constexpr bool kStridedA = false;
  static void micro_kernel(int64_t kc, const T* ap, const T* bp, T* c, int64_t ldc, int mr, int nr, T alpha,
                           T beta, const T* bias, bool relu) {
    if (nr > Vec<T>::W) avx2::micro_kernel<T, MR, 2, NR>(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
    else avx2::micro_kernel<T, MR, 1, NR>(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  }
};

}  // namespace

// ---- dispatch (entry points called from gemm.cpp) ---------------------------------------------------
void gemm_packed(const GemmArgs<float>& g, const GemmBlocking& b) { packed::gemm_packed<KernelF32>(g, b); }
void gemm_packed(const GemmArgs<double>& g, const GemmBlocking& b) { packed::gemm_packed<KernelF64>(g, b); }
GemmKernelShape kernel_shape(float) {
  return {KernelF32::MR, KernelF32::NR, KernelF32::KC_MAX, Vec<float>::W, 0};
}
GemmKernelShape kernel_shape(double) {
  return {KernelF64::MR, KernelF64::NR, KernelF64::KC_MAX, Vec<double>::W, 0};
}
FASTANN_GEMM_PACKED_FORWARDERS(float)
FASTANN_GEMM_PACKED_FORWARDERS(double)
void linear_store_transposed(float* out, const float* yt, const float* bias, int64_t n, int64_t out_features,
                             bool relu) {
  packed::linear_store_transposed(out, yt, bias, n, out_features, relu);
}
void linear_store_transposed(double* out, const double* yt, const double* bias, int64_t n, int64_t out_features,
                             bool relu) {
  packed::linear_store_transposed(out, yt, bias, n, out_features, relu);
}

// 10 independent chains of fp32 FMAs on ymm registers (8 lanes x 2 flops per FMA).
double fma_peak_gflops(double seconds) {
  constexpr int kChains = 10;
  constexpr int64_t kInner = 1 << 16;
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1.0f + 1e-3f * i);
  const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
  int64_t fmas = 0;
  const double t0 = thread_cpu_seconds();
  double elapsed = 0;
  do {
    for (int64_t r = 0; r < kInner; ++r) {
#pragma GCC unroll 10
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
    }
    fmas += kInner * kChains;
    elapsed = thread_cpu_seconds() - t0;
  } while (elapsed < seconds);
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  volatile float sink = lanes[0];
  (void)sink;
  return fmas * 8.0 * 2.0 / elapsed * 1e-9;
}

}  // namespace fastann::cpu::avx2
