// norm.cu: batch normalization on the GPU, forward (training and inference) and fused backward, float32 and
// float64. The math is in fastann/cuda/norm.hpp (the same as the CPU's, fastann/cpu/norm.hpp).
//
// A channel's M = N*HW values are spread over the whole tensor (N runs of HW contiguous values), and there are
// often few channels (32, 64) but many values per channel (100k), so one block per channel would leave most
// of a 132-SM GPU idle. Each pass is therefore three kernels:
//   1 partial sums   the channel's values split over S blocks (grid C x S) -> a (S, C, 2) double workspace;
//                    for (N,C) inputs, where a channel is a strided column, threads run over channels instead
//                    (consecutive threads, consecutive addresses) and blocks over row ranges
//   2 finalize       one thread per channel adds its S partial sums in a fixed order (deterministic), derives
//                    mean/invstd (forward) or dgamma/dbeta and the dx coefficients (backward), updates the
//                    running statistics
//   3 elementwise    y = (x - mean)*scale + beta, or dx = a*dy + b*(x - mean) + c
// The forward statistics are shifted sums in double around the channel's first value (s1 = sum(x-K),
// s2 = sum((x-K)^2), var = s2/M - (s1/M)^2), accurate when |mean| >> std; the backward sums dy and
// dy*(x - mean) in double: "fused" means both sums in one read of dy and x, then one pass for dx.
//
// Sections: helpers, kernels, launchers.
#include <algorithm>
#include <cmath>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/norm.hpp"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

// Sum of v over the block (blockDim.x a multiple of 32); valid in thread 0; ends with a barrier.
__device__ double block_reduce_sum(double v) {
  __shared__ double warp_sums[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int nwarps = (blockDim.x + 31) >> 5;
    v = lane < nwarps ? warp_sums[lane] : 0.0;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  }
  __syncthreads();
  return v;
}

// The shift of a channel's sums: its first value, 0 when that is +-inf or NaN (csrc/cpu/norm.cpp,
// channel_shift: x - inf would make a channel of finite values and +infs NaN instead of +inf).
__device__ __forceinline__ double channel_shift(double first) { return isfinite(first) ? first : 0.0; }

// The two sums of one value. Statistics: d = x - shift, (d, d^2). Gradient: (dy, dy*(x - mean)), with x - mean
// rounded in T as the CPU does.
template <class T, bool kGrad>
__device__ __forceinline__ void accumulate(const T* x, const T* dy, int64_t i, T mean, double shift, double* a,
                                           double* b) {
  if (kGrad) {
    const double g = double(dy[i]);
    *a += g;
    *b += g * double(x[i] - mean);
  } else {
    const double d = double(x[i]) - shift;
    *a += d;
    *b += d * d;
  }
}

// =====================================================================================================
// Kernels
// =====================================================================================================

// Stage 1 for HW > 1: block (c, s) sums channel c over images [s*n_per, (s+1)*n_per). Threads walk the
// block's flattened (n, hw) range with a fixed stride, stepping (n, hw) incrementally (no division per value).
// ws (S, C, 2). kGrad: (sum dy, sum dy*(x-mean)); else shifted (sum d, sum d^2).
template <class T, bool kGrad>
__global__ void batch_norm_sums_planes_kernel(double* __restrict__ ws, const T* __restrict__ x,
                                              const T* __restrict__ dy, const T* __restrict__ mean, int64_t N,
                                              int64_t C, int64_t HW, int64_t n_per) {
  const int64_t s = blockIdx.y;
  const int64_t n0 = s * n_per, n1 = min(N, n0 + n_per);
  const int64_t count = n1 > n0 ? (n1 - n0) * HW : 0;
  const int64_t dn = blockDim.x / HW, dhw = blockDim.x % HW;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {  // uniform per block
    const T m = kGrad ? mean[c] : T(0);
    const double shift = kGrad ? 0.0 : channel_shift(double(x[c * HW]));
    double a = 0.0, b = 0.0;
    int64_t n = n0 + threadIdx.x / HW, hw = threadIdx.x % HW;
    for (int64_t f = threadIdx.x; f < count; f += blockDim.x) {
      accumulate<T, kGrad>(x, dy, (n * C + c) * HW + hw, m, shift, &a, &b);
      hw += dhw;
      n += dn;
      if (hw >= HW) hw -= HW, ++n;
    }
    a = block_reduce_sum(a);
    b = block_reduce_sum(b);
    if (threadIdx.x == 0) {
      ws[(s * C + c) * 2 + 0] = a;
      ws[(s * C + c) * 2 + 1] = b;
    }
  }
}

// Stage 1 for (N,C) inputs (HW == 1): thread c of block column blockIdx.x sums rows [s*n_per, (s+1)*n_per)
// of column c; a warp reads 32 consecutive values of a row.
template <class T, bool kGrad>
__global__ void batch_norm_sums_columns_kernel(double* __restrict__ ws, const T* __restrict__ x,
                                               const T* __restrict__ dy, const T* __restrict__ mean, int64_t N,
                                               int64_t C, int64_t n_per) {
  const int64_t s = blockIdx.y;
  const int64_t n0 = s * n_per, n1 = min(N, n0 + n_per);
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < C;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T m = kGrad ? mean[c] : T(0);
    const double shift = kGrad ? 0.0 : channel_shift(double(x[c]));
    double a = 0.0, b = 0.0;
    for (int64_t n = n0; n < n1; ++n) accumulate<T, kGrad>(x, dy, n * C + c, m, shift, &a, &b);
    ws[(s * C + c) * 2 + 0] = a;
    ws[(s * C + c) * 2 + 1] = b;
  }
}

// Stage 2, training forward: one thread per channel.
template <class T>
__global__ void batch_norm_finalize_stats_kernel(T* __restrict__ save_mean, T* __restrict__ save_invstd,
                                                 T* __restrict__ scale, T* __restrict__ running_mean,
                                                 T* __restrict__ running_var, const double* __restrict__ ws,
                                                 const T* __restrict__ x, const T* __restrict__ weight, int64_t C,
                                                 int64_t HW, int64_t S, double M, double momentum, double eps) {
  for (int64_t c = global_thread_index(); c < C; c += global_thread_stride()) {
    double s1 = 0.0, s2 = 0.0;
    for (int64_t s = 0; s < S; ++s) s1 += ws[(s * C + c) * 2], s2 += ws[(s * C + c) * 2 + 1];
    const double shift = channel_shift(double(x[c * HW]));
    double d, var, mean, sd;
    if (!isinf(s2)) {
      d = s1 / M;
      var = s2 / M - d * d;
      if (var < 0) var = 0;  // rounding only; `if`, not fmax, so a NaN variance stays NaN
      mean = shift + d;
      sd = sqrt(var + eps);
    } else {
      // The squares overflowed (float64 values spread past ~1e154): this thread sums the channel again with
      // the deviations scaled by 2^-600 (exact), as the CPU does (norm.cpp, rescaled_moments), so sd and
      // invstd are finite; var (and the running_var update) is +inf where the true value passes 1.8e308.
      const double down = ldexp(1.0, -600), up = ldexp(1.0, 600);
      const int64_t N = static_cast<int64_t>(M) / HW;
      s1 = 0.0, s2 = 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < HW; ++i) {
          const double e = (double(x[(n * C + c) * HW + i]) - shift) * down;
          s1 += e;
          s2 += e * e;
        }
      d = s1 / M;
      var = s2 / M - d * d;
      if (var < 0) var = 0;
      mean = shift + d * up;
      sd = sqrt(var + eps * down * down) * up;
      var = var * up * up;
    }
    save_mean[c] = T(mean);
    save_invstd[c] = T(1.0 / sd);
    scale[c] = T((weight ? double(weight[c]) : 1.0) / sd);
    if (running_mean) running_mean[c] = T((1 - momentum) * double(running_mean[c]) + momentum * mean);
    if (running_var) running_var[c] = T((1 - momentum) * double(running_var[c]) + momentum * var * M / (M - 1));
  }
}

// Inference: scale[c] = gamma / sqrt(running_var + eps); one thread per channel.
template <class T>
__global__ void batch_norm_inference_scale_kernel(T* __restrict__ scale, const T* __restrict__ running_var,
                                                  const T* __restrict__ weight, int64_t C, double eps) {
  for (int64_t c = global_thread_index(); c < C; c += global_thread_stride())
    scale[c] = T((weight ? double(weight[c]) : 1.0) / sqrt(double(running_var[c]) + eps));
}

// Stage 3, both forwards: y = (x - mean[c]) * scale[c] + beta[c]. I: 32-bit indices when they suffice
// (the channel of a flat index costs two divisions; 64-bit ones are several times dearer on the GPU).
template <class T, class I>
__global__ void batch_norm_normalize_kernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ mean,
                                            const T* __restrict__ scale, const T* __restrict__ bias, I total, I C,
                                            I HW) {
  for (I idx = static_cast<I>(global_thread_index()); idx < total; idx += static_cast<I>(global_thread_stride())) {
    const I c = (idx / HW) % C;
    out[idx] = (x[idx] - mean[c]) * scale[c] + (bias ? bias[c] : T(0));
  }
}

// Stage 2, backward: dbias, dweight and the dx coefficients (coef (3, C): a, b, c) per channel.
template <class T>
__global__ void batch_norm_finalize_grad_kernel(T* __restrict__ dweight, T* __restrict__ dbias, T* __restrict__ coef,
                                                const double* __restrict__ ws, const T* __restrict__ weight,
                                                const T* __restrict__ save_invstd, int64_t C, int64_t S, double M) {
  for (int64_t ch = global_thread_index(); ch < C; ch += global_thread_stride()) {
    double sum_dy = 0.0, sum_dy_xmu = 0.0;
    for (int64_t s = 0; s < S; ++s) sum_dy += ws[(s * C + ch) * 2], sum_dy_xmu += ws[(s * C + ch) * 2 + 1];
    const double invstd = double(save_invstd[ch]);
    const double ga = (weight ? double(weight[ch]) : 1.0) * invstd;
    dbias[ch] = T(sum_dy);
    dweight[ch] = T(sum_dy_xmu * invstd);
    coef[ch] = T(ga);
    // b = -ga invstd^2 sum_dy_xmu / M, reordered where w invstd^3 would underflow (csrc/cpu/norm.cpp, grad_b)
    const double g2 = ga * invstd * invstd;
    coef[C + ch] = T(fabs(g2) < 1e-250 && ga != 0.0 ? -(ga * (invstd * sum_dy_xmu / M)) * invstd
                                                    : -g2 * sum_dy_xmu / M);
    coef[2 * C + ch] = T(-ga * sum_dy / M);
  }
}

// Stage 3, backward: dx = a*dy + b*(x - mean) + c.
template <class T, class I>
__global__ void batch_norm_grad_input_kernel(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ x,
                                             const T* __restrict__ mean, const T* __restrict__ coef, I total, I C,
                                             I HW) {
  for (I idx = static_cast<I>(global_thread_index()); idx < total; idx += static_cast<I>(global_thread_stride())) {
    const I c = (idx / HW) % C;
    dx[idx] = coef[c] * dy[idx] + coef[C + c] * (x[idx] - mean[c]) + coef[2 * C + c];
  }
}

// =====================================================================================================
// Launchers
// =====================================================================================================

// Grid of stage 1 and the images per split: enough blocks to fill the GPU a few times over, each still
// summing a few thousand values; S <= N and S <= 65535 (grid.y).
struct SumsGrid {
  int64_t S, n_per;
  dim3 grid;
};
SumsGrid sums_grid(int64_t N, int64_t C, int64_t HW) {
  const int64_t target = 4 * int64_t(sm_count());
  int64_t cols = HW > 1 ? std::min<int64_t>(C, 65535) : std::min<int64_t>(ceil_div(C, kBlock), 65535);
  int64_t S = ceil_div(target, cols);
  S = std::min(S, std::max<int64_t>(1, (N * HW) / (HW > 1 ? 2048 : 32)));  // enough work per block / thread
  S = std::max<int64_t>(1, std::min<int64_t>({S, N, 65535}));
  const int64_t n_per = ceil_div(N, S);
  S = ceil_div(N, n_per);  // no empty split
  return {S, n_per, dim3(static_cast<unsigned>(cols), static_cast<unsigned>(S))};
}

template <class T, bool kGrad>
void launch_sums(double* ws, const SumsGrid& sg, const T* x, const T* dy, const T* mean, int64_t N, int64_t C,
                 int64_t HW, cudaStream_t stream) {
  if (HW > 1) {
    batch_norm_sums_planes_kernel<T, kGrad><<<sg.grid, kBlock, 0, stream>>>(ws, x, dy, mean, N, C, HW, sg.n_per);
    FASTANN_CUDA_CHECK_LAUNCH("batch_norm_sums_planes_kernel");
  } else {
    batch_norm_sums_columns_kernel<T, kGrad><<<sg.grid, kBlock, 0, stream>>>(ws, x, dy, mean, N, C, sg.n_per);
    FASTANN_CUDA_CHECK_LAUNCH("batch_norm_sums_columns_kernel");
  }
}

template <class T>
void launch_normalize(T* out, const T* x, const T* mean, const T* scale, const T* bias, int64_t total, int64_t C,
                      int64_t HW, cudaStream_t stream) {
  if (total <= int64_t(UINT32_MAX) - int64_t(grid_for(total)) * kBlock)  // idx + stride must not wrap
    batch_norm_normalize_kernel<T, uint32_t><<<grid_for(total), kBlock, 0, stream>>>(
        out, x, mean, scale, bias, uint32_t(total), uint32_t(C), uint32_t(HW));
  else
    batch_norm_normalize_kernel<T, int64_t><<<grid_for(total), kBlock, 0, stream>>>(out, x, mean, scale, bias, total,
                                                                                    C, HW);
  FASTANN_CUDA_CHECK_LAUNCH("batch_norm_normalize_kernel");
}

}  // namespace

template <class T>
void batch_norm_forward_training(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                 const T* inp, const T* weight, const T* bias, int64_t N, int64_t C, int64_t HW,
                                 double momentum, double eps, cudaStream_t stream) {
  const int64_t M = N * HW, total = M * C;
  FASTANN_CHECK(M >= 2, "batch_norm: training needs more than one value per channel, got N*H*W = ", M);
  if (total == 0) return;
  const SumsGrid sg = sums_grid(N, C, HW);
  Workspace<double> ws(sg.S * C * 2, stream);
  Workspace<T> scale(C, stream);
  launch_sums<T, false>(ws.get(), sg, inp, nullptr, nullptr, N, C, HW, stream);
  batch_norm_finalize_stats_kernel<T><<<grid_for(C), kBlock, 0, stream>>>(save_mean, save_invstd, scale.get(),
                                                                          running_mean, running_var, ws.get(), inp,
                                                                          weight, C, HW, sg.S, double(M), momentum,
                                                                          eps);
  FASTANN_CUDA_CHECK_LAUNCH("batch_norm_finalize_stats_kernel");
  launch_normalize<T>(out, inp, save_mean, scale.get(), bias, total, C, HW, stream);
}

template <class T>
void batch_norm_forward_inference(T* out, const T* inp, const T* running_mean, const T* running_var,
                                  const T* weight, const T* bias, int64_t N, int64_t C, int64_t HW, double eps,
                                  cudaStream_t stream) {
  const int64_t total = N * C * HW;
  if (total == 0) return;
  Workspace<T> scale(C, stream);
  batch_norm_inference_scale_kernel<T><<<grid_for(C), kBlock, 0, stream>>>(scale.get(), running_var, weight, C, eps);
  FASTANN_CUDA_CHECK_LAUNCH("batch_norm_inference_scale_kernel");
  launch_normalize<T>(out, inp, running_mean, scale.get(), bias, total, C, HW, stream);
}

template <class T>
void batch_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t N, int64_t C, int64_t HW,
                         cudaStream_t stream) {
  const int64_t M = N * HW, total = M * C;
  if (total == 0) return;
  const SumsGrid sg = sums_grid(N, C, HW);
  Workspace<double> ws(sg.S * C * 2, stream);
  Workspace<T> coef(3 * C, stream);
  launch_sums<T, true>(ws.get(), sg, inp, dout, save_mean, N, C, HW, stream);
  batch_norm_finalize_grad_kernel<T><<<grid_for(C), kBlock, 0, stream>>>(dweight, dbias, coef.get(), ws.get(), weight,
                                                                         save_invstd, C, sg.S, double(M));
  FASTANN_CUDA_CHECK_LAUNCH("batch_norm_finalize_grad_kernel");
  if (total <= int64_t(UINT32_MAX) - int64_t(grid_for(total)) * kBlock)
    batch_norm_grad_input_kernel<T, uint32_t><<<grid_for(total), kBlock, 0, stream>>>(
        dinp, dout, inp, save_mean, coef.get(), uint32_t(total), uint32_t(C), uint32_t(HW));
  else
    batch_norm_grad_input_kernel<T, int64_t><<<grid_for(total), kBlock, 0, stream>>>(dinp, dout, inp, save_mean,
                                                                                     coef.get(), total, C, HW);
  FASTANN_CUDA_CHECK_LAUNCH("batch_norm_grad_input_kernel");
}

#define FASTANN_INSTANTIATE(T)                                                                                \
  template void batch_norm_forward_training<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, int64_t,     \
                                               int64_t, int64_t, double, double, cudaStream_t);              \
  template void batch_norm_forward_inference<T>(T*, const T*, const T*, const T*, const T*, const T*, int64_t, \
                                                int64_t, int64_t, double, cudaStream_t);                      \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int64_t,  \
                                       int64_t, int64_t, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
