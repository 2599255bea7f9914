// pool.cu: 2-D max / average / global-average pooling on the GPU, NCHW, float32 and float64.
// See fastann/cuda/pool.hpp for the semantics and the max_pool2d ladder.
//
// Pooling is memory-bound: each output reads a handful of inputs once. The kernels therefore map one thread
// to one output (consecutive threads -> consecutive outputs of a row, so a warp's loads and stores are
// contiguous) and run grid-stride loops in int64. The backward passes:
//   - max_pool2d scatters each gradient to its argmax with atomicAdd (windows overlap when stride < kernel,
//     so two outputs can pick the same pixel), after a memset of dinput;
//   - avg_pool2d is written as a gather: each input pixel finds the (few) windows covering it and sums their
//     shares, so every element is written once and no atomics are needed;
//   - global_avg_pool2d's forward gives one warp to each plane (shuffle reduction in double).
//
// Sections: helpers, kernels, launchers.
#include <algorithm>
#include <cmath>
#include <limits>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/pool.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

// PyTorch's max-pool update rule: take v if it is larger or if it is NaN; a NaN then wins against everything
// after it, because nothing compares greater than NaN.
template <class T>
__device__ __forceinline__ bool takes_over(T v, T best) {
  return v > best || isnan(v);
}

// One dimension of one average window (PyTorch's rule): [start, start + kernel) clipped to the padded input
// gives the count_include_pad divisor, then clipped to the real input gives the elements summed.
struct AvgSpan {
  int64_t begin, end, padded_len;
};
__device__ __forceinline__ AvgSpan avg_span(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  const int64_t start = o * stride - pad;
  const int64_t end = min(start + kernel, in + pad);
  return {max(start, int64_t(0)), min(end, in), end - start};
}

__device__ __forceinline__ int64_t avg_divisor(const AvgSpan& h, const AvgSpan& w, bool count_include_pad) {
  return count_include_pad ? h.padded_len * w.padded_len : (h.end - h.begin) * (w.end - w.begin);
}

// Four consecutive elements p[0..3]: one 128-bit load per 16 bytes when p is 16-byte aligned, else scalars.
__device__ __forceinline__ void load4(const float* p, float v[4]) {
  if ((reinterpret_cast<uintptr_t>(p) & 15) == 0) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
    v[0] = p[0], v[1] = p[1], v[2] = p[2], v[3] = p[3];
  }
}
__device__ __forceinline__ void load4(const double* p, double v[4]) {
  if ((reinterpret_cast<uintptr_t>(p) & 15) == 0) {
    const double2 a = *reinterpret_cast<const double2*>(p), b = *reinterpret_cast<const double2*>(p + 2);
    v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
  } else {
    v[0] = p[0], v[1] = p[1], v[2] = p[2], v[3] = p[3];
  }
}

// The max of one 2x2 window given its taps in row-major order (r0c0, r0c1, r1c0, r1c1); offset of the winner
// among 0, 1, W, W+1. Same update order as the CPU's rung 2.
template <class T>
__device__ __forceinline__ void max2x2(T a, T b, T c, T d, int64_t W, T* best, int64_t* offset) {
  T m = a;
  int64_t off = 0;
  if (takes_over(b, m)) m = b, off = 1;
  if (takes_over(c, m)) m = c, off = W;
  if (takes_over(d, m)) m = d, off = W + 1;
  *best = m;
  *offset = off;
}

// =====================================================================================================
// Kernels
// =====================================================================================================

// ---- max_pool2d ---------------------------------------------------------------------------------------
// Rung 1, any window. inp (N,C,H,W), out/indices (N,C,OH,OW); one thread per output.
template <class T>
__global__ void max_pool2d_kernel1_direct(T* __restrict__ out, int64_t* __restrict__ indices,
                                          const T* __restrict__ inp, Pool2dGeometry g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % g.OW, oh = (idx / g.OW) % g.OH, plane = idx / (g.OH * g.OW);
    const T* x = inp + plane * g.H * g.W;
    const int64_t h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
    // First tap inside the input: the argmax when every tap is -inf (PyTorch's starting index).
    int64_t first_h = h0, first_w = w0;
    while (first_h < 0) first_h += g.DH;
    while (first_w < 0) first_w += g.DW;
    T best = -std::numeric_limits<T>::infinity();
    int64_t best_index = first_h * g.W + first_w;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = h0 + kh * g.DH;
      if (ih < 0 || ih >= g.H) continue;  // -inf padding never wins: skip it
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = w0 + kw * g.DW;
        if (iw < 0 || iw >= g.W) continue;
        const T v = x[ih * g.W + iw];
        if (takes_over(v, best)) best = v, best_index = ih * g.W + iw;
      }
    }
    out[idx] = best;
    indices[idx] = best_index;
  }
}

// Rung 2: 2x2 window, stride 2, every window inside the plane; one thread per output, no bounds tests.
template <class T>
__global__ void max_pool2d_kernel2_2x2(T* __restrict__ out, int64_t* __restrict__ indices,
                                       const T* __restrict__ inp, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                       int64_t OW) {
  const int64_t total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    const T* r0 = inp + (plane * H + 2 * oh) * W + 2 * ow;
    const T* r1 = r0 + W;
    T best;
    int64_t off;
    max2x2(r0[0], r0[1], r1[0], r1[1], W, &best, &off);
    out[idx] = best;
    indices[idx] = 2 * oh * W + 2 * ow + off;
  }
}

// Rung 3: rung 2 with one thread per pair of adjacent outputs (ow = 2t, 2t+1), whose 4 columns of each row
// come in one 128-bit load when aligned. The last output of an odd-length row is done alone.
template <class T>
__global__ void max_pool2d_kernel3_2x2_vec(T* __restrict__ out, int64_t* __restrict__ indices,
                                           const T* __restrict__ inp, int64_t planes, int64_t H, int64_t W,
                                           int64_t OH, int64_t OW) {
  const int64_t pairs = (OW + 1) / 2, total = planes * OH * pairs;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t t = idx % pairs, oh = (idx / pairs) % OH, plane = idx / (OH * pairs);
    const int64_t ow = 2 * t;
    const T* r0 = inp + (plane * H + 2 * oh) * W + 2 * ow;
    const T* r1 = r0 + W;
    T* o = out + (plane * OH + oh) * OW + ow;
    int64_t* ix = indices + (plane * OH + oh) * OW + ow;
    const int64_t base = 2 * oh * W + 2 * ow;
    T best;
    int64_t off;
    if (ow + 1 < OW) {  // columns 2*ow .. 2*ow+3 all lie inside the row (2*OW <= W)
      T a[4], b[4];
      load4(r0, a);
      load4(r1, b);
      max2x2(a[0], a[1], b[0], b[1], W, &best, &off);
      o[0] = best, ix[0] = base + off;
      max2x2(a[2], a[3], b[2], b[3], W, &best, &off);
      o[1] = best, ix[1] = base + 2 + off;
    } else {
      max2x2(r0[0], r0[1], r1[0], r1[1], W, &best, &off);
      o[0] = best, ix[0] = base + off;
    }
  }
}

// dout/indices (N,C,OH,OW) -> dinp (N,C,H,W) (zeroed by the launcher). A bad index is skipped and recorded
// in *bad (flag) / *bad_value (one of the offending values).
template <class T>
__global__ void max_pool2d_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout,
                                           const int64_t* __restrict__ indices, int64_t planes, int64_t HW,
                                           int64_t OHW, int* bad, unsigned long long* bad_value) {
  const int64_t total = planes * OHW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t k = indices[idx];
    if (k < 0 || k >= HW) {
      *bad = 1;
      atomicExch(bad_value, static_cast<unsigned long long>(k));
      continue;
    }
    atomicAdd(dinp + (idx / OHW) * HW + k, dout[idx]);
  }
}

// ---- avg_pool2d ---------------------------------------------------------------------------------------
// inp (N,C,H,W), out (N,C,OH,OW); one thread per output.
template <class T>
__global__ void avg_pool2d_forward_kernel(T* __restrict__ out, const T* __restrict__ inp, Pool2dGeometry g,
                                          bool count_include_pad) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % g.OW, oh = (idx / g.OW) % g.OH, plane = idx / (g.OH * g.OW);
    const T* x = inp + plane * g.H * g.W;
    const AvgSpan sh = avg_span(oh, g.SH, g.PH, g.KH, g.H), sw = avg_span(ow, g.SW, g.PW, g.KW, g.W);
    T sum = T(0);
    for (int64_t ih = sh.begin; ih < sh.end; ++ih)
      for (int64_t iw = sw.begin; iw < sw.end; ++iw) sum += x[ih * g.W + iw];
    out[idx] = sum / T(avg_divisor(sh, sw, count_include_pad));
  }
}

// dout (N,C,OH,OW) -> dinp (N,C,H,W); one thread per input pixel. Window oh covers ih when
// oh*SH - PH <= ih < oh*SH - PH + KH (clipping at the padded edge never excludes a real pixel).
template <class T>
__global__ void avg_pool2d_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout, Pool2dGeometry g,
                                           bool count_include_pad) {
  const int64_t total = g.N * g.C * g.H * g.W;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % g.W, ih = (idx / g.W) % g.H, plane = idx / (g.H * g.W);
    const T* dy = dout + plane * g.OH * g.OW;
    const int64_t nh = ih + g.PH - g.KH + 1, nw = iw + g.PW - g.KW + 1;  // ceil(n / S) when n > 0, else 0
    const int64_t oh_lo = nh > 0 ? (nh + g.SH - 1) / g.SH : 0, oh_hi = min((ih + g.PH) / g.SH, g.OH - 1);
    const int64_t ow_lo = nw > 0 ? (nw + g.SW - 1) / g.SW : 0, ow_hi = min((iw + g.PW) / g.SW, g.OW - 1);
    T acc = T(0);
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const AvgSpan sh = avg_span(oh, g.SH, g.PH, g.KH, g.H);
      for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const AvgSpan sw = avg_span(ow, g.SW, g.PW, g.KW, g.W);
        acc += dy[oh * g.OW + ow] / T(avg_divisor(sh, sw, count_include_pad));
      }
    }
    dinp[idx] = acc;
  }
}

// ---- global_avg_pool2d ----------------------------------------------------------------------------------
// inp (planes, HW) -> out (planes,); one warp per plane, summed in double.
template <class T>
__global__ void global_avg_pool2d_forward_kernel(T* __restrict__ out, const T* __restrict__ inp, int64_t planes,
                                                 int64_t HW) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = global_thread_index() >> 5, nwarps = global_thread_stride() >> 5;
  for (int64_t p = warp; p < planes; p += nwarps) {  // uniform per warp: the shuffles see all 32 lanes
    const T* x = inp + p * HW;
    double sum = 0.0;
    for (int64_t i = lane; i < HW; i += 32) sum += double(x[i]);
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, off);
    if (lane == 0) out[p] = T(sum / double(HW));
  }
}

// dout (planes,) -> dinp (planes, HW)
template <class T>
__global__ void global_avg_pool2d_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout, int64_t planes,
                                                  int64_t HW) {
  const int64_t total = planes * HW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride())
    dinp[idx] = T(dout[idx / HW] / T(HW));
}

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

bool max_pool2d_is_2x2_stride2(const Pool2dGeometry& g) {
  return g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 &&
         g.DW == 1 && g.OH == g.H / 2 && g.OW == g.W / 2;
}

template <class T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g, int rung,
                        cudaStream_t stream) {
  const bool fits_2x2 = max_pool2d_is_2x2_stride2(g);
  FASTANN_CHECK(rung >= 0 && rung <= kMaxPoolNumKernels, "max_pool2d: rung must be None (0), 1, 2 or 3, got ",
                rung);
  if (rung == 0) rung = fits_2x2 ? 3 : 1;
  FASTANN_CHECK(rung == 1 || fits_2x2, "max_pool2d: rung=", rung,
                " handles only 2x2 windows with stride 2, no padding or dilation and no partial edge window; got "
                "kernel_size (", g.KH, ", ", g.KW, "), stride (", g.SH, ", ", g.SW, "), padding (", g.PH, ", ",
                g.PW, "), dilation (", g.DH, ", ", g.DW, "), input (", g.H, ", ", g.W, ") -> output (", g.OH,
                ", ", g.OW, ")");
  const int64_t planes = g.N * g.C, total = planes * g.OH * g.OW;
  if (total == 0) return;
  if (rung == 1) {
    max_pool2d_kernel1_direct<T><<<grid_for(total), kBlock, 0, stream>>>(out, indices, inp, g);
    FASTANN_CUDA_CHECK_LAUNCH("max_pool2d_kernel1_direct");
  } else if (rung == 2) {
    max_pool2d_kernel2_2x2<T><<<grid_for(total), kBlock, 0, stream>>>(out, indices, inp, planes, g.H, g.W, g.OH,
                                                                      g.OW);
    FASTANN_CUDA_CHECK_LAUNCH("max_pool2d_kernel2_2x2");
  } else {
    const int64_t threads = planes * g.OH * ((g.OW + 1) / 2);
    max_pool2d_kernel3_2x2_vec<T><<<grid_for(threads), kBlock, 0, stream>>>(out, indices, inp, planes, g.H, g.W,
                                                                            g.OH, g.OW);
    FASTANN_CUDA_CHECK_LAUNCH("max_pool2d_kernel3_2x2_vec");
  }
}

template <class T>
void max_pool2d_backward(T* dinp, const T* dout, const int64_t* indices, const Pool2dGeometry& g,
                         cudaStream_t stream) {
  const int64_t planes = g.N * g.C, HW = g.H * g.W, OHW = g.OH * g.OW;
  if (planes * HW == 0) return;
  FASTANN_CUDA_CHECK(cudaMemsetAsync(dinp, 0, static_cast<size_t>(planes * HW) * sizeof(T), stream));
  if (planes * OHW == 0) return;
  // The bad-index report: a flag and one offending value, in a small stream-ordered allocation.
  struct Report {
    int bad;
    unsigned long long value;
  };
  Report* report = nullptr;
  FASTANN_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&report), sizeof(Report), stream));
  Report host{0, 0};
  cudaError_t err = cudaMemsetAsync(report, 0, sizeof(Report), stream);
  if (err == cudaSuccess) {
    max_pool2d_backward_kernel<T><<<grid_for(planes * OHW), kBlock, 0, stream>>>(dinp, dout, indices, planes, HW,
                                                                                 OHW, &report->bad, &report->value);
    err = cudaGetLastError();
  }
  // Reading the report back needs the kernel finished: this is the one synchronising launcher of the family.
  if (err == cudaSuccess) err = cudaMemcpyAsync(&host, report, sizeof(Report), cudaMemcpyDeviceToHost, stream);
  if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
  (void)cudaFreeAsync(report, stream);
  if (err != cudaSuccess)
    cuda_detail::throw_cuda_error(err, "max_pool2d_backward_kernel", __FILE__, __LINE__);
  FASTANN_CHECK(!host.bad, "max_pool2d_backward: indices must lie in [0, H*W) = [0, ", HW, "), got ",
                static_cast<long long>(host.value));
}

template <class T>
void avg_pool2d_forward(T* out, const T* inp, const Pool2dGeometry& g, bool count_include_pad,
                        cudaStream_t stream) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  avg_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, g, count_include_pad);
  FASTANN_CUDA_CHECK_LAUNCH("avg_pool2d_forward_kernel");
}

template <class T>
void avg_pool2d_backward(T* dinp, const T* dout, const Pool2dGeometry& g, bool count_include_pad,
                         cudaStream_t stream) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  avg_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(dinp, dout, g, count_include_pad);
  FASTANN_CUDA_CHECK_LAUNCH("avg_pool2d_backward_kernel");
}

template <class T>
void global_avg_pool2d_forward(T* out, const T* inp, int64_t planes, int64_t HW, cudaStream_t stream) {
  if (planes == 0 || HW == 0) return;
  global_avg_pool2d_forward_kernel<T><<<grid_for(planes * 32), kBlock, 0, stream>>>(out, inp, planes, HW);
  FASTANN_CUDA_CHECK_LAUNCH("global_avg_pool2d_forward_kernel");
}

template <class T>
void global_avg_pool2d_backward(T* dinp, const T* dout, int64_t planes, int64_t HW, cudaStream_t stream) {
  if (planes == 0 || HW == 0) return;
  global_avg_pool2d_backward_kernel<T><<<grid_for(planes * HW), kBlock, 0, stream>>>(dinp, dout, planes, HW);
  FASTANN_CUDA_CHECK_LAUNCH("global_avg_pool2d_backward_kernel");
}

#define FASTANN_INSTANTIATE(T)                                                                                 \
  template void max_pool2d_forward<T>(T*, int64_t*, const T*, const Pool2dGeometry&, int, cudaStream_t);        \
  template void max_pool2d_backward<T>(T*, const T*, const int64_t*, const Pool2dGeometry&, cudaStream_t);      \
  template void avg_pool2d_forward<T>(T*, const T*, const Pool2dGeometry&, bool, cudaStream_t);                 \
  template void avg_pool2d_backward<T>(T*, const T*, const Pool2dGeometry&, bool, cudaStream_t);                \
  template void global_avg_pool2d_forward<T>(T*, const T*, int64_t, int64_t, cudaStream_t);                     \
  template void global_avg_pool2d_backward<T>(T*, const T*, int64_t, int64_t, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
