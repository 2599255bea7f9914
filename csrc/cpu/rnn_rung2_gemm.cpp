// rnn_rung2_gemm.cpp: rung 2 of the RNN ladder (Appleyard, Kocisky & Blunsom 2016, "Optimizing performance of
// recurrent neural networks on GPUs"), on fastann's own GEMM (csrc/cpu/gemm.cpp).
//
// Forward: the input projection x W_ih^T + b_ih does not depend on the recurrence, so it is one GEMM over all
// N*T rows, written straight into the gate columns of `saved` (its row stride is S*H). Each step then runs one
// GEMM h_prev W_hh^T + b_hh for all gates at once (the reset-before GRU needs a second, smaller one for its n
// gate) and one fused element-wise pass over the batch. Row strides let the GEMMs read h_prev straight out of
// `output` and write gates for input time t without copying the sequence (go_backwards only changes t).
// Backward: only d h_prev = dG W_hh is sequential; the step's pre-activation gradients dG are kept for all
// steps, so d input = dG W_ih, dW_ih = dG^T X, dW_hh = dG^T H_prev and the bias sums are each one pass over
// all N*T rows after the loop.
#include <algorithm>
#include <utility>
#include <vector>

#include "fastann/common.hpp"
#include "fastann/cpu/gemm.hpp"
#include "fastann/cpu/rnn.hpp"
#include "internal/aligned_scratch.hpp"
#include "internal/rnn_cells.hpp"

namespace fastann::cpu {

namespace {

// C (M,N) [+]= op(A) op(B) [+ bias], row strides as stored.
template <class T>
void mm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, bool ta, const T* b, int64_t ldb, bool tb, T* c,
        int64_t ldc, T beta, const T* bias = nullptr) {
  GemmArgs<T> g;
  g.m = m, g.n = n, g.k = k;
  g.a = a, g.lda = lda, g.trans_a = ta;
  g.b = b, g.ldb = ldb, g.trans_b = tb;
  g.c = c, g.ldc = ldc, g.beta = beta, g.bias = bias;
  gemm(g, 0);
}

// Column sums of the (rows, cols) block with row stride ld (a bias gradient).
template <class T>
void column_sums(T* out, const T* m, int64_t rows, int64_t cols, int64_t ld) {
  std::fill_n(out, cols, T(0));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c] += m[r * ld + c];
}

// Batch rows per thread below which an element-wise pass stays on one thread.
int64_t row_grain(int64_t H, int G) { return std::max<int64_t>(1, 8192 / (H * G)); }

}  // namespace

// output (N,T,H), h_n (N,H), c_n (N,H) or nullptr, saved (N,T,S*H)
template <class T>
void rnn_rung2_gemm_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = rnn_gates(a.cell);
  const int64_t GH = G * H, SH = rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb;
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // 1. input projection of every (n, t) row into saved's gate columns
  mm<T>(N * T_, GH, F, a.input, F, false, a.weight_ih, F, true, saved, SH, T(0), a.bias_ih);
  AlignedScratch<T> hh(N * GH), zeros(N * H), rh(rb ? N * H : 0);
  std::fill_n(zeros.data(), N * H, T(0));
  const T* h0 = a.h0 ? a.h0 : zeros.data();
  const int64_t grain = row_grain(H, G);
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = tx(s);
    // h_prev of row n at hp + n * ldh
    const T* hp = s == 0 ? h0 : output + (s - 1) * H;
    const int64_t ldh = s == 0 ? H : T_ * H;
    // 2. all gates' recurrent products in one GEMM (the r and z gates only for gru_rb)
    mm<T>(N, rb ? 2 * H : GH, H, hp, ldh, false, a.weight_hh, H, true, hh.data(), GH, T(0), a.bias_hh);
    // 3. one fused element-wise pass
    auto row_sv = [&](int64_t n) { return saved + (n * T_ + t) * SH; };
    auto row_out = [&](int64_t n) { return output + (n * T_ + s) * H; };
    switch (a.cell) {
      case RnnCell::rnn_tanh:
      case RnnCell::rnn_relu:
        parallel_for(N, grain, [&](int64_t b, int64_t e) {
          for (int64_t n = b; n < e; ++n)
            rnn_detail::elman_forward(row_sv(n), hh.data() + n * GH, row_out(n), H, a.cell == RnnCell::rnn_relu);
        });
        break;
      case RnnCell::lstm:
        parallel_for(N, grain, [&](int64_t b, int64_t e) {
          for (int64_t n = b; n < e; ++n) {
            const T* cp = s == 0 ? (a.c0 ? a.c0 + n * H : nullptr) : saved + (n * T_ + tx(s - 1)) * SH + 4 * H;
            rnn_detail::lstm_forward_row(row_sv(n), hh.data() + n * GH, cp, row_out(n), H);
          }
        });
        break;
      case RnnCell::gru:
        parallel_for(N, grain, [&](int64_t b, int64_t e) {
          for (int64_t n = b; n < e; ++n) {
            rnn_detail::gru_forward_rz(row_sv(n), hh.data() + n * GH, H);
            rnn_detail::gru_forward_n(row_sv(n), hh.data() + n * GH + 2 * H, hp + n * ldh, row_out(n), H, true);
          }
        });
        break;
      case RnnCell::gru_rb:
        parallel_for(N, grain, [&](int64_t b, int64_t e) {
          for (int64_t n = b; n < e; ++n) {
            T* sv = row_sv(n);
            rnn_detail::gru_forward_rz(sv, hh.data() + n * GH, H);
            for (int64_t j = 0; j < H; ++j) rh.data()[n * H + j] = sv[j] * hp[n * ldh + j];
          }
        });
        mm<T>(N, H, H, rh.data(), H, false, a.weight_hh + 2 * H * H, H, true, hh.data() + 2 * H, GH, T(0),
              a.bias_hh ? a.bias_hh + 2 * H : nullptr);
        parallel_for(N, grain, [&](int64_t b, int64_t e) {
          for (int64_t n = b; n < e; ++n)
            rnn_detail::gru_forward_n(row_sv(n), hh.data() + n * GH + 2 * H, hp + n * ldh, row_out(n), H, false);
        });
        break;
    }
  }
  const int64_t t_last = tx(T_ - 1);
  for (int64_t n = 0; n < N; ++n) {
    std::copy_n(output + (n * T_ + T_ - 1) * H, H, h_n + n * H);
    if (c_n) std::copy_n(saved + (n * T_ + t_last) * SH + 4 * H, H, c_n + n * H);
  }
}

template <class T>
void rnn_rung2_gemm_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                             const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                             const T* saved, const RnnArgs<T>& a) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = rnn_gates(a.cell);
  const int64_t GH = G * H, SH = rnn_saved(a.cell) * H, NT = N * T_;
  const bool rb = a.cell == RnnCell::gru_rb, lstm = a.cell == RnnCell::lstm, gru = a.cell == RnnCell::gru;
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // dgx (N,T,GH): pre-activation gradients of every step, by input time; dgh the recurrent side's (gru only)
  AlignedScratch<T> dgx(NT * GH), dgh_buf(gru ? NT * GH : 0), hprev(NT * H), rh(rb ? NT * H : 0);
  T* dgh = gru ? dgh_buf.data() : dgx.data();
  // hprev (N,T,H): the h_prev of the step that read input time t (zeros for a missing h0)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < T_; ++s) {
      T* dst = hprev.data() + (n * T_ + tx(s)) * H;
      if (s > 0) std::copy_n(output + (n * T_ + s - 1) * H, H, dst);
      else if (a.h0) std::copy_n(a.h0 + n * H, H, dst);
      else std::fill_n(dst, H, T(0));
    }
  AlignedScratch<T> dh(N * H), dhp(N * H), dc(lstm ? N * H : 0), drh(rb ? N * H : 0);
  for (int64_t i = 0; i < N * H; ++i) dh.data()[i] = grad_h_n ? grad_h_n[i] : T(0);
  for (int64_t i = 0; i < (lstm ? N * H : 0); ++i) dc.data()[i] = grad_c_n ? grad_c_n[i] : T(0);
  T* dh_cur = dh.data();
  T* dh_next = dhp.data();
  const int64_t grain = row_grain(H, G);
  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = tx(s);
    auto rows = [&](int64_t n, const T*& sv, const T*& hp, T*& dg, T*& dgr, T*& dhn, T*& dhpn) {
      sv = saved + (n * T_ + t) * SH;
      hp = hprev.data() + (n * T_ + t) * H;
      dg = dgx.data() + (n * T_ + t) * GH;
      dgr = dgh + (n * T_ + t) * GH;
      dhn = dh_cur + n * H;
      dhpn = dh_next + n * H;
      if (grad_output)
        for (int64_t j = 0; j < H; ++j) dhn[j] += grad_output[(n * T_ + s) * H + j];
    };
    parallel_for(N, grain, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        const T *sv, *hp;
        T *dg, *dgr, *dhn, *dhpn;
        rows(n, sv, hp, dg, dgr, dhn, dhpn);
        switch (a.cell) {
          case RnnCell::rnn_tanh:
          case RnnCell::rnn_relu:
            rnn_detail::elman_backward(dg, dhpn, sv, dhn, H, a.cell == RnnCell::rnn_relu);
            break;
          case RnnCell::lstm: {
            const T* cp = s == 0 ? (a.c0 ? a.c0 + n * H : nullptr) : saved + (n * T_ + tx(s - 1)) * SH + 4 * H;
            rnn_detail::lstm_backward_row(dg, dhpn, dc.data() + n * H, sv, cp, dhn, H);
            break;
          }
          case RnnCell::gru: rnn_detail::gru_backward_row(dg, dgr, dhpn, sv, hp, dhn, H); break;
          case RnnCell::gru_rb: rnn_detail::gru_rb_backward_zn(dg, dhpn, sv, hp, dhn, H); break;
        }
      }
    });
    const T* dg_t = dgh + t * GH;  // row n at dg_t + n * T * GH
    if (rb) {
      // drh = dn_pre W_hn, then the r gate and its share of d h_prev
      mm<T>(N, H, H, dgx.data() + t * GH + 2 * H, T_ * GH, false, a.weight_hh + 2 * H * H, H, false, drh.data(), H,
            T(0));
      parallel_for(N, grain, [&](int64_t b, int64_t e) {
        for (int64_t n = b; n < e; ++n)
          rnn_detail::gru_rb_backward_r(dgx.data() + (n * T_ + t) * GH, dh_next + n * H,
                                        saved + (n * T_ + t) * SH, hprev.data() + (n * T_ + t) * H,
                                        drh.data() + n * H, H);
      });
    }
    // d h_prev += dG W_hh: the one sequential GEMM of the backward
    mm<T>(N, H, rb ? 2 * H : GH, dg_t, T_ * GH, false, a.weight_hh, H, false, dh_next, H, T(1));
    std::swap(dh_cur, dh_next);
  }
  std::copy_n(dh_cur, N * H, dh0);
  if (dc0) std::copy_n(dc.data(), N * H, dc0);
  // the weight, bias and input gradients over all N*T rows at once
  mm<T>(NT, F, GH, dgx.data(), GH, false, a.weight_ih, F, false, dinput, F, T(0));
  mm<T>(GH, F, NT, dgx.data(), GH, true, a.input, F, false, dweight_ih, F, T(0));
  if (rb) {
    for (int64_t r = 0; r < NT; ++r)
      for (int64_t j = 0; j < H; ++j) rh.data()[r * H + j] = saved[r * SH + j] * hprev.data()[r * H + j];
    mm<T>(2 * H, H, NT, dgx.data(), GH, true, hprev.data(), H, false, dweight_hh, H, T(0));
    mm<T>(H, H, NT, dgx.data() + 2 * H, GH, true, rh.data(), H, false, dweight_hh + 2 * H * H, H, T(0));
  } else {
    mm<T>(GH, H, NT, dgh, GH, true, hprev.data(), H, false, dweight_hh, H, T(0));
  }
  if (dbias_ih) column_sums(dbias_ih, dgx.data(), NT, GH, GH);
  if (dbias_hh) column_sums(dbias_hh, dgh, NT, GH, GH);
}

#define FASTANN_INSTANTIATE(T)                                                                                  \
  template void rnn_rung2_gemm_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&);                                   \
  template void rnn_rung2_gemm_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, \
                                           const T*, const RnnArgs<T>&);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cpu
