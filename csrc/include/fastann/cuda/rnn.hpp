// fastann/cuda/rnn.hpp: launchers of the recurrent family on the GPU (csrc/cuda/rnn_*.cu): the Elman RNN (tanh
// or relu), the LSTM and the GRU in both forms, forward over a whole sequence and backpropagation through time.
// Host-callable; every launcher enqueues on `stream` and returns without synchronising.
//
// The cells, the layouts, the `saved` array and go_backwards are those of the CPU family (fastann/cpu/rnn.hpp,
// whose RnnCell, RnnArgs, rnn_gates and rnn_saved are shared: the argument descriptor holds device pointers
// here). The results agree with the CPU kernels and the float64 reference within float tolerances, not bit
// for bit (other summation orders).
//
// The ladder (rung 0 = auto picks 2):
//   1 rnn_rung1_naive.cu  the textbook loop: per step, one thread per (batch row, gate unit) forms the input and
//                         the recurrent dot products, then one element-wise kernel applies the cell; backward per
//                         step: the element-wise derivatives, then dot-product kernels for d h_prev and d input
//                         and outer-product accumulation of the weight and bias gradients.
//   2 rnn_rung2_gemm.cu   Appleyard et al. 2016: the input projection of all N*T rows is one GEMM (fastann's
//                         CUDA GEMM, csrc/cuda/gemm.cu) before the time loop; per step one GEMM for all gates'
//                         recurrent products and one fused element-wise kernel; the backward runs only the
//                         d h_prev chain per step (one GEMM) and then d input, d weight_ih, d weight_hh as single
//                         GEMMs over all N*T rows and the biases as one column sum each.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fastann/cpu/rnn.hpp"

namespace fastann::cuda {

using cpu::RnnArgs;
using cpu::RnnCell;

constexpr int kRnnRungs = 2;  // valid rung numbers: 0 (auto) .. kRnnRungs

// output (N,T,H), h_n (N,H), c_n (N,H) (lstm; nullptr otherwise), saved (N,T,S*H): as cpu::rnn_forward.
template <class T>
void rnn_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, int rung, cudaStream_t stream);

// As cpu::rnn_backward: grad_output (N,T,H), grad_h_n, grad_c_n (N,H) or nullptr (zeros); dinput (N,T,F), dh0,
// dc0 (N,H) (dc0 lstm only), dweight_ih (G*H,F), dweight_hh (G*H,H), dbias_ih, dbias_hh (G*H,) or nullptr.
template <class T>
void rnn_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                  const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output, const T* saved,
                  const RnnArgs<T>& a, int rung, cudaStream_t stream);

// The rungs (same arguments as above).
template <class T>
void rnn_rung1_naive_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, cudaStream_t stream);
template <class T>
void rnn_rung1_naive_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                              const T* saved, const RnnArgs<T>& a, cudaStream_t stream);
template <class T>
void rnn_rung2_gemm_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a, cudaStream_t stream);
template <class T>
void rnn_rung2_gemm_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
                             const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output,
                             const T* saved, const RnnArgs<T>& a, cudaStream_t stream);

}  // namespace fastann::cuda
