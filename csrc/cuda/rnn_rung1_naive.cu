// rnn_rung1_naive.cu: rung 1 of the recurrent family's CUDA ladder, the textbook loop on the GPU. Per step, one
// thread per (batch row, gate row) forms the input term x_t . W_ih[row] + b_ih and the recurrent term
// h_prev . W_hh[row] + b_hh as plain dot products read from global memory, then the cell's element-wise kernel
// (rnn_cells.cuh) applies the activations. The backward walks the steps in reverse: the element-wise
// derivatives, then one thread per output element for d h_prev = dhp + dG W_hh and d x_t = dG W_ih (dot
// products over the gate rows), and the weight gradients accumulated per step as outer products (one thread
// per weight, a sum over the batch). No reuse of anything through shared memory or registers: every weight is
// reread per batch row and step. Docs: docs/rnn.md.
#include <utility>

#include "fastann/cuda/workspace.hpp"
#include "rnn_cells.cuh"

namespace fastann::cuda {
namespace {

using rnn_detail::Rows;
using rnn_detail::offset_or_null;
using rnn_detail::rows;

// out(n, r) = x(n) . w[r] + b[r] for r < R, n < N; x rows of length K (x.p == nullptr: the product is 0),
// w (R,K) row-major, b (R,) or nullptr. out row n at out.row(n).
template <class T>
__global__ void dot_rows_kernel(Rows<T> out, Rows<const T> x, const T* w, const T* b, int64_t N, int64_t R,
                                int64_t K) {
  for (int64_t idx = global_thread_index(); idx < N * R; idx += global_thread_stride()) {
    const int64_t n = idx / R, r = idx % R;
    T acc = b ? b[r] : T(0);
    if (x.p) {
      const T* xr = x.row(n);
      const T* wr = w + r * K;
      for (int64_t k = 0; k < K; ++k) acc += xr[k] * wr[k];
    }
    out.row(n)[r] = acc;
  }
}

// out(n, k) = add(n, k) + sum_{r < R} g(n, r) w[r, k]: a row vector times a (R,K) matrix, per batch row.
// add.p == nullptr adds nothing.
template <class T>
__global__ void vec_mat_kernel(Rows<T> out, Rows<const T> add, Rows<const T> g, const T* w, int64_t N, int64_t R,
                               int64_t K) {
  for (int64_t idx = global_thread_index(); idx < N * K; idx += global_thread_stride()) {
    const int64_t n = idx / K, k = idx % K;
    T acc = add.p ? add.row(n)[k] : T(0);
    const T* gr = g.row(n);
    for (int64_t r = 0; r < R; ++r) acc += gr[r] * w[r * K + k];
    out.row(n)[k] = acc;
  }
}

// dw[r, k] += sum_n g(n, r) x(n, k) for r < R, k < K (x.p == nullptr: nothing to add); with db, the thread of
// k == 0 also adds sum_n g(n, r) to db[r].
template <class T>
__global__ void outer_accumulate_kernel(T* dw, T* db, Rows<const T> g, Rows<const T> x, int64_t N, int64_t R,
                                        int64_t K) {
  for (int64_t idx = global_thread_index(); idx < R * K; idx += global_thread_stride()) {
    const int64_t r = idx / K, k = idx % K;
    if (x.p) {
      T acc = 0;
      for (int64_t n = 0; n < N; ++n) acc += g.row(n)[r] * x.row(n)[k];
      dw[idx] += acc;
    }
    if (db && k == 0) {
      T acc = 0;
      for (int64_t n = 0; n < N; ++n) acc += g.row(n)[r];
      db[r] += acc;
    }
  }
}

template <class T>
void dot_rows(Rows<T> out, Rows<const T> x, const T* w, const T* b, int64_t N, int64_t R, int64_t K, cudaStream_t s) {
  dot_rows_kernel<T><<<grid_for(N * R), kBlock, 0, s>>>(out, x, w, b, N, R, K);
  FASTANN_CUDA_CHECK_LAUNCH("dot_rows_kernel");
}

template <class T>
void vec_mat(Rows<T> out, Rows<const T> add, Rows<const T> g, const T* w, int64_t N, int64_t R, int64_t K,
             cudaStream_t s) {
  vec_mat_kernel<T><<<grid_for(N * K), kBlock, 0, s>>>(out, add, g, w, N, R, K);
  FASTANN_CUDA_CHECK_LAUNCH("vec_mat_kernel");
}

template <class T>
void outer_accumulate(T* dw, T* db, Rows<const T> g, Rows<const T> x, int64_t N, int64_t R, int64_t K,
                      cudaStream_t s) {
  outer_accumulate_kernel<T><<<grid_for(R * K), kBlock, 0, s>>>(dw, db, g, x, N, R, K);
  FASTANN_CUDA_CHECK_LAUNCH("outer_accumulate_kernel");
}

}  // namespace

// output (N,T,H), h_n (N,H), c_n (N,H) or nullptr, saved (N,T,S*H)
template <class T>
void rnn_rung1_naive_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, cudaStream_t stream) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = cpu::rnn_gates(a.cell);
  const int64_t GH = G * H, SH = cpu::rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb;
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // per step: xg, hh (N,GH), and for gru_rb rh, hn (N,H)
  Workspace<T> xg(N * GH, stream), hh(N * GH, stream), rh(rb ? N * H : 0, stream), hn(rb ? N * H : 0, stream);
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = tx(s);
    const Rows<const T> hp = s == 0 ? rows<const T>(a.h0, H) : rows<const T>(output + (s - 1) * H, T_ * H);
    dot_rows<T>(rows(xg.get(), GH), rows<const T>(a.input + t * F, T_ * F), a.weight_ih, a.bias_ih, N, GH, F, stream);
    dot_rows<T>(rows(hh.get(), GH), hp, a.weight_hh, a.bias_hh, N, rb ? 2 * H : GH, H, stream);
    rnn_detail::CellForward<T> c;
    c.cell = a.cell, c.n_rows = N, c.h = H;
    c.xg = rows<const T>(xg.get(), GH), c.hh = rows<const T>(hh.get(), GH), c.h_prev = hp;
    if (a.cell == RnnCell::lstm)
      c.c_prev = s == 0 ? rows<const T>(a.c0, H) : rows<const T>(saved + tx(s - 1) * SH + 4 * H, T_ * SH);
    c.saved = rows(saved + t * SH, T_ * SH), c.out = rows(output + s * H, T_ * H);
    c.rh = rows(rh.get(), H), c.hn = rows<const T>(hn.get(), H);
    rnn_detail::launch_cell_forward(c, 0, stream);
    if (rb) {
      dot_rows<T>(rows(hn.get(), H), rows<const T>(rh.get(), H), a.weight_hh + 2 * H * H,
                  offset_or_null(a.bias_hh, 2 * H), N, H, H, stream);
      rnn_detail::launch_cell_forward(c, 1, stream);
    }
  }
  rnn_detail::final_states<T>(h_n, c_n, output, saved, a, stream);
}

template <class T>
void rnn_rung1_naive_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                              const T* saved, const RnnArgs<T>& a, cudaStream_t stream) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = cpu::rnn_gates(a.cell);
  const int64_t GH = G * H, SH = cpu::rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb, lstm = a.cell == RnnCell::lstm, gru = a.cell == RnnCell::gru;
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  FASTANN_CUDA_CHECK(cudaMemsetAsync(dweight_ih, 0, sizeof(T) * GH * F, stream));
  FASTANN_CUDA_CHECK(cudaMemsetAsync(dweight_hh, 0, sizeof(T) * GH * H, stream));
  if (dbias_ih) FASTANN_CUDA_CHECK(cudaMemsetAsync(dbias_ih, 0, sizeof(T) * GH, stream));
  if (dbias_hh) FASTANN_CUDA_CHECK(cudaMemsetAsync(dbias_hh, 0, sizeof(T) * GH, stream));
  // dh_cur, dh_next (N,H): d loss / d h of this step and of the previous one; dc (N,H) lstm; per step dgx, dgh
  // (N,GH), and for gru_rb drh, rh (N,H)
  Workspace<T> dh_a(N * H, stream), dh_b(N * H, stream), dc(lstm ? N * H : 0, stream), dgx(N * GH, stream),
      dgh(gru ? N * GH : 0, stream), drh(rb ? N * H : 0, stream), rh(rb ? N * H : 0, stream);
  rnn_detail::copy_rows<T>(rows(dh_a.get(), H), rows<const T>(grad_h_n, H), N, H, stream);
  if (lstm) rnn_detail::copy_rows<T>(rows(dc.get(), H), rows<const T>(grad_c_n, H), N, H, stream);
  T* dh_cur = dh_a.get();
  T* dh_next = dh_b.get();
  const T* dg_rec = gru ? dgh.get() : dgx.get();  // the gradients that multiply W_hh
  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = tx(s);
    const Rows<const T> hp = s == 0 ? rows<const T>(a.h0, H) : rows<const T>(output + (s - 1) * H, T_ * H);
    rnn_detail::CellBackward<T> c;
    c.cell = a.cell, c.n_rows = N, c.h = H;
    c.saved = rows<const T>(saved + t * SH, T_ * SH), c.h_prev = hp;
    if (lstm) c.c_prev = s == 0 ? rows<const T>(a.c0, H) : rows<const T>(saved + tx(s - 1) * SH + 4 * H, T_ * SH);
    c.grad_out = rows<const T>(offset_or_null(grad_output, s * H), T_ * H);
    c.dh = dh_cur, c.dc = dc.get(), c.dhp = dh_next;
    c.dgx = rows(dgx.get(), GH);
    if (gru) c.dgh = rows(dgh.get(), GH);
    rnn_detail::launch_cell_backward(c, 0, stream);
    if (rb) {  // drh = dn W_hn, then the r gate
      vec_mat<T>(rows(drh.get(), H), rows<const T>(nullptr, 0), rows<const T>(dgx.get() + 2 * H, GH),
                 a.weight_hh + 2 * H * H, N, H, H, stream);
      c.drh = rows<const T>(drh.get(), H), c.rh = rows(rh.get(), H);
      rnn_detail::launch_cell_backward(c, 1, stream);
    }
    // weight and bias gradients: this step's outer products
    const Rows<const T> x = rows<const T>(a.input + t * F, T_ * F);
    outer_accumulate<T>(dweight_ih, dbias_ih, rows<const T>(dgx.get(), GH), x, N, GH, F, stream);
    outer_accumulate<T>(dweight_hh, dbias_hh, rows<const T>(dg_rec, GH), hp, N, rb ? 2 * H : GH, H, stream);
    if (rb)
      outer_accumulate<T>(dweight_hh + 2 * H * H, dbias_hh ? dbias_hh + 2 * H : nullptr,
                          rows<const T>(dgx.get() + 2 * H, GH), rows<const T>(rh.get(), H), N, H, H, stream);
    // d x_t = dG W_ih;  d h_prev = dhp + dG W_hh (the n rows of gru_rb are in dhp through drh already)
    vec_mat<T>(rows(dinput + t * F, T_ * F), rows<const T>(nullptr, 0), rows<const T>(dgx.get(), GH), a.weight_ih,
               N, GH, F, stream);
    vec_mat<T>(rows(dh_next, H), rows<const T>(dh_next, H), rows<const T>(dg_rec, GH), a.weight_hh, N,
               rb ? 2 * H : GH, H, stream);
    std::swap(dh_cur, dh_next);
  }
  FASTANN_CUDA_CHECK(cudaMemcpyAsync(dh0, dh_cur, sizeof(T) * N * H, cudaMemcpyDeviceToDevice, stream));
  if (dc0) FASTANN_CUDA_CHECK(cudaMemcpyAsync(dc0, dc.get(), sizeof(T) * N * H, cudaMemcpyDeviceToDevice, stream));
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void rnn_rung1_naive_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&, cudaStream_t);                     \
  template void rnn_rung1_naive_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, \
                                            const T*, const RnnArgs<T>&, cudaStream_t);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cuda
