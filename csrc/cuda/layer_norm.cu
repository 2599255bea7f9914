// layer_norm.cu: layer normalization on the GPU, forward and backward, float32 and float64. The math is the
// CPU's (fastann/cpu/layer_norm.hpp).
//
//   forward     one block per row (grid-stride over rows): the row's shifted sums in double, reduced over the
//               block in a fixed order, then y = (x - mean) * invstd * gamma + beta
//   dx          one block per row: sum(g) and sum(g*xhat), g = dy*gamma, then dx
//   dgamma/dbeta  two stages for a deterministic column sum: block (column tile, row slice s) sums its rows
//               into a (S, N, 2) double workspace, thread j of a tile one column (a warp reads 32 consecutive
//               values of a row); then one thread per column adds its S partial sums in order
//
// Sections: helpers, kernels, launchers.
#include <algorithm>
#include <cmath>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/layer_norm.hpp"
#include "fastann/cuda/reduce.cuh"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

// The shift of a row's sums: its first value, 0 when that is +-inf or NaN (csrc/cpu/layer_norm.cpp).
__device__ __forceinline__ double row_shift(double first) { return isfinite(first) ? first : 0.0; }

// =====================================================================================================
// Kernels
// =====================================================================================================

template <class T>
__global__ void layer_norm_forward_kernel(T* __restrict__ out, T* __restrict__ save_mean, T* __restrict__ save_invstd,
                                          const T* __restrict__ x, const T* __restrict__ weight,
                                          const T* __restrict__ bias, int64_t M, int64_t N, double eps) {
  __shared__ double scratch[32];
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {  // uniform per block
    const T* xr = x + r * N;
    const double shift = row_shift(double(xr[0]));
    double a = 0.0, b = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const double d = double(xr[i]) - shift;
      a += d;
      b += d * d;
    }
    a = block_sum(a, scratch);
    b = block_sum(b, scratch);
    const double d = a / double(N);
    double var = b / double(N) - d * d;
    if (var < 0) var = 0;  // rounding only; `if` keeps a NaN variance NaN
    const double inv = 1.0 / sqrt(var + eps);
    const T mean = T(shift + d), invstd = T(inv);
    if (threadIdx.x == 0) {
      save_mean[r] = mean;
      save_invstd[r] = invstd;
    }
    T* yr = out + r * N;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      T y = (xr[i] - mean) * invstd;
      if (weight) y *= weight[i];
      if (bias) y += bias[i];
      yr[i] = y;
    }
  }
}

template <class T>
__global__ void layer_norm_grad_input_kernel(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ x,
                                             const T* __restrict__ weight, const T* __restrict__ save_mean,
                                             const T* __restrict__ save_invstd, int64_t M, int64_t N) {
  __shared__ double scratch[32];
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const T *dyr = dy + r * N, *xr = x + r * N;
    const T mean = save_mean[r], invstd = save_invstd[r];
    double a = 0.0, b = 0.0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const double g = double(weight ? dyr[i] * weight[i] : dyr[i]);
      a += g;
      b += g * double((xr[i] - mean) * invstd);
    }
    a = block_sum(a, scratch);
    b = block_sum(b, scratch);
    const T mean_g = T(a / double(N)), mean_gx = T(b / double(N));
    T* dxr = dx + r * N;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const T g = weight ? dyr[i] * weight[i] : dyr[i];
      dxr[i] = invstd * (g - mean_g - (xr[i] - mean) * invstd * mean_gx);
    }
  }
}

// Stage 1 of dgamma/dbeta: block (tile, s) sums rows [s*m_per, (s+1)*m_per) of its columns; ws (S, N, 2).
template <class T>
__global__ void layer_norm_param_sums_kernel(double* __restrict__ ws, const T* __restrict__ dy,
                                             const T* __restrict__ x, const T* __restrict__ save_mean,
                                             const T* __restrict__ save_invstd, int64_t M, int64_t N, int64_t m_per) {
  const int64_t s = blockIdx.y;
  const int64_t r0 = s * m_per, r1 = min(M, r0 + m_per);
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < N;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double a = 0.0, b = 0.0;
    for (int64_t r = r0; r < r1; ++r) {
      const T g = dy[r * N + j];
      a += double(g) * double((x[r * N + j] - save_mean[r]) * save_invstd[r]);
      b += double(g);
    }
    ws[(s * N + j) * 2 + 0] = a;
    ws[(s * N + j) * 2 + 1] = b;
  }
}

// Stage 2: one thread per column adds the S partial sums in order.
template <class T>
__global__ void layer_norm_param_finalize_kernel(T* __restrict__ dweight, T* __restrict__ dbias,
                                                 const double* __restrict__ ws, int64_t N, int64_t S) {
  for (int64_t j = global_thread_index(); j < N; j += global_thread_stride()) {
    double a = 0.0, b = 0.0;
    for (int64_t s = 0; s < S; ++s) a += ws[(s * N + j) * 2], b += ws[(s * N + j) * 2 + 1];
    if (dweight) dweight[j] = T(a);
    if (dbias) dbias[j] = T(b);
  }
}

// Threads per row block: kBlock for rows of 256 values or more, else the row's length rounded up to a warp.
int row_block(int64_t N) { return N >= 256 ? kBlock : int(std::max<int64_t>(32, ceil_div(N, 32) * 32)); }

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

template <class T>
void layer_norm_forward(T* out, T* save_mean, T* save_invstd, const T* inp, const T* weight, const T* bias,
                        int64_t M, int64_t N, double eps, cudaStream_t stream) {
  if (M <= 0 || N <= 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(M, 65535));
  layer_norm_forward_kernel<T><<<grid, row_block(N), 0, stream>>>(out, save_mean, save_invstd, inp, weight, bias,
                                                                   M, N, eps);
  FASTANN_CUDA_CHECK_LAUNCH("layer_norm_forward_kernel");
}

template <class T>
void layer_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t M, int64_t N, cudaStream_t stream) {
  if (M <= 0 || N <= 0) return;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(M, 65535));
  layer_norm_grad_input_kernel<T><<<grid, row_block(N), 0, stream>>>(dinp, dout, inp, weight, save_mean,
                                                                      save_invstd, M, N);
  FASTANN_CUDA_CHECK_LAUNCH("layer_norm_grad_input_kernel");
  if (!dweight && !dbias) return;
  // Row slices: enough blocks to fill the GPU (~4 per SM), each slice at least 32 rows.
  const int64_t tiles = std::min<int64_t>(ceil_div(N, kBlock), 4096);
  const int64_t S = std::max<int64_t>(1, std::min<int64_t>(ceil_div(M, 32), ceil_div(4 * sm_count(), tiles)));
  const int64_t m_per = ceil_div(M, S);
  Workspace<double> ws(S * N * 2, stream);
  layer_norm_param_sums_kernel<T><<<dim3(unsigned(tiles), unsigned(S)), kBlock, 0, stream>>>(
      ws.get(), dout, inp, save_mean, save_invstd, M, N, m_per);
  FASTANN_CUDA_CHECK_LAUNCH("layer_norm_param_sums_kernel");
  layer_norm_param_finalize_kernel<T><<<grid_for(N), kBlock, 0, stream>>>(dweight, dbias, ws.get(), N, S);
  FASTANN_CUDA_CHECK_LAUNCH("layer_norm_param_finalize_kernel");
}

#define FASTANN_LAYER_NORM_INSTANTIATE(T)                                                                     \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, double,    \
                                      cudaStream_t);                                                         \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int64_t, \
                                       int64_t, cudaStream_t);
FASTANN_LAYER_NORM_INSTANTIATE(float)
FASTANN_LAYER_NORM_INSTANTIATE(double)
#undef FASTANN_LAYER_NORM_INSTANTIATE

}  // namespace fastann::cuda
