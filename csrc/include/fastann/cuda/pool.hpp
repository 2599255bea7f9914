// fastann/cuda/pool.hpp: launchers of the CUDA 2-D pooling kernels (csrc/cuda/pool.cu), NCHW, float32 and
// float64. Host-callable; every launcher enqueues on `stream` and returns without synchronising, except
// max_pool2d_backward (see below). Semantics are the CPU's (fastann/cpu/pool.hpp), which are PyTorch's:
//
//   max_pool2d   forward (value + int64 argmax index ih*W + iw into each H*W plane) and backward
//   avg_pool2d   forward and backward, count_include_pad and ceil_mode with PyTorch's divisor rules
//   global_avg_pool2d  (N,C,H,W) -> (N,C) mean and its backward
//
// Output size (PyTorch's pooling_output_shape): O = floor_or_ceil((I + 2P - D(K-1) - 1) / S) + 1, and in
// ceil_mode the last window is dropped when it would start at or past I + P.
//
// The max_pool2d forward ladder (kernel=; 0 picks the fastest that applies; rungs 1 and 2 are the CPU's, 3 is
// CUDA only):
//   1 max_pool2d_kernel1_direct   one thread per output, any window, clipped to the input
//   2 max_pool2d_kernel2_2x2      2x2 window, stride 2, no padding/dilation: one thread per output reads its
//                                 two adjacent pairs without clipping or bounds tests
//   3 max_pool2d_kernel3_2x2_vec  the same, one thread per two adjacent outputs: each of the two rows comes
//                                 in one 128-bit load (float4, or two double2) when 16-byte aligned
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fastann/geometry.hpp"

namespace fastann::cuda {

// Pool2dGeometry and pool2d_output_size are shared with the CPU backend (fastann/geometry.hpp).
using fastann::Pool2dGeometry;
using fastann::pool2d_output_size;

constexpr int kMaxPoolNumKernels = 3;

// The one builder and validation of a pooling geometry, shared with the CPU backend (fastann/geometry.hpp).
using fastann::make_pool2d_geometry;

// 2x2 window, stride 2, no padding/dilation, no partial edge window (OH == H/2, OW == W/2).
bool max_pool2d_is_2x2_stride2(const Pool2dGeometry& g);

// inp (N,C,H,W), out (N,C,OH,OW), indices (N,C,OH,OW) int64. A NaN in the window wins (the last NaN's
// index), ties keep the first tap in row-major window order. rung: 0 auto, 1..3 the ladder above.
template <class T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g, int rung,
                        cudaStream_t stream);

// dout (N,C,OH,OW), indices (N,C,OH,OW), dinp (N,C,H,W): dinp[n,c,idx] += dout (atomicAdd: overlapping
// windows may pick the same pixel). An index outside [0, H*W) is skipped and reported: the launcher then
// synchronises the stream once and throws std::invalid_argument (ValueError) like the CPU.
template <class T>
void max_pool2d_backward(T* dinp, const T* dout, const int64_t* indices, const Pool2dGeometry& g,
                         cudaStream_t stream);

// inp (N,C,H,W), out (N,C,OH,OW); PyTorch's divisor (count_include_pad: window clipped to the padded input).
template <class T>
void avg_pool2d_forward(T* out, const T* inp, const Pool2dGeometry& g, bool count_include_pad,
                        cudaStream_t stream);

// dout (N,C,OH,OW), dinp (N,C,H,W): a gather, each input pixel sums the shares of the windows covering it.
template <class T>
void avg_pool2d_backward(T* dinp, const T* dout, const Pool2dGeometry& g, bool count_include_pad,
                         cudaStream_t stream);

// inp (planes, HW) -> out (planes,): the mean of each plane (summed in double).
template <class T>
void global_avg_pool2d_forward(T* out, const T* inp, int64_t planes, int64_t HW, cudaStream_t stream);
// dout (planes,) -> dinp (planes, HW) = dout / HW.
template <class T>
void global_avg_pool2d_backward(T* dinp, const T* dout, int64_t planes, int64_t HW, cudaStream_t stream);

}  // namespace fastann::cuda
