// conv_common.cuh: what the CUDA conv2d rungs share (internal to csrc/cuda; the public launchers are in
// fastann/cuda/conv.hpp): the padded-input reads, the block reduction, the grid cap, and each rung's launchers
// (conv_rung1_direct.cu, conv_rung2_im2col_gemm.cu, conv_rung3_implicit_gemm.cu), which conv_dispatch.cu calls
// on zero-padding geometry (forward and weight gradient: any padding mode, read through load_padded).
// Docs: docs/conv.md.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/conv.hpp"

namespace fastann::cuda::conv_detail {

// The input index a padded position reads (i in [-pad_lo, n + pad_hi)): reflect mirrors without repeating the
// edge (torch "reflect"; the validation guarantees pad < n), replicate repeats the edge.
__device__ __forceinline__ int64_t pad_source(int64_t i, int64_t n, PaddingMode mode) {
  if (mode == PaddingMode::reflect) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
  }
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// x[ih, iw] of one (H,W) plane seen through the padding: 0 outside for "zeros", the mapped pixel otherwise.
template <class T>
__device__ __forceinline__ T load_padded(const T* plane, int64_t ih, int64_t iw, int64_t H, int64_t W,
                                         PaddingMode mode) {
  if (ih >= 0 && ih < H && iw >= 0 && iw < W) return plane[ih * W + iw];
  if (mode == PaddingMode::zeros) return T(0);
  return plane[pad_source(ih, H, mode) * W + pad_source(iw, W, mode)];
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in thread 0.
// Ends with a barrier so the scratch can be reused by the next call.
template <class T>
__device__ T block_reduce_sum(T v) {
  __shared__ T warp_sums[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int nwarps = (blockDim.x + 31) >> 5;
    v = lane < nwarps ? warp_sums[lane] : T(0);
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  }
  __syncthreads();
  return v;
}

inline unsigned blocks_capped(int64_t n, int64_t cap) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(n, cap)));
}

// Rung launchers. inp / dinp (N,C,H,W), weight / dweight (OC,C/groups,KH,KW), bias (OC) or nullptr,
// out / dout (N,OC,OH,OW); all on `stream`.
template <class T>
void conv2d_forward_rung1_direct(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p,
                                 cudaStream_t stream);
template <class T>
void conv2d_backward_input_rung1_direct(T* dinp, const T* dout, const T* weight, const Conv2dParams& p,
                                        cudaStream_t stream);
template <class T>
void conv2d_backward_weight_rung1_direct(T* dweight, const T* dout, const T* inp, const Conv2dParams& p,
                                         cudaStream_t stream);
// dbias (OC) = dout summed over N, OH, OW (every rung's bias gradient).
template <class T>
void conv2d_bias_grad(T* dbias, const T* dout, const Conv2dParams& p, cudaStream_t stream);

template <class T>
void conv2d_forward_rung2_im2col_gemm(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p,
                                      cudaStream_t stream);
template <class T>
void conv2d_backward_input_rung2_im2col_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p,
                                             cudaStream_t stream);
template <class T>
void conv2d_backward_weight_rung2_im2col_gemm(T* dweight, const T* dout, const T* inp, const Conv2dParams& p,
                                              cudaStream_t stream);

// Rung 3 indexes in 32 bits: requires fits_int32(p) (conv_dispatch.cu checks it).
template <class T>
void conv2d_forward_rung3_implicit_gemm(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p,
                                        cudaStream_t stream);
template <class T>
void conv2d_backward_input_rung3_implicit_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p,
                                               cudaStream_t stream);
template <class T>
void conv2d_backward_weight_rung3_implicit_gemm(T* dweight, const T* dout, const T* inp, const Conv2dParams& p,
                                                cudaStream_t stream);

// Explicit instantiation of one rung's three launchers for one dtype, e.g. (rung1_direct, float).
#define FASTANN_CUDA_CONV_INSTANTIATE_RUNG(NAME, T)                                                            \
  template void conv2d_forward_##NAME<T>(T*, const T*, const T*, const T*, const Conv2dParams&, cudaStream_t); \
  template void conv2d_backward_input_##NAME<T>(T*, const T*, const T*, const Conv2dParams&, cudaStream_t);    \
  template void conv2d_backward_weight_##NAME<T>(T*, const T*, const T*, const Conv2dParams&, cudaStream_t);

}  // namespace fastann::cuda::conv_detail
