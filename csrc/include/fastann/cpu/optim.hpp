// fastann/cpu/optim.hpp: fused optimizer updates, one pass over each parameter (csrc/cpu/optim.cpp).
//
// Each step reads grad and the optimizer state once and writes param and the state once, in place:
// the textbook version makes 5-10 elementwise passes (each a full read/write of the arrays). All arrays
// have n elements. Weight decay is the L2 form (g += weight_decay * param, as torch.optim) except in
// AdamW (decoupled: param *= 1 - lr * weight_decay). The update rules are written out in
// python/fastann/reference/optim.py and docs/optimizers.md. The loops are compiled once per ISA (scalar,
// AVX2, AVX-512: csrc/cpu/optim_<isa>.cpp) and the one fastann::simd_level() names runs.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// param, momentum_buffer (null when momentum == 0), grad: (n,)   torch.optim.SGD
template <class T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, double lr, double momentum,
              double dampening, bool nesterov, double weight_decay);

// param, exp_avg, exp_avg_sq, max_exp_avg_sq (AMSGrad; null otherwise), grad: (n,); step >= 1.
// Adam (Kingma & Ba 2015, Algorithm 1, as torch.optim.Adam); decoupled=true: AdamW (Loshchilov & Hutter 2019)
template <class T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled);

// param, square_avg, momentum_buffer (null when momentum == 0), grad_avg (centered; else null), grad: (n,)
// RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form), as torch.optim.RMSprop
template <class T>
void rmsprop_step(T* param, T* square_avg, T* momentum_buffer, T* grad_avg, const T* grad, int64_t n, double lr,
                  double rho, double eps, double momentum, double weight_decay);

// param, accumulator, grad: (n,)   Adagrad (Duchi et al. 2011), as torch.optim.Adagrad
template <class T>
void adagrad_step(T* param, T* accumulator, const T* grad, int64_t n, double lr, double eps, double weight_decay);

// param, accum_grad, accum_update, grad: (n,)   Adadelta (Zeiler 2012), as torch.optim.Adadelta
template <class T>
void adadelta_step(T* param, T* accum_grad, T* accum_update, const T* grad, int64_t n, double lr, double rho,
                   double eps, double weight_decay);

// param, exp_avg, exp_inf, grad: (n,); step >= 1   Adamax (Kingma & Ba 2015, sec. 7.1), as torch.optim.Adamax
template <class T>
void adamax_step(T* param, T* exp_avg, T* exp_inf, const T* grad, int64_t n, int64_t step, double lr,
                 double beta1, double beta2, double eps, double weight_decay);

// param, exp_avg, exp_avg_sq, grad: (n,); step >= 1. Nadam (Dozat 2016) with the momentum schedule
// mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), as keras.optimizers.Nadam and torch.optim.NAdam;
// mu_product = prod_{i=1..step} mu_i (the caller keeps it: it is the product over all steps so far).
template <class T>
void nadam_step(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, int64_t n, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay, double mu_product);

// param, exp_avg, grad: (n,). Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Alg. 2;
// keras.optimizers.Lion): p = p (1 - lr wd) - lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g.
template <class T>
void lion_step(T* param, T* exp_avg, const T* grad, int64_t n, double lr, double beta1, double beta2,
               double weight_decay);

// param, accumulator, linear, grad: (n,); lr > 0, lr_power <= 0. FTRL-Proximal (McMahan et al. 2013, Alg. 1)
// in keras.optimizers.Ftrl's form, with its l2_shrinkage and beta (see python/fastann/ops/optim.py ftrl_step).
template <class T>
void ftrl_step(T* param, T* accumulator, T* linear, const T* grad, int64_t n, double lr, double lr_power, double l1,
               double l2, double l2_shrinkage, double beta);

// Adafactor (Shazeer & Stern 2018) as keras.optimizers.Adafactor's update_step, t = step (1-based):
//   rho = min(lr, 1/sqrt(t)), beta2 = 1 - t^beta_2_decay, G = g^2 + epsilon_1
//   factored (parameter rank >= 2, seen as (batch, rows, cols), the last two axes factored):
//     row = beta2 row + (1-beta2) mean_cols(G)   (batch, rows)
//     col = beta2 col + (1-beta2) mean_rows(G)   (batch, cols)
//     v = row / mean_rows(row) outer col
//   unfactored: v = beta2 v + (1-beta2) G  (n,)
//   u = g / sqrt(v);  alpha = max(epsilon_2, rms(param)) rho;  param -= alpha u / max(1, rms(u) / clip_threshold)
// rms over the whole parameter. Sums in double, added in a fixed order (no dependence on the thread count).
template <class T>
void adafactor_step(T* param, T* row, T* col, T* v, const T* grad, int64_t batch, int64_t rows, int64_t cols,
                    bool factored, int64_t step, double lr, double beta_2_decay, double epsilon_1, double epsilon_2,
                    double clip_threshold);

// mu_t of the Nadam momentum schedule.
double nadam_mu(double beta1, int64_t t);

}  // namespace fastann::cpu
