// activation.cu: elementwise activation functions on the GPU, forward and backward, float32 and float64.
//
// The CUDA twin of csrc/cpu/activation.cpp, formula for formula (see that file and
// fastann/cuda/activation.hpp for the sources): each activation is a struct with `f(x, p)` and its
// derivative `df(x, p)`, and one grid-stride kernel template per direction applies a struct, so the switch
// on the kind happens once per launch on the host, never per element. These kernels are memory-bound
// (one load and one store per element, two loads for the backward), so the only thing that matters for
// speed is that consecutive threads touch consecutive elements.
//
// Precise math (no --use_fast_math): expf/erfcf/tanhf are the full-accuracy CUDA versions, within a few
// ulp of the CPU's libm, which keeps float32 results within the tests' 2e-6 relative tolerance.
//
// Sections: helpers (per-activation structs), kernels, launchers.
#include "fastann/common.hpp"
#include "fastann/cuda/activation.hpp"
#include "fastann/cuda/common.cuh"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

// NaN-propagating clamp: NaN fails both comparisons and comes out unchanged.
template <class T>
__device__ __forceinline__ T clampn(T x, T lo, T hi) { return x < lo ? lo : (x > hi ? hi : x); }

// Logistic sigmoid without overflow: exp of a non-positive number only.
template <class T>
__device__ __forceinline__ T sigmoid_stable(T x) {
  const T e = exp(-fabs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}
// sigmoid'(x) = e / (1 + e)^2, e = exp(-|x|): no cancellation in 1 - s.
template <class T>
__device__ __forceinline__ T sigmoid_derivative(T x) {
  const T e = exp(-fabs(x));
  const T d = T(1) + e;
  return e / (d * d);
}
// tanh'(x) = sech(x)^2 = 4e / (1 + e)^2, e = exp(-2|x|).
template <class T>
__device__ __forceinline__ T sech2(T x) {
  const T e = exp(T(-2) * fabs(x));
  const T d = T(1) + e;
  return T(4) * e / (d * d);
}
// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class T>
__device__ __forceinline__ T softplus_stable(T x) {
  return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
}

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSqrt2OverPi = 0.79788456080286535587989211986876;
constexpr double kInvSqrt2 = 0.70710678118654752440084436210485;
constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;
constexpr double kGeluCubic = 0.044715;
constexpr double kGeluTanhSaturated = 1e6;  // csrc/cpu/activation_loops.hpp: the derivative is exactly 1 / 0

#define FA_DEV template <class T> __device__ __forceinline__ static T
struct Linear {
  FA_DEV f(T x, T) { return x; }
  FA_DEV df(T, T) { return T(1); }
};
struct Relu {
  FA_DEV f(T x, T) { return x < T(0) ? T(0) : x; }
  FA_DEV df(T x, T) { return x > T(0) ? T(1) : T(0); }
};
struct LeakyRelu {  // p = negative_slope
  FA_DEV f(T x, T p) { return x < T(0) ? p * x : x; }
  FA_DEV df(T x, T p) { return x > T(0) ? T(1) : p; }
};
struct Elu {  // p = alpha
  FA_DEV f(T x, T p) { return x > T(0) ? x : p * expm1(x); }
  FA_DEV df(T x, T p) { return x > T(0) ? T(1) : p * exp(x); }
};
struct Selu {
  FA_DEV f(T x, T) { return T(kSeluScale) * (x > T(0) ? x : T(kSeluAlpha) * expm1(x)); }
  FA_DEV df(T x, T) { return T(kSeluScale) * (x > T(0) ? T(1) : T(kSeluAlpha) * exp(x)); }
};
struct Sigmoid {
  FA_DEV f(T x, T) { return sigmoid_stable(x); }
  FA_DEV df(T x, T) { return sigmoid_derivative(x); }
};
struct HardSigmoid {  // relu6(x + 3) / 6
  FA_DEV f(T x, T) { return clampn(x / T(6) + T(0.5), T(0), T(1)); }
  FA_DEV df(T x, T) { return (x > T(-3) && x < T(3)) ? T(1) / T(6) : T(0); }
};
struct Tanh {
  FA_DEV f(T x, T) { return tanh(x); }
  FA_DEV df(T x, T) { return sech2(x); }
};
struct Softplus {
  FA_DEV f(T x, T) { return softplus_stable(x); }
  FA_DEV df(T x, T) { return sigmoid_stable(x); }
};
struct Softsign {
  FA_DEV f(T x, T) { return x / (T(1) + fabs(x)); }
  FA_DEV df(T x, T) { const T d = T(1) + fabs(x); return T(1) / (d * d); }
};
struct Relu6 {
  FA_DEV f(T x, T) { return clampn(x, T(0), T(6)); }
  FA_DEV df(T x, T) { return (x > T(0) && x < T(6)) ? T(1) : T(0); }
};
struct Silu {
  FA_DEV f(T x, T) { return x * sigmoid_stable(x); }
  FA_DEV df(T x, T) { return sigmoid_stable(x) + x * sigmoid_derivative(x); }
};
struct HardSilu {
  FA_DEV f(T x, T) { return x * clampn(x / T(6) + T(0.5), T(0), T(1)); }
  FA_DEV df(T x, T) { return x < T(-3) ? T(0) : (x > T(3) ? T(1) : (T(2) * x + T(3)) / T(6)); }
};
struct Gelu {  // x Phi(x) with Phi(x) = erfc(-x/sqrt 2)/2 (no cancellation for x << 0)
  FA_DEV f(T x, T) { return T(0.5) * x * erfc(-x * T(kInvSqrt2)); }
  FA_DEV df(T x, T) {
    const T cdf = T(0.5) * erfc(-x * T(kInvSqrt2));
    const T pdf = T(kInvSqrt2Pi) * exp(T(-0.5) * x * x);
    return cdf + x * pdf;
  }
};
struct GeluTanh {  // x sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3)
  FA_DEV f(T x, T) {
    const T u = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    return x * sigmoid_stable(T(2) * u);
  }
  FA_DEV df(T x, T) {
    // finite |x| > 1e6: exactly 1 / 0, returned as such (x^3 and x^2 would overflow float: 0 * inf = NaN)
    if (fabs(x) > T(kGeluTanhSaturated) && x - x == T(0)) return x > T(0) ? T(1) : T(0);
    const T u = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x * x);
    return sigmoid_stable(T(2) * u) + T(0.5) * x * sech2(u) * du;
  }
};
struct Mish {
  FA_DEV f(T x, T) { return x * tanh(softplus_stable(x)); }
  FA_DEV df(T x, T) {
    const T sp = softplus_stable(x);
    return tanh(sp) + x * sech2(sp) * sigmoid_stable(x);
  }
};
struct Exponential {
  FA_DEV f(T x, T) { return exp(x); }
  FA_DEV df(T x, T) { return exp(x); }
};
#undef FA_DEV

// =====================================================================================================
// Kernels
// =====================================================================================================

// inp (n,), out (n,)
template <class F, class T>
__global__ void activation_forward_kernel(T* out, const T* inp, int64_t n, T p) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) out[i] = F::f(inp[i], p);
}

// inp (n,), dout (n,), dinp (n,)
template <class F, class T>
__global__ void activation_backward_kernel(T* dinp, const T* inp, const T* dout, int64_t n, T p) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T x = inp[i];
    const T g = dout[i] * F::df(x, p);
    dinp[i] = x != x ? x : g;  // NaN input -> NaN gradient
  }
}

// =====================================================================================================
// Launchers
// =====================================================================================================

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
  fail("activation: unknown kind ", static_cast<int>(kind));
}

struct NamedKind {
  const char* name;
  Activation kind;
};
constexpr NamedKind kNames[] = {
    {"linear", Activation::linear},         {"relu", Activation::relu},
    {"leaky_relu", Activation::leaky_relu}, {"elu", Activation::elu},
    {"selu", Activation::selu},             {"sigmoid", Activation::sigmoid},
    {"hard_sigmoid", Activation::hard_sigmoid}, {"tanh", Activation::tanh},
    {"softplus", Activation::softplus},     {"softsign", Activation::softsign},
    {"relu6", Activation::relu6},           {"silu", Activation::silu},
    {"hard_silu", Activation::hard_silu},   {"gelu", Activation::gelu},
    {"gelu_tanh", Activation::gelu_tanh},   {"mish", Activation::mish},
    {"exponential", Activation::exponential},
    // aliases
    {"identity", Activation::linear},       {"swish", Activation::silu},
    {"hard_swish", Activation::hard_silu},
};

}  // namespace

std::string activation_names() {
  std::string s;
  for (const auto& nk : kNames) s += (s.empty() ? "" : ", ") + std::string(nk.name);
  return s;
}

Activation activation_from_name(const std::string& name, const char* op) {
  for (const auto& nk : kNames)
    if (name == nk.name) return nk.kind;
  fail(op, ": unknown activation '", name, "'; valid names: ", activation_names());
}

template <class T>
void activation_forward(T* out, const T* inp, int64_t n, Activation kind, double param, cudaStream_t stream) {
  if (n <= 0) return;
  with_activation(kind, [&](auto f) {
    activation_forward_kernel<decltype(f), T><<<grid_for(n), kBlock, 0, stream>>>(out, inp, n, T(param));
    FASTANN_CUDA_CHECK_LAUNCH("activation_forward_kernel");
  });
}

template <class T>
void activation_backward(T* dinp, const T* inp, const T* dout, int64_t n, Activation kind, double param,
                         cudaStream_t stream) {
  if (n <= 0) return;
  with_activation(kind, [&](auto f) {
    activation_backward_kernel<decltype(f), T><<<grid_for(n), kBlock, 0, stream>>>(dinp, inp, dout, n, T(param));
    FASTANN_CUDA_CHECK_LAUNCH("activation_backward_kernel");
  });
}

template void activation_forward<float>(float*, const float*, int64_t, Activation, double, cudaStream_t);
template void activation_forward<double>(double*, const double*, int64_t, Activation, double, cudaStream_t);
template void activation_backward<float>(float*, const float*, const float*, int64_t, Activation, double,
                                         cudaStream_t);
template void activation_backward<double>(double*, const double*, const double*, int64_t, Activation, double,
                                          cudaStream_t);

}  // namespace fastann::cuda
