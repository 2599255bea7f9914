// fastann/cpu/rnn.hpp: recurrent networks over a whole sequence on the CPU: the Elman RNN (tanh or relu),
// the LSTM and the GRU in both forms, forward and backpropagation through time.
//
// Layouts (PyTorch's weight layout, batch-first sequences; H = hidden size, G = gates of the cell):
//   input (N,T,F); output (N,T,H): output[:, s] is the hidden state after step s
//   h0, c0, h_n, c_n (N,H); weight_ih (G*H,F), weight_hh (G*H,H), bias_ih, bias_hh (G*H,) or nullptr
//   cell     G  gate order   saved (N,T,S*H), row (n,t) for the step that read input[:, t]
//   rnn_tanh 1  -            S=1: h
//   rnn_relu 1  -            S=1: h
//   lstm     4  i, f, g, o   S=5: i, f, g, o (after their activations), c
//   gru      3  r, z, n      S=4: r, z, n (after their activations), hn = W_hn h_prev + b_hn   (reset_after)
//   gru_rb   3  r, z, n      S=4: r, z, n, W_hn (r * h_prev) + b_hn                           (Cho et al.)
// go_backwards: step s reads input[:, T-1-s] (the sequence is not copied); output stays in step order.
//
// The ladder (rung 0 = auto picks 3 where the CPU has AVX-512, else 2):
//   1 rnn_rung1_naive  the textbook loop: per step and per gate, one dot product per unit for the input and
//                      for the recurrent term, then the gate's activation.
//   2 rnn_rung2_gemm   Appleyard et al. 2016: the input projection of all N*T rows is one GEMM before the time
//                      loop; per step one GEMM for all gates' recurrent products and one fused element-wise
//                      pass; the backward runs the sequential dh loop (one GEMM per step) and then computes
//                      d(input), d(weight_ih), d(weight_hh), d(biases) as single GEMMs over all steps.
//   3 rnn_rung3_fused  rung 2's GEMMs over all steps, and a recurrent GEMM of its own: W_hh packed once per
//                      call (the gates of the same units interleaved in one panel), the cell's element-wise
//                      forward or backward as the epilogue of each micro-tile (vectorised sigmoid / tanh),
//                      the steps as stages of items pulled by the threads from one counter.
#pragma once

#include <cstdint>

namespace fastann::cpu {

enum class RnnCell : int { rnn_tanh = 0, rnn_relu = 1, lstm = 2, gru = 3, gru_rb = 4 };

// Gates G and saved columns per unit S of a cell.
inline int rnn_gates(RnnCell c) {
  return c == RnnCell::lstm ? 4 : (c == RnnCell::gru || c == RnnCell::gru_rb) ? 3 : 1;
}
inline int rnn_saved(RnnCell c) {
  return c == RnnCell::lstm ? 5 : (c == RnnCell::gru || c == RnnCell::gru_rb) ? 4 : 1;
}

template <class T>
struct RnnArgs {
  RnnCell cell = RnnCell::lstm;
  int64_t n = 0, t = 0, f = 0, h = 0;
  bool go_backwards = false;
  const T* input = nullptr;      // (N,T,F)
  const T* h0 = nullptr;         // (N,H) or nullptr (zeros)
  const T* c0 = nullptr;         // (N,H) or nullptr (zeros); lstm only
  const T* weight_ih = nullptr;  // (G*H,F)
  const T* weight_hh = nullptr;  // (G*H,H)
  const T* bias_ih = nullptr;    // (G*H,) or nullptr
  const T* bias_hh = nullptr;    // (G*H,) or nullptr
};

constexpr int kRnnRungs = 3;  // valid rung numbers: 0 (auto) .. kRnnRungs

// output (N,T,H), h_n (N,H), c_n (N,H) (lstm; nullptr otherwise), saved (N,T,S*H): see the table above.
template <class T>
void rnn_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, int rung);

// grad_output (N,T,H) or nullptr (zeros), grad_h_n (N,H) or nullptr, grad_c_n (N,H) or nullptr (lstm);
// output and saved from rnn_forward with the same arguments.
// dinput (N,T,F) or nullptr (not computed), dh0 (N,H), dc0 (N,H) (lstm; nullptr otherwise), dweight_ih (G*H,F), dweight_hh (G*H,H),
// dbias_ih, dbias_hh (G*H,) or nullptr (not computed).
template <class T>
void rnn_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                  const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output, const T* saved,
                  const RnnArgs<T>& a, int rung);

// The rungs (same arguments as above).
template <class T>
void rnn_rung1_naive_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a);
template <class T>
void rnn_rung1_naive_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                              const T* saved, const RnnArgs<T>& a);
template <class T>
void rnn_rung2_gemm_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a);
template <class T>
void rnn_rung2_gemm_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                             const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                             const T* saved, const RnnArgs<T>& a);

template <class T>
void rnn_rung3_fused_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a);
template <class T>
void rnn_rung3_fused_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                              const T* saved, const RnnArgs<T>& a);

}  // namespace fastann::cpu
