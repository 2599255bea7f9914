// fastann/cpu/activation.hpp: elementwise activation functions, forward and backward (csrc/cpu/activation.cpp).
//
// One kernel pair covers every activation: `kind` picks the function, `param` carries its one parameter
// (leaky_relu's negative_slope, elu's alpha; ignored by the others). The backward computes the gradient
// from the forward's INPUT (dinp = dout * f'(inp)), so a layer keeps only its input.
// NaN in `inp` gives NaN in `out` and in `dinp` for every kind.
#pragma once

#include <cstdint>
#include <string>

namespace fastann::cpu {

enum class Activation : int {
  linear,        // x                                  (identity)
  relu,          // max(x, 0)
  leaky_relu,    // x > 0 ? x : param*x                 (param = negative_slope)
  elu,           // x > 0 ? x : param*(exp(x) - 1)      (param = alpha)            Clevert et al. 2015
  selu,          // scale * elu(x, alpha), fixed alpha/scale                        Klambauer et al. 2017
  sigmoid,       // 1 / (1 + exp(-x))
  hard_sigmoid,  // relu6(x + 3) / 6                    (Keras 3 and PyTorch)
  tanh,          // tanh(x)
  softplus,      // log(1 + exp(x)), stable form max(x,0) + log1p(exp(-|x|))
  softsign,      // x / (1 + |x|)
  relu6,         // min(max(x, 0), 6)
  silu,          // x * sigmoid(x)                      (swish)                    Ramachandran et al. 2017
  hard_silu,     // x * relu6(x + 3) / 6                (hard_swish)               Howard et al. 2019
  gelu,          // x * Phi(x) = x/2 (1 + erf(x/sqrt 2))                           Hendrycks & Gimpel 2016
  gelu_tanh,     // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  mish,          // x * tanh(softplus(x))                                          Misra 2019
  exponential,   // exp(x)
};

// "relu" -> Activation::relu; aliases swish, hard_swish, identity. Unknown name: std::invalid_argument
// naming `op` and listing the valid names.
Activation activation_from_name(const std::string& name, const char* op);
// "linear, relu, leaky_relu, ..." (for error messages).
std::string activation_names();

// inp (n,), out (n,); out may alias inp.
template <class T>
void activation_forward(T* out, const T* inp, int64_t n, Activation kind, double param);

// inp (n,), dout (n,), dinp (n,): dinp = dout * f'(inp); dinp may alias dout.
template <class T>
void activation_backward(T* dinp, const T* inp, const T* dout, int64_t n, Activation kind, double param);

}  // namespace fastann::cpu
