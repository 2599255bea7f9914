// optim.cpp: fused optimizer steps. The per-element loops live in optim_loops.hpp, compiled once per ISA
// (csrc/cpu/README.md); this file computes the per-step scalars (bias corrections, Nadam's schedule) in
// double and calls the loops of the ISA fastann::simd_level() names.
#include "fastann/cpu/optim.hpp"

#include <cmath>

#include "fastann/common.hpp"
#include "optim_isa.hpp"

namespace fastann::cpu {

// Call the loop `name` of the ISA simd_level() names with the given arguments.
#define FASTANN_OPTIM_DISPATCH(name, ...)                                  \
  do {                                                                     \
    switch (simd_level()) {                                                \
      case SimdLevel::avx512: avx512::name<T>(__VA_ARGS__); break;         \
      case SimdLevel::avx2: avx2::name<T>(__VA_ARGS__); break;             \
      default: scalar::name<T>(__VA_ARGS__); break;                        \
    }                                                                      \
  } while (0)

double nadam_mu(double beta1, int64_t t) {
  return beta1 * (1.0 - 0.5 * std::pow(0.96, 0.004 * double(t)));
}

// ---- kernels --------------------------------------------------------------------------------------
// param, momentum_buffer, grad (n,)
template <class T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, double lr, double momentum,
              double dampening, bool nesterov, double weight_decay) {
  FASTANN_OPTIM_DISPATCH(sgd, param, momentum == 0.0 ? nullptr : momentum_buffer, grad, n, T(lr), T(momentum),
                         T(1.0 - dampening), nesterov, T(weight_decay));
}

// param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad (n,)
template <class T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  const double decay = decoupled ? 1.0 - lr * weight_decay : 1.0;
  const double l2 = decoupled ? 0.0 : weight_decay;
  FASTANN_OPTIM_DISPATCH(adam, param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, n, T(lr / bc1),
                         T(1.0 / std::sqrt(bc2)), T(beta1), T(1.0 - beta1), T(beta2), T(1.0 - beta2), T(eps), T(l2),
                         T(decay));
}

// param, square_avg, momentum_buffer, grad_avg, grad (n,)
template <class T>
void rmsprop_step(T* param, T* square_avg, T* momentum_buffer, T* grad_avg, const T* grad, int64_t n, double lr,
                  double rho, double eps, double momentum, double weight_decay) {
  FASTANN_OPTIM_DISPATCH(rmsprop, param, square_avg, momentum == 0.0 ? nullptr : momentum_buffer, grad_avg, grad,
                         n, T(lr), T(rho), T(1.0 - rho), T(eps), T(momentum), T(weight_decay));
}

// param, accumulator, grad (n,)
template <class T>
void adagrad_step(T* param, T* accumulator, const T* grad, int64_t n, double lr, double eps, double weight_decay) {
  FASTANN_OPTIM_DISPATCH(adagrad, param, accumulator, grad, n, T(lr), T(eps), T(weight_decay));
}

// param, accum_grad, accum_update, grad (n,)
template <class T>
void adadelta_step(T* param, T* accum_grad, T* accum_update, const T* grad, int64_t n, double lr, double rho,
                   double eps, double weight_decay) {
  FASTANN_OPTIM_DISPATCH(adadelta, param, accum_grad, accum_update, grad, n, T(lr), T(rho), T(1.0 - rho), T(eps),
                         T(weight_decay));
}

// param, exp_avg, exp_inf, grad (n,)
template <class T>
void adamax_step(T* param, T* exp_avg, T* exp_inf, const T* grad, int64_t n, int64_t step, double lr,
                 double beta1, double beta2, double eps, double weight_decay) {
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  FASTANN_OPTIM_DISPATCH(adamax, param, exp_avg, exp_inf, grad, n, T(lr / bc1), T(beta1), T(1.0 - beta1), T(beta2),
                         T(eps), T(weight_decay));
}

// param, exp_avg, exp_avg_sq, grad (n,)
template <class T>
void nadam_step(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, int64_t n, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay, double mu_product) {
  const double mu = nadam_mu(beta1, step), mu_next = nadam_mu(beta1, step + 1);
  const double cg = lr * (1.0 - mu) / (1.0 - mu_product);
  const double cm = lr * mu_next / (1.0 - mu_product * mu_next);
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  FASTANN_OPTIM_DISPATCH(nadam, param, exp_avg, exp_avg_sq, grad, n, T(cg), T(cm), T(1.0 / std::sqrt(bc2)),
                         T(beta1), T(1.0 - beta1), T(beta2), T(1.0 - beta2), T(eps), T(weight_decay));
}

// param, exp_avg, grad (n,)
template <class T>
void lion_step(T* param, T* exp_avg, const T* grad, int64_t n, double lr, double beta1, double beta2,
               double weight_decay) {
  FASTANN_OPTIM_DISPATCH(lion, param, exp_avg, grad, n, T(lr), T(1.0 - lr * weight_decay), T(beta1), T(1.0 - beta1),
                         T(beta2), T(1.0 - beta2));
}

// param, accumulator, linear, grad (n,)
template <class T>
void ftrl_step(T* param, T* accumulator, T* linear, const T* grad, int64_t n, double lr, double lr_power, double l1,
               double l2, double l2_shrinkage, double beta) {
  FASTANN_OPTIM_DISPATCH(ftrl, param, accumulator, linear, grad, n, T(lr), T(-lr_power), lr_power == -0.5, T(l1),
                         T(2.0 * l2 + beta / lr), T(2.0 * l2_shrinkage));
}

// ---- dispatch: explicit instantiations ------------------------------------------------------------
#define FASTANN_OPTIM_T(T)                                                                                   \
  template void sgd_step<T>(T*, T*, const T*, int64_t, double, double, double, bool, double);                \
  template void adam_step<T>(T*, T*, T*, T*, const T*, int64_t, int64_t, double, double, double, double, double, \
                             bool);                                                                         \
  template void rmsprop_step<T>(T*, T*, T*, T*, const T*, int64_t, double, double, double, double, double);   \
  template void adagrad_step<T>(T*, T*, const T*, int64_t, double, double, double);                          \
  template void adadelta_step<T>(T*, T*, T*, const T*, int64_t, double, double, double, double);             \
  template void adamax_step<T>(T*, T*, T*, const T*, int64_t, int64_t, double, double, double, double, double); \
  template void nadam_step<T>(T*, T*, T*, const T*, int64_t, int64_t, double, double, double, double, double,   \
                              double);                                                                     \
  template void lion_step<T>(T*, T*, const T*, int64_t, double, double, double, double);                     \
  template void ftrl_step<T>(T*, T*, T*, const T*, int64_t, double, double, double, double, double, double);
FASTANN_OPTIM_T(float)
FASTANN_OPTIM_T(double)

}  // namespace fastann::cpu
