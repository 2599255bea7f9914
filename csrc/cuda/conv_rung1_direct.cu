// conv_rung1_direct.cu: rung 1 of conv2d's CUDA ladder, the formula as loops: one thread per output element
// (forward, input gradient); the weight gradient gives one 256-thread block to each weight element, which
// reduces its N*OH*OW products with a warp-shuffle tree. Every operand comes from global memory (the L1/L2
// caches do what reuse happens). Best for depthwise shapes, where there is no matrix product to speak of.
// Also the bias gradient every rung uses. Docs: docs/conv.md.
//
// Zero padding as PyTorch computes it (and the CPU rungs, the reference): a tap on the padding multiplies a
// 0, so a non-finite weight (forward) or output gradient (weight gradient) there gives 0 * inf = NaN. The
// loops skip padded taps; at one they add that product only when its other factor is not finite (one test
// on a value the thread loads anyway, only at padded taps), which leaves finite results as they were.
#include <algorithm>
#include <climits>
#include <cmath>

#include "conv_common.cuh"

namespace fastann::cuda::conv_detail {
namespace {

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW); one thread per output.
template <class T>
__global__ void conv2d_forward_kernel1_direct(T* __restrict__ out, const T* __restrict__ inp,
                                              const T* __restrict__ weight, const T* __restrict__ bias,
                                              Conv2dParams p) {
  const int64_t total = p.N * p.OC * p.OH * p.OW, Cg = p.C / p.groups, OCg = p.OC / p.groups;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % p.OW;
    int64_t t = idx / p.OW;
    const int64_t oh = t % p.OH;
    t /= p.OH;
    const int64_t o = t % p.OC, n = t / p.OC, g = o / OCg;
    T acc = bias ? bias[o] : T(0);
    for (int64_t c = 0; c < Cg; ++c) {
      const T* plane = inp + ((n * p.C + g * Cg + c) * p.H) * p.W;
      const T* wk = weight + (o * Cg + c) * p.KH * p.KW;
      for (int64_t kh = 0; kh < p.KH; ++kh) {
        const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
        const bool row_out = p.mode == PaddingMode::zeros && (ih < 0 || ih >= p.H);
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
          const T w = wk[kh * p.KW + kw];
          if (row_out || (p.mode == PaddingMode::zeros && (iw < 0 || iw >= p.W))) {
            if (!(w - w == T(0))) acc += w * T(0);  // a non-finite weight times the padding's zero: NaN
            continue;
          }
          acc += w * load_padded(plane, ih, iw, p.H, p.W, p.mode);
        }
      }
    }
    out[idx] = acc;
  }
}

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W); one thread per input element, gathering the
// outputs whose window covers it. Zero padding only (the launcher handles the other modes on the padded
// geometry).
template <class T>
__global__ void conv2d_backward_input_kernel1_direct(T* __restrict__ dinp, const T* __restrict__ dout,
                                                     const T* __restrict__ weight, Conv2dParams p) {
  const int64_t total = p.N * p.C * p.H * p.W, Cg = p.C / p.groups, OCg = p.OC / p.groups;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % p.W;
    int64_t t = idx / p.W;
    const int64_t ih = t % p.H;
    t /= p.H;
    const int64_t c = t % p.C, n = t / p.C, g = c / Cg, cl = c % Cg;
    T acc = T(0);
    for (int64_t ol = 0; ol < OCg; ++ol) {
      const int64_t o = g * OCg + ol;
      const T* dplane = dout + (n * p.OC + o) * p.OH * p.OW;
      const T* wk = weight + (o * Cg + cl) * p.KH * p.KW;
      for (int64_t kh = 0; kh < p.KH; ++kh) {
        const int64_t th = ih + p.pad_top - kh * p.dilation_h;  // = oh * stride_h
        if (th < 0) break;                                       // decreases with kh
        if (th % p.stride_h) continue;
        const int64_t oh = th / p.stride_h;
        if (oh >= p.OH) continue;
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t tw = iw + p.pad_left - kw * p.dilation_w;
          if (tw < 0) break;
          if (tw % p.stride_w) continue;
          const int64_t ow = tw / p.stride_w;
          if (ow >= p.OW) continue;
          acc += dplane[oh * p.OW + ow] * wk[kh * p.KW + kw];
        }
      }
    }
    dinp[idx] = acc;
  }
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW): one block per weight element reduces its
// N*OH*OW products (grid-stride over the weight elements).
template <class T>
__global__ void conv2d_backward_weight_kernel1_direct(T* __restrict__ dweight, const T* __restrict__ dout,
                                                      const T* __restrict__ inp, Conv2dParams p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  const int64_t nw = p.OC * Cg * p.KH * p.KW, OHW = p.OH * p.OW, total = p.N * OHW;
  for (int64_t widx = blockIdx.x; widx < nw; widx += gridDim.x) {  // uniform per block: barriers are safe
    const int64_t kw = widx % p.KW;
    int64_t t = widx / p.KW;
    const int64_t kh = t % p.KH;
    t /= p.KH;
    const int64_t cl = t % Cg, o = t / Cg, c = (o / OCg) * Cg + cl;
    T acc = T(0);
    for (int64_t e = threadIdx.x; e < total; e += blockDim.x) {
      const int64_t pix = e % OHW, n = e / OHW, oh = pix / p.OW, ow = pix % p.OW;
      const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
      const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
      const T g = dout[(n * p.OC + o) * OHW + pix];
      if (p.mode == PaddingMode::zeros && (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W)) {
        if (!(g - g == T(0))) acc += g * T(0);  // a non-finite gradient times the padding's zero: NaN
        continue;
      }
      acc += g * load_padded(inp + (n * p.C + c) * p.H * p.W, ih, iw, p.H, p.W, p.mode);
    }
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) dweight[widx] = acc;
  }
}

// dout (N,OC,OHW) -> dbias (OC): one block per channel.
template <class T>
__global__ void conv2d_bias_grad_kernel(T* __restrict__ dbias, const T* __restrict__ dout, int64_t N, int64_t OC,
                                        int64_t OHW) {
  for (int64_t o = blockIdx.x; o < OC; o += gridDim.x) {
    T acc = T(0);
    for (int64_t e = threadIdx.x; e < N * OHW; e += blockDim.x) {
      const int64_t n = e / OHW, pix = e % OHW;
      acc += dout[(n * OC + o) * OHW + pix];
    }
    acc = block_reduce_sum(acc);
    if (threadIdx.x == 0) dbias[o] = acc;
  }
}

}  // namespace

template <class T>
void conv2d_forward_rung1_direct(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p,
                                 cudaStream_t stream) {
  const int64_t total = p.N * p.OC * p.OH * p.OW;
  conv2d_forward_kernel1_direct<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, weight, bias, p);
  FASTANN_CUDA_CHECK_LAUNCH("conv2d_forward_kernel1_direct");
}

template <class T>
void conv2d_backward_input_rung1_direct(T* dinp, const T* dout, const T* weight, const Conv2dParams& p,
                                        cudaStream_t stream) {
  const int64_t total = p.N * p.C * p.H * p.W;
  conv2d_backward_input_kernel1_direct<T><<<grid_for(total), kBlock, 0, stream>>>(dinp, dout, weight, p);
  FASTANN_CUDA_CHECK_LAUNCH("conv2d_backward_input_kernel1_direct");
}

template <class T>
void conv2d_backward_weight_rung1_direct(T* dweight, const T* dout, const T* inp, const Conv2dParams& p,
                                         cudaStream_t stream) {
  const int64_t nweights = p.OC * (p.C / p.groups) * p.KH * p.KW;
  conv2d_backward_weight_kernel1_direct<T><<<blocks_capped(nweights, 1 << 20), kBlock, 0, stream>>>(dweight, dout,
                                                                                                    inp, p);
  FASTANN_CUDA_CHECK_LAUNCH("conv2d_backward_weight_kernel1_direct");
}

template <class T>
void conv2d_bias_grad(T* dbias, const T* dout, const Conv2dParams& p, cudaStream_t stream) {
  conv2d_bias_grad_kernel<T><<<blocks_capped(p.OC, 65535), kBlock, 0, stream>>>(dbias, dout, p.N, p.OC,
                                                                                p.OH * p.OW);
  FASTANN_CUDA_CHECK_LAUNCH("conv2d_bias_grad_kernel");
}

FASTANN_CUDA_CONV_INSTANTIATE_RUNG(rung1_direct, float)
FASTANN_CUDA_CONV_INSTANTIATE_RUNG(rung1_direct, double)
template void conv2d_bias_grad<float>(float*, const float*, const Conv2dParams&, cudaStream_t);
template void conv2d_bias_grad<double>(double*, const double*, const Conv2dParams&, cudaStream_t);

}  // namespace fastann::cuda::conv_detail
