// gemm_scalar.cpp: the scalar micro-kernel of the packed GEMM (rungs 3 and 4), compiled without ISA flags
// (csrc/cpu/README.md); gemm.cpp calls it when simd_level() is scalar (a CPU without AVX2, or FASTANN_SIMD).
#include "gemm_isa.hpp"
#include "gemm_packed.hpp"

namespace fastann::cpu::scalar {
namespace {

// ---- helpers -------------------------------------------------------------------------------------
// relu that keeps NaN: NaN < 0 is false, so NaN passes through (max-style idioms would drop it).
template <class T>
inline T relu_keep_nan(T x) { return x < T(0) ? T(0) : x; }

// ---- kernels -------------------------------------------------------------------------------------
// Same contract as the AVX-512 micro-kernel (see gemm_packed.hpp), in plain loops.
template <class T, int MR, int NR>
void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* __restrict c, int64_t ldc,
                  int mr, int nr, T alpha, T beta, const T* bias, bool relu) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p, ap += MR, bp += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
  for (int i = 0; i < mr; ++i) {
    for (int j = 0; j < nr; ++j) {
      T v = alpha * acc[i][j];
      if (beta != T(0)) v += beta * c[i * ldc + j];
      if (bias) v += bias[j];
      c[i * ldc + j] = relu ? relu_keep_nan(v) : v;
    }
  }
}
struct KernelF32 {
  using T = float;
  static constexpr int MR = 4, NR = 8, KC_MAX = 256;
  static constexpr bool kTransposePack = false;
  static constexpr bool kStridedA = false;
  static void micro_kernel(int64_t kc, const T* ap, const T* bp, T* c, int64_t ldc, int mr, int nr, T alpha,
                           T beta, const T* bias, bool relu) {
    scalar::micro_kernel<T, MR, NR>(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  }
};
struct KernelF64 {
  using T = double;
  static constexpr int MR = 4, NR = 4, KC_MAX = 256;
  static constexpr bool kTransposePack = false;
  static constexpr bool kStridedA = false;
  static void micro_kernel(int64_t kc, const T* ap, const T* bp, T* c, int64_t ldc, int mr, int nr, T alpha,
                           T beta, const T* bias, bool relu) {
    scalar::micro_kernel<T, MR, NR>(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu);
  }
};
}  // namespace

// ---- dispatch (entry points called from gemm.cpp) ---------------------------------------------------
void gemm_packed(const GemmArgs<float>& g, const GemmBlocking& b) { packed::gemm_packed<KernelF32>(g, b); }
void gemm_packed(const GemmArgs<double>& g, const GemmBlocking& b) { packed::gemm_packed<KernelF64>(g, b); }
GemmKernelShape kernel_shape(float) {
  return {KernelF32::MR, KernelF32::NR, KernelF32::KC_MAX, KernelF32::NR, 0};
}
GemmKernelShape kernel_shape(double) {
  return {KernelF64::MR, KernelF64::NR, KernelF64::KC_MAX, KernelF64::NR, 0};
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

}  // namespace fastann::cpu::scalar
