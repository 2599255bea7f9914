// conv_rung2_im2col_gemm.cu: rung 2 of conv2d's CUDA ladder. Over rung 1 it adds Caffe's formulation: an
// im2col kernel unfolds one image (one group) into a column buffer (K x OH*OW, stream-ordered cudaMallocAsync
// workspace) and fastann's CUDA GEMM (csrc/cuda/gemm.cu, auto rung) multiplies; the input gradient is a
// transposed GEMM followed by a col2im gather. One GEMM launch per image and group. Docs: docs/conv.md.
#include <algorithm>
#include <climits>
#include <cmath>

#include "conv_common.cuh"
#include "fastann/cuda/gemm.hpp"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda::conv_detail {
namespace {

// One image n, one group g: col (Cg*KH*KW, OH*OW) from inp (N,C,H,W), padding read through load_padded.
template <class T>
__global__ void im2col_kernel(T* __restrict__ col, const T* __restrict__ inp, Conv2dParams p, int64_t n,
                              int64_t g) {
  const int64_t Cg = p.C / p.groups, KHW = p.KH * p.KW, OHW = p.OH * p.OW, total = Cg * KHW * OHW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t pix = idx % OHW, k = idx / OHW;
    const int64_t cl = k / KHW, kh = (k % KHW) / p.KW, kw = k % p.KW;
    const int64_t ih = (pix / p.OW) * p.stride_h - p.pad_top + kh * p.dilation_h;
    const int64_t iw = (pix % p.OW) * p.stride_w - p.pad_left + kw * p.dilation_w;
    col[idx] = load_padded(inp + ((n * p.C + g * Cg + cl) * p.H) * p.W, ih, iw, p.H, p.W, p.mode);
  }
}

// One image n, one group g: dinp[n, g*Cg + c, ih, iw] = sum of the col (Cg*KH*KW, OH*OW) entries that read it
// (zero padding geometry). A gather: every input element written once, no atomics.
template <class T>
__global__ void col2im_kernel(T* __restrict__ dinp, const T* __restrict__ col, Conv2dParams p, int64_t n,
                              int64_t g) {
  const int64_t Cg = p.C / p.groups, KHW = p.KH * p.KW, OHW = p.OH * p.OW, total = Cg * p.H * p.W;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % p.W, ih = (idx / p.W) % p.H, cl = idx / (p.H * p.W);
    T acc = T(0);
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const int64_t th = ih + p.pad_top - kh * p.dilation_h;
      if (th < 0) break;
      if (th % p.stride_h) continue;
      const int64_t oh = th / p.stride_h;
      if (oh >= p.OH) continue;
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const int64_t tw = iw + p.pad_left - kw * p.dilation_w;
        if (tw < 0) break;
        if (tw % p.stride_w) continue;
        const int64_t ow = tw / p.stride_w;
        if (ow >= p.OW) continue;
        acc += col[(cl * KHW + kh * p.KW + kw) * OHW + oh * p.OW + ow];
      }
    }
    dinp[((n * p.C + g * Cg) * p.H) * p.W + idx] = acc;
  }
}

// out (N,OC,OHW) = bias[o] broadcast (the GEMMs then accumulate with beta = 1).
template <class T>
__global__ void fill_bias_kernel(T* __restrict__ out, const T* __restrict__ bias, int64_t total, int64_t OC,
                                 int64_t OHW) {
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride())
    out[idx] = bias[(idx / OHW) % OC];
}

}  // namespace

template <class T>
void conv2d_forward_rung2_im2col_gemm(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p,
                                      cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  Workspace<T> col(Kc * OHW, stream);
  if (bias) {
    const int64_t total = p.N * p.OC * OHW;
    fill_bias_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, bias, total, p.OC, OHW);
    FASTANN_CUDA_CHECK_LAUNCH("fill_bias_kernel");
  }
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      im2col_kernel<T><<<grid_for(Kc * OHW), kBlock, 0, stream>>>(col.get(), inp, p, n, g);
      FASTANN_CUDA_CHECK_LAUNCH("im2col_kernel");
      // out[n, g] (OCg, OHW) = W_g (OCg, Kc) @ col (Kc, OHW) (+ the bias already there)
      gemm<T>(out + (n * p.OC + g * OCg) * OHW, weight + g * OCg * Kc, col.get(), OCg, OHW, Kc, false, false,
              T(1), bias ? T(1) : T(0), 0, stream);
    }
}

template <class T>
void conv2d_backward_input_rung2_im2col_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p,
                                             cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  Workspace<T> col(Kc * OHW, stream);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      // col (Kc, OHW) = W_gᵀ (Kc, OCg) @ dout[n, g] (OCg, OHW); W_g is stored (OCg, Kc): trans_a.
      gemm<T>(col.get(), weight + g * OCg * Kc, dout + (n * p.OC + g * OCg) * OHW, Kc, OHW, OCg, true, false,
              T(1), T(0), 0, stream);
      col2im_kernel<T><<<grid_for(Cg * p.H * p.W), kBlock, 0, stream>>>(dinp, col.get(), p, n, g);
      FASTANN_CUDA_CHECK_LAUNCH("col2im_kernel");
    }
}

template <class T>
void conv2d_backward_weight_rung2_im2col_gemm(T* dweight, const T* dout, const T* inp, const Conv2dParams& p,
                                              cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  Workspace<T> col(Kc * OHW, stream);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      im2col_kernel<T><<<grid_for(Kc * OHW), kBlock, 0, stream>>>(col.get(), inp, p, n, g);
      FASTANN_CUDA_CHECK_LAUNCH("im2col_kernel");
      // dW_g (OCg, Kc) (+)= dout[n, g] (OCg, OHW) @ colᵀ (OHW, Kc); col is stored (Kc, OHW): trans_b.
      gemm<T>(dweight + g * OCg * Kc, dout + (n * p.OC + g * OCg) * OHW, col.get(), OCg, Kc, OHW, false, true,
              T(1), n == 0 ? T(0) : T(1), 0, stream);
    }
}

FASTANN_CUDA_CONV_INSTANTIATE_RUNG(rung2_im2col_gemm, float)
FASTANN_CUDA_CONV_INSTANTIATE_RUNG(rung2_im2col_gemm, double)

}  // namespace fastann::cuda::conv_detail
