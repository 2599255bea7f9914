// rnn_rung1_naive.cpp: rung 1 of the RNN ladder, the textbook loop. For each step, batch row and gate, every
// unit's input term and recurrent term are separate dot products over a row of weight_ih / weight_hh, then the
// gate's activation (csrc/cpu/internal/rnn_cells.hpp). The backward walks the steps in reverse and, per step,
// accumulates every weight gradient as outer products and every input gradient as dot products. One thread.
#include <algorithm>
#include <vector>

#include "fastann/cpu/rnn.hpp"
#include "internal/rnn_cells.hpp"

namespace fastann::cpu {

namespace {

template <class T>
T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Rows of a step's operands for batch row n (nullptr for a zero initial state).
template <class T>
struct StepRows {
  int64_t t;         // input time read at step s
  const T* h_prev;   // (H,) or nullptr
  const T* c_prev;   // (H,) or nullptr (lstm)
};

template <class T>
StepRows<T> step_rows(const RnnArgs<T>& a, const T* output, const T* saved, int64_t s, int64_t n) {
  const int64_t T_ = a.t, H = a.h, SH = rnn_saved(a.cell) * H;
  auto tx = [&](int64_t step) { return a.go_backwards ? T_ - 1 - step : step; };
  StepRows<T> r{tx(s), nullptr, nullptr};
  if (s == 0) {
    r.h_prev = a.h0 ? a.h0 + n * H : nullptr;
    r.c_prev = a.c0 ? a.c0 + n * H : nullptr;
  } else {
    r.h_prev = output + (n * T_ + s - 1) * H;
    r.c_prev = saved + (n * T_ + tx(s - 1)) * SH + 4 * H;
  }
  return r;
}

}  // namespace

// output (N,T,H), h_n (N,H), c_n (N,H) or nullptr, saved (N,T,S*H)
template <class T>
void rnn_rung1_naive_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = rnn_gates(a.cell);
  const int64_t SH = rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb;
  std::vector<T> hh(G * H), rh(H);
  for (int64_t s = 0; s < T_; ++s) {
    for (int64_t n = 0; n < N; ++n) {
      const StepRows<T> p = step_rows(a, output, saved, s, n);
      const T* x = a.input + (n * T_ + p.t) * F;
      T* sv = saved + (n * T_ + p.t) * SH;
      T* h = output + (n * T_ + s) * H;
      for (int g = 0; g < G; ++g) {
        for (int64_t j = 0; j < H; ++j) {
          const int64_t row = g * H + j;
          sv[row] = dot(x, a.weight_ih + row * F, F) + (a.bias_ih ? a.bias_ih[row] : T(0));
          if (rb && g == 2) continue;  // needs r first
          hh[row] = (p.h_prev ? dot(p.h_prev, a.weight_hh + row * H, H) : T(0)) + (a.bias_hh ? a.bias_hh[row] : T(0));
        }
      }
      switch (a.cell) {
        case RnnCell::rnn_tanh:
        case RnnCell::rnn_relu: rnn_detail::elman_forward(sv, hh.data(), h, H, a.cell == RnnCell::rnn_relu); break;
        case RnnCell::lstm: rnn_detail::lstm_forward_row(sv, hh.data(), p.c_prev, h, H); break;
        case RnnCell::gru:
          rnn_detail::gru_forward_rz(sv, hh.data(), H);
          rnn_detail::gru_forward_n(sv, hh.data() + 2 * H, p.h_prev, h, H, true);
          break;
        case RnnCell::gru_rb:
          rnn_detail::gru_forward_rz(sv, hh.data(), H);
          for (int64_t j = 0; j < H; ++j) rh[j] = p.h_prev ? sv[j] * p.h_prev[j] : T(0);
          for (int64_t j = 0; j < H; ++j) {
            const int64_t row = 2 * H + j;
            hh[row] = dot(rh.data(), a.weight_hh + row * H, H) + (a.bias_hh ? a.bias_hh[row] : T(0));
          }
          rnn_detail::gru_forward_n(sv, hh.data() + 2 * H, p.h_prev, h, H, false);
          break;
      }
    }
  }
  const int64_t t_last = a.go_backwards ? 0 : T_ - 1;
  for (int64_t n = 0; n < N; ++n) {
    std::copy_n(output + (n * T_ + T_ - 1) * H, H, h_n + n * H);
    if (c_n) std::copy_n(saved + (n * T_ + t_last) * SH + 4 * H, H, c_n + n * H);
  }
}

template <class T>
void rnn_rung1_naive_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                              const T* saved, const RnnArgs<T>& a) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = rnn_gates(a.cell);
  const int64_t GH = G * H, SH = rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb, lstm = a.cell == RnnCell::lstm;
  std::fill_n(dweight_ih, GH * F, T(0));
  std::fill_n(dweight_hh, GH * H, T(0));
  if (dbias_ih) std::fill_n(dbias_ih, GH, T(0));
  if (dbias_hh) std::fill_n(dbias_hh, GH, T(0));
  // dh, dc: d loss / d h and d c of the current step, per batch row
  std::vector<T> dh(N * H), dc(lstm ? N * H : 0), dhp(H), dgx(GH), dgh(GH), drh(H), rh(H);
  for (int64_t i = 0; i < N * H; ++i) dh[i] = grad_h_n ? grad_h_n[i] : T(0);
  for (int64_t i = 0; i < (lstm ? N * H : 0); ++i) dc[i] = grad_c_n ? grad_c_n[i] : T(0);
  for (int64_t s = T_ - 1; s >= 0; --s) {
    for (int64_t n = 0; n < N; ++n) {
      const StepRows<T> p = step_rows(a, output, saved, s, n);
      const T* x = a.input + (n * T_ + p.t) * F;
      const T* sv = saved + (n * T_ + p.t) * SH;
      T* dhn = dh.data() + n * H;
      if (grad_output)
        for (int64_t j = 0; j < H; ++j) dhn[j] += grad_output[(n * T_ + s) * H + j];
      switch (a.cell) {
        case RnnCell::rnn_tanh:
        case RnnCell::rnn_relu:
          rnn_detail::elman_backward(dgx.data(), dhp.data(), sv, dhn, H, a.cell == RnnCell::rnn_relu);
          std::copy(dgx.begin(), dgx.end(), dgh.begin());
          break;
        case RnnCell::lstm:
          rnn_detail::lstm_backward_row(dgx.data(), dhp.data(), dc.data() + n * H, sv, p.c_prev, dhn, H);
          std::copy(dgx.begin(), dgx.end(), dgh.begin());
          break;
        case RnnCell::gru: rnn_detail::gru_backward_row(dgx.data(), dgh.data(), dhp.data(), sv, p.h_prev, dhn, H); break;
        case RnnCell::gru_rb:
          rnn_detail::gru_rb_backward_zn(dgx.data(), dhp.data(), sv, p.h_prev, dhn, H);
          for (int64_t i = 0; i < H; ++i) {  // drh = dn_pre W_hn
            T acc = 0;
            for (int64_t j = 0; j < H; ++j) acc += dgx[2 * H + j] * a.weight_hh[(2 * H + j) * H + i];
            drh[i] = acc;
          }
          rnn_detail::gru_rb_backward_r(dgx.data(), dhp.data(), sv, p.h_prev, drh.data(), H);
          std::copy(dgx.begin(), dgx.end(), dgh.begin());
          for (int64_t j = 0; j < H; ++j) rh[j] = p.h_prev ? sv[j] * p.h_prev[j] : T(0);
          break;
      }
      // weight and bias gradients: outer products of this step
      for (int64_t row = 0; row < GH; ++row) {
        for (int64_t k = 0; k < F; ++k) dweight_ih[row * F + k] += dgx[row] * x[k];
        const T* hin = (rb && row >= 2 * H) ? rh.data() : p.h_prev;
        if (hin)
          for (int64_t k = 0; k < H; ++k) dweight_hh[row * H + k] += dgh[row] * hin[k];
        if (dbias_ih) dbias_ih[row] += dgx[row];
        if (dbias_hh) dbias_hh[row] += dgh[row];
      }
      // d input: one dot product per feature
      T* dx = dinput + (n * T_ + p.t) * F;
      for (int64_t k = 0; k < F; ++k) {
        T acc = 0;
        for (int64_t row = 0; row < GH; ++row) acc += dgx[row] * a.weight_ih[row * F + k];
        dx[k] = acc;
      }
      // d h_prev: element-wise part plus the recurrent products (the n gate of gru_rb is in drh already)
      const int64_t rows_hh = rb ? 2 * H : GH;
      for (int64_t k = 0; k < H; ++k) {
        T acc = dhp[k];
        for (int64_t row = 0; row < rows_hh; ++row) acc += dgh[row] * a.weight_hh[row * H + k];
        dhn[k] = acc;  // dh of row n is now that of step s - 1
      }
    }
  }
  std::copy(dh.begin(), dh.end(), dh0);
  if (dc0) std::copy(dc.begin(), dc.end(), dc0);
}

#define FASTANN_INSTANTIATE(T)                                                                                   \
  template void rnn_rung1_naive_forward<T>(T*, T*, T*, T*, const RnnArgs<T>&);                                   \
  template void rnn_rung1_naive_backward<T>(T*, T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, \
                                            const T*, const RnnArgs<T>&);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cpu
