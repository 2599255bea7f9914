// fastann/cpu/conv.hpp: 2-D convolution (NCHW), its transpose and upsampling, CPU kernels.
//
// A convolution of x (N,C,H,W) with w (OC,C/groups,KH,KW), stride s, dilation d, padding p:
//   out[n,o,i,j] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] * xpad[n, g*Cg+c, i*s_h + kh*d_h, j*s_w + kw*d_w]
// (g = o / (OC/groups), Cg = C/groups). Every direction is its own function; each has a ladder of rungs,
// chosen by the `kernel` argument (one file per rung under csrc/cpu/, docs/conv.md):
//
//   1  naive        conv_rung1_naive.cpp: the textbook formula, one output (or gradient) element per loop
//                   iteration, bounds tests in the inner loop; threads over independent outputs.
//   2  im2col_gemm  conv_rung2_im2col_gemm.cpp: Caffe's formulation: unfold one image into the
//                   (C/groups*KH*KW, OH*OW) "column" matrix, then one fastann GEMM per image and group.
//   3  direct       conv_rung3_direct.cpp (+ _avx512.cpp): whole images per thread through register-blocked
//                   AVX-512 micro-kernels that read the padded image in place (stride 1) or im2col packed
//                   straight into their operand layouts (stride > 1).
//   4  winograd     conv_rung4_winograd.cpp (+ _avx512.cpp): 3x3, stride 1, dilation 1 only: Winograd's
//                   F(2x2, 3x3) (Lavin & Gray 2016) for the forward and input gradient, F(3x3, 2x2) for the
//                   weight gradient.
//   0  auto         picks the fastest for the shape and dtype (conv2d_pick_rung, conv_dispatch.cpp).
//
// Padding modes other than "zeros" ("reflect" mirrors without repeating the edge, "replicate" repeats it)
// are implemented for every rung by materializing the padded input once, running the zero-padding
// convolution on it, and (for the input gradient) folding the padded gradient back onto the input.
#pragma once

#include <cstdint>

#include "fastann/geometry.hpp"

namespace fastann::cpu {

// PaddingMode and Conv2dParams (the geometry of one convolution) are shared with the CUDA backend.
using fastann::Conv2dParams;
using fastann::PaddingMode;

// The one validation of a conv2d geometry, shared with the CUDA backend (fastann/geometry.hpp).
using fastann::conv2d_validate;

// Which rung rung=0 runs for these parameters, this direction (0 forward, 1 input grad, 2 weight grad) and
// dtype (float32 or float64).
int conv2d_pick_rung(const Conv2dParams& p, int direction, bool float32);

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int rung);

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int rung);

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int rung);

// Upsampling by integer factors (sh, sw): inp (N,C,H,W), out (N,C,H*sh,W*sw).
// nearest: out[i,j] = inp[i/sh, j/sw]. bilinear: torch.nn.functional.interpolate's source coordinates.
template <class T>
void upsample2d_nearest_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                int64_t sw);
// dout (N,C,H*sh,W*sw), dinp (N,C,H,W)
template <class T>
void upsample2d_nearest_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw);
// inp (N,C,H,W), out (N,C,H*sh,W*sw)
template <class T>
void upsample2d_bilinear_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw, bool align_corners);
// dout (N,C,H*sh,W*sw), dinp (N,C,H,W)
template <class T>
void upsample2d_bilinear_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                  int64_t sw, bool align_corners);

}  // namespace fastann::cpu
