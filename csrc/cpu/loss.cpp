// loss.cpp: losses with mean reduction, forward and backward, float32 and float64.
//
// Elementwise losses are one pass each: the forward is a threaded sum (partials per chunk, accumulated in
// double), the backward a threaded map. The forwards' sums and the backwards of Keras's regression and margin
// losses are compiled per ISA (loss_loops.hpp), as is the softmax cross-entropy from logits (loss and gradient in
// one pass: cross_entropy_loops.hpp); this file dispatches to them. Sparse (integer labels) and dense (probability /
// one-hot) targets share one implementation through the accessors of internal/class_targets.hpp.
#include "fastann/cpu/loss.hpp"

#include <cmath>

#include "cross_entropy_isa.hpp"
#include "loss_isa.hpp"
#include "fastann/common.hpp"
#include "fastann/loss_terms.hpp"
#include "internal/class_targets.hpp"
#include "parallel_sum.hpp"
#include "row_reduce.hpp"
#include "vexp.hpp"
#include "internal/simd_dispatch.hpp"

namespace fastann::cpu {

// ---- helpers --------------------------------------------------------------------------------------
namespace {

// Elements per thread below which an elementwise loss stays on one thread. Handing a chunk to the thread team
// costs ~1 us (a helper that has not started leaves its chunk to the caller), so a split pays from a few
// microseconds of work: elementwise losses run at 0.2-1 ns per element (mse_loss_backward: 2 threads 1.2x
// one at 38 400 elements). The (N, C) losses use row_grain (internal/class_targets.hpp). docs/losses.md.
constexpr int64_t kGrain = 16384;

// The loops of loss_loops.hpp for the ISA simd_level() names: the sum of the loss's terms (double), and the
// gradient dinp_i = scale * d term / d x_i.
template <class T>
double terms_sum(ElementwiseLoss kind, const T* inp, const T* tgt, int64_t n, double param = 0.0,
                 bool binary = false) {
  FASTANN_SIMD_DISPATCH(terms_sum(kind, inp, tgt, n, param, binary));
}
template <class T>
void terms_grad(ElementwiseLoss kind, T* dinp, const T* inp, const T* tgt, int64_t n, double param, double scale,
                bool binary = false) {
  FASTANN_SIMD_DISPATCH(terms_grad(kind, dinp, inp, tgt, n, param, scale, binary));
}

}  // namespace

// ---- kernels: elementwise losses ------------------------------------------------------------------

// inp (n,), tgt (n,)
template <class T>
void mse_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n) {
  *loss = T(terms_sum(ElementwiseLoss::mse, inp, tgt, n) / double(n));
}

// inp (n,), tgt (n,), dinp (n,)
template <class T>
void mse_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g) {
  const T scale = T(2.0 * g / double(n));
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dinp[i] = scale * (inp[i] - tgt[i]);
  });
}

// inp (n,), tgt (n,)
template <class T>
void l1_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n) {
  *loss = T(terms_sum(ElementwiseLoss::l1, inp, tgt, n) / double(n));
}

// inp (n,), tgt (n,), dinp (n,): the subgradient sign(d) / n, 0 at d = 0, NaN for a NaN d
template <class T>
void l1_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g) {
  const T scale = T(g / double(n));
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T d = inp[i] - tgt[i];
      const T sign = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
      dinp[i] = d != d ? d : scale * sign;
    }
  });
}

// inp (n,) probabilities, tgt (n,)
template <class T>
void binary_cross_entropy_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps) {
  *loss = T(terms_sum(ElementwiseLoss::binary_cross_entropy, inp, tgt, n, eps) / double(n));
}

// inp (n,), tgt (n,), dinp (n,): zero where the clip is active (its derivative), NaN for a NaN input
template <class T>
void binary_cross_entropy_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g) {
  const double scale = g / double(n);
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const double p = inp[i], t = tgt[i];
      const bool inside = p >= eps && p <= 1.0 - eps;
      const double d = inside ? scale * (p - t) / (p * (1.0 - p)) : 0.0;
      dinp[i] = p != p ? T(p) : T(d);
    }
  });
}

// inp (n,) logits, tgt (n,): the stable form max(x,0) - x t + log1p(exp(-|x|)) of
// -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
template <class T>
void binary_cross_entropy_with_logits_forward(T* loss, const T* inp, const T* tgt, int64_t n) {
  *loss = T(terms_sum(ElementwiseLoss::binary_cross_entropy_with_logits, inp, tgt, n) / double(n));
}

// inp (n,), tgt (n,), dinp (n,): g (sigmoid(x) - t) / n
template <class T>
void binary_cross_entropy_with_logits_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g) {
  const T scale = T(g / double(n));
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T x = inp[i];
      const T ex = vexp(-std::fabs(x));
      const T sig = x >= T(0) ? T(1) / (T(1) + ex) : ex / (T(1) + ex);
      dinp[i] = scale * (sig - tgt[i]);
    }
  });
}

// ---- kernels: categorical cross-entropy on probabilities --------------------------------------------
namespace {

// Categorical cross-entropy on probabilities (Keras): q = clip(p / S, eps, 1 - eps), S = row sum,
// loss_i = -sum_j t_j log q_j over EVERY column, as Keras computes it: where q_j is NaN (an infinite or NaN
// row sum, or 0 / 0) or log q_j = -inf (eps = 0), a zero t_j still adds 0 * NaN = NaN. A row with a finite
// nonzero sum and eps > 0 has every q_j in [eps, 1 - eps] (finite log), so there only the columns with
// t_j != 0 are evaluated (0 log q adds nothing). docs/losses.md.
inline bool cce_all_columns(double S, double eps) { return !(std::isfinite(S) && S != 0.0) || eps == 0.0; }

template <class T, class Target>
void cce_forward_impl(T* loss, const T* inp, const Target& t, int64_t N, int64_t C, double eps) {
  const double total = detail::parallel_sum(N, row_grain(C), [&](int64_t b, int64_t e) {
    double acc = 0;
    for (int64_t i = b; i < e; ++i) {
      const T* p = inp + i * C;
      double S = 0;
      for (int64_t j = 0; j < C; ++j) S += p[j];
      const bool all_columns = cce_all_columns(S, eps);
      for (int64_t j = 0; j < C; ++j) {
        const double tj = t.at(i, j);
        if (tj != 0.0 || all_columns) acc -= tj * std::log(loss_terms::clamp(p[j] / S, eps, 1.0 - eps));
      }
    }
    return acc;
  });
  *loss = T(total / double(N));
}

// dL/dp_k = g/N * (A - t_k [k inside] / q_k) / S, with A = sum_j t_j [j inside]: the normalisation p/S
// couples the row; [inside] is the derivative of the clip.
template <class T, class Target>
void cce_backward_impl(T* dinp, const T* inp, const Target& t, int64_t N, int64_t C, double eps, double g) {
  const double scale = g / double(N);
  parallel_for(N, row_grain(C), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* p = inp + i * C;
      T* d = dinp + i * C;
      double S = 0;
      for (int64_t j = 0; j < C; ++j) S += p[j];
      double A = 0;
      for (int64_t j = 0; j < C; ++j) {
        const double r = p[j] / S;
        if (r >= eps && r <= 1.0 - eps) A += t.at(i, j);
      }
      for (int64_t j = 0; j < C; ++j) {
        const double r = p[j] / S;
        const bool inside = r >= eps && r <= 1.0 - eps;
        const double tj = t.at(i, j);
        d[j] = T(scale * (A - (inside && tj != 0.0 ? tj / r : 0.0)) / S);
      }
    }
  });
}

}  // namespace

// The softmax cross-entropy: the loops of the ISA simd_level() names (cross_entropy_loops.hpp).
template <class T, class L>
void cross_entropy_sparse(T* loss, T* dinp, const T* inp, const L* labels, int64_t N, int64_t C, double g) {
  FASTANN_SIMD_DISPATCH(cross_entropy_sparse_rows<T, L>(loss, dinp, inp, labels, N, C, g));
}
template <class T>
void cross_entropy_dense(T* loss, T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double g) {
  FASTANN_SIMD_DISPATCH(cross_entropy_dense_rows<T>(loss, dinp, inp, tgt, N, C, g));
}
template <class T, class L>
void categorical_crossentropy_sparse_forward(T* loss, const T* inp, const L* labels, int64_t N, int64_t C,
                                             double eps) {
  cce_forward_impl(loss, inp, SparseTarget<T, L>{labels}, N, C, eps);
}
template <class T>
void categorical_crossentropy_dense_forward(T* loss, const T* inp, const T* tgt, int64_t N, int64_t C,
                                            double eps) {
  cce_forward_impl(loss, inp, DenseTarget<T>{tgt, C}, N, C, eps);
}
template <class T, class L>
void categorical_crossentropy_sparse_backward(T* dinp, const T* inp, const L* labels, int64_t N, int64_t C,
                                              double eps, double g) {
  cce_backward_impl(dinp, inp, SparseTarget<T, L>{labels}, N, C, eps, g);
}
template <class T>
void categorical_crossentropy_dense_backward(T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C,
                                             double eps, double g) {
  cce_backward_impl(dinp, inp, DenseTarget<T>{tgt, C}, N, C, eps, g);
}

// ---- kernels: Keras's regression and margin losses (terms in fastann/loss_terms.hpp) -------------------
namespace {

// tgt (n,): true when every target is 0 or 1 (Keras then maps them to -1 / 1). Counted without a branch per
// element, a block at a time: written as `if (!(t == 0 || t == 1)) return false`, GCC compiled it (once the
// loss's own loop had moved to loss_loops.hpp) as a branch that mispredicts on random labels, 5 ns per element,
// ten times the loss itself.
template <class T>
bool all_binary(const T* tgt, int64_t n) {
  constexpr int64_t kBlock = 4096;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = n - i0 < kBlock ? n : i0 + kBlock;
    int64_t other = 0;
    for (int64_t i = i0; i < i1; ++i) other += !loss_terms::is_binary_label(tgt[i]);
    if (other) return false;
  }
  return true;
}

}  // namespace

// inp, tgt (n,)
template <class T>
void huber_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double delta) {
  *loss = T(terms_sum(ElementwiseLoss::huber, inp, tgt, n, delta) / double(n));
}
// inp, tgt, dinp (n,)
template <class T>
void huber_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double delta, double g) {
  terms_grad(ElementwiseLoss::huber, dinp, inp, tgt, n, delta, g / double(n));
}
// inp, tgt (n,) = (rows, last dimension)
template <class T>
void kl_divergence_forward(T* loss, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps) {
  *loss = T(terms_sum(ElementwiseLoss::kl_divergence, inp, tgt, n, eps) / double(rows));
}
// inp, tgt, dinp (n,) = (rows, last dimension)
template <class T>
void kl_divergence_backward(T* dinp, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps, double g) {
  terms_grad(ElementwiseLoss::kl_divergence, dinp, inp, tgt, n, eps, g / double(rows));
}
// inp, tgt (n,)
template <class T>
void hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n) {
  *loss = T(terms_sum(ElementwiseLoss::hinge, inp, tgt, n, 0.0, all_binary(tgt, n)) / double(n));
}
// inp, tgt, dinp (n,)
template <class T>
void hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g) {
  terms_grad(ElementwiseLoss::hinge, dinp, inp, tgt, n, 0.0, g / double(n), all_binary(tgt, n));
}
// inp, tgt (n,)
template <class T>
void squared_hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n) {
  *loss = T(terms_sum(ElementwiseLoss::squared_hinge, inp, tgt, n, 0.0, all_binary(tgt, n)) / double(n));
}
// inp, tgt, dinp (n,)
template <class T>
void squared_hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g) {
  terms_grad(ElementwiseLoss::squared_hinge, dinp, inp, tgt, n, 0.0, g / double(n), all_binary(tgt, n));
}
// inp, tgt (n,)
template <class T>
void log_cosh_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n) {
  *loss = T(terms_sum(ElementwiseLoss::log_cosh, inp, tgt, n) / double(n));
}
// inp, tgt, dinp (n,)
template <class T>
void log_cosh_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g) {
  terms_grad(ElementwiseLoss::log_cosh, dinp, inp, tgt, n, 0.0, g / double(n));
}
// inp, tgt (n,)
template <class T>
void poisson_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps) {
  *loss = T(terms_sum(ElementwiseLoss::poisson, inp, tgt, n, eps) / double(n));
}
// inp, tgt, dinp (n,)
template <class T>
void poisson_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g) {
  terms_grad(ElementwiseLoss::poisson, dinp, inp, tgt, n, eps, g / double(n));
}

// ---- dispatch: explicit instantiations ------------------------------------------------------------
#define FASTANN_LOSS_T(T)                                                                              \
  template void mse_loss_forward<T>(T*, const T*, const T*, int64_t);                                 \
  template void mse_loss_backward<T>(T*, const T*, const T*, int64_t, double);                        \
  template void l1_loss_forward<T>(T*, const T*, const T*, int64_t);                                  \
  template void l1_loss_backward<T>(T*, const T*, const T*, int64_t, double);                         \
  template void binary_cross_entropy_forward<T>(T*, const T*, const T*, int64_t, double);             \
  template void binary_cross_entropy_backward<T>(T*, const T*, const T*, int64_t, double, double);    \
  template void binary_cross_entropy_with_logits_forward<T>(T*, const T*, const T*, int64_t);         \
  template void binary_cross_entropy_with_logits_backward<T>(T*, const T*, const T*, int64_t, double);\
  template void cross_entropy_dense<T>(T*, T*, const T*, const T*, int64_t, int64_t, double);         \
  template void categorical_crossentropy_dense_forward<T>(T*, const T*, const T*, int64_t, int64_t, double); \
  template void categorical_crossentropy_dense_backward<T>(T*, const T*, const T*, int64_t, int64_t, double, \
                                                           double);
#define FASTANN_LOSS_TL(T, L)                                                                          \
  template void cross_entropy_sparse<T, L>(T*, T*, const T*, const L*, int64_t, int64_t, double);     \
  template void categorical_crossentropy_sparse_forward<T, L>(T*, const T*, const L*, int64_t, int64_t, \
                                                              double);                                \
  template void categorical_crossentropy_sparse_backward<T, L>(T*, const T*, const L*, int64_t, int64_t, \
                                                               double, double);
FASTANN_LOSS_T(float)
FASTANN_LOSS_T(double)
FASTANN_LOSS_TL(float, int32_t)
FASTANN_LOSS_TL(float, int64_t)
FASTANN_LOSS_TL(double, int32_t)
FASTANN_LOSS_TL(double, int64_t)

#define FASTANN_KERAS_LOSS_T(T)                                                                        \
  template void huber_loss_forward<T>(T*, const T*, const T*, int64_t, double);                       \
  template void huber_loss_backward<T>(T*, const T*, const T*, int64_t, double, double);              \
  template void kl_divergence_forward<T>(T*, const T*, const T*, int64_t, int64_t, double);           \
  template void kl_divergence_backward<T>(T*, const T*, const T*, int64_t, int64_t, double, double);  \
  template void hinge_loss_forward<T>(T*, const T*, const T*, int64_t);                               \
  template void hinge_loss_backward<T>(T*, const T*, const T*, int64_t, double);                      \
  template void squared_hinge_loss_forward<T>(T*, const T*, const T*, int64_t);                       \
  template void squared_hinge_loss_backward<T>(T*, const T*, const T*, int64_t, double);              \
  template void log_cosh_loss_forward<T>(T*, const T*, const T*, int64_t);                            \
  template void log_cosh_loss_backward<T>(T*, const T*, const T*, int64_t, double);                   \
  template void poisson_loss_forward<T>(T*, const T*, const T*, int64_t, double);                     \
  template void poisson_loss_backward<T>(T*, const T*, const T*, int64_t, double, double);
FASTANN_KERAS_LOSS_T(float)
FASTANN_KERAS_LOSS_T(double)

}  // namespace fastann::cpu
