// activation_loops.hpp: the activation functions and their loops, compiled once per ISA (csrc/cpu/README.md):
// included by activation_scalar.cpp, activation_avx2.cpp and activation_avx512.cpp, each with its own
// FASTANN_ISA namespace; activation.cpp calls the one simd_level() names.
//
// Each activation is a small struct with two inline functions of one element: `f(x, p)` and its
// derivative `df(x, p)`. One loop template applies a struct over the array, so every activation gets its
// own tight loop with no switch inside it: the compiler vectorizes the ones made of arithmetic, selects
// and the inlinable functions of vexp.hpp (vexp, vtanh, vexpm1, vlog1p_unit, verfc_float_precision); only
// float64 gelu calls libm (erfc) once per element. The switch on the kind happens once per call, outside the
// loop.
//
// NaN: the forward formulas are written so that a NaN input reaches the output (`x < 0 ? 0 : x`, not
// `x > 0 ? x : 0`, which would turn NaN into 0); the backward returns NaN wherever the input is NaN, since
// the derivative there is undefined (a selection like `x > 0 ? dout : 0` would hide it).
#include <cmath>
#include <cstdint>

#include "fastann/common.hpp"
#include "fastann/cpu/activation.hpp"
#include "vexp.hpp"

namespace fastann::cpu::FASTANN_ISA {

// ---- helpers --------------------------------------------------------------------------------------

// Elements per thread below which an elementwise loop stays on one thread: a split pays from ~3 us of work
// (handing a chunk to the thread team costs ~1 us; a helper that has not started leaves its chunk to the
// caller). Costs per element: ~0.08 ns for the select-only activations, ~0.3-0.5 ns with vexp / vtanh,
// ~2 ns for float gelu, 5-10 ns where libm is called (docs/activations.md, Measured).
constexpr int64_t kGrainSelect = 16384;
constexpr int64_t kGrainVexp = 4096;
constexpr int64_t kGrainLibm = 1024;

inline int64_t grain_of(Activation kind) {
  switch (kind) {
    case Activation::linear: case Activation::relu: case Activation::leaky_relu: case Activation::hard_sigmoid:
    case Activation::softsign: case Activation::relu6: case Activation::hard_silu:
      return kGrainSelect;
    case Activation::sigmoid: case Activation::silu: case Activation::exponential: case Activation::tanh:
    case Activation::elu: case Activation::selu: case Activation::softplus: case Activation::mish:
      return kGrainVexp;
    default:  // gelu: ~2 ns per element in float (erfc in double arithmetic), a libm erfc call in double
      return kGrainLibm;
  }
}

// NaN-propagating clamp: NaN fails both comparisons and comes out unchanged.
template <class T>
FASTANN_ALWAYS_INLINE T clamp(T x, T lo, T hi) { return x < lo ? lo : (x > hi ? hi : x); }

// Logistic sigmoid without overflow: exp of a non-positive number only.
template <class T>
FASTANN_ALWAYS_INLINE T sigmoid_stable(T x) {
  const T e = vexp(-std::fabs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

// sigmoid'(x) = s (1 - s) = e / (1 + e)^2 with e = exp(-|x|): no cancellation in 1 - s for large |x|.
template <class T>
FASTANN_ALWAYS_INLINE T sigmoid_derivative(T x) {
  const T e = vexp(-std::fabs(x));
  const T d = T(1) + e;
  return e / (d * d);
}

// tanh'(x) = 1 - tanh(x)^2 = sech(x)^2 = 4e / (1 + e)^2 with e = exp(-2|x|): accurate where tanh -> ±1.
template <class T>
FASTANN_ALWAYS_INLINE T sech2(T x) {
  const T e = vexp(T(-2) * std::fabs(x));
  const T d = T(1) + e;
  return T(4) * e / (d * d);
}

// log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).
template <class T>
FASTANN_ALWAYS_INLINE T softplus_stable(T x) {
  return (x > T(0) ? x : T(0)) + vlog1p_unit(vexp(-std::fabs(x)));
}

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSqrt2OverPi = 0.79788456080286535587989211986876;  // sqrt(2/pi)
constexpr double kInvSqrt2 = 0.70710678118654752440084436210485;     // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;   // 1/sqrt(2 pi)
constexpr double kGeluCubic = 0.044715;
// |x| beyond which the tanh-GELU derivative is exactly 1 (x > 0) or 0 (x < 0) in float and double (2u is
// far past exp's underflow), while x^3 still fits float: past it the formula would overflow x^3 and x^2
// (float |x| > ~1e13) and give 0 * inf = NaN, so the saturated value is returned. +-inf keep the formula
// (NaN, as in PyTorch).
constexpr double kGeluTanhSaturated = 1e6;

// ---- one struct per activation: f(x, p) and df(x, p) = f'(x) ----------------------------------------
struct Linear {
  template <class T> static T f(T x, T) { return x; }
  template <class T> static T df(T, T) { return T(1); }
};
struct Relu {
  template <class T> static T f(T x, T) { return x < T(0) ? T(0) : x; }
  template <class T> static T df(T x, T) { return x > T(0) ? T(1) : T(0); }
};
struct LeakyRelu {  // p = negative_slope; the slope at 0 is p, as in PyTorch
  template <class T> static T f(T x, T p) { return x < T(0) ? p * x : x; }
  template <class T> static T df(T x, T p) { return x > T(0) ? T(1) : p; }
};
struct Elu {  // p = alpha
  template <class T> static T f(T x, T p) { return x > T(0) ? x : p * vexpm1(x); }
  template <class T> static T df(T x, T p) { return x > T(0) ? T(1) : p * vexp(x); }
};
struct Selu {
  template <class T> static T f(T x, T) {
    return T(kSeluScale) * (x > T(0) ? x : T(kSeluAlpha) * vexpm1(x));
  }
  template <class T> static T df(T x, T) {
    return T(kSeluScale) * (x > T(0) ? T(1) : T(kSeluAlpha) * vexp(x));
  }
};
struct Sigmoid {
  template <class T> static T f(T x, T) { return sigmoid_stable(x); }
  template <class T> static T df(T x, T) { return sigmoid_derivative(x); }
};
struct HardSigmoid {  // relu6(x + 3) / 6 = clamp(x/6 + 1/2, 0, 1)
  template <class T> static T f(T x, T) { return clamp(x / T(6) + T(0.5), T(0), T(1)); }
  template <class T> static T df(T x, T) { return (x > T(-3) && x < T(3)) ? T(1) / T(6) : T(0); }
};
struct Tanh {
  template <class T> static T f(T x, T) { return vtanh(x); }
  template <class T> static T df(T x, T) { return sech2(x); }
};
struct Softplus {
  template <class T> static T f(T x, T) { return softplus_stable(x); }
  template <class T> static T df(T x, T) { return sigmoid_stable(x); }
};
struct Softsign {
  template <class T> static T f(T x, T) { return x / (T(1) + std::fabs(x)); }
  template <class T> static T df(T x, T) { const T d = T(1) + std::fabs(x); return T(1) / (d * d); }
};
struct Relu6 {
  template <class T> static T f(T x, T) { return clamp(x, T(0), T(6)); }
  template <class T> static T df(T x, T) { return (x > T(0) && x < T(6)) ? T(1) : T(0); }
};
struct Silu {  // x s(x); derivative s + x s (1 - s) = s + x sigmoid'(x)
  template <class T> static T f(T x, T) { return x * sigmoid_stable(x); }
  template <class T> static T df(T x, T) { return sigmoid_stable(x) + x * sigmoid_derivative(x); }
};
struct HardSilu {  // x relu6(x+3)/6; derivative 0 below -3, 1 above 3, (2x + 3)/6 between
  template <class T> static T f(T x, T) { return x * clamp(x / T(6) + T(0.5), T(0), T(1)); }
  template <class T> static T df(T x, T) {
    return x < T(-3) ? T(0) : (x > T(3) ? T(1) : (T(2) * x + T(3)) / T(6));
  }
};
// 1 + erf(z) is written erfc(-z) and 1 + tanh(u) is written 2 sigmoid(2u): both forms lose every digit
// to cancellation for large negative x, their rewrites do not.
// Phi(x) = erfc(-x/sqrt 2)/2: float through verfc_float_precision (vexp.hpp, vectorises), double through libm.
template <class T>
FASTANN_ALWAYS_INLINE T normal_cdf(T x) {
  if constexpr (sizeof(T) == 4) return T(0.5 * verfc_float_precision(-double(x) * kInvSqrt2));
  else return T(0.5) * std::erfc(-x * T(kInvSqrt2));
}
struct Gelu {  // x Phi(x); derivative Phi(x) + x phi(x)
  template <class T> static T f(T x, T) { return x * normal_cdf(x); }
  template <class T> static T df(T x, T) {
    const T cdf = normal_cdf(x);
    const T pdf = T(kInvSqrt2Pi) * vexp(T(-0.5) * x * x);
    return cdf + x * pdf;
  }
};
struct GeluTanh {  // x/2 (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + c x^3)
  template <class T> static T f(T x, T) {
    const T u = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    return x * sigmoid_stable(T(2) * u);
  }
  template <class T> static T df(T x, T) {
    const T u = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x * x);
    const T d = sigmoid_stable(T(2) * u) + T(0.5) * x * sech2(u) * du;
    const bool saturated = std::fabs(x) > T(kGeluTanhSaturated) && x - x == T(0);  // finite and large
    return saturated ? (x > T(0) ? T(1) : T(0)) : d;
  }
};
// Mish (Misra 2019) through w = e^x and n = w (w + 2) = e^(2 sp) - 1, sp = softplus(x): tanh(sp) = n / (n + 2),
// sech(sp)^2 = 4 (n + 1) / (n + 2)^2 (no 1 - tanh^2 cancellation), sigmoid(x) = w / (1 + w): one exp. Above
// x = 20 (float) or 40 (double) tanh(sp) is 1 and x sech(sp)^2 ~ 4x e^-2x is below the type's precision, so
// mish(x) = x and mish'(x) = 1 there (and n would overflow past x = 44 in float). Composed from vtanh,
// softplus, sech2 and sigmoid instead, the backward ran scalar (GCC could not if-convert its many selects:
// 51 ns per element) and the forward took 2.9 ns (docs/activations.md).
struct Mish {  // x tanh(sp(x)); derivative tanh(sp) + x sech(sp)^2 sigmoid(x)
  template <class T> static constexpr T kSaturated = sizeof(T) == 4 ? T(20) : T(40);
  template <class T> static T f(T x, T) {
    const T w = vexp(x < kSaturated<T> ? x : kSaturated<T>);
    const T n = w * (w + T(2));
    return x > kSaturated<T> ? x : x * (n / (n + T(2)));
  }
  template <class T> static T df(T x, T) {
    constexpr T kOne = kSaturated<T>;
    const T w = vexp(x < kOne ? x : kOne);
    const T n = w * (w + T(2));
    const T d = n + T(2);
    const T r = T(1) / d;
    const T grad = n * r + x * (T(4) * (n + T(1)) * r * r) * (w / (T(1) + w));
    // x - x + 1: 1, and NaN at x = +inf, where the formula (the reference's, PyTorch's) gives inf * 0
    return x > kOne ? x - x + T(1) : grad;
  }
};
struct Exponential {
  template <class T> static T f(T x, T) { return vexp(x); }
  template <class T> static T df(T x, T) { return vexp(x); }
};

// ---- loops ----------------------------------------------------------------------------------------

// The loop bodies capture by value ([=]): a by-reference `T p` would live in memory that the T* stores
// might overwrite as far as the compiler knows, forcing a reload per element and blocking vectorization.
// No __restrict here: out may be inp (in place), which is safe for an elementwise loop. The backward's
// selects (x > 0 ? 1 : 0, NaN check) vectorize only with -fno-trapping-math (CMakeLists.txt): otherwise
// GCC keeps `dout * 0` conditional, a branch per element that mispredicts on random signs and costs
// ~60x (docs/activations.md, Measured).

// inp (n,), out (n,)
template <class F, class T>
void forward_loop(T* out, const T* inp, int64_t n, T p, int64_t grain) {
  parallel_for(n, grain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = F::f(inp[i], p);
  });
}

// inp (n,), dout (n,), dinp (n,)
template <class F, class T>
void backward_loop(T* dinp, const T* inp, const T* dout, int64_t n, T p, int64_t grain) {
  parallel_for(n, grain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T x = inp[i];
      const T d = F::df(x, p);
      const T g = dout[i] * d;
      dinp[i] = x != x ? x : g;  // NaN input -> NaN gradient
    }
  });
}

// Call body(F{}) with the struct of `kind`.
template <class Body>
void with_activation(Activation kind, Body&& body) {
  switch (kind) {
    case Activation::linear: return body(Linear{});
    case Activation::relu: return body(Relu{});
    case Activation::leaky_relu: return body(LeakyRelu{});
    case Activation::elu: return body(Elu{});
    case Activation::selu: return body(Selu{});
    case Activation::sigmoid: return body(Sigmoid{});
    case Activation::hard_sigmoid: return body(HardSigmoid{});
    case Activation::tanh: return body(Tanh{});
    case Activation::softplus: return body(Softplus{});
    case Activation::softsign: return body(Softsign{});
    case Activation::relu6: return body(Relu6{});
    case Activation::silu: return body(Silu{});
    case Activation::hard_silu: return body(HardSilu{});
    case Activation::gelu: return body(Gelu{});
    case Activation::gelu_tanh: return body(GeluTanh{});
    case Activation::mish: return body(Mish{});
    case Activation::exponential: return body(Exponential{});
  }
  // activation.cpp checks the kind before dispatching here (no error path in ISA-specific code: an inline
  // function such as fail<>() instantiated here could be the copy the linker keeps for every caller)
  __builtin_unreachable();
}

// The entry points: run the loop of `kind`.
// inp, out (n,)
template <class T>
void act_forward(T* out, const T* inp, int64_t n, Activation kind, T p) {
  with_activation(kind, [&](auto f) { forward_loop<decltype(f)>(out, inp, n, p, grain_of(kind)); });
}
// inp, dout, dinp (n,)
template <class T>
void act_backward(T* dinp, const T* inp, const T* dout, int64_t n, Activation kind, T p) {
  with_activation(kind, [&](auto f) { backward_loop<decltype(f)>(dinp, inp, dout, n, p, grain_of(kind)); });
}

template void act_forward<float>(float*, const float*, int64_t, Activation, float);
template void act_forward<double>(double*, const double*, int64_t, Activation, double);
template void act_backward<float>(float*, const float*, const float*, int64_t, Activation, float);
template void act_backward<double>(double*, const double*, const double*, int64_t, Activation, double);

}  // namespace fastann::cpu::FASTANN_ISA
