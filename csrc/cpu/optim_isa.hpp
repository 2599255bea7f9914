// optim_isa.hpp: the entry points of the optimizer loops in each ISA namespace (csrc/cpu/README.md),
// defined by optim_loops.hpp in optim_scalar.cpp / optim_avx2.cpp / optim_avx512.cpp. The per-step
// coefficients are computed by optim.cpp (see there for what each one is).
#pragma once

#include <cstdint>

namespace fastann::cpu {

// Adafactor's loops over one row of n values (optim.cpp runs them row by row on its threads); sums in double.
template <class T>
struct AdafactorLoops {
  // sum_sq += sum(g^2 + eps1), sum_p2 += sum(p^2).
  void (*row_sums)(const T* g, const T* p, int64_t n, T eps1, double* sum_sq, double* sum_p2);
  // acc[j] += g[j]^2 + eps1: one row's share of the column means.
  void (*column_sums)(double* acc, const T* g, int64_t n, T eps1);
  // Factored: sum_u2 += sum((g / sqrt(rfac * c))^2), rfac = r_i / mean(r).
  void (*factored_u_sums)(const T* g, const T* c, int64_t n, T rfac, double* sum_u2);
  // Factored: p -= scale * g / sqrt(rfac * c).
  void (*factored_update)(T* p, const T* g, const T* c, int64_t n, T rfac, T scale);
  // Unfactored: v = beta2 v + c2 (g^2 + eps1); sum_u2 += sum((g / sqrt(v))^2); sum_p2 += sum(p^2).
  void (*velocity)(T* v, const T* g, const T* p, int64_t n, T beta2, T c2, T eps1, double* sum_u2, double* sum_p2);
  // Unfactored: p -= scale * g / sqrt(v).
  void (*update)(T* p, const T* g, const T* v, int64_t n, T scale);
};

}  // namespace fastann::cpu

#define FASTANN_OPTIM_ENTRY_POINTS                                                                             \
  template <class T>                                                                                           \
  void sgd(T* param, T* buf, const T* grad, int64_t n, T lr, T momentum, T one_minus_dampening, bool nesterov, \
           T wd);                                                                                              \
  template <class T>                                                                                           \
  void adam(T* param, T* m, T* v, T* vmax, const T* grad, int64_t n, T step_size, T inv_sqrt_bc2, T beta1,     \
            T c1, T beta2, T c2, T eps, T wd, T decay);                                                        \
  template <class T>                                                                                           \
  void rmsprop(T* param, T* sq, T* buf, T* gavg, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps,        \
               T momentum, T wd);                                                                              \
  template <class T>                                                                                           \
  void adagrad(T* param, T* acc, const T* grad, int64_t n, T lr, T eps, T wd);                                 \
  template <class T>                                                                                           \
  void adadelta(T* param, T* sq, T* acc_delta, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps, T wd);   \
  template <class T>                                                                                           \
  void adamax(T* param, T* m, T* u, const T* grad, int64_t n, T step_size, T beta1, T c1, T beta2, T eps,      \
              T wd);                                                                                           \
  template <class T>                                                                                           \
  void nadam(T* param, T* m, T* v, const T* grad, int64_t n, T cg, T cm, T inv_sqrt_bc2, T beta1, T c1,        \
             T beta2, T c2, T eps, T wd);                                                            \
  template <class T>                                                                                           \
  void lion(T* param, T* m, const T* grad, int64_t n, T lr, T decay, T beta1, T c1, T beta2, T c2);            \
  template <class T>                                                                                           \
  void ftrl(T* param, T* acc, T* lin, const T* grad, int64_t n, T lr, T neg_lr_power, bool sqrt_power, T l1,   \
            T two_l2, T two_l2_shrinkage);                                                                     \
  template <class T>                                                                                           \
  fastann::cpu::AdafactorLoops<T> adafactor_loops();
namespace fastann::cpu::scalar { FASTANN_OPTIM_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_OPTIM_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_OPTIM_ENTRY_POINTS }
#undef FASTANN_OPTIM_ENTRY_POINTS
