// fastann/cuda/activation.hpp: elementwise activations on the GPU, forward and backward (csrc/cuda/activation.cu).
// The same kinds, names, formulas and NaN behaviour as fastann/cpu/activation.hpp: `param` is leaky_relu's
// negative_slope or elu's alpha; the backward computes dinp = dout * f'(inp) from the forward's INPUT, and is
// NaN wherever inp is NaN.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

namespace fastann::cuda {

enum class Activation : int {
  linear, relu, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh, softplus, softsign, relu6, silu, hard_silu,
  gelu, gelu_tanh, mish, exponential,
};

// "relu" -> Activation::relu (aliases identity, swish, hard_swish); unknown: std::invalid_argument naming op.
Activation activation_from_name(const std::string& name, const char* op);
std::string activation_names();

// inp (n,), out (n,); out may alias inp.
template <class T>
void activation_forward(T* out, const T* inp, int64_t n, Activation kind, double param, cudaStream_t stream);

// inp (n,), dout (n,), dinp (n,): dinp = dout * f'(inp); dinp may alias dout.
template <class T>
void activation_backward(T* dinp, const T* inp, const T* dout, int64_t n, Activation kind, double param,
                         cudaStream_t stream);

}  // namespace fastann::cuda
