// optim_adafactor.cu: the Adafactor step on the GPU, float32 and float64 (math: fastann/cpu/optim.hpp,
// adafactor_step; keras.optimizers.Adafactor's update_step). Unlike the other optimizers it needs whole-
// parameter sums (rms(param), rms(u)) before it can write param, so it runs as a few kernels on one stream:
//   factored (rank >= 2, seen as (batch, rows, cols)):
//     1 rows      one block per row: sum(g^2 + eps1) -> row_var; the row's sum(param^2) -> ws
//     2 columns   one thread per (batch, column), rows walked in order -> col_var
//     3 u sums    one thread per slice: the mean of its row_var (rows in order); one block per row: sum(u^2) -> ws
//     4 scale     one block: the partial sums added in a fixed order -> the step's scale
//     5 update    one thread per value: param -= scale * u
//   unfactored: a fixed grid updates variance and writes per-block partial sums, then 4 and 5.
// Every sum is in double and added in an order fixed by the shapes alone (deterministic results).
#include <algorithm>
#include <cmath>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/optim.hpp"
#include "fastann/cuda/reduce.cuh"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

constexpr int64_t kUnfactoredBlocks = 1024;  // partial sums of the unfactored pass (a fixed grid)

// Factored 1: row r of (batch*rows, cols). ws_p2[r] = sum(param^2).
template <class T>
__global__ void adafactor_rows_kernel(T* __restrict__ row_var, double* __restrict__ ws_p2, const T* __restrict__ g,
                                      const T* __restrict__ p, int64_t R, int64_t cols, double beta2, T eps1) {
  __shared__ double scratch[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    double a = 0.0, b = 0.0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const T gv = g[r * cols + j];
      a += double(gv * gv + eps1);
      b += double(p[r * cols + j]) * double(p[r * cols + j]);
    }
    a = block_sum(a, scratch);
    b = block_sum(b, scratch);
    if (threadIdx.x == 0) {
      row_var[r] = T(beta2 * double(row_var[r]) + (1.0 - beta2) * (a / double(cols)));
      ws_p2[r] = b;
    }
  }
}

// Factored 2: column (b, j), rows in order.
template <class T>
__global__ void adafactor_columns_kernel(T* __restrict__ col_var, const T* __restrict__ g, int64_t batch,
                                         int64_t rows, int64_t cols, double beta2, T eps1) {
  for (int64_t k = global_thread_index(); k < batch * cols; k += global_thread_stride()) {
    const int64_t b = k / cols, j = k % cols;
    double a = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      const T gv = g[(b * rows + i) * cols + j];
      a += double(gv * gv + eps1);
    }
    col_var[k] = T(beta2 * double(col_var[k]) + (1.0 - beta2) * (a / double(rows)));
  }
}

// Factored 2b: mean[b] = mean of slice b's row_var, rows added in order; one thread per slice.
template <class T>
__global__ void adafactor_row_means_kernel(double* __restrict__ mean, const T* __restrict__ row_var, int64_t batch,
                                           int64_t rows) {
  for (int64_t b = global_thread_index(); b < batch; b += global_thread_stride()) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += double(row_var[b * rows + i]);
    mean[b] = s / double(rows);
  }
}

// The row factor of row r: row_var[r] / the mean of its slice's row_var.
template <class T>
__device__ __forceinline__ T row_factor(const T* row_var, const double* mean, int64_t r, int64_t rows) {
  return T(double(row_var[r]) / mean[r / rows]);
}

// Factored 3: ws_u2[r] = sum over the row of (g / sqrt(rfac * col_var))^2.
template <class T>
__global__ void adafactor_u_sums_kernel(double* __restrict__ ws_u2, const T* __restrict__ g,
                                        const T* __restrict__ row_var, const double* __restrict__ mean,
                                        const T* __restrict__ col_var, int64_t R, int64_t rows, int64_t cols) {
  __shared__ double scratch[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T rfac = row_factor(row_var, mean, r, rows);
    const T* c = col_var + (r / rows) * cols;
    double a = 0.0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const T u = g[r * cols + j] / sqrt(rfac * c[j]);
      a += double(u) * double(u);
    }
    a = block_sum(a, scratch);
    if (threadIdx.x == 0) ws_u2[r] = a;
  }
}

// Unfactored: variance updated; per-block partial sums of u^2 and param^2 into ws (2 * gridDim.x).
template <class T>
__global__ void adafactor_variance_kernel(T* __restrict__ v, double* __restrict__ ws, const T* __restrict__ g,
                                          const T* __restrict__ p, int64_t n, T beta2, T c2, T eps1) {
  __shared__ double scratch[32];
  double a = 0.0, b = 0.0;
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T gv = g[i];
    const T vi = beta2 * v[i] + c2 * (gv * gv + eps1);
    v[i] = vi;
    const T u = gv / sqrt(vi);
    a += double(u) * double(u);
    b += double(p[i]) * double(p[i]);
  }
  a = block_sum(a, scratch);
  b = block_sum(b, scratch);
  if (threadIdx.x == 0) {
    ws[blockIdx.x] = a;
    ws[gridDim.x + blockIdx.x] = b;
  }
}

// 4: scale = alpha / max(1, rms(u) / clip), alpha = max(eps2, rms(param)) rho; one block, partials u2[0..m),
// p2[0..m) added in a fixed order.
__global__ void adafactor_scale_kernel(double* __restrict__ scale, const double* __restrict__ u2,
                                       const double* __restrict__ p2, int64_t m, double n, double rho, double eps2,
                                       double clip) {
  __shared__ double scratch[32];
  double a = 0.0, b = 0.0;
  for (int64_t i = threadIdx.x; i < m; i += blockDim.x) a += u2[i], b += p2[i];
  a = block_sum(a, scratch);
  b = block_sum(b, scratch);
  if (threadIdx.x == 0) {
    const double alpha = fmax(eps2, sqrt(b / n)) * rho;
    *scale = alpha / fmax(1.0, sqrt(a / n) / clip);
  }
}

// 5: param -= scale * g / sqrt(v), v = rfac * col_var (factored) or variance.
template <class T>
__global__ void adafactor_update_kernel(T* __restrict__ p, const T* __restrict__ g, const T* __restrict__ row_var,
                                        const double* __restrict__ mean, const T* __restrict__ col_var,
                                        const T* __restrict__ v,
                                        const double* __restrict__ scale, int64_t n, int64_t rows, int64_t cols) {
  const T s = T(*scale);
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    T vi;
    if (v) {
      vi = v[i];
    } else {
      const int64_t r = i / cols;
      vi = row_factor(row_var, mean, r, rows) * col_var[(r / rows) * cols + i % cols];
    }
    p[i] -= s * (g[i] / sqrt(vi));
  }
}

}  // namespace

template <class T>
void adafactor_step(T* param, T* row_var, T* col_var, T* variance, const T* grad, int64_t batch, int64_t rows,
                    int64_t cols, bool factored, int64_t step, double lr, double beta_2_decay, double epsilon_1,
                    double epsilon_2, double clip_threshold, cudaStream_t s) {
  const int64_t n = batch * rows * cols;
  if (n <= 0) return;
  const double t = double(step);
  const double rho = std::min(lr, 1.0 / std::sqrt(t));
  const double beta2 = 1.0 - std::pow(t, beta_2_decay);
  if (!factored) {
    const int64_t blocks = std::min<int64_t>(kUnfactoredBlocks, ceil_div(n, kBlock));
    Workspace<double> ws(2 * blocks + 1, s);
    adafactor_variance_kernel<T><<<unsigned(blocks), kBlock, 0, s>>>(variance, ws.get(), grad, param, n, T(beta2),
                                                                     T(1.0 - beta2), T(epsilon_1));
    FASTANN_CUDA_CHECK_LAUNCH("adafactor_variance_kernel");
    adafactor_scale_kernel<<<1, kBlock, 0, s>>>(ws.get() + 2 * blocks, ws.get(), ws.get() + blocks, blocks, double(n),
                                                rho, epsilon_2, clip_threshold);
    FASTANN_CUDA_CHECK_LAUNCH("adafactor_scale_kernel");
    adafactor_update_kernel<T><<<grid_for(n), kBlock, 0, s>>>(param, grad, nullptr, nullptr, nullptr, variance,
                                                              ws.get() + 2 * blocks, n, rows, cols);
    FASTANN_CUDA_CHECK_LAUNCH("adafactor_update_kernel");
    return;
  }
  const int64_t R = batch * rows;
  const unsigned row_grid = unsigned(std::min<int64_t>(R, 65535));
  Workspace<double> ws(2 * R + batch + 1, s);  // p2 (R), u2 (R), the slices' row_var means (batch), scale
  double *p2 = ws.get(), *u2 = ws.get() + R, *mean = ws.get() + 2 * R, *scale = mean + batch;
  adafactor_rows_kernel<T><<<row_grid, kBlock, 0, s>>>(row_var, p2, grad, param, R, cols, beta2, T(epsilon_1));
  FASTANN_CUDA_CHECK_LAUNCH("adafactor_rows_kernel");
  adafactor_columns_kernel<T><<<grid_for(batch * cols), kBlock, 0, s>>>(col_var, grad, batch, rows, cols, beta2,
                                                                        T(epsilon_1));
  FASTANN_CUDA_CHECK_LAUNCH("adafactor_columns_kernel");
  adafactor_row_means_kernel<T><<<grid_for(batch), kBlock, 0, s>>>(mean, row_var, batch, rows);
  FASTANN_CUDA_CHECK_LAUNCH("adafactor_row_means_kernel");
  adafactor_u_sums_kernel<T><<<row_grid, kBlock, 0, s>>>(u2, grad, row_var, mean, col_var, R, rows, cols);
  FASTANN_CUDA_CHECK_LAUNCH("adafactor_u_sums_kernel");
  adafactor_scale_kernel<<<1, kBlock, 0, s>>>(scale, u2, p2, R, double(n), rho, epsilon_2, clip_threshold);
  FASTANN_CUDA_CHECK_LAUNCH("adafactor_scale_kernel");
  adafactor_update_kernel<T><<<grid_for(n), kBlock, 0, s>>>(param, grad, row_var, mean, col_var, nullptr, scale, n,
                                                            rows, cols);
  FASTANN_CUDA_CHECK_LAUNCH("adafactor_update_kernel");
}

#define FASTANN_ADAFACTOR_INSTANTIATE(T)                                                                        \
  template void adafactor_step<T>(T*, T*, T*, T*, const T*, int64_t, int64_t, int64_t, bool, int64_t, double,   \
                                  double, double, double, double, cudaStream_t);
FASTANN_ADAFACTOR_INSTANTIATE(float)
FASTANN_ADAFACTOR_INSTANTIATE(double)
#undef FASTANN_ADAFACTOR_INSTANTIATE

}  // namespace fastann::cuda
