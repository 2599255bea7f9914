// conv_rung3_implicit_gemm.cu: rung 3 of conv2d's CUDA ladder. Over rung 2 it drops the column buffer: one
// kernel tiles each of the three matrix products in 64x64 blocks of 256 threads (4x4 outputs per thread,
// strided so a warp's stores coalesce); 16-deep K slices of both operands are gathered straight from the
// image / weights / gradient (the im2col index math done on the fly) into shared memory, the next slice
// prefetched into registers while the current one is multiplied. The weight gradient, whose K is the whole
// batch, splits K over extra blocks (split-K) into a workspace and sums the slices in a second, deterministic
// kernel. Index math in 32 bits: needs every tensor < 2^31 elements. Docs: docs/conv.md.
#include <algorithm>
#include <climits>
#include <cmath>

#include "conv_common.cuh"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda::conv_detail {
namespace {

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

}  // namespace

template <class T>
void conv2d_forward_rung3_implicit_gemm(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p,
                                        cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  ForwardProblem<T> prob;
  prob.q = geo32(p);
  prob.shape = {int(OCg), int(p.N * OHW), int(Kc), int(ceil_div(Kc, kBK) * kBK), int(p.groups), 1};
  prob.out = out, prob.inp = inp, prob.weight = weight, prob.bias = bias;
  launch_implicit_gemm<T>(prob, stream);
}

template <class T>
void conv2d_backward_input_rung3_implicit_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p,
                                               cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  BackwardInputProblem<T> prob;
  prob.q = geo32(p);
  const int64_t K = OCg * p.KH * p.KW;
  prob.shape = {int(Cg), int(p.N * p.H * p.W), int(K), int(ceil_div(K, kBK) * kBK), int(p.groups), 1};
  prob.dinp = dinp, prob.dout = dout, prob.weight = weight;
  launch_implicit_gemm<T>(prob, stream);
}

template <class T>
void conv2d_backward_weight_rung3_implicit_gemm(T* dweight, const T* dout, const T* inp, const Conv2dParams& p,
                                                cudaStream_t stream) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, Kc = Cg * p.KH * p.KW, OHW = p.OH * p.OW;
  const int64_t nweights = p.OC * Kc;
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

FASTANN_CUDA_CONV_INSTANTIATE_RUNG(rung3_implicit_gemm, float)
FASTANN_CUDA_CONV_INSTANTIATE_RUNG(rung3_implicit_gemm, double)

}  // namespace fastann::cuda::conv_detail
