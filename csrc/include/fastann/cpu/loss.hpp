// fastann/cpu/loss.hpp: loss functions with mean reduction, forward and backward (csrc/cpu/loss.cpp).
//
// Forwards write one scalar (`loss`, the mean over the batch). Backwards write d(loss)/d(input) times the
// scalar `grad_output`. Sums accumulate in double for both dtypes. NaN in an input gives a NaN loss.
// Templates: T is float or double; L (labels) is int32_t or int64_t. Labels must already be checked to
// lie in [0, C) (the bindings do it before the kernel runs).
#pragma once

#include <cstdint>

namespace fastann::cpu {

// inp (n,), tgt (n,): loss = mean((inp - tgt)^2); dinp = g * 2 (inp - tgt) / n
template <class T> void mse_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n);
template <class T> void mse_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g);

// inp (n,), tgt (n,): loss = mean|inp - tgt|; dinp = g * sign(inp - tgt) / n (0 at 0)
template <class T> void l1_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n);
template <class T> void l1_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g);

// inp (n,) probabilities, tgt (n,): p = clip(inp, eps, 1 - eps);
// loss = -mean(t log p + (1 - t) log(1 - p)); dinp = g (p - t) / (p (1 - p)) / n inside the clip, else 0
template <class T> void binary_cross_entropy_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps);
template <class T>
void binary_cross_entropy_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g);

// inp (n,) logits, tgt (n,): loss = mean(max(x, 0) - x t + log1p(exp(-|x|))); dinp = g (sigmoid(x) - t) / n
template <class T> void binary_cross_entropy_with_logits_forward(T* loss, const T* inp, const T* tgt, int64_t n);
template <class T>
void binary_cross_entropy_with_logits_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g);

// Softmax cross-entropy from logits. inp (N,C) logits; labels (N,) in [0, C) or tgt (N,C) probabilities.
// loss = mean_i [ sum_j t_ij (lse_i - x_ij) ],  lse_i = log sum_j exp(x_ij);
// dinp = g / N * (sum_j t_ij * softmax(x_i) - t_i)   (= (softmax - onehot) / N for labels).
// `loss` or `dinp` may be null: cross_entropy_* computes what is asked in ONE pass over the logits.
template <class T, class L>
void cross_entropy_sparse(T* loss, T* dinp, const T* inp, const L* labels, int64_t N, int64_t C, double g);
template <class T>
void cross_entropy_dense(T* loss, T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double g);

// Categorical cross-entropy on PROBABILITIES (Keras): q = clip(p / sum_j p_j, eps, 1 - eps) per row,
// loss = mean_i [ -sum_j t_ij log q_ij ]. inp (N,C); labels (N,) or tgt (N,C).
template <class T, class L>
void categorical_crossentropy_sparse_forward(T* loss, const T* inp, const L* labels, int64_t N, int64_t C,
                                             double eps);
template <class T>
void categorical_crossentropy_dense_forward(T* loss, const T* inp, const T* tgt, int64_t N, int64_t C,
                                            double eps);
template <class T, class L>
void categorical_crossentropy_sparse_backward(T* dinp, const T* inp, const L* labels, int64_t N, int64_t C,
                                              double eps, double g);
template <class T>
void categorical_crossentropy_dense_backward(T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C,
                                             double eps, double g);

// Keras's regression and margin losses, inp (n,) predictions, tgt (n,) targets, mean over the n elements
// (Keras's mean over the last axis, then over the batch) except kl_divergence, which sums over the last axis
// and averages over its `rows` = n / (last dimension) rows. Sources: keras.losses (Keras 3).
// huber: e = inp - tgt; 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2; d = e or delta sign(e)
template <class T> void huber_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double delta);
template <class T>
void huber_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double delta, double g);
// kl_divergence: t = clip(tgt, eps, 1), p = clip(inp, eps, 1); loss = sum t log(t / p) / rows;
// dinp = -g t / p / rows inside the clip of inp, else 0
template <class T>
void kl_divergence_forward(T* loss, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps);
template <class T>
void kl_divergence_backward(T* dinp, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps, double g);
// hinge: y = 2 tgt - 1 when every target is 0 or 1, else y = tgt; loss = mean max(1 - y inp, 0);
// dinp = -g y / n where 1 - y inp > 0, else 0. squared_hinge: mean max(1 - y inp, 0)^2, dinp = -2 g y max(.) / n
template <class T> void hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n);
template <class T> void hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g);
template <class T> void squared_hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n);
template <class T> void squared_hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g);
// log_cosh: e = inp - tgt; loss = mean log(cosh(e)) = mean(|e| + log1p(exp(-2|e|)) - log 2); dinp = g tanh(e) / n
template <class T> void log_cosh_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n);
template <class T> void log_cosh_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g);
// poisson: loss = mean(inp - tgt log(inp + eps)); dinp = g (1 - tgt / (inp + eps)) / n
template <class T> void poisson_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps);
template <class T>
void poisson_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g);

}  // namespace fastann::cpu
