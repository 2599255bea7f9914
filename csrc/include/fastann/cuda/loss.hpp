// fastann/cuda/loss.hpp: losses with mean reduction on the GPU, forward and backward (csrc/cuda/loss.cu).
//
// The CUDA twin of fastann/cpu/loss.hpp: the same functions, formulas and NaN behaviour; every launcher also
// takes the stream. Forwards write one scalar into `loss` (a 0-d device array), reduced on the device in
// double, deterministically (fixed-order block sums, no atomics). Backwards write d(loss)/d(input) times
// the scalar `g` (grad_output). L (labels) is int32_t or int64_t; a label outside [0, C) makes its row's
// loss and gradient NaN (the bindings check the labels first, see find_bad_label).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// inp (n,), tgt (n,): loss = mean((inp - tgt)^2); dinp = g * 2 (inp - tgt) / n
template <class T> void mse_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s);
template <class T> void mse_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s);

// inp (n,), tgt (n,): loss = mean|inp - tgt|; dinp = g * sign(inp - tgt) / n (0 at 0)
template <class T> void l1_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s);
template <class T> void l1_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s);

// inp (n,) probabilities, tgt (n,): p = clip(inp, eps, 1 - eps); loss = -mean(t log p + (1 - t) log(1 - p));
// dinp = g (p - t) / (p (1 - p)) / n inside the clip, else 0
template <class T>
void binary_cross_entropy_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps, cudaStream_t s);
template <class T>
void binary_cross_entropy_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g,
                                   cudaStream_t s);

// inp (n,) logits, tgt (n,): loss = mean(max(x, 0) - x t + log1p(exp(-|x|))); dinp = g (sigmoid(x) - t) / n
template <class T>
void binary_cross_entropy_with_logits_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s);
template <class T>
void binary_cross_entropy_with_logits_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g,
                                               cudaStream_t s);

// Softmax cross-entropy from logits, inp (N,C); labels (N,) or tgt (N,C). loss and/or dinp may be null.
// loss = mean_i sum_j t_ij (lse_i - x_ij); dinp = g / N (sum_j t_ij softmax(x_i) - t_i)
template <class T, class L>
void cross_entropy_sparse(T* loss, T* dinp, const T* inp, const L* labels, int64_t N, int64_t C, double g,
                          cudaStream_t s);
template <class T>
void cross_entropy_dense(T* loss, T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double g,
                         cudaStream_t s);

// Categorical cross-entropy on PROBABILITIES (Keras): q = clip(p / rowsum(p), eps, 1 - eps),
// loss = mean_i -sum_j t_ij log q_ij; the backward goes through the row normalisation and the clip.
template <class T, class L>
void categorical_crossentropy_sparse_forward(T* loss, const T* inp, const L* labels, int64_t N, int64_t C,
                                             double eps, cudaStream_t s);
template <class T>
void categorical_crossentropy_dense_forward(T* loss, const T* inp, const T* tgt, int64_t N, int64_t C, double eps,
                                            cudaStream_t s);
template <class T, class L>
void categorical_crossentropy_sparse_backward(T* dinp, const T* inp, const L* labels, int64_t N, int64_t C,
                                              double eps, double g, cudaStream_t s);
template <class T>
void categorical_crossentropy_dense_backward(T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double eps,
                                             double g, cudaStream_t s);

// Index of the first label outside [0, C), or -1 when all are valid; *bad_label receives that label.
// SYNCHRONISES the stream (the answer has to reach the host to raise a ValueError).
template <class L>
int64_t find_bad_label(const L* labels, int64_t N, int64_t C, int64_t* bad_label, cudaStream_t s);

// Keras's regression and margin losses (formulas in fastann/cpu/loss.hpp), inp (n,), tgt (n,), mean over the
// n elements except kl_divergence (sum over the last axis, mean over its `rows` rows).
template <class T>
void huber_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double delta, cudaStream_t s);
template <class T>
void huber_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double delta, double g, cudaStream_t s);
template <class T>
void kl_divergence_forward(T* loss, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps, cudaStream_t s);
template <class T>
void kl_divergence_backward(T* dinp, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps, double g,
                            cudaStream_t s);
template <class T> void hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s);
template <class T>
void hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s);
template <class T> void squared_hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s);
template <class T>
void squared_hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s);
template <class T> void log_cosh_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s);
template <class T>
void log_cosh_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s);
template <class T>
void poisson_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps, cudaStream_t s);
template <class T>
void poisson_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g, cudaStream_t s);

}  // namespace fastann::cuda
