// optim.cu: fused optimizer updates on the GPU, float32 and float64.
//
// The CUDA twin of csrc/cpu/optim.cpp + optim_impl.hpp: one grid-stride kernel per optimizer reads grad and
// the state once and writes param and the state once (the textbook form is 5-10 elementwise passes). The
// per-step scalars (bias corrections, Nadam's schedule, and the complements 1 - beta: float(1) - float(0.999)
// is off by 5e-5 relative) are computed once in double on the host, exactly as on the CPU, and the
// arithmetic runs in T. Features that change the loop (momentum, nesterov, AMSGrad,
// centered) are template flags resolved at launch, not per-element branches. Update rules and sources:
// fastann/cpu/optim.hpp, python/fastann/reference/optim.py, docs/optimizers.md.
//
// Sections: helpers, kernels, launchers.
#include <cmath>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/optim.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

template <class T>
__device__ __forceinline__ T nan_max2(T a, T b) { return (a > b || a != a) ? a : b; }

template <bool B>
using bool_c = std::integral_constant<bool, B>;

template <class F>
void with_bool(bool a, F&& body) {
  if (a) body(bool_c<true>{});
  else body(bool_c<false>{});
}

// The L2 term g + wd p of the coupled weight decay, or g alone when the call's weight_decay is 0 (L2 is a
// template flag chosen at launch): PyTorch skips the term then, so a +-inf param stays +-inf instead of its
// gradient becoming 0 * inf = NaN (csrc/cpu/optim_loops.hpp).
template <bool L2, class T>
__device__ __forceinline__ T l2_grad(T g, T wd, T p) { return L2 ? g + wd * p : g; }

// =====================================================================================================
// Kernels (all arrays (n,))
// =====================================================================================================

template <class T, bool MOMENTUM, bool NESTEROV, bool L2>
__global__ void sgd_kernel(T* param, T* buf, const T* grad, int64_t n, T lr, T momentum, T one_minus_dampening,
                           T wd) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    T g = l2_grad<L2>(grad[i], wd, param[i]);
    if (MOMENTUM) {
      const T v = momentum * buf[i] + one_minus_dampening * g;
      buf[i] = v;
      g = NESTEROV ? g + momentum * v : v;
    }
    param[i] -= lr * g;
  }
}

template <class T, bool AMSGRAD, bool L2>
__global__ void adam_kernel(T* param, T* m, T* v, T* vmax, const T* grad, int64_t n, T step_size, T inv_sqrt_bc2,
                            T beta1, T c1, T beta2, T c2, T eps, T wd, T decay) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T p = param[i] * decay;  // AdamW: decay = 1 - lr * wd; Adam: 1
    // Adam's L2 term (wd = 0 for AdamW); without it the select keeps wd * p, so p has the uses it had
    // before (csrc/cpu/optim_loops.hpp: fusing param * decay into the update would change AdamW's bits)
    const T g = L2 ? grad[i] + wd * p : grad[i] + (wd != T(0) ? wd * p : T(0));
    const T mi = beta1 * m[i] + c1 * g;
    T vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    if (AMSGRAD) {
      vi = nan_max2(vi, vmax[i]);
      vmax[i] = vi;
    }
    param[i] = p - step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

template <class T, bool MOMENTUM, bool CENTERED, bool L2>
__global__ void rmsprop_kernel(T* param, T* sq, T* buf, T* gavg, const T* grad, int64_t n, T lr, T rho, T c_rho,
                               T eps, T momentum, T wd) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = l2_grad<L2>(grad[i], wd, param[i]);
    const T s = rho * sq[i] + c_rho * g * g;
    sq[i] = s;
    T var = s;
    if (CENTERED) {
      const T ga = rho * gavg[i] + c_rho * g;
      gavg[i] = ga;
      var = s - ga * ga;
    }
    const T step = g / (sqrt(var) + eps);
    if (MOMENTUM) {
      const T bv = momentum * buf[i] + step;
      buf[i] = bv;
      param[i] -= lr * bv;
    } else {
      param[i] -= lr * step;
    }
  }
}

template <class T, bool L2>
__global__ void adagrad_kernel(T* param, T* acc, const T* grad, int64_t n, T lr, T eps, T wd) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = l2_grad<L2>(grad[i], wd, param[i]);
    const T a = acc[i] + g * g;
    acc[i] = a;
    param[i] -= lr * g / (sqrt(a) + eps);
  }
}

template <class T, bool L2>
__global__ void adadelta_kernel(T* param, T* sq, T* acc_delta, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps,
                                T wd) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = l2_grad<L2>(grad[i], wd, param[i]);
    const T s = rho * sq[i] + c_rho * g * g;
    sq[i] = s;
    const T delta = sqrt(acc_delta[i] + eps) / sqrt(s + eps) * g;
    acc_delta[i] = rho * acc_delta[i] + c_rho * delta * delta;
    param[i] -= lr * delta;
  }
}

template <class T, bool L2>
__global__ void adamax_kernel(T* param, T* m, T* u, const T* grad, int64_t n, T step_size, T beta1, T c1, T beta2,
                              T eps, T wd) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = l2_grad<L2>(grad[i], wd, param[i]);
    const T mi = beta1 * m[i] + c1 * g;
    const T ui = nan_max2(beta2 * u[i], fabs(g) + eps);
    m[i] = mi;
    u[i] = ui;
    param[i] -= step_size * mi / ui;
  }
}

// cg = lr (1 - mu_t) / (1 - prod_t), cm = lr mu_{t+1} / (1 - prod_{t+1})
template <class T, bool L2>
__global__ void nadam_kernel(T* param, T* m, T* v, const T* grad, int64_t n, T cg, T cm, T inv_sqrt_bc2, T beta1,
                             T c1, T beta2, T c2, T eps, T wd) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = l2_grad<L2>(grad[i], wd, param[i]);
    const T mi = beta1 * m[i] + c1 * g;
    const T vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const T denom = sqrt(vi) * inv_sqrt_bc2 + eps;
    param[i] -= (cg * g + cm * mi) / denom;
  }
}

// sign(x) with NaN kept (0, -0 and NaN give x), as np.sign.
template <class T>
__device__ __forceinline__ T nan_sign(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }

template <class T>
__global__ void lion_kernel(T* param, T* m, const T* grad, int64_t n, T lr, T decay, T beta1, T c1, T beta2, T c2) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = grad[i], mi = m[i];
    param[i] = param[i] * decay - lr * nan_sign(beta1 * mi + c1 * g);
    m[i] = beta2 * mi + c2 * g;
  }
}

template <class T, bool SQRT_POWER>
__global__ void ftrl_kernel(T* param, T* acc, T* lin, const T* grad, int64_t n, T lr, T neg_lr_power, T l1,
                            T two_l2, T two_l2_shrinkage) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T g = grad[i], p = param[i], a = acc[i];
    const T na = a + g * g;
    const T pn = SQRT_POWER ? sqrt(na) : pow(na, neg_lr_power);
    const T pa = SQRT_POWER ? sqrt(a) : pow(a, neg_lr_power);
    const T l = lin[i] + (g + two_l2_shrinkage * p) - (pn - pa) / lr * p;
    const T quadratic = pn / lr + two_l2;
    const T clipped = l < -l1 ? -l1 : (l > l1 ? l1 : l);
    param[i] = (clipped - l) / quadratic;
    acc[i] = na;
    lin[i] = l;
  }
}

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

double nadam_mu(double beta1, int64_t t) { return beta1 * (1.0 - 0.5 * std::pow(0.96, 0.004 * double(t))); }

#define FASTANN_LAUNCH(kernel, ...)                                              \
  do {                                                                           \
    kernel<<<grid_for(n), kBlock, 0, s>>>(__VA_ARGS__);                          \
    FASTANN_CUDA_CHECK_LAUNCH(#kernel);                                          \
  } while (0)

template <class T>
void sgd_step(T* param, T* momentum_buffer, const T* grad, int64_t n, double lr, double momentum, double dampening,
              bool nesterov, double weight_decay, cudaStream_t s) {
  if (n <= 0) return;
  T* buf = momentum == 0.0 ? nullptr : momentum_buffer;
  with_bool(buf != nullptr, [&](auto mom) {
    with_bool(nesterov, [&](auto nest) {
      with_bool(T(weight_decay) != T(0), [&](auto l2) {
        FASTANN_LAUNCH((sgd_kernel<T, decltype(mom)::value, decltype(nest)::value, decltype(l2)::value>), param, buf,
                       grad, n, T(lr), T(momentum), T(1.0 - dampening), T(weight_decay));
      });
    });
  });
}

template <class T>
void adam_step(T* param, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const T* grad, int64_t n, int64_t step,
               double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled, cudaStream_t s) {
  if (n <= 0) return;
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  const double decay = decoupled ? 1.0 - lr * weight_decay : 1.0;
  const double l2 = decoupled ? 0.0 : weight_decay;
  with_bool(max_exp_avg_sq != nullptr, [&](auto ams) {
    with_bool(T(l2) != T(0), [&](auto on) {
      FASTANN_LAUNCH((adam_kernel<T, decltype(ams)::value, decltype(on)::value>), param, exp_avg, exp_avg_sq,
                     max_exp_avg_sq, grad, n, T(lr / bc1), T(1.0 / std::sqrt(bc2)), T(beta1), T(1.0 - beta1), T(beta2),
                     T(1.0 - beta2), T(eps), T(l2), T(decay));
    });
  });
}

template <class T>
void rmsprop_step(T* param, T* square_avg, T* momentum_buffer, T* grad_avg, const T* grad, int64_t n, double lr,
                  double rho, double eps, double momentum, double weight_decay, cudaStream_t s) {
  if (n <= 0) return;
  T* buf = momentum == 0.0 ? nullptr : momentum_buffer;
  with_bool(buf != nullptr, [&](auto mom) {
    with_bool(grad_avg != nullptr, [&](auto centered) {
      with_bool(T(weight_decay) != T(0), [&](auto l2) {
        FASTANN_LAUNCH((rmsprop_kernel<T, decltype(mom)::value, decltype(centered)::value, decltype(l2)::value>), param,
                       square_avg, buf, grad_avg, grad, n, T(lr), T(rho), T(1.0 - rho), T(eps), T(momentum),
                       T(weight_decay));
      });
    });
  });
}

template <class T>
void adagrad_step(T* param, T* accumulator, const T* grad, int64_t n, double lr, double eps, double weight_decay,
                  cudaStream_t s) {
  if (n <= 0) return;
  with_bool(T(weight_decay) != T(0), [&](auto l2) {
    FASTANN_LAUNCH((adagrad_kernel<T, decltype(l2)::value>), param, accumulator, grad, n, T(lr), T(eps),
                   T(weight_decay));
  });
}

template <class T>
void adadelta_step(T* param, T* accum_grad, T* accum_update, const T* grad, int64_t n, double lr, double rho,
                   double eps, double weight_decay, cudaStream_t s) {
  if (n <= 0) return;
  with_bool(T(weight_decay) != T(0), [&](auto l2) {
    FASTANN_LAUNCH((adadelta_kernel<T, decltype(l2)::value>), param, accum_grad, accum_update, grad, n, T(lr), T(rho),
                   T(1.0 - rho), T(eps), T(weight_decay));
  });
}

template <class T>
void adamax_step(T* param, T* exp_avg, T* exp_inf, const T* grad, int64_t n, int64_t step, double lr, double beta1,
                 double beta2, double eps, double weight_decay, cudaStream_t s) {
  if (n <= 0) return;
  const double bc1 = 1.0 - std::pow(beta1, double(step));
  with_bool(T(weight_decay) != T(0), [&](auto l2) {
    FASTANN_LAUNCH((adamax_kernel<T, decltype(l2)::value>), param, exp_avg, exp_inf, grad, n, T(lr / bc1), T(beta1),
                   T(1.0 - beta1), T(beta2), T(eps), T(weight_decay));
  });
}

template <class T>
void nadam_step(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, int64_t n, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay, double mu_product, cudaStream_t s) {
  if (n <= 0) return;
  const double mu = nadam_mu(beta1, step), mu_next = nadam_mu(beta1, step + 1);
  const double cg = lr * (1.0 - mu) / (1.0 - mu_product);
  const double cm = lr * mu_next / (1.0 - mu_product * mu_next);
  const double bc2 = 1.0 - std::pow(beta2, double(step));
  with_bool(T(weight_decay) != T(0), [&](auto l2) {
    FASTANN_LAUNCH((nadam_kernel<T, decltype(l2)::value>), param, exp_avg, exp_avg_sq, grad, n, T(cg), T(cm),
                   T(1.0 / std::sqrt(bc2)), T(beta1), T(1.0 - beta1), T(beta2), T(1.0 - beta2), T(eps),
                   T(weight_decay));
  });
}
template <class T>
void lion_step(T* param, T* exp_avg, const T* grad, int64_t n, double lr, double beta1, double beta2,
               double weight_decay, cudaStream_t s) {
  if (n <= 0) return;
  FASTANN_LAUNCH(lion_kernel<T>, param, exp_avg, grad, n, T(lr), T(1.0 - lr * weight_decay), T(beta1),
                 T(1.0 - beta1), T(beta2), T(1.0 - beta2));
}

template <class T>
void ftrl_step(T* param, T* accumulator, T* linear, const T* grad, int64_t n, double lr, double lr_power, double l1,
               double l2, double l2_shrinkage, double beta, cudaStream_t s) {
  if (n <= 0) return;
  with_bool(lr_power == -0.5, [&](auto sq) {
    FASTANN_LAUNCH((ftrl_kernel<T, decltype(sq)::value>), param, accumulator, linear, grad, n, T(lr), T(-lr_power),
                   T(l1), T(2.0 * l2 + beta / lr), T(2.0 * l2_shrinkage));
  });
}
#undef FASTANN_LAUNCH

#define FASTANN_OPTIM_T(T)                                                                                   \
  template void sgd_step<T>(T*, T*, const T*, int64_t, double, double, double, bool, double, cudaStream_t);  \
  template void adam_step<T>(T*, T*, T*, T*, const T*, int64_t, int64_t, double, double, double, double, double, \
                             bool, cudaStream_t);                                                           \
  template void rmsprop_step<T>(T*, T*, T*, T*, const T*, int64_t, double, double, double, double, double,    \
                                cudaStream_t);                                                              \
  template void adagrad_step<T>(T*, T*, const T*, int64_t, double, double, double, cudaStream_t);            \
  template void adadelta_step<T>(T*, T*, T*, const T*, int64_t, double, double, double, double, cudaStream_t); \
  template void adamax_step<T>(T*, T*, T*, const T*, int64_t, int64_t, double, double, double, double, double, \
                               cudaStream_t);                                                               \
  template void nadam_step<T>(T*, T*, T*, const T*, int64_t, int64_t, double, double, double, double, double,   \
                              double, cudaStream_t);                                                       \
  template void lion_step<T>(T*, T*, const T*, int64_t, double, double, double, double, cudaStream_t);       \
  template void ftrl_step<T>(T*, T*, T*, const T*, int64_t, double, double, double, double, double, double,   \
                             cudaStream_t);
FASTANN_OPTIM_T(float)
FASTANN_OPTIM_T(double)

}  // namespace fastann::cuda
