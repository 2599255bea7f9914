// rnn_cells.hpp: the element-wise part of each recurrent cell, forward and backward, for one batch row of H
// units. Both rungs of the RNN ladder call these, so they differ only in how the products are formed.
//
// Conventions (see fastann/cpu/rnn.hpp for the cells and the saved layout):
//   sv   the row (n,t) of `saved` (S*H): on entry to a forward function its first G*H entries hold the input
//        projection x W_ih^T + b_ih of each gate; on exit the gates after their activations (and c or hn).
//   hh   the recurrent products h_prev W_hh^T + b_hh of each gate (G*H).
//   dgx  gradient of the loss w.r.t. the gates' pre-activations as the input projection sees them (G*H);
//   dgh  the same as the recurrent products see them (differs from dgx only in the GRU's n gate).
// Math: Hochreiter & Schmidhuber 1997 / Gers et al. 2000 (LSTM, PyTorch's torch.nn.LSTM form), Cho et al.
// 2014 (GRU; reset_after is the form of cuDNN, torch.nn.GRU and Keras's default), Elman 1990.
#pragma once

#include <cmath>
#include <cstdint>

#include "fastann/cpu/rnn.hpp"

namespace fastann::cpu::rnn_detail {

template <class T>
inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
// relu that keeps NaN (std::max would drop it).
template <class T>
inline T relu_nan(T x) { return (x > T(0) || x != x) ? x : T(0); }

// ---- forward --------------------------------------------------------------------------------------
// Elman: h = act(sv + hh); saved: h.
template <class T>
inline void elman_forward(T* sv, const T* hh, T* h_out, int64_t H, bool relu) {
  for (int64_t j = 0; j < H; ++j) {
    const T v = sv[j] + hh[j];
    const T h = relu ? relu_nan(v) : std::tanh(v);
    sv[j] = h;
    h_out[j] = h;
  }
}

// LSTM: i,f,o = sigmoid, g = tanh; c = f*c_prev + i*g; h = o*tanh(c); saved: i, f, g, o, c.
template <class T>
inline void lstm_forward_row(T* sv, const T* hh, const T* c_prev, T* h_out, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = sigmoid(sv[j] + hh[j]);
    const T f = sigmoid(sv[H + j] + hh[H + j]);
    const T g = std::tanh(sv[2 * H + j] + hh[2 * H + j]);
    const T o = sigmoid(sv[3 * H + j] + hh[3 * H + j]);
    const T cp = c_prev ? c_prev[j] : T(0);
    const T c = f * cp + i * g;
    sv[j] = i;
    sv[H + j] = f;
    sv[2 * H + j] = g;
    sv[3 * H + j] = o;
    sv[4 * H + j] = c;
    h_out[j] = o * std::tanh(c);
  }
}

// GRU, first half: r, z = sigmoid of their sums (hh holds at least the r and z products).
template <class T>
inline void gru_forward_rz(T* sv, const T* hh, int64_t H) {
  for (int64_t j = 0; j < 2 * H; ++j) sv[j] = sigmoid(sv[j] + hh[j]);
}

// GRU, second half. hn: the n gate's recurrent term, W_hn h_prev + b_hn (reset_after: then multiplied by r)
// or W_hn (r * h_prev) + b_hn (reset before). n = tanh(xn + [r *] hn); h = (1 - z) * n + z * h_prev.
// saved: r, z, n, hn.
template <class T>
inline void gru_forward_n(T* sv, const T* hn, const T* h_prev, T* h_out, int64_t H, bool reset_after) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sv[j], z = sv[H + j];
    const T n = std::tanh(sv[2 * H + j] + (reset_after ? r * hn[j] : hn[j]));
    const T hp = h_prev ? h_prev[j] : T(0);
    sv[2 * H + j] = n;
    sv[3 * H + j] = hn[j];
    h_out[j] = (T(1) - z) * n + z * hp;
  }
}

// ---- backward -------------------------------------------------------------------------------------
// dh: d loss / d h of this step (all paths). Writes dgx (and dgh where it differs) and the element-wise
// part of d loss / d h_prev into dhp (the products with W_hh are added by the caller).

// Elman: dpre = dh * act'(.), from the saved h: tanh' = 1 - h^2, relu' = (h > 0).
template <class T>
inline void elman_backward(T* dgx, T* dhp, const T* sv, const T* dh, int64_t H, bool relu) {
  for (int64_t j = 0; j < H; ++j) {
    const T h = sv[j];
    dgx[j] = relu ? (h > T(0) ? dh[j] : T(0)) : dh[j] * (T(1) - h * h);
    dhp[j] = T(0);
  }
}

// LSTM. dc: on entry d loss / d c of this step from later steps; on exit d loss / d c_prev.
template <class T>
inline void lstm_backward_row(T* dgx, T* dhp, T* dc, const T* sv, const T* c_prev, const T* dh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = sv[j], f = sv[H + j], g = sv[2 * H + j], o = sv[3 * H + j], c = sv[4 * H + j];
    const T tc = std::tanh(c);
    const T cp = c_prev ? c_prev[j] : T(0);
    const T dct = dc[j] + dh[j] * o * (T(1) - tc * tc);
    dgx[j] = dct * g * i * (T(1) - i);
    dgx[H + j] = dct * cp * f * (T(1) - f);
    dgx[2 * H + j] = dct * i * (T(1) - g * g);
    dgx[3 * H + j] = dh[j] * tc * o * (T(1) - o);
    dc[j] = dct * f;
    dhp[j] = T(0);
  }
}

// GRU with reset_after: everything in one pass; dgh's n part is dn_pre * r.
template <class T>
inline void gru_backward_row(T* dgx, T* dgh, T* dhp, const T* sv, const T* h_prev, const T* dh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sv[j], z = sv[H + j], n = sv[2 * H + j], hn = sv[3 * H + j];
    const T hp = h_prev ? h_prev[j] : T(0);
    const T dn = dh[j] * (T(1) - z) * (T(1) - n * n);
    const T dr = dn * hn * r * (T(1) - r);
    const T dz = dh[j] * (hp - n) * z * (T(1) - z);
    dgx[j] = dgh[j] = dr;
    dgx[H + j] = dgh[H + j] = dz;
    dgx[2 * H + j] = dn;
    dgh[2 * H + j] = dn * r;
    dhp[j] = dh[j] * z;
  }
}

// GRU with the reset before the product (Cho et al.), first half: dz and dn (the n gate's pre-activation
// gradient, which is also that of W_hn (r * h_prev) + b_hn); dhp = dh * z.
template <class T>
inline void gru_rb_backward_zn(T* dgx, T* dhp, const T* sv, const T* h_prev, const T* dh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T z = sv[H + j], n = sv[2 * H + j];
    const T hp = h_prev ? h_prev[j] : T(0);
    dgx[H + j] = dh[j] * (hp - n) * z * (T(1) - z);
    dgx[2 * H + j] = dh[j] * (T(1) - z) * (T(1) - n * n);
    dhp[j] = dh[j] * z;
  }
}
// Second half, given drh = d loss / d (r * h_prev) = dn_pre W_hn: dr and its share of dhp.
template <class T>
inline void gru_rb_backward_r(T* dgx, T* dhp, const T* sv, const T* h_prev, const T* drh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sv[j];
    const T hp = h_prev ? h_prev[j] : T(0);
    dgx[j] = drh[j] * hp * r * (T(1) - r);
    dhp[j] += drh[j] * r;
  }
}

}  // namespace fastann::cpu::rnn_detail
