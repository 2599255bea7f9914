// C ABI over the emulated launchers, for ctypes.
#include <cstdio>
#include <stdexcept>
#include "fastann/cuda/conv.hpp"
#include "fastann/cuda/gemm.hpp"
#include "fastann/cuda/norm.hpp"
#include "fastann/cuda/pool.hpp"

namespace fastann::cuda {
// Reference GEMM with gemm.hpp's documented semantics (stand-in for csrc/cuda/gemm.cu).
template <class T>
void gemm(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool ta, bool tb, T alpha, T beta, int,
          cudaStream_t, const T* bias, bool relu) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(ta ? a[k * M + i] : a[i * K + k]) * double(tb ? b[j * K + k] : b[k * N + j]);
      T v = T(alpha * s) + (beta == T(0) ? T(0) : beta * c[i * N + j]);
      if (bias) v += bias[j];
      if (relu && v < 0) v = 0;
      c[i * N + j] = v;
    }
}
template void gemm<float>(float*, const float*, const float*, int64_t, int64_t, int64_t, bool, bool, float, float, int, cudaStream_t, const float*, bool);
template void gemm<double>(double*, const double*, const double*, int64_t, int64_t, int64_t, bool, bool, double, double, int, cudaStream_t, const double*, bool);
}  // namespace fastann::cuda

using namespace fastann::cuda;
static Conv2dParams P(const int64_t* a) {
  Conv2dParams p;
  p.N = a[0], p.C = a[1], p.H = a[2], p.W = a[3], p.OC = a[4], p.KH = a[5], p.KW = a[6];
  p.stride_h = a[7], p.stride_w = a[8], p.pad_top = a[9], p.pad_bottom = a[10], p.pad_left = a[11], p.pad_right = a[12];
  p.dilation_h = a[13], p.dilation_w = a[14], p.groups = a[15], p.mode = PaddingMode(a[16]);
  conv2d_validate(p, "emu");
  return p;
}
static Pool2dGeometry G(const int64_t* a) {
  return make_pool2d_geometry("emu", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12] != 0);
}
#define GUARD(body) try { body; return 0; } catch (std::exception& e) { fprintf(stderr, "emu error: %s\n", e.what()); return -1; }
#define BOTH(T, S) \
extern "C" int conv_fwd_##S(T* o, const T* x, const T* w, const T* b, const int64_t* a, int k) { GUARD(conv2d_forward<T>(o, x, w, b, P(a), k, nullptr)) } \
extern "C" int conv_bwi_##S(T* dx, const T* dy, const T* w, const int64_t* a, int k) { GUARD(conv2d_backward_input<T>(dx, dy, w, P(a), k, nullptr)) } \
extern "C" int conv_bww_##S(T* dw, T* db, const T* dy, const T* x, const int64_t* a, int k) { GUARD(conv2d_backward_weight<T>(dw, db, dy, x, P(a), k, nullptr)) } \
extern "C" int up_fwd_##S(T* o, const T* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw, int bil, int al) { GUARD(upsample2d_forward<T>(o, x, N, C, H, W, sh, sw, bil, al, nullptr)) } \
extern "C" int up_bwd_##S(T* dx, const T* dy, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw, int bil, int al) { GUARD(upsample2d_backward<T>(dx, dy, N, C, H, W, sh, sw, bil, al, nullptr)) } \
extern "C" int maxp_fwd_##S(T* o, int64_t* ix, const T* x, const int64_t* a, int k) { GUARD(max_pool2d_forward<T>(o, ix, x, G(a), k, nullptr)) } \
extern "C" int maxp_bwd_##S(T* dx, const T* dy, const int64_t* ix, const int64_t* a) { GUARD(max_pool2d_backward<T>(dx, dy, ix, G(a), nullptr)) } \
extern "C" int avgp_fwd_##S(T* o, const T* x, const int64_t* a, int cip) { GUARD(avg_pool2d_forward<T>(o, x, G(a), cip, nullptr)) } \
extern "C" int avgp_bwd_##S(T* dx, const T* dy, const int64_t* a, int cip) { GUARD(avg_pool2d_backward<T>(dx, dy, G(a), cip, nullptr)) } \
extern "C" int gap_fwd_##S(T* o, const T* x, int64_t planes, int64_t HW) { GUARD(global_avg_pool2d_forward<T>(o, x, planes, HW, nullptr)) } \
extern "C" int gap_bwd_##S(T* dx, const T* dy, int64_t planes, int64_t HW) { GUARD(global_avg_pool2d_backward<T>(dx, dy, planes, HW, nullptr)) } \
extern "C" int bn_train_##S(T* o, T* sm, T* si, T* rm, T* rv, const T* x, const T* w, const T* b, int64_t N, int64_t C, int64_t HW, double mom, double eps) { GUARD(batch_norm_forward_training<T>(o, sm, si, rm, rv, x, w, b, N, C, HW, mom, eps, nullptr)) } \
extern "C" int bn_infer_##S(T* o, const T* x, const T* rm, const T* rv, const T* w, const T* b, int64_t N, int64_t C, int64_t HW, double eps) { GUARD(batch_norm_forward_inference<T>(o, x, rm, rv, w, b, N, C, HW, eps, nullptr)) } \
extern "C" int bn_bwd_##S(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const T* sm, const T* si, int64_t N, int64_t C, int64_t HW) { GUARD(batch_norm_backward<T>(dx, dw, db, dy, x, w, sm, si, N, C, HW, nullptr)) }
BOTH(float, f32)
BOTH(double, f64)

