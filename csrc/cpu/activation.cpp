// activation.cpp: elementwise activation functions, forward and backward, float32 and float64.
//
// The functions and loops live in activation_loops.hpp, compiled once per ISA (csrc/cpu/README.md); each
// call runs the one fastann::simd_level() names. This file also maps names to kinds.
#include "fastann/cpu/activation.hpp"

#include <string>

#include "activation_isa.hpp"
#include "fastann/common.hpp"
#include "internal/simd_dispatch.hpp"

namespace fastann::cpu {
namespace {

struct NamedKind {
  const char* name;
  Activation kind;
};
constexpr NamedKind kNames[] = {
    {"linear", Activation::linear},       {"relu", Activation::relu},
    {"leaky_relu", Activation::leaky_relu}, {"elu", Activation::elu},
    {"selu", Activation::selu},           {"sigmoid", Activation::sigmoid},
    {"hard_sigmoid", Activation::hard_sigmoid}, {"tanh", Activation::tanh},
    {"softplus", Activation::softplus},   {"softsign", Activation::softsign},
    {"relu6", Activation::relu6},         {"silu", Activation::silu},
    {"hard_silu", Activation::hard_silu}, {"gelu", Activation::gelu},
    {"gelu_tanh", Activation::gelu_tanh}, {"mish", Activation::mish},
    {"exponential", Activation::exponential},
    // aliases
    {"identity", Activation::linear},     {"swish", Activation::silu},
    {"hard_swish", Activation::hard_silu},
};

}  // namespace

// ---- kernels --------------------------------------------------------------------------------------
namespace {
void check_kind(Activation kind) {
  FASTANN_CHECK(static_cast<int>(kind) >= 0 && static_cast<int>(kind) <= static_cast<int>(Activation::exponential),
                "activation: unknown kind ", static_cast<int>(kind));
}
}  // namespace

// inp, out (n,)
template <class T>
void activation_forward(T* out, const T* inp, int64_t n, Activation kind, double param) {
  check_kind(kind);
  FASTANN_SIMD_DISPATCH(act_forward<T>(out, inp, n, kind, T(param)));
}

// inp, dout, dinp (n,)
template <class T>
void activation_backward(T* dinp, const T* inp, const T* dout, int64_t n, Activation kind, double param) {
  check_kind(kind);
  FASTANN_SIMD_DISPATCH(act_backward<T>(dinp, inp, dout, n, kind, T(param)));
}

// ---- dispatch -------------------------------------------------------------------------------------
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

template void activation_forward<float>(float*, const float*, int64_t, Activation, double);
template void activation_forward<double>(double*, const double*, int64_t, Activation, double);
template void activation_backward<float>(float*, const float*, const float*, int64_t, Activation, double);
template void activation_backward<double>(double*, const double*, const double*, int64_t, Activation, double);

}  // namespace fastann::cpu
