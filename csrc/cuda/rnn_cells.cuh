// rnn_cells.cuh: what the CUDA rungs of the recurrent family share (internal to csrc/cuda; the launchers are
// declared in fastann/cuda/rnn.hpp): the element-wise part of each cell, forward and backward, as one kernel
// per step with one thread per (batch row, unit), and small helper kernels (strided row copies, column sums).
// Both rungs call these, so they differ only in how the products are formed (rung 1 dot-product kernels,
// rung 2 fastann's CUDA GEMM). The math is that of csrc/cpu/internal/rnn_cells.hpp (Elman 1990; Hochreiter &
// Schmidhuber 1997 / Gers et al. 2000 in torch.nn.LSTM's form; Cho et al. 2014, reset after the product as
// cuDNN and torch.nn.GRU, or before it as Cho et al.). Docs: docs/rnn.md.
//
// Conventions (the cells and the `saved` layout are those of fastann/cpu/rnn.hpp):
//   xg   the input projection x W_ih^T + b_ih of every gate (G*H per row), before the activations
//   hh   the recurrent products h_prev W_hh^T + b_hh (G*H per row; only the r and z blocks for gru_rb)
//   hn   gru_rb: W_hn (r*h_prev) + b_hn (H per row)
//   dgx  d loss / d the gates' pre-activations as the input projection sees them (G*H per row)
//   dgh  the same as the recurrent products see them: differs from dgx only in the GRU's n gate (dn*r)
// Every operand is a Rows view (pointer, row stride), so a kernel reads row (n, t) of a (N,T,.) array or a
// contiguous (N,.) buffer alike; a null pointer reads as zeros (a missing h0 or c0).
#pragma once

#include <cmath>
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/rnn.hpp"

namespace fastann::cuda::rnn_detail {

// Row n of a batch: p + n * ld.
template <class P>
struct Rows {
  P* p = nullptr;
  int64_t ld = 0;
  __host__ __device__ P* row(int64_t n) const { return p + n * ld; }
};
template <class P>
inline Rows<P> rows(P* p, int64_t ld) {
  Rows<P> r;
  r.p = p, r.ld = ld;
  return r;
}

__device__ __forceinline__ float dev_exp(float x) { return expf(x); }
__device__ __forceinline__ double dev_exp(double x) { return exp(x); }
__device__ __forceinline__ float dev_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double dev_tanh(double x) { return tanh(x); }
template <class T>
__device__ __forceinline__ T sigmoid(T x) { return T(1) / (T(1) + dev_exp(-x)); }
// relu that keeps NaN
template <class T>
__device__ __forceinline__ T relu_nan(T x) { return (x > T(0) || x != x) ? x : T(0); }
template <class T>
__device__ __forceinline__ T at_or_zero(const Rows<const T>& r, int64_t n, int64_t j) {
  return r.p ? r.p[n * r.ld + j] : T(0);
}

// ---- forward --------------------------------------------------------------------------------------
template <class T>
struct CellForward {
  RnnCell cell;
  int64_t n_rows, h;
  Rows<const T> xg, hh, hn, h_prev, c_prev;  // h_prev, c_prev: p == nullptr reads zeros
  Rows<T> saved, out;
  Rows<T> h_copy;  // a second copy of h (the next step's GEMM operand, contiguous), or p == nullptr
  Rows<T> rh;      // gru_rb phase 0: r * h_prev (N,H), the operand of the n gate's recurrent product
};

// One step of the cell for every (n, j). gru_rb runs in two phases (its n gate needs W_hn (r*h_prev) first):
// phase 0 the r and z gates and rh, phase 1 the n gate and h. The other cells run phase 0 only.
template <class T>
__global__ void cell_forward_kernel(CellForward<T> a, int phase) {
  const int64_t H = a.h, total = a.n_rows * H;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t n = idx / H, j = idx % H;
    const T* xg = a.xg.row(n);
    const T* hh = a.hh.row(n);
    T* sv = a.saved.row(n);
    const T hp = at_or_zero(a.h_prev, n, j);
    T h = T(0);
    switch (a.cell) {
      case RnnCell::rnn_tanh:
      case RnnCell::rnn_relu: {
        const T v = xg[j] + hh[j];
        h = a.cell == RnnCell::rnn_relu ? relu_nan(v) : dev_tanh(v);
        sv[j] = h;
        break;
      }
      case RnnCell::lstm: {
        const T i = sigmoid(xg[j] + hh[j]);
        const T f = sigmoid(xg[H + j] + hh[H + j]);
        const T g = dev_tanh(xg[2 * H + j] + hh[2 * H + j]);
        const T o = sigmoid(xg[3 * H + j] + hh[3 * H + j]);
        const T c = f * at_or_zero(a.c_prev, n, j) + i * g;
        sv[j] = i, sv[H + j] = f, sv[2 * H + j] = g, sv[3 * H + j] = o, sv[4 * H + j] = c;
        h = o * dev_tanh(c);
        break;
      }
      case RnnCell::gru: {
        const T r = sigmoid(xg[j] + hh[j]);
        const T z = sigmoid(xg[H + j] + hh[H + j]);
        const T hnj = hh[2 * H + j];
        const T nn = dev_tanh(xg[2 * H + j] + r * hnj);
        sv[j] = r, sv[H + j] = z, sv[2 * H + j] = nn, sv[3 * H + j] = hnj;
        h = (T(1) - z) * nn + z * hp;
        break;
      }
      case RnnCell::gru_rb: {
        if (phase == 0) {
          const T r = sigmoid(xg[j] + hh[j]);
          sv[j] = r;
          sv[H + j] = sigmoid(xg[H + j] + hh[H + j]);
          a.rh.row(n)[j] = r * hp;
          continue;
        }
        const T z = sv[H + j];
        const T hnj = a.hn.row(n)[j];
        const T nn = dev_tanh(xg[2 * H + j] + hnj);
        sv[2 * H + j] = nn, sv[3 * H + j] = hnj;
        h = (T(1) - z) * nn + z * hp;
        break;
      }
    }
    a.out.row(n)[j] = h;
    if (a.h_copy.p) a.h_copy.row(n)[j] = h;
  }
}

// ---- backward -------------------------------------------------------------------------------------
template <class T>
struct CellBackward {
  RnnCell cell;
  int64_t n_rows, h;
  Rows<const T> saved, h_prev, c_prev;  // h_prev, c_prev: p == nullptr reads zeros
  Rows<const T> grad_out;               // this step's grad_output rows, or p == nullptr
  const T* dh = nullptr;  // (N,H) d loss / d h of this step through later steps (grad_h_n at the last)
  T* dc = nullptr;        // lstm (N,H): on entry d loss / d c of this step, on exit d loss / d c_prev
  Rows<T> dgx, dgh;       // dgh.p == nullptr: not written (it equals dgx)
  Rows<T> dstep;          // or p == nullptr: a contiguous copy of the gradients that multiply W_hh (dgh; gru_rb:
                          // the r and z blocks only, ld 2H)
  Rows<T> dn;             // gru_rb: a contiguous copy of the n gate's gradient (N,H), or p == nullptr
  Rows<const T> drh;      // gru_rb phase 1: d loss / d (r*h_prev) = dn W_hn (N,H)
  Rows<T> rh;             // gru_rb phase 1: r*h_prev (N,H) for dW_hn, or p == nullptr
  T* dhp = nullptr;       // (N,H) out: the element-wise part of d loss / d h_prev
};

// The element-wise derivatives of one step for every (n, j); the W_hh products are added by the caller.
// gru_rb runs in two phases: phase 0 dz, dn and dhp = dh*z; phase 1 (given drh) dr and dhp += drh*r.
template <class T>
__global__ void cell_backward_kernel(CellBackward<T> a, int phase) {
  const int64_t H = a.h, total = a.n_rows * H;
  for (int64_t idx = global_thread_index(); idx < total; idx += global_thread_stride()) {
    const int64_t n = idx / H, j = idx % H;
    const T* sv = a.saved.row(n);
    T* dgx = a.dgx.row(n);
    T* dst = a.dstep.p ? a.dstep.row(n) : nullptr;
    const T hp = at_or_zero(a.h_prev, n, j);
    const T dh = a.dh[n * H + j] + at_or_zero(a.grad_out, n, j);
    T* dhp = a.dhp + n * H + j;
    switch (a.cell) {
      case RnnCell::rnn_tanh:
      case RnnCell::rnn_relu: {
        const T h = sv[j];
        const T d = a.cell == RnnCell::rnn_relu ? (h > T(0) ? dh : T(0)) : dh * (T(1) - h * h);
        dgx[j] = d;
        if (dst) dst[j] = d;
        *dhp = T(0);
        break;
      }
      case RnnCell::lstm: {
        const T i = sv[j], f = sv[H + j], g = sv[2 * H + j], o = sv[3 * H + j], c = sv[4 * H + j];
        const T tc = dev_tanh(c);
        const T dct = a.dc[n * H + j] + dh * o * (T(1) - tc * tc);
        const T d[4] = {dct * g * i * (T(1) - i), dct * at_or_zero(a.c_prev, n, j) * f * (T(1) - f),
                        dct * i * (T(1) - g * g), dh * tc * o * (T(1) - o)};
        for (int k = 0; k < 4; ++k) {
          dgx[k * H + j] = d[k];
          if (dst) dst[k * H + j] = d[k];
        }
        a.dc[n * H + j] = dct * f;
        *dhp = T(0);
        break;
      }
      case RnnCell::gru: {
        const T r = sv[j], z = sv[H + j], nn = sv[2 * H + j], hnj = sv[3 * H + j];
        const T dnn = dh * (T(1) - z) * (T(1) - nn * nn);
        const T dr = dnn * hnj * r * (T(1) - r);
        const T dz = dh * (hp - nn) * z * (T(1) - z);
        T* dgh = a.dgh.row(n);
        dgx[j] = dgh[j] = dr;
        dgx[H + j] = dgh[H + j] = dz;
        dgx[2 * H + j] = dnn;
        dgh[2 * H + j] = dnn * r;
        if (dst) dst[j] = dr, dst[H + j] = dz, dst[2 * H + j] = dnn * r;
        *dhp = dh * z;
        break;
      }
      case RnnCell::gru_rb: {
        const T r = sv[j], z = sv[H + j];
        if (phase == 0) {
          const T nn = sv[2 * H + j];
          const T dz = dh * (hp - nn) * z * (T(1) - z);
          const T dnn = dh * (T(1) - z) * (T(1) - nn * nn);
          dgx[H + j] = dz;
          dgx[2 * H + j] = dnn;
          if (dst) dst[H + j] = dz;
          if (a.dn.p) a.dn.row(n)[j] = dnn;
          *dhp = dh * z;
        } else {
          const T drh = a.drh.row(n)[j];
          const T dr = drh * hp * r * (T(1) - r);
          dgx[j] = dr;
          if (dst) dst[j] = dr;
          if (a.rh.p) a.rh.row(n)[j] = r * hp;
          *dhp += drh * r;
        }
        break;
      }
    }
  }
}

// ---- helpers --------------------------------------------------------------------------------------
// dst row n, columns [0, w) = src's (zeros where src.p == nullptr).
template <class T>
__global__ void copy_rows_kernel(Rows<T> dst, Rows<const T> src, int64_t n_rows, int64_t w) {
  for (int64_t idx = global_thread_index(); idx < n_rows * w; idx += global_thread_stride()) {
    const int64_t n = idx / w, j = idx % w;
    dst.row(n)[j] = at_or_zero(src, n, j);
  }
}

template <class T>
inline void copy_rows(Rows<T> dst, Rows<const T> src, int64_t n_rows, int64_t w, cudaStream_t stream) {
  copy_rows_kernel<T><<<grid_for(n_rows * w), kBlock, 0, stream>>>(dst, src, n_rows, w);
  FASTANN_CUDA_CHECK_LAUNCH("copy_rows_kernel");
}

// Column sums out[c] = sum_r g[r, c] of a (R, C) matrix: block (32 columns, 8 row slices) summed in a fixed
// order, so the result is deterministic. With `accumulate`, out[c] += the sum.
template <class T>
__global__ void column_sum_kernel(T* out, const T* g, int64_t n_rows, int64_t cols, int64_t ld, bool accumulate) {
  __shared__ T part[8][33];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  T s = 0;
  if (col < cols)
    for (int64_t r = threadIdx.y; r < n_rows; r += 8) s += g[r * ld + col];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    T total = 0;
    for (int y = 0; y < 8; ++y) total += part[y][threadIdx.x];
    out[col] = accumulate ? out[col] + total : total;
  }
}

template <class T>
inline void column_sums(T* out, const T* g, int64_t n_rows, int64_t cols, int64_t ld, bool accumulate,
                        cudaStream_t stream) {
  column_sum_kernel<T><<<static_cast<unsigned>(ceil_div(cols, 32)), dim3(32, 8), 0, stream>>>(out, g, n_rows, cols,
                                                                                              ld, accumulate);
  FASTANN_CUDA_CHECK_LAUNCH("column_sum_kernel");
}

template <class T>
inline void launch_cell_forward(const CellForward<T>& c, int phase, cudaStream_t stream) {
  cell_forward_kernel<T><<<grid_for(c.n_rows * c.h), kBlock, 0, stream>>>(c, phase);
  FASTANN_CUDA_CHECK_LAUNCH("cell_forward_kernel");
}

template <class T>
inline void launch_cell_backward(const CellBackward<T>& c, int phase, cudaStream_t stream) {
  cell_backward_kernel<T><<<grid_for(c.n_rows * c.h), kBlock, 0, stream>>>(c, phase);
  FASTANN_CUDA_CHECK_LAUNCH("cell_backward_kernel");
}

// h_n = output[:, T-1]; c_n = the c saved by the last step (input time t_last).
template <class T>
inline void final_states(T* h_n, T* c_n, const T* output, const T* saved, const RnnArgs<T>& a,
                         cudaStream_t stream) {
  const int64_t T_ = a.t, H = a.h, SH = cpu::rnn_saved(a.cell) * H;
  copy_rows<T>(rows(h_n, H), rows(output + (T_ - 1) * H, T_ * H), a.n, H, stream);
  if (c_n) {
    const int64_t t_last = a.go_backwards ? 0 : T_ - 1;
    copy_rows<T>(rows(c_n, H), rows(saved + t_last * SH + 4 * H, T_ * SH), a.n, H, stream);
  }
}

// p + off, or nullptr for an absent (optional) array.
template <class T>
inline const T* offset_or_null(const T* p, int64_t off) {
  return p ? p + off : nullptr;
}

}  // namespace fastann::cuda::rnn_detail
