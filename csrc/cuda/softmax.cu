// softmax.cu: softmax and log_softmax along any axis on the GPU, forward and backward, float32 and float64.
//
// Math (Bridle 1990; the stable form subtracts the row maximum m so no exp overflows):
//   softmax(x)_j     = exp(x_j - m) / sum_k exp(x_k - m)
//   log_softmax(x)_j = (x_j - m) - log sum_k exp(x_k - m)   (in that order: m + log sum would round the
//                      log sum away when |m| is large, e.g. [1e8, 1e8] in float32 would give [0, 0])
//   backward (y = output, g = grad_output): softmax dx = y (g - sum g y); log_softmax dx = g - exp(y) sum g.
//
// Two kernel shapes, chosen by the layout (the tensor is viewed as (outer, L, inner)):
//   - the axis is the last one (inner == 1, the (N, classes) case): one WARP per row. The 32 lanes stride
//     along the row (coalesced), and the max / sum reductions are warp shuffles, no shared memory. Rows are
//     short in practice (10 or 1000 classes), where a whole block per row would leave most threads idle.
//   - any other axis: one THREAD per (outer, inner) position, walking the axis with stride `inner`; adjacent
//     threads handle adjacent inner positions, so every step of the walk is a coalesced access.
//
// Sections: helpers, kernels, launchers.
#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/reduce.cuh"
#include "fastann/cuda/softmax.hpp"

namespace fastann::cuda {
namespace {

constexpr int kWarpsPerBlock = kBlock / 32;

// =====================================================================================================
// Kernels
// =====================================================================================================

// inp, out (rows, L)
template <class T, bool LOG>
__global__ void softmax_rows_kernel(T* out, const T* inp, int64_t rows, int64_t L) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32; r < rows;
       r += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* x = inp + r * L;
    T* y = out + r * L;
    T m = -INFINITY;
    for (int64_t j = lane; j < L; j += 32) m = nan_max(m, x[j]);
    m = warp_max(m);
    double s = 0;  // sums in double, as on the CPU
    for (int64_t j = lane; j < L; j += 32) s += exp(x[j] - m);
    s = warp_sum(s);
    if (LOG) {
      const T lse = T(log(s));
      for (int64_t j = lane; j < L; j += 32) y[j] = (x[j] - m) - lse;  // not x - (m + lse), see the top
    } else {
      const T inv = T(1.0 / s);
      for (int64_t j = lane; j < L; j += 32) y[j] = exp(x[j] - m) * inv;
    }
  }
}

// dout, out, dinp (rows, L)
template <class T, bool LOG>
__global__ void softmax_rows_backward_kernel(T* dinp, const T* dout, const T* out, int64_t rows, int64_t L) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32; r < rows;
       r += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* g = dout + r * L;
    const T* y = out + r * L;
    T* dx = dinp + r * L;
    double sd = 0;
    for (int64_t j = lane; j < L; j += 32) sd += LOG ? g[j] : g[j] * y[j];
    const T s = T(warp_sum(sd));
    for (int64_t j = lane; j < L; j += 32) dx[j] = LOG ? g[j] - exp(y[j]) * s : y[j] * (g[j] - s);
  }
}

// inp, out (outer, L, inner), inner > 1
template <class T, bool LOG>
__global__ void softmax_strided_kernel(T* out, const T* inp, int64_t outer, int64_t L, int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = global_thread_index(); c < cols; c += global_thread_stride()) {
    const int64_t base = (c / inner) * L * inner + (c % inner);
    T m = -INFINITY;
    for (int64_t j = 0; j < L; ++j) m = nan_max(m, inp[base + j * inner]);
    double s = 0;
    for (int64_t j = 0; j < L; ++j) s += exp(inp[base + j * inner] - m);
    if (LOG) {
      const T lse = T(log(s));
      for (int64_t j = 0; j < L; ++j) out[base + j * inner] = (inp[base + j * inner] - m) - lse;
    } else {
      const T inv = T(1.0 / s);
      for (int64_t j = 0; j < L; ++j) out[base + j * inner] = exp(inp[base + j * inner] - m) * inv;
    }
  }
}

// dout, out, dinp (outer, L, inner), inner > 1
template <class T, bool LOG>
__global__ void softmax_strided_backward_kernel(T* dinp, const T* dout, const T* out, int64_t outer, int64_t L,
                                                int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = global_thread_index(); c < cols; c += global_thread_stride()) {
    const int64_t base = (c / inner) * L * inner + (c % inner);
    double sd = 0;
    for (int64_t j = 0; j < L; ++j) {
      const int64_t k = base + j * inner;
      sd += LOG ? dout[k] : dout[k] * out[k];
    }
    const T s = T(sd);
    for (int64_t j = 0; j < L; ++j) {
      const int64_t k = base + j * inner;
      dinp[k] = LOG ? dout[k] - exp(out[k]) * s : out[k] * (dout[k] - s);
    }
  }
}

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

template <class T>
void softmax_forward(T* out, const T* inp, int64_t outer, int64_t L, int64_t inner, bool log, cudaStream_t stream) {
  if (outer <= 0 || L <= 0 || inner <= 0) return;
  if (inner == 1) {
    const unsigned grid = grid_for(outer, kWarpsPerBlock);
    if (log) softmax_rows_kernel<T, true><<<grid, kBlock, 0, stream>>>(out, inp, outer, L);
    else softmax_rows_kernel<T, false><<<grid, kBlock, 0, stream>>>(out, inp, outer, L);
    FASTANN_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
  } else {
    const unsigned grid = grid_for(outer * inner);
    if (log) softmax_strided_kernel<T, true><<<grid, kBlock, 0, stream>>>(out, inp, outer, L, inner);
    else softmax_strided_kernel<T, false><<<grid, kBlock, 0, stream>>>(out, inp, outer, L, inner);
    FASTANN_CUDA_CHECK_LAUNCH("softmax_strided_kernel");
  }
}

template <class T>
void softmax_backward(T* dinp, const T* dout, const T* out, int64_t outer, int64_t L, int64_t inner, bool log,
                      cudaStream_t stream) {
  if (outer <= 0 || L <= 0 || inner <= 0) return;
  if (inner == 1) {
    const unsigned grid = grid_for(outer, kWarpsPerBlock);
    if (log) softmax_rows_backward_kernel<T, true><<<grid, kBlock, 0, stream>>>(dinp, dout, out, outer, L);
    else softmax_rows_backward_kernel<T, false><<<grid, kBlock, 0, stream>>>(dinp, dout, out, outer, L);
    FASTANN_CUDA_CHECK_LAUNCH("softmax_rows_backward_kernel");
  } else {
    const unsigned grid = grid_for(outer * inner);
    if (log) softmax_strided_backward_kernel<T, true><<<grid, kBlock, 0, stream>>>(dinp, dout, out, outer, L, inner);
    else softmax_strided_backward_kernel<T, false><<<grid, kBlock, 0, stream>>>(dinp, dout, out, outer, L, inner);
    FASTANN_CUDA_CHECK_LAUNCH("softmax_strided_backward_kernel");
  }
}

template void softmax_forward<float>(float*, const float*, int64_t, int64_t, int64_t, bool, cudaStream_t);
template void softmax_forward<double>(double*, const double*, int64_t, int64_t, int64_t, bool, cudaStream_t);
template void softmax_backward<float>(float*, const float*, const float*, int64_t, int64_t, int64_t, bool,
                                      cudaStream_t);
template void softmax_backward<double>(double*, const double*, const double*, int64_t, int64_t, int64_t, bool,
                                       cudaStream_t);

}  // namespace fastann::cuda
