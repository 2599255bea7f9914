// fastann/cpu/pool.hpp: 2-D pooling kernels (NCHW, float32 and float64).
//
//   max_pool2d   forward (value + int64 argmax index into each H*W plane) and backward (scatter by index)
//   avg_pool2d   forward and backward, count_include_pad and ceil_mode with PyTorch's divisor rules
//   global_avg_pool2d  (N,C,H,W) -> (N,C) mean and its backward
//
// Output size (PyTorch's pooling_output_shape, torch/aten/src/ATen/native/Pool.h):
//   O = floor_or_ceil((I + 2*P - D*(K-1) - 1) / S) + 1, and in ceil_mode the last window is dropped when
//   it would start at or past I + P (every window must start inside the input or the left padding).
//
// The max_pool2d forward has a ladder (selectable with `kernel`, 0 picks the fastest that applies):
//   1 max_pool2d_kernel1_direct     any window: loops over each output's window, clipped to the input
//   2 max_pool2d_kernel2_2x2        2x2 window, stride 2, no padding/dilation: the window is two adjacent
//                                   pairs of two rows, no clipping or bounds tests in the inner loop
//   3 max_pool2d_kernel3_2x2_avx512 the same with AVX-512: two rows loaded 32 (float) / 16 (double) at a
//                                   time, even/odd columns split with a two-source permute, three masked
//                                   compare-and-select steps carry the value and the argmax offset
#pragma once

#include <cstdint>

#include "fastann/geometry.hpp"

namespace fastann::cpu {

// Pool2dGeometry and pool2d_output_size (PyTorch's output size rule, see the header comment) are shared
// with the CUDA backend (fastann/geometry.hpp).
using fastann::Pool2dGeometry;
using fastann::pool2d_output_size;

// The one builder and validation of a pooling geometry, shared with the CUDA backend (fastann/geometry.hpp).
using fastann::make_pool2d_geometry;

// True when the 2x2 / stride 2 rungs (2 and 3) apply: 2x2 window, stride 2, no padding, no dilation and
// no partial window at the right/bottom edge (OH == H/2, OW == W/2).
bool max_pool2d_is_2x2_stride2(const Pool2dGeometry& g);

// ---- max_pool2d -------------------------------------------------------------------------------------
// inp (N,C,H,W), out (N,C,OH,OW), indices (N,C,OH,OW) int64 flat offsets ih*W + iw into each (H,W) plane.
// The maximum of each window; a NaN anywhere in the window wins (the last NaN's index, as PyTorch); among
// equal values the first in row-major window order wins. kernel: 0 auto, 1..3 the ladder above.
template <class T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g, int kernel);

// The rungs, one (H,W) plane at a time: inp (H,W), out (OH,OW), indices (OH,OW).
template <class T>
void max_pool2d_kernel1_direct(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g);
template <class T>
void max_pool2d_kernel2_2x2(T* out, int64_t* indices, const T* inp, int64_t W, int64_t OH, int64_t OW);
// Defined in pool_avx512.cpp (AVX-512 flags); call only when simd_level() == SimdLevel::avx512.
void max_pool2d_kernel3_2x2_avx512(float* out, int64_t* indices, const float* inp, int64_t W, int64_t OH,
                                   int64_t OW);
void max_pool2d_kernel3_2x2_avx512(double* out, int64_t* indices, const double* inp, int64_t W, int64_t OH,
                                   int64_t OW);

// dout (N,C,OH,OW), indices (N,C,OH,OW), dinp (N,C,H,W): dinp[n,c,idx] += dout. Every index must lie in
// [0, H*W) (checked; std::invalid_argument otherwise, dinp then partly written).
template <class T>
void max_pool2d_backward(T* dinp, const T* dout, const int64_t* indices, const Pool2dGeometry& g);

// ---- avg_pool2d -------------------------------------------------------------------------------------
// inp (N,C,H,W), out (N,C,OH,OW). Divisor as PyTorch's CPU kernel: the window clipped to the PADDED input
// (so a ceil_mode window running past the padding counts only up to it) when count_include_pad, else the
// number of real input elements in the window.
template <class T>
void avg_pool2d_forward(T* out, const T* inp, const Pool2dGeometry& g, bool count_include_pad);

// dout (N,C,OH,OW), dinp (N,C,H,W): each output's gradient spread evenly (same divisor) over its window.
template <class T>
void avg_pool2d_backward(T* dinp, const T* dout, const Pool2dGeometry& g, bool count_include_pad);

// The 2x2 / stride-2 case (max_pool2d_is_2x2_stride2; every divisor is 4), one plane: inp (H,W) ->
// out (OH,OW). Taken automatically by avg_pool2d_forward; the AVX-512 one (pool_avx512.cpp) only when
// simd_level() == SimdLevel::avx512.
template <class T>
void avg_pool2d_2x2(T* out, const T* inp, int64_t W, int64_t OH, int64_t OW);
void avg_pool2d_2x2_avx512(float* out, const float* inp, int64_t W, int64_t OH, int64_t OW);
void avg_pool2d_2x2_avx512(double* out, const double* inp, int64_t W, int64_t OH, int64_t OW);

// ---- global_avg_pool2d ------------------------------------------------------------------------------
// inp (planes, HW) -> out (planes,): the mean of each plane (planes = N*C), summed in double.
template <class T>
void global_avg_pool2d_forward(T* out, const T* inp, int64_t planes, int64_t HW);
// dout (planes,) -> dinp (planes, HW) = dout / HW.
template <class T>
void global_avg_pool2d_backward(T* dinp, const T* dout, int64_t planes, int64_t HW);

}  // namespace fastann::cpu
