// fastann/loss_terms.hpp: the per-element terms of Keras's regression and margin losses and their derivatives,
// in double, shared by the CPU kernels (csrc/cpu/loss_loops.hpp) and their CUDA twins (csrc/cuda/loss.cu), so the
// two compute the same formula. The terms that need log, exp or tanh take them from a math policy M: StdMath
// (the C library's, the default, used on CUDA) or the CPU's inlinable versions (loss_loops.hpp), with which the
// loops vectorize. x is the prediction, t the target; `param` is Huber's delta or the eps of
// kl_divergence and poisson (unused by the others). grad(x, t, param) is d term / d x. NaN in x or t gives
// a NaN term and a NaN derivative. Sources: keras/src/losses/losses.py (Keras 3): huber, kl_divergence,
// hinge (labels converted by the caller, see hinge_labels), squared_hinge, log_cosh, poisson.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define FASTANN_HD __host__ __device__ __forceinline__
#else
#define FASTANN_HD inline
#endif

namespace fastann::loss_terms {

// The C library's functions. log1p_exp_neg(a) = log1p(exp(-a)) for a >= 0.
struct StdMath {
  static FASTANN_HD double log(double x) { return std::log(x); }
  static FASTANN_HD double log1p_exp_neg(double a) { return std::log1p(std::exp(-a)); }
  static FASTANN_HD double tanh(double x) { return std::tanh(x); }
};

// NaN-propagating clamp (lo <= hi), as two selects one after the other (see relu below).
FASTANN_HD double clamp(double v, double lo, double hi) {
  const double up = v < lo ? lo : v;
  return v > hi ? hi : up;
}
// NaN-propagating max(v, 0): Keras's ops.maximum keeps a NaN. (Selects one after the other, not nested: the
// CPU loops vectorize only when GCC can turn each into a masked operation, see csrc/cpu/loss_loops.hpp.)
FASTANN_HD double relu(double v) {
  const double r = v > 0.0 ? v : 0.0;
  return v != v ? v : r;
}

// e = x - t; 0.5 e^2 where |e| <= delta, delta |e| - 0.5 delta^2 elsewhere
struct Huber {
  static FASTANN_HD double term(double x, double t, double delta) {
    const double e = x - t, a = std::fabs(e);
    return a <= delta ? 0.5 * e * e : delta * a - 0.5 * delta * delta;
  }
  static FASTANN_HD double grad(double x, double t, double delta) {
    const double e = x - t;
    if (e != e) return e;
    return std::fabs(e) <= delta ? e : (e > 0.0 ? delta : -delta);
  }
};

// tc log(tc / pc), tc = clip(t, eps, 1), pc = clip(x, eps, 1); d/dx = -tc / x inside the clip of x, else 0
template <class M = StdMath>
struct KLDivergenceT {
  static FASTANN_HD double term(double x, double t, double eps) {
    const double tc = clamp(t, eps, 1.0), pc = clamp(x, eps, 1.0);
    return tc * M::log(tc / pc);
  }
  static FASTANN_HD double grad(double x, double t, double eps) {
    if (x != x) return x;
    const double tc = clamp(t, eps, 1.0);
    return x >= eps && x <= 1.0 ? -tc / x : (tc != tc ? tc : 0.0);
  }
};
using KLDivergence = KLDivergenceT<>;

// max(1 - y x, 0), y the (converted) label; d/dx = -y where 1 - y x > 0, else 0
struct Hinge {
  static FASTANN_HD double term(double x, double y, double) { return relu(1.0 - y * x); }
  static FASTANN_HD double grad(double x, double y, double) {
    const double m = 1.0 - y * x;
    const double d = m > 0.0 ? -y : 0.0;
    return m != m ? m : d;
  }
};

// max(1 - y x, 0)^2; d/dx = -2 y max(1 - y x, 0)
struct SquaredHinge {
  static FASTANN_HD double term(double x, double y, double) {
    const double h = relu(1.0 - y * x);
    return h * h;
  }
  static FASTANN_HD double grad(double x, double y, double) { return -2.0 * y * relu(1.0 - y * x); }
};

// log(cosh(e)) = |e| + log1p(exp(-2|e|)) - log 2 (no overflow), e = x - t; d/dx = tanh(e)
template <class M = StdMath>
struct LogCoshT {
  static FASTANN_HD double term(double x, double t, double) {
    const double a = std::fabs(x - t);
    return a + M::log1p_exp_neg(2.0 * a) - 0.69314718055994530942;
  }
  static FASTANN_HD double grad(double x, double t, double) { return M::tanh(x - t); }
};
using LogCosh = LogCoshT<>;

// x - t log(x + eps); d/dx = 1 - t / (x + eps)
template <class M = StdMath>
struct PoissonT {
  static FASTANN_HD double term(double x, double t, double eps) { return x - t * M::log(x + eps); }
  static FASTANN_HD double grad(double x, double t, double eps) { return 1.0 - t / (x + eps); }
};
using Poisson = PoissonT<>;

// Keras's hinge label conversion: targets that are all 0 or 1 become -1 / 1 (2 t - 1); any other value
// (a -1, a 0.5, a NaN) leaves every target as it is. `binary` is that verdict over the whole target.
FASTANN_HD double hinge_label(double t, bool binary) { return binary ? 2.0 * t - 1.0 : t; }
FASTANN_HD bool is_binary_label(double t) { return t == 0.0 || t == 1.0; }

}  // namespace fastann::loss_terms

#undef FASTANN_HD
