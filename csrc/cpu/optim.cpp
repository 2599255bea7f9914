// optim.cpp: fused optimizer steps. The per-element loops live in optim_loops.hpp, compiled once per ISA
// (csrc/cpu/README.md); this file computes the per-step scalars (bias corrections, Nadam's schedule) in
// double and calls the loops of the ISA fastann::simd_level() names.
#include "fastann/cpu/optim.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastann/common.hpp"
#include "optim_isa.hpp"
#include "internal/simd_dispatch.hpp"

namespace fastann::cpu {


double nadam_mu(double beta1, int64_t t) {
  return beta1 * (1.0 - 0.5 * std::pow(0.96, 0.004 * double(t)));
}

// ---- kernels --------------------------------------------------------------------------------------
// param, momentum_buffer, grad (n,)
template <class T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, double lr, double momentum,
              double dampening, bool nesterov, double weight_decay) {
  FASTANN_SIMD_DISPATCH(sgd<T>(param, momentum == 0.0 ? nullptr : momentum_buffer, grad, n, T(lr), T(momentum),
                         T(1.0 - dampening), nesterov, T(weight_decay)));
}

// param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad (n,)
template <class T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  const double decay = decoupled ? 1.0 - lr * weight_decay : 1.0;
  const double l2 = decoupled ? 0.0 : weight_decay;
  FASTANN_SIMD_DISPATCH(adam<T>(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, n, T(lr / bc1),
                         T(1.0 / std::sqrt(bc2)), T(beta1), T(1.0 - beta1), T(beta2), T(1.0 - beta2), T(eps), T(l2),
                         T(decay)));
}

// param, square_avg, momentum_buffer, grad_avg, grad (n,)
template <class T>
void rmsprop_step(T* param, T* square_avg, T* momentum_buffer, T* grad_avg, const T* grad, int64_t n, double lr,
                  double rho, double eps, double momentum, double weight_decay) {
  FASTANN_SIMD_DISPATCH(rmsprop<T>(param, square_avg, momentum == 0.0 ? nullptr : momentum_buffer, grad_avg, grad,
                         n, T(lr), T(rho), T(1.0 - rho), T(eps), T(momentum), T(weight_decay)));
}

// param, accumulator, grad (n,)
template <class T>
void adagrad_step(T* param, T* accumulator, const T* grad, int64_t n, double lr, double eps, double weight_decay) {
  FASTANN_SIMD_DISPATCH(adagrad<T>(param, accumulator, grad, n, T(lr), T(eps), T(weight_decay)));
}

// param, accum_grad, accum_update, grad (n,)
template <class T>
void adadelta_step(T* param, T* accum_grad, T* accum_update, const T* grad, int64_t n, double lr, double rho,
                   double eps, double weight_decay) {
  FASTANN_SIMD_DISPATCH(adadelta<T>(param, accum_grad, accum_update, grad, n, T(lr), T(rho), T(1.0 - rho), T(eps),
                         T(weight_decay)));
}

// param, exp_avg, exp_inf, grad (n,)
template <class T>
void adamax_step(T* param, T* exp_avg, T* exp_inf, const T* grad, int64_t n, int64_t step, double lr,
                 double beta1, double beta2, double eps, double weight_decay) {
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  FASTANN_SIMD_DISPATCH(adamax<T>(param, exp_avg, exp_inf, grad, n, T(lr / bc1), T(beta1), T(1.0 - beta1), T(beta2),
                         T(eps), T(weight_decay)));
}

// param, exp_avg, exp_avg_sq, grad (n,)
template <class T>
void nadam_step(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, int64_t n, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay, double mu_product) {
  const double mu = nadam_mu(beta1, step), mu_next = nadam_mu(beta1, step + 1);
  const double cg = lr * (1.0 - mu) / (1.0 - mu_product);
  const double cm = lr * mu_next / (1.0 - mu_product * mu_next);
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  FASTANN_SIMD_DISPATCH(nadam<T>(param, exp_avg, exp_avg_sq, grad, n, T(cg), T(cm), T(1.0 / std::sqrt(bc2)),
                         T(beta1), T(1.0 - beta1), T(beta2), T(1.0 - beta2), T(eps), T(weight_decay)));
}

// param, exp_avg, grad (n,)
template <class T>
void lion_step(T* param, T* exp_avg, const T* grad, int64_t n, double lr, double beta1, double beta2,
               double weight_decay) {
  FASTANN_SIMD_DISPATCH(lion<T>(param, exp_avg, grad, n, T(lr), T(1.0 - lr * weight_decay), T(beta1), T(1.0 - beta1),
                         T(beta2), T(1.0 - beta2)));
}

// param, accumulator, linear, grad (n,)
template <class T>
void ftrl_step(T* param, T* accumulator, T* linear, const T* grad, int64_t n, double lr, double lr_power, double l1,
               double l2, double l2_shrinkage, double beta) {
  FASTANN_SIMD_DISPATCH(ftrl<T>(param, accumulator, linear, grad, n, T(lr), T(-lr_power), lr_power == -0.5, T(l1),
                         T(2.0 * l2 + beta / lr), T(2.0 * l2_shrinkage)));
}

// ---- Adafactor --------------------------------------------------------------------------------------
namespace {

template <class T>
AdafactorLoops<T> adafactor_table() {
  FASTANN_SIMD_DISPATCH(adafactor_loops<T>());
}

// Values per chunk of an unfactored parameter: the chunks' partial sums are added in chunk order, so the
// result does not depend on the thread count.
constexpr int64_t kAdafactorChunk = 1 << 16;
// Columns per task of the column sums (a task walks every row of its columns in order).
constexpr int64_t kAdafactorColumns = 256;

}  // namespace

// param, grad (batch, rows, cols) seen flat; factored: row (batch, rows), col (batch, cols), v unused;
// unfactored: v (n,), row and col unused. See fastann/cpu/optim.hpp.
template <class T>
void adafactor_step(T* param, T* row, T* col, T* v, const T* grad, int64_t batch, int64_t rows, int64_t cols,
                    bool factored, int64_t step, double lr, double beta_2_decay, double epsilon_1, double epsilon_2,
                    double clip_threshold) {
  const AdafactorLoops<T> L = adafactor_table<T>();
  const double t = double(step);
  const double rho = std::min(lr, 1.0 / std::sqrt(t));
  const double beta2 = 1.0 - std::pow(t, beta_2_decay);
  const int64_t n = batch * rows * cols;
  const T eps1 = T(epsilon_1);
  // alpha / max(1, rms(u) / clip_threshold), alpha = max(epsilon_2, rms(param)) * rho (Keras's update_step).
  auto scale_of = [&](double sum_p2, double sum_u2) {
    const double alpha = std::max(epsilon_2, std::sqrt(sum_p2 / double(n))) * rho;
    return alpha / std::max(1.0, std::sqrt(sum_u2 / double(n)) / clip_threshold);
  };
  if (!factored) {
    const int64_t chunks = (n + kAdafactorChunk - 1) / kAdafactorChunk;
    std::vector<double> pu(chunks, 0.0), pp(chunks, 0.0);
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b = c * kAdafactorChunk, e = std::min(n, b + kAdafactorChunk);
        L.velocity(v + b, grad + b, param + b, e - b, T(beta2), T(1.0 - beta2), eps1, &pu[c], &pp[c]);
      }
    });
    double sum_u2 = 0, sum_p2 = 0;
    for (int64_t c = 0; c < chunks; ++c) sum_u2 += pu[c], sum_p2 += pp[c];
    const T scale = T(scale_of(sum_p2, sum_u2));
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t b = c * kAdafactorChunk, e = std::min(n, b + kAdafactorChunk);
        L.update(param + b, grad + b, v + b, e - b, scale);
      }
    });
    return;
  }
  const int64_t R = batch * rows, grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, cols));
  std::vector<double> pp(R, 0.0), pu(R, 0.0);
  // Row statistics: r = beta2 r + (1 - beta2) mean_j(g^2 + eps1), and each row's sum of param^2.
  parallel_for(R, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double sq = 0;
      L.row_sums(grad + r * cols, param + r * cols, cols, eps1, &sq, &pp[r]);
      row[r] = T(beta2 * double(row[r]) + (1.0 - beta2) * (sq / double(cols)));
    }
  });
  // Column statistics: c = beta2 c + (1 - beta2) mean_i(g^2 + eps1).
  const int64_t blocks = (cols + kAdafactorColumns - 1) / kAdafactorColumns;
  parallel_for(batch * blocks, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, rows * kAdafactorColumns)),
               [&](int64_t k0, int64_t k1) {
    std::vector<double> acc;
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t b = k / blocks, j0 = (k % blocks) * kAdafactorColumns;
      const int64_t w = std::min(cols, j0 + kAdafactorColumns) - j0;
      acc.assign(w, 0.0);
      for (int64_t i = 0; i < rows; ++i) L.column_sums(acc.data(), grad + (b * rows + i) * cols + j0, w, eps1);
      T* c = col + b * cols + j0;
      for (int64_t j = 0; j < w; ++j) c[j] = T(beta2 * double(c[j]) + (1.0 - beta2) * (acc[j] / double(rows)));
    }
  });
  // v = (r / mean(r)) outer c per (rows, cols) slice; rfac[r] = r_i / mean over the slice's rows.
  std::vector<T> rfac(R);
  for (int64_t b = 0; b < batch; ++b) {
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += double(row[b * rows + i]);
    const double mean = s / double(rows);
    for (int64_t i = 0; i < rows; ++i) rfac[b * rows + i] = T(double(row[b * rows + i]) / mean);
  }
  parallel_for(R, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      L.factored_u_sums(grad + r * cols, col + (r / rows) * cols, cols, rfac[r], &pu[r]);
  });
  double sum_u2 = 0, sum_p2 = 0;
  for (int64_t r = 0; r < R; ++r) sum_u2 += pu[r], sum_p2 += pp[r];
  const T scale = T(scale_of(sum_p2, sum_u2));
  parallel_for(R, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      L.factored_update(param + r * cols, grad + r * cols, col + (r / rows) * cols, cols, rfac[r], scale);
  });
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
  template void ftrl_step<T>(T*, T*, T*, const T*, int64_t, double, double, double, double, double, double); \
  template void adafactor_step<T>(T*, T*, T*, T*, const T*, int64_t, int64_t, int64_t, bool, int64_t, double,  \
                                  double, double, double, double);
FASTANN_OPTIM_T(float)
FASTANN_OPTIM_T(double)

}  // namespace fastann::cpu
