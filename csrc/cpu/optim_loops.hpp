// optim_loops.hpp: the loops of the fused optimizer steps (see fastann/cpu/optim.hpp), compiled once per ISA
// (csrc/cpu/README.md): included by optim_scalar.cpp, optim_avx2.cpp and optim_avx512.cpp, each with its own
// FASTANN_ISA namespace. The loops are plain C++ the compiler
// vectorizes for the ISA of the including file: every per-element branch is either a template switch
// (momentum on/off, nesterov, amsgrad...) resolved outside the loop or a select.
//
// Arithmetic runs in T (float for float32 arrays) with the scalar coefficients computed once in double,
// complements included: (1 - beta2) is passed as c2 = T(1.0 - beta2), because float(0.999) subtracted
// from 1 in float is 0.00100005, a 5e-5 relative error in every second-moment update.
// NaN in grad or state propagates: the max of AMSGrad and Adamax is rows::nan_max (row_reduce.hpp), where NaN wins.
//
// Why every loop body starts by copying its scalars and pointers into locals: the lambdas capture by
// reference, and a captured `T lr` lives in memory the compiler cannot prove the T* stores leave alone,
// so without the copies it reloads every coefficient on every element and does not vectorize at all
// (~15x slower: docs/optimizers.md, Measured). `__restrict` says the arrays do not overlap.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "fastann/common.hpp"
#include "row_reduce.hpp"

namespace fastann::cpu::FASTANN_ISA {

// Elements per thread below which a step stays on one thread. Adam runs at ~0.35 ns per element (its
// vector square root and division set the pace), so 32 768 elements are ~11 us of work, several times the
// cost of posting a job to the team; the team's caller never waits for a helper that has not started, so a
// busy second core costs little (docs/optimizers.md, Measured). The MLP's largest matrix (235 200) is split
// over 2 threads.
constexpr int64_t kGrain = 32768;

template <bool B>
using bool_c = std::integral_constant<bool, B>;

// body(bool_c<a>{}) for a runtime bool a.
template <class F>
inline void with_bool(bool a, F&& body) {
  if (a) body(bool_c<true>{});
  else body(bool_c<false>{});
}

// The L2 term g + wd p of the coupled weight decay, or g alone when the call's weight_decay is 0
// (l2 = bool_c<wd != 0>, chosen once per call): PyTorch skips the term then, so a +-inf param does not turn
// its gradient into NaN (0 * inf) and stays +-inf.
template <class L2, class T>
inline T l2_grad(L2, T g, T wd, T p) {
  if constexpr (L2::value) return g + wd * p;
  else return g;
}

// param, momentum_buffer, grad (n,)
template <class T>
void sgd(T* param, T* buf, const T* grad, int64_t n, T lr, T momentum, T one_minus_dampening, bool nesterov,
         T wd) {
  with_bool(buf != nullptr, [&](auto has_momentum) {
    with_bool(nesterov, [&](auto nest) {
      with_bool(wd != T(0), [&](auto l2) {
        parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
          T* __restrict P = param;
          T* __restrict B = buf;
          const T* __restrict G = grad;
          for (int64_t i = b; i < e; ++i) {
            T g = l2_grad(l2, G[i], wd, P[i]);
            if constexpr (decltype(has_momentum)::value) {
              const T v = momentum * B[i] + one_minus_dampening * g;
              B[i] = v;
              g = decltype(nest)::value ? g + momentum * v : v;
            }
            P[i] -= lr * g;
          }
        });
      });
    });
  });
}

// Adam on elements [b, e). The arrays are __restrict parameters of a function, not __restrict locals of the
// thread's lambda: with five arrays (AMSGrad) GCC did not trust the locals, versioned the loop on runtime
// overlap checks, found more pairs to check than it allows and kept the whole loop scalar (8x slower).
template <class AMS, class L2, class T>
inline void adam_range(T* __restrict P, T* __restrict M, T* __restrict V, T* __restrict VMAX,
                       const T* __restrict G, int64_t b, int64_t e, T step_size, T inv_sqrt_bc2, T beta1,
                       T c1, T beta2, T c2, T eps, T wd, T decay) {
  for (int64_t i = b; i < e; ++i) {
    const T p = P[i] * decay;  // AdamW: decay = 1 - lr * wd; Adam: 1
    // Adam's L2 term (wd = 0 for AdamW). Without it (wd == 0) the select still multiplies wd * p, so
    // that p keeps a use other than the update below: GCC would otherwise fuse P * decay into that
    // update as one FMA and change AdamW's result bits. The select, not 0 * p, keeps a +-inf p. Its
    // condition also reads the element (G[i] == G[i]; wd is 0 in this copy, so the term is 0 either way)
    // so that it is not loop-invariant: GCC would otherwise split the loop on wd != 0 ("unswitching"),
    // drop wd * p from the wd == 0 copy and fuse after all.
    const T g = L2::value ? G[i] + wd * p : G[i] + (((wd != T(0)) & (G[i] == G[i])) ? wd * p : T(0));
    const T mi = beta1 * M[i] + c1 * g;
    T vi = beta2 * V[i] + c2 * g * g;
    M[i] = mi;
    V[i] = vi;
    if constexpr (AMS::value) {
      vi = rows::nan_max(VMAX[i], vi);  // vi when larger or NaN
      VMAX[i] = vi;
    }
    P[i] = p - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

// param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad (n,)
template <class T>
void adam(T* param, T* m, T* v, T* vmax, const T* grad, int64_t n, T step_size, T inv_sqrt_bc2, T beta1, T c1,
          T beta2, T c2, T eps, T wd, T decay) {
  with_bool(vmax != nullptr, [&](auto amsgrad) {
    with_bool(wd != T(0), [&](auto l2) {
      parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
        adam_range<decltype(amsgrad), decltype(l2)>(param, m, v, vmax, grad, b, e, step_size, inv_sqrt_bc2, beta1,
                                                    c1, beta2, c2, eps, wd, decay);
      });
    });
  });
}

// RMSprop on elements [b, e); __restrict parameters for the reason given at adam_range (five arrays when
// centered with momentum).
template <class Momentum, class Centered, class L2, class T>
inline void rmsprop_range(T* __restrict P, T* __restrict S, T* __restrict B, T* __restrict A, const T* __restrict G,
                          int64_t b, int64_t e, T lr, T rho, T c_rho, T eps, T momentum, T wd) {
  for (int64_t i = b; i < e; ++i) {
    const T g = l2_grad(L2{}, G[i], wd, P[i]);
    const T s = rho * S[i] + c_rho * g * g;
    S[i] = s;
    T var = s;
    if constexpr (Centered::value) {
      const T ga = rho * A[i] + c_rho * g;
      A[i] = ga;
      var = s - ga * ga;
    }
    const T step = g / (std::sqrt(var) + eps);
    if constexpr (Momentum::value) {
      const T bv = momentum * B[i] + step;
      B[i] = bv;
      P[i] -= lr * bv;
    } else {
      P[i] -= lr * step;
    }
  }
}

// param, square_avg, momentum_buffer, grad_avg, grad (n,)
template <class T>
void rmsprop(T* param, T* sq, T* buf, T* gavg, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps, T momentum,
             T wd) {
  with_bool(buf != nullptr, [&](auto has_momentum) {
    with_bool(gavg != nullptr, [&](auto centered) {
      with_bool(wd != T(0), [&](auto l2) {
        parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
          rmsprop_range<decltype(has_momentum), decltype(centered), decltype(l2)>(param, sq, buf, gavg, grad, b, e, lr,
                                                                                  rho, c_rho, eps, momentum, wd);
        });
      });
    });
  });
}

// param, accumulator, grad (n,)
template <class T>
void adagrad(T* param, T* acc, const T* grad, int64_t n, T lr, T eps, T wd) {
  with_bool(wd != T(0), [&](auto l2) {
    parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
      T* __restrict P = param;
      T* __restrict ACC = acc;
      const T* __restrict G = grad;
      for (int64_t i = b; i < e; ++i) {
        const T g = l2_grad(l2, G[i], wd, P[i]);
        const T a = ACC[i] + g * g;
        ACC[i] = a;
        P[i] -= lr * g / (std::sqrt(a) + eps);
      }
    });
  });
}

// param, accum_grad, accum_update, grad (n,)
template <class T>
void adadelta(T* param, T* sq, T* acc_delta, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps, T wd) {
  with_bool(wd != T(0), [&](auto l2) {
    parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
      T* __restrict P = param;
      T* __restrict S = sq;
      T* __restrict U = acc_delta;
      const T* __restrict G = grad;
      for (int64_t i = b; i < e; ++i) {
        const T g = l2_grad(l2, G[i], wd, P[i]);
        const T s = rho * S[i] + c_rho * g * g;
        S[i] = s;
        const T delta = std::sqrt(U[i] + eps) / std::sqrt(s + eps) * g;
        U[i] = rho * U[i] + c_rho * delta * delta;
        P[i] -= lr * delta;
      }
    });
  });
}

// param, exp_avg, exp_inf, grad (n,)
template <class T>
void adamax(T* param, T* m, T* u, const T* grad, int64_t n, T step_size, T beta1, T c1, T beta2, T eps, T wd) {
  with_bool(wd != T(0), [&](auto l2) {
    parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
      T* __restrict P = param;
      T* __restrict M = m;
      T* __restrict U = u;
      const T* __restrict G = grad;
      for (int64_t i = b; i < e; ++i) {
        const T g = l2_grad(l2, G[i], wd, P[i]);
        const T mi = beta1 * M[i] + c1 * g;
        const T ui = rows::nan_max(std::fabs(g) + eps, beta2 * U[i]);  // beta2 u when larger or NaN
        M[i] = mi;
        U[i] = ui;
        P[i] -= step_size * mi / ui;
      }
    });
  });
}

// param, exp_avg, exp_avg_sq, grad (n,); cg = lr (1 - mu_t) / (1 - prod_t), cm = lr mu_{t+1} / (1 - prod_{t+1})
template <class T>
void nadam(T* param, T* m, T* v, const T* grad, int64_t n, T cg, T cm, T inv_sqrt_bc2, T beta1, T c1, T beta2,
           T c2, T eps, T wd) {
  with_bool(wd != T(0), [&](auto l2) {
    parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
      T* __restrict P = param;
      T* __restrict M = m;
      T* __restrict V = v;
      const T* __restrict G = grad;
      for (int64_t i = b; i < e; ++i) {
        const T g = l2_grad(l2, G[i], wd, P[i]);
        const T mi = beta1 * M[i] + c1 * g;
        const T vi = beta2 * V[i] + c2 * g * g;
        M[i] = mi;
        V[i] = vi;
        const T denom = std::sqrt(vi) * inv_sqrt_bc2 + eps;
        P[i] -= (cg * g + cm * mi) / denom;
      }
    });
  });
}

// Sign of x with NaN kept: 1, -1, or x itself for 0, -0 and NaN (np.sign does the same).
template <class T>
inline T nan_sign(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }

// param, exp_avg, grad (n,); decay = 1 - lr * weight_decay (decoupled, as the Lion paper's update)
template <class T>
void lion(T* param, T* m, const T* grad, int64_t n, T lr, T decay, T beta1, T c1, T beta2, T c2) {
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    T* __restrict P = param;
    T* __restrict M = m;
    const T* __restrict G = grad;
    for (int64_t i = b; i < e; ++i) {
      const T g = G[i], mi = M[i];
      P[i] = P[i] * decay - lr * nan_sign(beta1 * mi + c1 * g);
      M[i] = beta2 * mi + c2 * g;
    }
  });
}

// param, accumulator, linear, grad (n,); neg_lr_power = -learning_rate_power (>= 0; sqrt_power when it is
// 0.5), two_l2 = 2 l2 + beta / lr, two_l2_shrinkage = 2 l2_shrinkage (Keras's Ftrl, see ftrl_step)
template <class T>
void ftrl(T* param, T* acc, T* lin, const T* grad, int64_t n, T lr, T neg_lr_power, bool sqrt_power, T l1,
          T two_l2, T two_l2_shrinkage) {
  with_bool(sqrt_power, [&](auto use_sqrt) {
    parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
      T* __restrict P = param;
      T* __restrict ACC = acc;
      T* __restrict LIN = lin;
      const T* __restrict G = grad;
      const T power = neg_lr_power;
      for (int64_t i = b; i < e; ++i) {
        const T g = G[i], p = P[i], a = ACC[i];
        const T na = a + g * g;
        T pn, pa;
        if constexpr (decltype(use_sqrt)::value) {
          pn = std::sqrt(na);
          pa = std::sqrt(a);
        } else {
          pn = std::pow(na, power);
          pa = std::pow(a, power);
        }
        const T l = LIN[i] + (g + two_l2_shrinkage * p) - (pn - pa) / lr * p;
        const T quadratic = pn / lr + two_l2;
        const T clipped = l < -l1 ? -l1 : (l > l1 ? l1 : l);
        P[i] = (clipped - l) / quadratic;
        ACC[i] = na;
        LIN[i] = l;
      }
    });
  });
}

// ---- Adafactor's row loops (optim.cpp, adafactor_step) ----------------------------------------------
template <class T>
void adafactor_row_sums(const T* g, const T* p, int64_t n, T eps1, double* sum_sq, double* sum_p2) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; ++i) {
    a += double(g[i] * g[i] + eps1);
    b += double(p[i]) * double(p[i]);
  }
  *sum_sq += a;
  *sum_p2 += b;
}

template <class T>
void adafactor_column_sums(double* acc, const T* g, int64_t n, T eps1) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) acc[i] += double(g[i] * g[i] + eps1);
}

template <class T>
void adafactor_factored_u_sums(const T* g, const T* c, int64_t n, T rfac, double* sum_u2) {
  double a = 0;
#pragma omp simd reduction(+ : a)
  for (int64_t i = 0; i < n; ++i) {
    const T u = g[i] / std::sqrt(rfac * c[i]);
    a += double(u) * double(u);
  }
  *sum_u2 += a;
}

template <class T>
void adafactor_factored_update(T* p, const T* g, const T* c, int64_t n, T rfac, T scale) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] -= scale * (g[i] / std::sqrt(rfac * c[i]));
}

template <class T>
void adafactor_velocity(T* v, const T* g, const T* p, int64_t n, T beta2, T c2, T eps1, double* sum_u2,
                        double* sum_p2) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; ++i) {
    const T vi = beta2 * v[i] + c2 * (g[i] * g[i] + eps1);
    v[i] = vi;
    const T u = g[i] / std::sqrt(vi);
    a += double(u) * double(u);
    b += double(p[i]) * double(p[i]);
  }
  *sum_u2 += a;
  *sum_p2 += b;
}

template <class T>
void adafactor_update(T* p, const T* g, const T* v, int64_t n, T scale) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] -= scale * (g[i] / std::sqrt(v[i]));
}

template <class T>
fastann::cpu::AdafactorLoops<T> adafactor_loops() {
  return {&adafactor_row_sums<T>, &adafactor_column_sums<T>, &adafactor_factored_u_sums<T>,
          &adafactor_factored_update<T>, &adafactor_velocity<T>, &adafactor_update<T>};
}

#define FASTANN_OPTIM_INSTANCES(T)                                                                       \
  template void sgd<T>(T*, T*, const T*, int64_t, T, T, T, bool, T);                                    \
  template void adam<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T, T, T, T, T);                      \
  template void rmsprop<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T, T);                        \
  template void adagrad<T>(T*, T*, const T*, int64_t, T, T, T);                                         \
  template void adadelta<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T);                              \
  template void adamax<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T, T);                             \
  template void nadam<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T, T, T, T, T);                      \
  template void lion<T>(T*, T*, const T*, int64_t, T, T, T, T, T, T);                                   \
  template void ftrl<T>(T*, T*, T*, const T*, int64_t, T, T, bool, T, T, T);                          \
  template fastann::cpu::AdafactorLoops<T> adafactor_loops<T>();
FASTANN_OPTIM_INSTANCES(float)
FASTANN_OPTIM_INSTANCES(double)
#undef FASTANN_OPTIM_INSTANCES

}  // namespace fastann::cpu::FASTANN_ISA
