// fastann/cuda/gemm.hpp: launchers of the CUDA GEMM ladder and the linear layer (csrc/cuda/gemm.cu).
// Host-callable; every launcher enqueues on `stream` and returns without synchronising. Row-major throughout.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// Rungs of the ladder (see the header comment of csrc/cuda/gemm.cu and docs/cuda_gemm.md).
constexpr int kGemmNaive = 1, kGemmCoalesced = 2, kGemmSharedTiled = 3, kGemmBlocktile1D = 4,
              kGemmBlocktile2D = 5, kGemmVectorized = 6, kGemmWarptileAsync = 7;
constexpr int kGemmNumRungs = 7;        // rungs 1..7 for float32
constexpr int kGemmNumRungsDouble = 5;  // float64 has rungs 1..5

// Which rung rung=0 ("auto") runs for this problem: 7 when there are at least 132 output tiles of 128x128
// (over the whole batch), else 0, meaning the 32x32-tile variant of rung 5; 3 for float64.
int gemm_auto_rung(int64_t M, int64_t N, int64_t K, bool is_double, int64_t batch = 1);

// c (M,N) = alpha * op(a) * op(b) + beta * c, then + bias[col] (bias (N,) or nullptr) and relu if `relu`.
// a (M,K), or (K,M) when trans_a; b (K,N), or (N,K) when trans_b. beta == 0 never reads c (it may hold NaN).
// kernel: 0 = auto, 1..7 (float32) or 1..5 (float64); anything else throws std::invalid_argument.
template <class T>
void gemm(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T alpha,
          T beta, int rung, cudaStream_t stream, const T* bias = nullptr, bool relu = false);

// `batch` independent GEMMs in one launch (grid z): matrix z of a, b, c starts at a + z*stride_a, b + z*stride_b,
// c + z*stride_c (element counts); everything else as gemm(). For conv (one GEMM per image or group) and
// attention-style batched products. batch <= 65535.
template <class T>
void gemm_strided_batched(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b,
                          T alpha, T beta, int64_t batch, int64_t stride_a, int64_t stride_b, int64_t stride_c,
                          int rung, cudaStream_t stream, const T* bias = nullptr, bool relu = false);

// out (N,OUT) = inp (N,IN) · weightᵀ (IN,OUT) + bias (OUT,), then relu when `relu`.
template <class T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IN, int64_t OUT,
                    bool relu, cudaStream_t stream);

// Gradients of linear_forward. g = dout (N,OUT), masked by out > 0 when `relu` (out is then required).
// dinp (N,IN) = g · weight  (skipped when dinp is nullptr);  dweight (OUT,IN) = gᵀ · inp;
// dbias (OUT,) = column sums of g (skipped when dbias is nullptr).
template <class T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const T* out,
                     int64_t N, int64_t IN, int64_t OUT, bool relu, cudaStream_t stream);

}  // namespace fastann::cuda
