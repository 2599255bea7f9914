// conv.cu: 2-D convolution (NCHW) forward, input gradient, weight gradient and bias gradient on the GPU,
// plus upsample2d (nearest / bilinear) forward and backward. float32 and float64 (every rung).
// conv_transpose2d is conv2d_backward_input with the roles of input and output swapped (fastann.ops).
//
// A convolution as a matrix product (per image n and group g; Cg = C/groups, OCg = OC/groups):
//   forward          out[o, p]        = sum_k  W[o, k]      * col[k, p]        M=OCg  N=OH*OW  K=Cg*KH*KW
//   input gradient   dx[c, q]         = sum_k' W'[c, k']    * dout'[k', q]     M=Cg   N=H*W    K=OCg*KH*KW
//   weight gradient  dW[o, k]         = sum_p  dout[o, p]   * col[k, p]        M=OCg  N=Cg*KH*KW  K=N*OH*OW
// where col[(c,kh,kw), (oh,ow)] = xpad[c, oh*s_h + kh*d_h, ow*s_w + kw*d_w] is the im2col matrix, and for the
// input gradient dout'[(o,kh,kw), (ih,iw)] = dout[o, oh, ow] when ih + pad_top = oh*s_h + kh*d_h (and the same
// for w) has an integer solution inside the output, else 0 (col2im written as a gather, no atomics).
//
// The ladder (kernel=, numbered like the CPU's):
//   1 direct         conv2d_*_kernel1_direct: one thread per output element (forward, input gradient) runs the
//                    textbook loops; the weight gradient gives one 256-thread block to each weight element,
//                    which reduces its N*OH*OW products with a warp-shuffle tree. Every operand comes from
//                    global memory (the L1/L2 caches do what reuse happens). Best for depthwise shapes, where
//                    there is no matrix product to speak of.
//   2 im2col_gemm    Caffe's formulation: an im2col kernel unfolds one image (one group) into a column buffer
//                    (K x OH*OW, stream-ordered cudaMallocAsync workspace) and fastann's CUDA GEMM
//                    (csrc/cuda/gemm.cu, auto rung) multiplies; the input gradient is a transposed GEMM
//                    followed by a col2im gather. One GEMM launch per image and group.
//   3 implicit_gemm  the same three matrix products without the buffer: one kernel tiles the product in 64x64
//                    blocks of 256 threads (4x4 outputs per thread, strided so a warp's stores coalesce);
//                    16-deep K slices of both operands are GATHERED straight from the image/weights/gradient
//                    (the im2col index math done on the fly) into shared memory, the next slice prefetched
//                    into registers while the current one is multiplied. The weight gradient, whose K is the
//                    whole batch, splits K over extra blocks (split-K) into a workspace and sums the slices in
//                    a second, deterministic kernel. Index math in 32 bits: needs every tensor < 2^31 elements.
//   0 auto           conv2d_pick_kernel: 3, except 1 when the product has fewer than 8 rows per group
//                    (depthwise-like), where a 64-row tile would be mostly empty.
//
// Padding modes: "zeros" is handled by skipping taps outside the input. "reflect" / "replicate" are read
// through an index map (load_padded) in the forward and weight-gradient gathers, so no padded copy is made;
// the input gradient is computed on the padded geometry into a workspace and folded back by a gather that sums
// every padded position mapping to an input pixel (fold_padded_grad_kernel).
//
// Determinism: every kernel here writes each output element exactly once from a fixed summation order, except
// the bilinear upsample backward, which scatters with atomicAdd (its sums may differ in the last bit between
// runs).
//
// Sections: helpers, kernels, launchers.
#include <algorithm>
#include <climits>
#include <cmath>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/conv.hpp"
#include "fastann/cuda/gemm.hpp"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

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

// Bilinear source taps of output index j along one axis (torch's area_pixel_compute_source_index with an
// integer scale; the same double arithmetic as the CPU kernel so both round alike).
__device__ __forceinline__ void linear_tap(int64_t j, int64_t n_in, int64_t scale, bool align_corners, int64_t* i0,
                                           int64_t* i1, double* lambda) {
  const int64_t n_out = n_in * scale;
  double src;
  if (align_corners)
    src = n_out > 1 ? double(j) * double(n_in - 1) / double(n_out - 1) : 0.0;
  else
    src = fmax((double(j) + 0.5) / double(scale) - 0.5, 0.0);
  int64_t a = static_cast<int64_t>(floor(src));
  if (a > n_in - 1) a = n_in - 1;
  *i0 = a;
  *i1 = a + 1 < n_in ? a + 1 : n_in - 1;
  *lambda = src - double(a);
}

// The padded positions (half-open ranges, at most 3) whose padding reads input index i along one axis of
// length n with pads lo/hi: the inverse of pad_source. Returns the number of ranges.
__device__ __forceinline__ int padded_preimage(int64_t i, int64_t n, int64_t lo, int64_t hi, PaddingMode mode,
                                               int64_t* begin, int64_t* end) {
  if (mode == PaddingMode::replicate) {
    begin[0] = i == 0 ? 0 : i + lo;               // the first pixel also fills the whole low padding
    end[0] = i == n - 1 ? n + lo + hi : i + lo + 1;  // the last pixel the whole high padding
    return 1;
  }
  int cnt = 0;
  begin[cnt] = i + lo, end[cnt] = i + lo + 1, ++cnt;  // the pixel itself
  if (mode == PaddingMode::reflect) {
    if (i >= 1 && i <= lo) begin[cnt] = lo - i, end[cnt] = lo - i + 1, ++cnt;  // mirrored into the low pad
    const int64_t r = 2 * (n - 1) - i;                                        // mirrored into the high pad
    if (r >= n && r <= n - 1 + hi) begin[cnt] = r + lo, end[cnt] = r + lo + 1, ++cnt;
  }
  return cnt;
}

// =====================================================================================================
// Kernels
// =====================================================================================================

// ---- rung 1: direct loops ---------------------------------------------------------------------------
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
        if (p.mode == PaddingMode::zeros && (ih < 0 || ih >= p.H)) continue;
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
          if (p.mode == PaddingMode::zeros && (iw < 0 || iw >= p.W)) continue;
          acc += wk[kh * p.KW + kw] * load_padded(plane, ih, iw, p.H, p.W, p.mode);
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
      if (p.mode == PaddingMode::zeros && (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W)) continue;
      acc += dout[(n * p.OC + o) * OHW + pix] *
             load_padded(inp + (n * p.C + c) * p.H * p.W, ih, iw, p.H, p.W, p.mode);
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

// ---- rung 2: im2col + GEMM --------------------------------------------------------------------------
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

// ---- rung 3: implicit GEMM ----------------------------------------------------------------------------
// C[m, n] = sum_k A[m, k] * B[k, n] for every group (and K slice), where the Problem says how to gather
// A and B elements and where C goes. 64x64 tile per 256-thread block, 16-deep K slices.
constexpr int kBM = 64, kBN = 64, kBK = 16, kIgemmThreads = 256;

// The problem sizes every implicit-GEMM problem carries.
struct IgemmShape {
  int M, Ncols, K;     // per group
  int k_per_split;     // a multiple of kBK
  int groups, splits;  // blockIdx.z runs over groups * splits
};

template <class T, class Problem>
__global__ void __launch_bounds__(kIgemmThreads) conv2d_kernel3_implicit_gemm(const Problem prob) {
  // A stored k-major with one pad column so the k-fastest stores of the loaders hit distinct banks.
  __shared__ T As[kBK][kBM + 1];
  __shared__ T Bs[kBK][kBN];
  const IgemmShape& s = prob.shape;
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;       // this thread's outputs: rows ty + 16i, columns tx + 16j
  const int a_k = tid % kBK, a_m = tid / kBK;   // A loads: row a_m + 16r, column k0 + a_k (r = 0..3)
  const int b_n = tid % kBN, b_k = tid / kBN;   // B loads: row k0 + b_k + 4r, column b_n (r = 0..3)
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;

  // The column this thread gathers B for is fixed for the whole K loop: decompose its index once.
  const typename Problem::Col col = prob.make_col(n0 + b_n);
  const bool col_ok = n0 + b_n < s.Ncols;

  for (int z = blockIdx.z; z < s.groups * s.splits; z += gridDim.z) {  // uniform per block
    const int g = z / s.splits, split = z % s.splits;
    const int kbeg = split * s.k_per_split, kend = min(s.K, kbeg + s.k_per_split);
    T ra[4], rb[4];
    auto load = [&](int k0) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int m = m0 + a_m + 16 * r, k = k0 + a_k;
        ra[r] = (m < s.M && k < kend) ? prob.a(g, m, k) : T(0);
      }
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int k = k0 + b_k + 4 * r;
        rb[r] = (col_ok && k < kend) ? prob.b(g, k, col) : T(0);
      }
    };
    T acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

    load(kbeg);
    for (int k0 = kbeg; k0 < kend; k0 += kBK) {
#pragma unroll
      for (int r = 0; r < 4; ++r) As[a_k][a_m + 16 * r] = ra[r];
#pragma unroll
      for (int r = 0; r < 4; ++r) Bs[b_k + 4 * r][b_n] = rb[r];
      __syncthreads();
      if (k0 + kBK < kend) load(k0 + kBK);  // the next slice's global loads overlap the FMAs below
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        T a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
        if (m < s.M && n < s.Ncols) prob.store(g, split, m, n, acc[i][j]);
      }
  }
}

// The geometry in 32-bit ints (rung 3 requires every tensor below 2^31 elements, checked by the launcher).
struct Geo32 {
  int N, C, H, W, OC, KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, Cg, OCg, KHW;
  PaddingMode mode;
};

Geo32 geo32(const Conv2dParams& p) {
  Geo32 g;
  g.N = int(p.N), g.C = int(p.C), g.H = int(p.H), g.W = int(p.W), g.OC = int(p.OC), g.KH = int(p.KH);
  g.KW = int(p.KW), g.OH = int(p.OH), g.OW = int(p.OW), g.sh = int(p.stride_h), g.sw = int(p.stride_w);
  g.pt = int(p.pad_top), g.pl = int(p.pad_left), g.dh = int(p.dilation_h), g.dw = int(p.dilation_w);
  g.Cg = int(p.C / p.groups), g.OCg = int(p.OC / p.groups), g.KHW = int(p.KH * p.KW);
  g.mode = p.mode;
  return g;
}

__device__ __forceinline__ int pad_source32(int i, int n, PaddingMode mode) {
  if (mode == PaddingMode::reflect) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
  }
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}
template <class T>
__device__ __forceinline__ T load_padded32(const T* plane, int ih, int iw, int H, int W, PaddingMode mode) {
  if (ih >= 0 && ih < H && iw >= 0 && iw < W) return plane[ih * W + iw];
  if (mode == PaddingMode::zeros) return T(0);
  return plane[pad_source32(ih, H, mode) * W + pad_source32(iw, W, mode)];
}

// forward: A = weight (OCg x Cg*KH*KW per group), B = im2col of the input, C = out (+ bias).
template <class T>
struct ForwardProblem {
  IgemmShape shape;
  Geo32 q;
  T* out;
  const T* inp;
  const T* weight;
  const T* bias;
  struct Col {
    int img, ih0, iw0;
  };
  __device__ Col make_col(int n) const {
    const int OHW = q.OH * q.OW, img = n / OHW, pix = n - img * OHW, oh = pix / q.OW, ow = pix - oh * q.OW;
    return {img, oh * q.sh - q.pt, ow * q.sw - q.pl};
  }
  __device__ T a(int g, int m, int k) const { return weight[(g * q.OCg + m) * shape.K + k]; }
  __device__ T b(int g, int k, const Col& c) const {
    const int cl = k / q.KHW, r = k - cl * q.KHW, kh = r / q.KW, kw = r - kh * q.KW;
    const T* plane = inp + ((c.img * q.C + g * q.Cg + cl) * q.H) * q.W;
    return load_padded32(plane, c.ih0 + kh * q.dh, c.iw0 + kw * q.dw, q.H, q.W, q.mode);
  }
  __device__ void store(int g, int, int m, int n, T v) const {
    const int OHW = q.OH * q.OW, img = n / OHW, pix = n - img * OHW, o = g * q.OCg + m;
    out[(img * q.OC + o) * OHW + pix] = bias ? v + bias[o] : v;
  }
};

// input gradient (zero-padding geometry): A[c, (o,kh,kw)] = weight[o, c, kh, kw], B = dout' (see the file
// header), C = dinp.
template <class T>
struct BackwardInputProblem {
  IgemmShape shape;
  Geo32 q;
  T* dinp;
  const T* dout;
  const T* weight;
  struct Col {
    int img, ihp, iwp;  // image and input position shifted by the padding (= oh*sh + kh*dh)
  };
  __device__ Col make_col(int n) const {
    const int HW = q.H * q.W, img = n / HW, pix = n - img * HW, ih = pix / q.W, iw = pix - ih * q.W;
    return {img, ih + q.pt, iw + q.pl};
  }
  __device__ T a(int g, int m, int k) const {
    const int ol = k / q.KHW, r = k - ol * q.KHW;
    return weight[((g * q.OCg + ol) * q.Cg + m) * q.KHW + r];
  }
  __device__ T b(int g, int k, const Col& c) const {
    const int ol = k / q.KHW, r = k - ol * q.KHW, kh = r / q.KW, kw = r - kh * q.KW;
    const int th = c.ihp - kh * q.dh, tw = c.iwp - kw * q.dw;
    if (th < 0 || tw < 0) return T(0);
    const int oh = th / q.sh, ow = tw / q.sw;
    if (oh * q.sh != th || ow * q.sw != tw || oh >= q.OH || ow >= q.OW) return T(0);
    return dout[((c.img * q.OC + g * q.OCg + ol) * q.OH + oh) * q.OW + ow];
  }
  __device__ void store(int g, int, int m, int n, T v) const {
    const int HW = q.H * q.W, img = n / HW, pix = n - img * HW;
    dinp[(img * q.C + g * q.Cg + m) * HW + pix] = v;
  }
};

// weight gradient: A = dout (OCg x N*OH*OW per group), B[(n,p), (c,kh,kw)] = col[(c,kh,kw), (n,p)], C = the
// split's slice of the workspace (or dweight itself when there is one split).
template <class T>
struct BackwardWeightProblem {
  IgemmShape shape;
  Geo32 q;
  T* dst;  // (splits, OC, Cg*KH*KW)
  const T* dout;
  const T* inp;
  struct Col {
    int cl, dkh, dkw;  // input channel within the group and the tap's offsets kh*dh, kw*dw
  };
  __device__ Col make_col(int n) const {
    const int cl = n / q.KHW, r = n - cl * q.KHW, kh = r / q.KW, kw = r - kh * q.KW;
    return {cl, kh * q.dh, kw * q.dw};
  }
  __device__ T a(int g, int m, int k) const {
    const int OHW = q.OH * q.OW, img = k / OHW, pix = k - img * OHW;
    return dout[(img * q.OC + g * q.OCg + m) * OHW + pix];
  }
  __device__ T b(int g, int k, const Col& c) const {
    const int OHW = q.OH * q.OW, img = k / OHW, pix = k - img * OHW, oh = pix / q.OW, ow = pix - oh * q.OW;
    const T* plane = inp + ((img * q.C + g * q.Cg + c.cl) * q.H) * q.W;
    return load_padded32(plane, oh * q.sh - q.pt + c.dkh, ow * q.sw - q.pl + c.dkw, q.H, q.W, q.mode);
  }
  __device__ void store(int g, int split, int m, int n, T v) const {
    dst[(static_cast<int64_t>(split) * q.OC + g * q.OCg + m) * shape.Ncols + n] = v;
  }
};

// dweight (count) = sum over the splits of ws (splits, count), in a fixed order.
template <class T>
__global__ void sum_splits_kernel(T* __restrict__ out, const T* __restrict__ ws, int64_t count, int splits) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_stride()) {
    T acc = T(0);
    for (int s = 0; s < splits; ++s) acc += ws[s * count + i];
    out[i] = acc;
  }
}

// ---- padding modes: fold the padded input gradient back -------------------------------------------------
// dpad (N,C,H+pt+pb,W+pl+pr) -> dinp (N,C,H,W): each input pixel sums every padded position that read it.
template <class T>
__global__ void fold_padded_grad_kernel(T* __restrict__ dinp, const T* __restrict__ dpad, Conv2dParams p) {
  const int64_t Hp = p.H + p.pad_top + p.pad_bottom, Wp = p.W + p.pad_left + p.pad_right;
  const int64_t total = p.N * p.C * p.H * p.W;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % p.W, ih = (idx / p.W) % p.H, plane = idx / (p.H * p.W);
    int64_t hb[3], he[3], wb[3], we[3];
    const int nh = padded_preimage(ih, p.H, p.pad_top, p.pad_bottom, p.mode, hb, he);
    const int nw = padded_preimage(iw, p.W, p.pad_left, p.pad_right, p.mode, wb, we);
    const T* src = dpad + plane * Hp * Wp;
    T acc = T(0);
    for (int a = 0; a < nh; ++a)
      for (int64_t i = hb[a]; i < he[a]; ++i)
        for (int b = 0; b < nw; ++b)
          for (int64_t j = wb[b]; j < we[b]; ++j) acc += src[i * Wp + j];
    dinp[idx] = acc;
  }
}

// ---- upsample2d -----------------------------------------------------------------------------------------
// inp (N,C,H,W), out (N,C,H*sh,W*sw); one thread per output.
template <class T>
__global__ void upsample2d_nearest_forward_kernel(T* __restrict__ out, const T* __restrict__ inp, int64_t planes,
                                                  int64_t H, int64_t W, int64_t sh, int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    out[idx] = inp[(plane * H + oh / sh) * W + ow / sw];
  }
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W): each input pixel sums its sh x sw block (a gather).
template <class T>
__global__ void upsample2d_nearest_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout,
                                                   int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * H * W;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t iw = idx % W, ih = (idx / W) % H, plane = idx / (H * W);
    const T* src = dout + (plane * OH + ih * sh) * OW + iw * sw;
    T acc = T(0);
    for (int64_t r = 0; r < sh; ++r)
      for (int64_t c = 0; c < sw; ++c) acc += src[r * OW + c];
    dinp[idx] = acc;
  }
}

// inp (N,C,H,W), out (N,C,H*sh,W*sw): interpolate between the 4 source taps.
template <class T>
__global__ void upsample2d_bilinear_forward_kernel(T* __restrict__ out, const T* __restrict__ inp, int64_t planes,
                                                   int64_t H, int64_t W, int64_t sh, int64_t sw,
                                                   bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    int64_t h0, h1, w0, w1;
    double lh_d, lw_d;
    linear_tap(oh, H, sh, align_corners, &h0, &h1, &lh_d);
    linear_tap(ow, W, sw, align_corners, &w0, &w1, &lw_d);
    const T lh = T(lh_d), lw = T(lw_d);
    const T* r0 = inp + (plane * H + h0) * W;
    const T* r1 = inp + (plane * H + h1) * W;
    const T top = (T(1) - lw) * r0[w0] + lw * r0[w1];
    const T bot = (T(1) - lw) * r1[w0] + lw * r1[w1];
    out[idx] = (T(1) - lh) * top + lh * bot;
  }
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W) zeroed by the launcher: each output scatters its gradient onto its
// 4 taps with the forward's weights (atomicAdd: several outputs share a tap).
template <class T>
__global__ void upsample2d_bilinear_backward_kernel(T* __restrict__ dinp, const T* __restrict__ dout,
                                                    int64_t planes, int64_t H, int64_t W, int64_t sh, int64_t sw,
                                                    bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw, total = planes * OH * OW;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t ow = idx % OW, oh = (idx / OW) % OH, plane = idx / (OH * OW);
    int64_t h0, h1, w0, w1;
    double lh_d, lw_d;
    linear_tap(oh, H, sh, align_corners, &h0, &h1, &lh_d);
    linear_tap(ow, W, sw, align_corners, &w0, &w1, &lw_d);
    const T lh = T(lh_d), lw = T(lw_d), gv = dout[idx];
    T* d = dinp + plane * H * W;
    atomicAdd(d + h0 * W + w0, (T(1) - lh) * (T(1) - lw) * gv);
    atomicAdd(d + h0 * W + w1, (T(1) - lh) * lw * gv);
    atomicAdd(d + h1 * W + w0, lh * (T(1) - lw) * gv);
    atomicAdd(d + h1 * W + w1, lh * lw * gv);
  }
}

// =====================================================================================================
// Launchers
// =====================================================================================================

// The same convolution on an input that already carries its padding: pads 0, zeros mode.
Conv2dParams on_padded_input(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.H = p.H + p.pad_top + p.pad_bottom;
  q.W = p.W + p.pad_left + p.pad_right;
  q.pad_top = q.pad_bottom = q.pad_left = q.pad_right = 0;
  q.mode = PaddingMode::zeros;
  return q;
}

// Rung 3 indexes in 32 bits: every tensor it touches (and the split-K workspace) must stay below 2^31.
bool fits_int32(const Conv2dParams& p) {
  const int64_t lim = INT_MAX;
  const int64_t Cg = p.C / p.groups;
  return p.N * p.C * p.H * p.W < lim && p.N * p.OC * p.OH * p.OW < lim && p.OC * Cg * p.KH * p.KW < lim &&
         p.N * p.OH * p.OW < lim && (p.W + 1) * p.stride_w < lim && (p.H + 1) * p.stride_h < lim &&
         p.KH * p.dilation_h < lim && p.KW * p.dilation_w < lim && p.pad_top < lim && p.pad_left < lim;
}

int resolve_kernel(const Conv2dParams& p, int kernel, int direction, const char* op) {
  FASTANN_CHECK(kernel >= 0 && kernel <= kConvNumKernels, op, ": kernel must be None (0) or 1, 2, 3, got ", kernel);
  if (kernel == 0) kernel = conv2d_pick_kernel(p, direction);
  FASTANN_CHECK(kernel != 3 || fits_int32(p), op, ": kernel=3 (implicit GEMM) indexes in 32 bits and needs "
                "every tensor below 2^31 elements; use kernel=2");
  return kernel;
}

unsigned blocks_capped(int64_t n, int64_t cap) { return static_cast<unsigned>(std::max<int64_t>(1, std::min(n, cap))); }

template <class T, class Problem>
void launch_implicit_gemm(const Problem& prob, cudaStream_t stream) {
  const IgemmShape& s = prob.shape;
  const int64_t gx = ceil_div(s.Ncols, kBN), gy = ceil_div(s.M, kBM);
  FASTANN_CHECK(gx <= INT_MAX && gy <= 65535, "conv2d: implicit GEMM grid too large (", gx, " x ", gy, ")");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy),
            blocks_capped(int64_t(s.groups) * s.splits, 65535));
  conv2d_kernel3_implicit_gemm<T, Problem><<<grid, kIgemmThreads, 0, stream>>>(prob);
  FASTANN_CUDA_CHECK_LAUNCH("conv2d_kernel3_implicit_gemm");
}

// ---- forward --------------------------------------------------------------------------------------------
template <class T>
void forward_impl(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int kernel,
                  cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  if (kernel == 1) {
    const int64_t total = p.N * p.OC * OHW;
    conv2d_forward_kernel1_direct<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, weight, bias, p);
    FASTANN_CUDA_CHECK_LAUNCH("conv2d_forward_kernel1_direct");
  } else if (kernel == 2) {
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
  } else {
    ForwardProblem<T> prob;
    prob.q = geo32(p);
    prob.shape = {int(OCg), int(p.N * OHW), int(Kc), int(ceil_div(Kc, kBK) * kBK), int(p.groups), 1};
    prob.out = out, prob.inp = inp, prob.weight = weight, prob.bias = bias;
    launch_implicit_gemm<T>(prob, stream);
  }
}

// ---- input gradient (zero-padding geometry) ----------------------------------------------------------------
template <class T>
void backward_input_zeros(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int kernel,
                          cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  if (kernel == 1) {
    const int64_t total = p.N * p.C * p.H * p.W;
    conv2d_backward_input_kernel1_direct<T><<<grid_for(total), kBlock, 0, stream>>>(dinp, dout, weight, p);
    FASTANN_CUDA_CHECK_LAUNCH("conv2d_backward_input_kernel1_direct");
  } else if (kernel == 2) {
    Workspace<T> col(Kc * OHW, stream);
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t g = 0; g < p.groups; ++g) {
        // col (Kc, OHW) = W_gᵀ (Kc, OCg) @ dout[n, g] (OCg, OHW); W_g is stored (OCg, Kc): trans_a.
        gemm<T>(col.get(), weight + g * OCg * Kc, dout + (n * p.OC + g * OCg) * OHW, Kc, OHW, OCg, true, false,
                T(1), T(0), 0, stream);
        col2im_kernel<T><<<grid_for(Cg * p.H * p.W), kBlock, 0, stream>>>(dinp, col.get(), p, n, g);
        FASTANN_CUDA_CHECK_LAUNCH("col2im_kernel");
      }
  } else {
    BackwardInputProblem<T> prob;
    prob.q = geo32(p);
    const int64_t K = OCg * p.KH * p.KW;
    prob.shape = {int(Cg), int(p.N * p.H * p.W), int(K), int(ceil_div(K, kBK) * kBK), int(p.groups), 1};
    prob.dinp = dinp, prob.dout = dout, prob.weight = weight;
    launch_implicit_gemm<T>(prob, stream);
  }
}

// ---- weight gradient -----------------------------------------------------------------------------------------
template <class T>
void backward_weight_impl(T* dweight, const T* dout, const T* inp, const Conv2dParams& p, int kernel,
                          cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  const int64_t nweights = p.OC * Kc;
  if (kernel == 1) {
    conv2d_backward_weight_kernel1_direct<T><<<blocks_capped(nweights, 1 << 20), kBlock, 0, stream>>>(dweight, dout,
                                                                                                      inp, p);
    FASTANN_CUDA_CHECK_LAUNCH("conv2d_backward_weight_kernel1_direct");
  } else if (kernel == 2) {
    Workspace<T> col(Kc * OHW, stream);
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t g = 0; g < p.groups; ++g) {
        im2col_kernel<T><<<grid_for(Kc * OHW), kBlock, 0, stream>>>(col.get(), inp, p, n, g);
        FASTANN_CUDA_CHECK_LAUNCH("im2col_kernel");
        // dW_g (OCg, Kc) (+)= dout[n, g] (OCg, OHW) @ colᵀ (OHW, Kc); col is stored (Kc, OHW): trans_b.
        gemm<T>(dweight + g * OCg * Kc, dout + (n * p.OC + g * OCg) * OHW, col.get(), OCg, Kc, OHW, false, true,
                T(1), n == 0 ? T(0) : T(1), 0, stream);
      }
  } else {
    const int64_t K = p.N * OHW;
    // Split K (the whole batch) so that the grid has a few blocks per SM even when OC x Kc is one tile.
    const int64_t tiles = ceil_div(OCg, kBM) * ceil_div(Kc, kBN) * p.groups;
    const int64_t want = ceil_div(4 * int64_t(sm_count()), tiles);
    const int64_t max_splits = std::max<int64_t>(1, K / (4 * kBK));  // keep at least 64 k per split
    int64_t splits = std::min(std::max<int64_t>(1, want), max_splits);
    int64_t kps = ceil_div(ceil_div(K, splits), kBK) * kBK;
    splits = ceil_div(K, kps);
    if (splits * nweights >= INT_MAX) splits = 1, kps = ceil_div(K, kBK) * kBK;
    Workspace<T> ws(splits > 1 ? splits * nweights : 0, stream);
    BackwardWeightProblem<T> prob;
    prob.q = geo32(p);
    prob.shape = {int(OCg), int(Kc), int(K), int(kps), int(p.groups), int(splits)};
    prob.dst = splits > 1 ? ws.get() : dweight, prob.dout = dout, prob.inp = inp;
    launch_implicit_gemm<T>(prob, stream);
    if (splits > 1) {
      sum_splits_kernel<T><<<grid_for(nweights), kBlock, 0, stream>>>(dweight, ws.get(), nweights, int(splits));
      FASTANN_CUDA_CHECK_LAUNCH("sum_splits_kernel");
    }
  }
}

}  // namespace

// ---- public entry points ---------------------------------------------------------------------------------
int conv2d_pick_kernel(const Conv2dParams& p, int direction) {
  // The implicit GEMM's tile has 64 rows: OCg (forward, weight gradient) or Cg (input gradient). With only a
  // handful of rows per group (depthwise convolutions) most of it would be idle, and the direct loops win.
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  const int64_t rows = direction == 1 ? Cg : OCg;
  if (rows < 8) return 1;
  return fits_int32(p) ? 3 : 2;
}

template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int kernel,
                    cudaStream_t stream) {
  kernel = resolve_kernel(p, kernel, 0, "conv2d_forward");
  forward_impl(out, inp, weight, bias, p, kernel, stream);
}

template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int kernel,
                           cudaStream_t stream) {
  const bool automatic = kernel == 0;
  kernel = resolve_kernel(p, kernel, 1, "conv2d_backward_input");
  if (p.mode == PaddingMode::zeros) return backward_input_zeros(dinp, dout, weight, p, kernel, stream);
  // reflect / replicate: the gradient w.r.t. the padded input, then fold the padding back onto the input.
  const Conv2dParams q = on_padded_input(p);
  if (kernel == 3 && !fits_int32(q)) {
    FASTANN_CHECK(automatic, "conv2d_backward_input: kernel=3 needs every tensor below 2^31 elements (padded "
                  "input included); use kernel=2");
    kernel = 2;
  }
  Workspace<T> dpad(q.N * q.C * q.H * q.W, stream);
  backward_input_zeros(dpad.get(), dout, weight, q, kernel, stream);
  const int64_t total = p.N * p.C * p.H * p.W;
  fold_padded_grad_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(dinp, dpad.get(), p);
  FASTANN_CUDA_CHECK_LAUNCH("fold_padded_grad_kernel");
}

template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int kernel,
                            cudaStream_t stream) {
  kernel = resolve_kernel(p, kernel, 2, "conv2d_backward_weight");
  backward_weight_impl(dweight, dout, inp, p, kernel, stream);
  if (dbias) {
    conv2d_bias_grad_kernel<T><<<blocks_capped(p.OC, 65535), kBlock, 0, stream>>>(dbias, dout, p.N, p.OC,
                                                                                  p.OH * p.OW);
    FASTANN_CUDA_CHECK_LAUNCH("conv2d_bias_grad_kernel");
  }
}

template <class T>
void upsample2d_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                        bool bilinear, bool align_corners, cudaStream_t stream) {
  const int64_t total = N * C * H * sh * W * sw;
  if (total == 0) return;
  if (bilinear) {
    upsample2d_bilinear_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, N * C, H, W, sh, sw,
                                                                                  align_corners);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_bilinear_forward_kernel");
  } else {
    upsample2d_nearest_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, inp, N * C, H, W, sh, sw);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_nearest_forward_kernel");
  }
}

template <class T>
void upsample2d_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                         int64_t sw, bool bilinear, bool align_corners, cudaStream_t stream) {
  const int64_t total_in = N * C * H * W, total_out = total_in * sh * sw;
  if (total_in == 0) return;
  if (bilinear) {
    FASTANN_CUDA_CHECK(cudaMemsetAsync(dinp, 0, static_cast<size_t>(total_in) * sizeof(T), stream));
    upsample2d_bilinear_backward_kernel<T><<<grid_for(total_out), kBlock, 0, stream>>>(dinp, dout, N * C, H, W, sh,
                                                                                       sw, align_corners);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_bilinear_backward_kernel");
  } else {
    upsample2d_nearest_backward_kernel<T><<<grid_for(total_in), kBlock, 0, stream>>>(dinp, dout, N * C, H, W, sh,
                                                                                     sw);
    FASTANN_CUDA_CHECK_LAUNCH("upsample2d_nearest_backward_kernel");
  }
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dParams&, int, cudaStream_t);      \
  template void conv2d_backward_input<T>(T*, const T*, const T*, const Conv2dParams&, int, cudaStream_t);         \
  template void conv2d_backward_weight<T>(T*, T*, const T*, const T*, const Conv2dParams&, int, cudaStream_t);    \
  template void upsample2d_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool,   \
                                      bool, cudaStream_t);                                                        \
  template void upsample2d_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool,  \
                                       bool, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
