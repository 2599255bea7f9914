// fastann/cuda/conv.hpp: launchers of the CUDA 2-D convolution (NCHW), its transpose and upsampling
// (csrc/cuda/conv_dispatch.cu and the conv_rung*.cu files). Host-callable; every launcher enqueues on `stream` and returns without synchronising.
//
// A convolution of x (N,C,H,W) with w (OC,C/groups,KH,KW), stride s, dilation d, padding p:
//   out[n,o,i,j] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] * xpad[n, g*Cg+c, i*s_h + kh*d_h, j*s_w + kw*d_w]
// (g = o / (OC/groups), Cg = C/groups; xpad is x padded with zeros, its mirror image ("reflect") or its edge
// ("replicate")). The same geometry struct and the same three directions as the CPU side
// (fastann/cpu/conv.hpp); conv_transpose2d is conv2d_backward_input (fastann.ops calls it so).
//
// The ladder (kernel=, the same numbers as the CPU; see the header comment of each conv_rung*.cu):
//   1 direct       one thread per output element (forward, input gradient) or one block per weight
//                  element (weight gradient): the textbook formula, every operand read from global memory.
//   2 im2col_gemm  unfold one image into a (C/groups*KH*KW, OH*OW) column buffer, then fastann's own CUDA GEMM
//                  (csrc/cuda/gemm.cu, auto rung) per image and group; col2im gathers the input gradient.
//   3 implicit_gemm the same GEMMs without the buffer: 64x64 output tiles whose operands are gathered from
//                  the image (im2col indices computed on the fly) into shared memory, 4x4 per thread,
//                  register-prefetched; the weight gradient splits its long K (= N*OH*OW) over blocks.
//   0 auto         picks per shape (conv2d_pick_rung).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fastann/geometry.hpp"

namespace fastann::cuda {

// PaddingMode and Conv2dParams (the geometry of one convolution) are shared with the CPU backend;
// validated by conv2d_validate before any launcher sees them.
using fastann::Conv2dParams;
using fastann::PaddingMode;

constexpr int kConvNumRungs = 3;

// The one validation of a conv2d geometry, shared with the CPU backend (fastann/geometry.hpp).
using fastann::conv2d_validate;

// The rung rung=0 runs for this geometry and direction (0 forward, 1 input grad, 2 weight grad).
int conv2d_pick_rung(const Conv2dParams& p, int direction);

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int rung,
                    cudaStream_t stream);

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int rung,
                           cudaStream_t stream);

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int rung,
                            cudaStream_t stream);

// Upsampling by integer factors (sh, sw): inp (N,C,H,W), out (N,C,H*sh,W*sw).
// nearest: out[i,j] = inp[i/sh, j/sw]; bilinear: torch.nn.functional.interpolate's source coordinates
// (align_corners=False: src = max((dst+0.5)/scale - 0.5, 0); True: src = dst*(in-1)/(out-1)).
template <class T>
void upsample2d_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                        bool bilinear, bool align_corners, cudaStream_t stream);
// dout (N,C,H*sh,W*sw), dinp (N,C,H,W)
template <class T>
void upsample2d_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                         int64_t sw, bool bilinear, bool align_corners, cudaStream_t stream);

}  // namespace fastann::cuda
