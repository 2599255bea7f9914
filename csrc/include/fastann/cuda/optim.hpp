// fastann/cuda/optim.hpp: fused optimizer updates on the GPU (csrc/cuda/optim.cu), in place, one pass.
// The CUDA twin of fastann/cpu/optim.hpp: the same functions, update rules and scalar precomputation (the
// per-step coefficients are computed once in double on the host); every launcher also takes the stream.
// All arrays have n elements. A null state pointer switches that feature off exactly as on the CPU.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fastann::cuda {

// param, momentum_buffer (null when momentum == 0), grad: (n,)   torch.optim.SGD
template <class T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, double lr, double momentum, double dampening,
              bool nesterov, double weight_decay, cudaStream_t s);

// param, exp_avg, exp_avg_sq, max_exp_avg_sq (AMSGrad; else null), grad: (n,); step >= 1. decoupled: AdamW
template <class T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled, cudaStream_t s);

// param, square_avg, momentum_buffer (null when momentum == 0), grad_avg (centered; else null), grad: (n,)
template <class T>
void rmsprop_step(T* param, T* square_avg, T* momentum_buffer, T* grad_avg, const T* grad, int64_t n, double lr,
                  double rho, double eps, double momentum, double weight_decay, cudaStream_t s);

// param, accumulator, grad: (n,)
template <class T>
void adagrad_step(T* param, T* accumulator, const T* grad, int64_t n, double lr, double eps, double weight_decay,
                  cudaStream_t s);

// param, accum_grad, accum_update, grad: (n,)
template <class T>
void adadelta_step(T* param, T* accum_grad, T* accum_update, const T* grad, int64_t n, double lr, double rho,
                   double eps, double weight_decay, cudaStream_t s);

// param, exp_avg, exp_inf, grad: (n,); step >= 1
template <class T>
void adamax_step(T* param, T* exp_avg, T* exp_inf, const T* grad, int64_t n, int64_t step, double lr, double beta1,
                 double beta2, double eps, double weight_decay, cudaStream_t s);

// param, exp_avg, exp_avg_sq, grad: (n,); step >= 1; mu_product = prod_{i<=step} mu_i (see nadam_mu)
template <class T>
void nadam_step(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, int64_t n, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay, double mu_product, cudaStream_t s);

// mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), the Nadam momentum schedule.
double nadam_mu(double beta1, int64_t t);

// param, exp_avg, grad: (n,)   Lion (Chen et al. 2023), as fastann/cpu/optim.hpp
template <class T>
void lion_step(T* param, T* exp_avg, const T* grad, int64_t n, double lr, double beta1, double beta2,
               double weight_decay, cudaStream_t s);

// param, accumulator, linear, grad: (n,)   FTRL-Proximal in keras.optimizers.Ftrl's form, as the CPU's
template <class T>
void ftrl_step(T* param, T* accumulator, T* linear, const T* grad, int64_t n, double lr, double lr_power, double l1,
               double l2, double l2_shrinkage, double beta, cudaStream_t s);

// param, grad (batch, rows, cols); factored: row_var (batch, rows), col_var (batch, cols), variance unused;
// else variance (n,). Adafactor in keras.optimizers.Adafactor's form, as the CPU's (csrc/cuda/optim_adafactor.cu).
template <class T>
void adafactor_step(T* param, T* row_var, T* col_var, T* variance, const T* grad, int64_t batch, int64_t rows,
                    int64_t cols, bool factored, int64_t step, double lr, double beta_2_decay, double epsilon_1,
                    double epsilon_2, double clip_threshold, cudaStream_t s);

}  // namespace fastann::cuda
