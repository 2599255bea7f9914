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
// The max_pool2d forward has a ladder of algorithms (selectable with `kernel`, 0 picks the fastest that
// applies); each rung runs on the instruction set fastann::simd_level() names (csrc/cpu/README.md):
//   1 max_pool2d_rung1_direct  any window: loops over each output's window, clipped to the input
//   2 max_pool2d_rung2_2x2     2x2 window, stride 2, no padding/dilation: the window's four taps at fixed
//                              offsets 0, 1, W, W+1, no clipping or bounds tests. AVX-512: 16 float (8
//                              double) windows per step, even/odd columns split with a two-source permute,
//                              three masked compare-and-select steps carry the value and the argmax
//                              offset (pool_avx512.cpp); scalar: one window at a time (pool_scalar.cpp)
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

// True when rung 2 (and avg_pool2d's 2x2 shortcut) applies: 2x2 window, stride 2, no padding, no dilation and
// no partial window at the right/bottom edge (OH == H/2, OW == W/2).
bool max_pool2d_is_2x2_stride2(const Pool2dGeometry& g);

// ---- max_pool2d -------------------------------------------------------------------------------------
// The ladder's top rung (rung = 1..kMaxPool2dRungs).
constexpr int kMaxPool2dRungs = 2;

// inp (N,C,H,W), out (N,C,OH,OW), indices (N,C,OH,OW) int64 flat offsets ih*W + iw into each (H,W) plane.
// The maximum of each window; a NaN anywhere in the window wins (the last NaN's index, as PyTorch); among
// equal values the first in row-major window order wins. rung: 0 auto, 1..2 the ladder above.
template <class T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g, int rung);

// The rungs, one (H,W) plane at a time: inp (H,W), out (OH,OW), indices (OH,OW).
template <class T>
void max_pool2d_rung1_direct(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g);
template <class T>
void max_pool2d_rung2_2x2(T* out, int64_t* indices, const T* inp, int64_t W, int64_t OH, int64_t OW);

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
// out (OH,OW), on the ISA simd_level() names. Taken automatically by avg_pool2d_forward.
template <class T>
void avg_pool2d_2x2(T* out, const T* inp, int64_t W, int64_t OH, int64_t OW);

// ---- global_avg_pool2d ------------------------------------------------------------------------------
// inp (planes, HW) -> out (planes,): the mean of each plane (planes = N*C), summed in double.
template <class T>
void global_avg_pool2d_forward(T* out, const T* inp, int64_t planes, int64_t HW);
// dout (planes,) -> dinp (planes, HW) = dout / HW.
template <class T>
void global_avg_pool2d_backward(T* dinp, const T* dout, int64_t planes, int64_t HW);

}  // namespace fastann::cpu
