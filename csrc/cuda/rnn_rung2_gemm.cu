// rnn_rung2_gemm.cu: rung 2 of the recurrent family's CUDA ladder (Appleyard, Kocisky & Blunsom 2016,
// "Optimizing performance of recurrent neural networks on GPUs"), on fastann's own CUDA GEMM (csrc/cuda/gemm.cu,
// auto rung; never cuBLAS).
//
// Forward: the input projection x W_ih^T + b_ih does not depend on the recurrence, so it is one GEMM over all
// N*T rows before the time loop. Each step then runs one GEMM h_prev W_hh^T + b_hh for all gates at once (the
// reset-before GRU a second, smaller one for its n gate on r*h_prev) and one fused element-wise kernel
// (rnn_cells.cuh), which also writes h into a contiguous (N,H) buffer: fastann's GEMM takes dense operands, and
// that buffer is the next step's. Backward: only d h_prev = dhp + dG W_hh is sequential (one GEMM per step, on a
// contiguous copy of the step's dG that the element-wise kernel writes); the pre-activation gradients of every
// step are kept, so d input = dG W_ih, dW_ih = dG^T X, dW_hh = dG^T H_prev are each one GEMM over all N*T rows
// after the loop and each bias gradient one column sum. Docs: docs/rnn.md.
#include <utility>

#include "fastann/cuda/gemm.hpp"
#include "fastann/cuda/workspace.hpp"
#include "rnn_cells.cuh"

namespace fastann::cuda {
namespace {

using rnn_detail::Rows;
using rnn_detail::offset_or_null;
using rnn_detail::rows;

// c (M,N) = op(a) op(b) (+ bias) (+ c when accumulate); dense row-major operands, fastann's auto GEMM rung.
template <class T>
void mm(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, bool ta, bool tb, cudaStream_t s,
        const T* bias = nullptr, bool accumulate = false) {
  gemm<T>(c, a, b, M, N, K, ta, tb, T(1), accumulate ? T(1) : T(0), 0, s, bias);
}

// hprev (N,T,H) by input time: row (n, t(s)) = output[n, s-1], or h0 (zeros when nullptr) for s = 0.
template <class T>
__global__ void gather_hprev_kernel(T* hprev, const T* output, const T* h0, int64_t N, int64_t T_, int64_t H,
                                    bool go_backwards) {
  for (int64_t idx = global_thread_index(); idx < N * T_ * H; idx += global_thread_stride()) {
    const int64_t j = idx % H, s = (idx / H) % T_, n = idx / (T_ * H);
    const int64_t t = go_backwards ? T_ - 1 - s : s;
    hprev[(n * T_ + t) * H + j] = s > 0 ? output[(n * T_ + s - 1) * H + j] : (h0 ? h0[n * H + j] : T(0));
  }
}

// rh (R,H) = r * h_prev for every row: the operand of gru_rb's n-gate recurrent product. saved (R, S*H).
template <class T>
__global__ void reset_times_h_kernel(T* rh, const T* saved, const T* hprev, int64_t R, int64_t H, int64_t SH) {
  for (int64_t idx = global_thread_index(); idx < R * H; idx += global_thread_stride()) {
    const int64_t r = idx / H, j = idx % H;
    rh[idx] = saved[r * SH + j] * hprev[idx];
  }
}

}  // namespace

// output (N,T,H), h_n (N,H), c_n (N,H) or nullptr, saved (N,T,S*H)
template <class T>
void rnn_rung2_gemm_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, cudaStream_t stream) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = cpu::rnn_gates(a.cell);
  const int64_t GH = G * H, SH = cpu::rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb;
  const int64_t GHr = rb ? 2 * H : GH;  // columns of the per-step recurrent GEMM
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // xg (N,T,GH): the input projection of every (n, t); hh (N,GHr); h_a, h_b (N,H) the step's h_prev and h;
  // gru_rb: rh, hn (N,H)
  Workspace<T> xg(N * T_ * GH, stream), hh(N * GHr, stream), h_a(N * H, stream), h_b(N * H, stream),
      rh(rb ? N * H : 0, stream), hn(rb ? N * H : 0, stream);
  mm<T>(xg.get(), a.input, a.weight_ih, N * T_, GH, F, false, true, stream, a.bias_ih);
  rnn_detail::copy_rows<T>(rows(h_a.get(), H), rows<const T>(a.h0, H), N, H, stream);
  T* h_prev = h_a.get();
  T* h_cur = h_b.get();
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = tx(s);
    mm<T>(hh.get(), h_prev, a.weight_hh, N, GHr, H, false, true, stream, a.bias_hh);
    rnn_detail::CellForward<T> c;
    c.cell = a.cell, c.n_rows = N, c.h = H;
    c.xg = rows<const T>(xg.get() + t * GH, T_ * GH), c.hh = rows<const T>(hh.get(), GHr);
    c.h_prev = rows<const T>(h_prev, H);
    if (a.cell == RnnCell::lstm)
      c.c_prev = s == 0 ? rows<const T>(a.c0, H) : rows<const T>(saved + tx(s - 1) * SH + 4 * H, T_ * SH);
    c.saved = rows(saved + t * SH, T_ * SH), c.out = rows(output + s * H, T_ * H), c.h_copy = rows(h_cur, H);
    c.rh = rows(rh.get(), H), c.hn = rows<const T>(hn.get(), H);
    rnn_detail::launch_cell_forward(c, 0, stream);
    if (rb) {
      mm<T>(hn.get(), rh.get(), a.weight_hh + 2 * H * H, N, H, H, false, true, stream,
            offset_or_null(a.bias_hh, 2 * H));
      rnn_detail::launch_cell_forward(c, 1, stream);
    }
    std::swap(h_prev, h_cur);
  }
  rnn_detail::final_states<T>(h_n, c_n, output, saved, a, stream);
}

template <class T>
void rnn_rung2_gemm_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                             const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                             const T* saved, const RnnArgs<T>& a, cudaStream_t stream) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = cpu::rnn_gates(a.cell);
  const int64_t GH = G * H, SH = cpu::rnn_saved(a.cell) * H, NT = N * T_;
  const bool rb = a.cell == RnnCell::gru_rb, lstm = a.cell == RnnCell::lstm, gru = a.cell == RnnCell::gru;
  const int64_t GHr = rb ? 2 * H : GH;  // gate rows of W_hh that multiply h_prev itself
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // dgx (N,T,GH) by input time; dgh the recurrent side's (gru only); hprev (N,T,H); per step: dstep (N,GHr),
  // dh_a, dh_b (N,H), dc (N,H) lstm, dn and drh (N,H) gru_rb
  Workspace<T> dgx(NT * GH, stream), dgh_buf(gru ? NT * GH : 0, stream), hprev(NT * H, stream),
      dstep(N * GHr, stream), dh_a(N * H, stream), dh_b(N * H, stream), dc(lstm ? N * H : 0, stream),
      dn(rb ? N * H : 0, stream), drh(rb ? N * H : 0, stream);
  T* dgh = gru ? dgh_buf.get() : dgx.get();
  gather_hprev_kernel<T><<<grid_for(NT * H), kBlock, 0, stream>>>(hprev.get(), output, a.h0, N, T_, H,
                                                                   a.go_backwards);
  FASTANN_CUDA_CHECK_LAUNCH("gather_hprev_kernel");
  rnn_detail::copy_rows<T>(rows(dh_a.get(), H), rows<const T>(grad_h_n, H), N, H, stream);
  if (lstm) rnn_detail::copy_rows<T>(rows(dc.get(), H), rows<const T>(grad_c_n, H), N, H, stream);
  T* dh_cur = dh_a.get();
  T* dh_next = dh_b.get();
  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = tx(s);
    rnn_detail::CellBackward<T> c;
    c.cell = a.cell, c.n_rows = N, c.h = H;
    c.saved = rows<const T>(saved + t * SH, T_ * SH), c.h_prev = rows<const T>(hprev.get() + t * H, T_ * H);
    if (lstm) c.c_prev = s == 0 ? rows<const T>(a.c0, H) : rows<const T>(saved + tx(s - 1) * SH + 4 * H, T_ * SH);
    c.grad_out = rows<const T>(offset_or_null(grad_output, s * H), T_ * H);
    c.dh = dh_cur, c.dc = dc.get(), c.dhp = dh_next;
    c.dgx = rows(dgx.get() + t * GH, T_ * GH);
    if (gru) c.dgh = rows(dgh + t * GH, T_ * GH);
    c.dstep = rows(dstep.get(), GHr);
    if (rb) c.dn = rows(dn.get(), H);
    rnn_detail::launch_cell_backward(c, 0, stream);
    if (rb) {  // drh = dn W_hn, then the r gate
      mm<T>(drh.get(), dn.get(), a.weight_hh + 2 * H * H, N, H, H, false, false, stream);
      c.drh = rows<const T>(drh.get(), H);
      rnn_detail::launch_cell_backward(c, 1, stream);
    }
    // d h_prev += dG W_hh: the one sequential GEMM of the backward
    mm<T>(dh_next, dstep.get(), a.weight_hh, N, H, GHr, false, false, stream, nullptr, /*accumulate=*/true);
    std::swap(dh_cur, dh_next);
  }
  FASTANN_CUDA_CHECK(cudaMemcpyAsync(dh0, dh_cur, sizeof(T) * N * H, cudaMemcpyDeviceToDevice, stream));
  if (dc0) FASTANN_CUDA_CHECK(cudaMemcpyAsync(dc0, dc.get(), sizeof(T) * N * H, cudaMemcpyDeviceToDevice, stream));
  // the input, weight and bias gradients over all N*T rows at once
  mm<T>(dinput, dgx.get(), a.weight_ih, NT, F, GH, false, false, stream);
  mm<T>(dweight_ih, dgx.get(), a.input, GH, F, NT, true, false, stream);
  mm<T>(dweight_hh, dgh, hprev.get(), GH, H, NT, true, false, stream);
  if (rb) {
    // the n rows of W_hh multiply r*h_prev: dW_hn = dn^T (r*h_prev). fastann's GEMM takes dense operands, so
    // the product is formed for all gate rows into scratch and its n rows copied over.
    Workspace<T> rh(NT * H, stream), tmp(GH * H, stream);
    reset_times_h_kernel<T><<<grid_for(NT * H), kBlock, 0, stream>>>(rh.get(), saved, hprev.get(), NT, H, SH);
    FASTANN_CUDA_CHECK_LAUNCH("reset_times_h_kernel");
    mm<T>(tmp.get(), dgx.get(), rh.get(), GH, H, NT, true, false, stream);
    FASTANN_CUDA_CHECK(cudaMemcpyAsync(dweight_hh + 2 * H * H, tmp.get() + 2 * H * H, sizeof(T) * H * H,
                                       cudaMemcpyDeviceToDevice, stream));
  }
  if (dbias_ih) rnn_detail::column_sums<T>(dbias_ih, dgx.get(), NT, GH, GH, false, stream);
  if (dbias_hh) rnn_detail::column_sums<T>(dbias_hh, dgh, NT, GH, GH, false, stream);
}

#define FASTANN_INSTANTIATE(T)                                                                                  \
  template void rnn_rung2_gemm_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&, cudaStream_t);                     \
  template void rnn_rung2_gemm_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, \
                                           const T*, const RnnArgs<T>&, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
