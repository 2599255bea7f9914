// loss_loops.hpp: the elementwise losses' sums (every forward) and the derivatives of the losses of
// fastann/loss_terms.hpp, compiled once per ISA (csrc/cpu/README.md): included by loss_scalar.cpp, loss_avx2.cpp
// and loss_avx512.cpp, each with its own FASTANN_ISA namespace; loss.cpp calls the one simd_level() names.
//
// Each term is evaluated in double and summed in 16 double lanes (row_reduce.hpp). The logs, exps and tanh come
// from vexp.hpp (VecMath below), written as arithmetic the compiler vectorizes: a call to the C library's keeps
// a loop scalar (docs/losses.md, Measured).
#include "loss_isa.hpp"

#include <cmath>

#include "fastann/common.hpp"
#include "fastann/loss_terms.hpp"
#include "parallel_sum.hpp"
#include "row_reduce.hpp"
#include "vexp.hpp"

namespace fastann::cpu::FASTANN_ISA {
namespace {

// Elements per thread below which a loss stays on one thread. Handing a chunk to the thread team costs ~1 us (a
// helper that has not started leaves its chunk to the caller), so a split pays from a few microseconds of work:
// the terms run at 0.2-3 ns per element (the ones with a log the most). docs/losses.md.
constexpr int64_t kGrain = 16384;

// The loss_terms math policy with vexp.hpp's functions. log1p_exp_neg(a) = log1p(exp(-a)), a >= 0: the argument
// of log1p is in [0, 1], vlog1p_unit's domain.
struct VecMath {
  static double log(double x) { return vlog(x); }
  static double log1p_exp_neg(double a) { return vlog1p_unit(vexp(-a)); }
  static double tanh(double x) { return vtanh(x); }
};

// The terms of the losses written in loss.cpp's own kernels (their backwards stay there), in the form of
// fastann/loss_terms.hpp: term(x, t, param).
struct Mse {
  static double term(double x, double t, double) { return (x - t) * (x - t); }
};
struct L1 {
  static double term(double x, double t, double) { return std::fabs(x - t); }
};
// -(t log p + (1 - t) log(1 - p)), p = clip(x, eps, 1 - eps)
struct BinaryCrossEntropy {
  static double term(double x, double t, double eps) {
    const double p = loss_terms::clamp(x, eps, 1.0 - eps);
    return -(t * vlog(p) + (1.0 - t) * vlog(1.0 - p));
  }
};
// the stable form max(x, 0) - x t + log1p(exp(-|x|)) of -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
struct BinaryCrossEntropyWithLogits {
  static double term(double x, double t, double) {
    return (x > 0 ? x : 0.0) - x * t + VecMath::log1p_exp_neg(std::fabs(x));
  }
};

// The target a term sees: tgt itself, or for the hinge losses Keras's label 2 t - 1 when every target is 0 or 1
// (`binary`). Written as t * scale + shift with both chosen outside the loop: a select on a loop-invariant bool
// is an operation GCC's vectorizer does not support, and it left every loop that contained it scalar.
struct Label {
  double scale = 1.0, shift = 0.0;
  static Label hinge(bool binary) { return binary ? Label{2.0, -1.0} : Label{}; }
};

// The terms go through a block of kBlock doubles: a plain loop that fills it vectorizes however long the term
// (a term evaluated inside the 16-lane sum had to be vectorized as one straight-line block, which GCC gave up
// on for the ones with a log), and the block's sum is the 16-lane sum of row_reduce.hpp. Hinge: the targets
// go through Label.
template <class Term, bool Hinge, class T>
double sum_of(const T* inp, const T* tgt, int64_t n, double param, Label label) {
  return detail::parallel_sum(n, kGrain, [=](int64_t b, int64_t e) {
    // locals, not the lambda's captures: GCC reloads a capture per element (the stores to `terms` might change
    // it, as far as it knows)
    const double p = param, scale = label.scale, shift = label.shift;
    constexpr int64_t kBlock = 256;
    double terms[kBlock];
    double s = 0.0;
    for (int64_t i0 = b; i0 < e; i0 += kBlock) {
      const int64_t len = e - i0 < kBlock ? e - i0 : kBlock;
      const T* x = inp + i0;
      const T* t = tgt + i0;
      for (int64_t j = 0; j < len; ++j)
        terms[j] = Term::term(x[j], Hinge ? double(t[j]) * scale + shift : double(t[j]), p);
      s += rows::sum(terms, len);
    }
    return s;
  });
}

template <class Term, bool Hinge, class T>
void grad_of(T* dinp, const T* inp, const T* tgt, int64_t n, double param, double scale, Label label) {
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    const double p = param, sc = scale, lscale = label.scale, lshift = label.shift;  // locals, as in sum_of
    for (int64_t i = b; i < e; ++i)
      dinp[i] = T(sc * Term::grad(inp[i], Hinge ? double(tgt[i]) * lscale + lshift : double(tgt[i]), p));
  });
}

}  // namespace

template <class T>
double terms_sum(ElementwiseLoss kind, const T* inp, const T* tgt, int64_t n, double param, bool binary) {
  using L = ElementwiseLoss;
  const Label none{}, hinge = Label::hinge(binary);
  switch (kind) {
    case L::mse: return sum_of<Mse, false>(inp, tgt, n, param, none);
    case L::l1: return sum_of<L1, false>(inp, tgt, n, param, none);
    case L::binary_cross_entropy: return sum_of<BinaryCrossEntropy, false>(inp, tgt, n, param, none);
    case L::binary_cross_entropy_with_logits:
      return sum_of<BinaryCrossEntropyWithLogits, false>(inp, tgt, n, param, none);
    case L::huber: return sum_of<loss_terms::Huber, false>(inp, tgt, n, param, none);
    case L::kl_divergence: return sum_of<loss_terms::KLDivergenceT<VecMath>, false>(inp, tgt, n, param, none);
    case L::hinge: return sum_of<loss_terms::Hinge, true>(inp, tgt, n, param, hinge);
    case L::squared_hinge: return sum_of<loss_terms::SquaredHinge, true>(inp, tgt, n, param, hinge);
    case L::log_cosh: return sum_of<loss_terms::LogCoshT<VecMath>, false>(inp, tgt, n, param, none);
    case L::poisson: return sum_of<loss_terms::PoissonT<VecMath>, false>(inp, tgt, n, param, none);
  }
  return 0.0;
}

template <class T>
void terms_grad(ElementwiseLoss kind, T* dinp, const T* inp, const T* tgt, int64_t n, double param, double scale,
                bool binary) {
  using L = ElementwiseLoss;
  const Label none{}, hinge = Label::hinge(binary);
  switch (kind) {
    case L::huber: return grad_of<loss_terms::Huber, false>(dinp, inp, tgt, n, param, scale, none);
    case L::kl_divergence:
      return grad_of<loss_terms::KLDivergenceT<VecMath>, false>(dinp, inp, tgt, n, param, scale, none);
    case L::hinge: return grad_of<loss_terms::Hinge, true>(dinp, inp, tgt, n, param, scale, hinge);
    case L::squared_hinge: return grad_of<loss_terms::SquaredHinge, true>(dinp, inp, tgt, n, param, scale, hinge);
    case L::log_cosh: return grad_of<loss_terms::LogCoshT<VecMath>, false>(dinp, inp, tgt, n, param, scale, none);
    case L::poisson: return grad_of<loss_terms::PoissonT<VecMath>, false>(dinp, inp, tgt, n, param, scale, none);
    default: break;  // mse, l1 and the binary cross-entropies: their backwards are in loss.cpp
  }
}

template double terms_sum<float>(ElementwiseLoss, const float*, const float*, int64_t, double, bool);
template double terms_sum<double>(ElementwiseLoss, const double*, const double*, int64_t, double, bool);
template void terms_grad<float>(ElementwiseLoss, float*, const float*, const float*, int64_t, double, double, bool);
template void terms_grad<double>(ElementwiseLoss, double*, const double*, const double*, int64_t, double, double,
                                 bool);

}  // namespace fastann::cpu::FASTANN_ISA
