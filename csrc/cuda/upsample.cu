// upsample.cu: upsample2d by integer factors on the GPU, nearest and bilinear, forward and backward (declared in
// fastann/cuda/conv.hpp). One thread per output (forward) or input pixel (nearest backward, a gather); the
// bilinear backward scatters with atomicAdd (its sums may differ in the last bit between runs). Docs:
// docs/conv.md.
#include <cmath>
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/conv.hpp"

namespace fastann::cuda {
namespace {

// Bilinear source taps of output index j along one axis (torch's area_pixel_compute_source_index with an
// integer scale; the same double arithmetic as the CPU kernel so both round alike).
__device__ __forceinline__ void linear_tap(int64_t j, int64_t n_in, int64_t scale, bool align_corners, int64_t* i0,
                                           int64_t* i1, double* lambda) {
  const int64_t n_out = n_in * scale;
  double src;
  if (align_corners)
    src = n_out > 1 ? double(j) * double(n_in - 1) / double(n_out - 1) : 0.0;
  else
    src = fmax((double(j) + 0.5) / double(scale) - 0.5, 0.0);
  int64_t a = static_cast<int64_t>(floor(src));
  if (a > n_in - 1) a = n_in - 1;
  *i0 = a;
  *i1 = a + 1 < n_in ? a + 1 : n_in - 1;
  *lambda = src - double(a);
}

// ---- upsample2d -----------------------------------------------------------------------------------------
// inp (N,C,H,W), out (N,C,H*sh,W*sw); one thread per output.
template <class T>
__global__ void upsample2d_nearest_forward_kernel(T* __restrict__ out, const T* __restrict__ inp, int64_t planes,
                                                  int64_t H, int64_t W, int64_t sh, int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    out[idx] = inp[(plane * H + oh / sh) * W + ow / sw];
  }
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W): each input pixel sums its sh x sw block (a gather).
template <class T>
__global__ void upsample2d_nearest_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout,
                                                   int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * H * W;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % W, ih = (idx / W) % H, plane = idx / (H * W);
    const T* src = dout + (plane * OH + ih * sh) * OW + iw * sw;
    T acc = T(0);
    for (int64_t r = 0; r < sh; ++r)
      for (int64_t c = 0; c < sw; ++c) acc += src[r * OW + c];
    dinp[idx] = acc;
  }
}

// inp (N,C,H,W), out (N,C,H*sh,W*sw): interpolate between the 4 source taps.
template <class T>
__global__ void upsample2d_bilinear_forward_kernel(T* __restrict__ out, const T* __restrict__ inp, int64_t planes,
                                                   int64_t H, int64_t W, int64_t sh, int64_t sw,
                                                   bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    int64_t h0, h1, w0, w1;
    double lh_d, lw_d;
    linear_tap(oh, H, sh, align_corners, &h0, &h1, &lh_d);
    linear_tap(ow, W, sw, align_corners, &w0, &w1, &lw_d);
    const T lh = T(lh_d), lw = T(lw_d);
    const T* r0 = inp + (plane * H + h0) * W;
    const T* r1 = inp + (plane * H + h1) * W;
    const T top = (T(1) - lw) * r0[w0] + lw * r0[w1];
    const T bot = (T(1) - lw) * r1[w0] + lw * r1[w1];
    out[idx] = (T(1) - lh) * top + lh * bot;
  }
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W) zeroed by the launcher: each output scatters its gradient onto its
// 4 taps with the forward's weights (atomicAdd: several outputs share a tap).
template <class T>
__global__ void upsample2d_bilinear_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout,
                                                    int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw,
                                                    bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    int64_t h0, h1, w0, w1;
    double lh_d, lw_d;
    linear_tap(oh, H, sh, align_corners, &h0, &h1, &lh_d);
    linear_tap(ow, W, sw, align_corners, &w0, &w1, &lw_d);
    const T lh = T(lh_d), lw = T(lw_d), gv = dout[idx];
    T* d = dinp + plane * H * W;
    atomicAdd(d + h0 * W + w0, (T(1) - lh) * (T(1) - lw) * gv);
    atomicAdd(d + h0 * W + w1, (T(1) - lh) * lw * gv);
    atomicAdd(d + h1 * W + w0, lh * (T(1) - lw) * gv);
    atomicAdd(d + h1 * W + w1, lh * lw * gv);
  }
}

}  // namespace

template <class T>
void upsample2d_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                        bool bilinear, bool align_corners, cudaStream_t stream) {
  const int64_t total = N * C * H * sh * W * sw;
  if (total == 0) return;
  if (bilinear) {
    upsample2d_bilinear_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, N * C, H, W, sh, sw,
                                                                                  align_corners);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_bilinear_forward_kernel");
  } else {
    upsample2d_nearest_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, N * C, H, W, sh, sw);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_nearest_forward_kernel");
  }
}

template <class T>
void upsample2d_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                         int64_t sw, bool bilinear, bool align_corners, cudaStream_t stream) {
  const int64_t total_in = N * C * H * W, total_out = total_in * sh * sw;
  if (total_in == 0) return;
  if (bilinear) {
    FASTANN_CUDA_CHECK(cudaMemsetAsync(dinp, 0, static_cast<size_t>(total_in) * sizeof(T), stream));
    upsample2d_bilinear_backward_kernel<T><<<grid_for(total_out), kBlock, 0, stream>>>(dinp, dout, N * C, H, W, sh,
                                                                                       sw, align_corners);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_bilinear_backward_kernel");
  } else {
    upsample2d_nearest_backward_kernel<T><<<grid_for(total_in), kBlock, 0, stream>>>(dinp, dout, N * C, H, W, sh,
                                                                                     sw);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_nearest_backward_kernel");
  }
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void upsample2d_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool,   \
                                      bool, cudaStream_t);                                                        \
  template void upsample2d_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool,  \
                                       bool, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
