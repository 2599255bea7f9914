// families.hpp: one registration function per kernel family. fastann._cpu defines them in
// csrc/bindings/cpu_<family>.cpp and fastann._cuda in csrc/bindings/cuda_<family>.cpp; both register the
// same names and signatures through the shared parsers of csrc/bindings/args/<family>.hpp.
#pragma once
#include <pybind11/pybind11.h>
namespace fastann::bindings {
void bind_gemm(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_softmax(pybind11::module_& m);
void bind_loss(pybind11::module_& m);
void bind_dropout(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_norm(pybind11::module_& m);
void bind_layer_norm(pybind11::module_& m);
void bind_prelu(pybind11::module_& m);
void bind_rnn(pybind11::module_& m);
void bind_embedding(pybind11::module_& m);

// Every family, in one order for both modules.
inline void bind_families(pybind11::module_& m) {
  bind_gemm(m);
  bind_activation(m);
  bind_softmax(m);
  bind_loss(m);
  bind_dropout(m);
  bind_optim(m);
  bind_conv(m);
  bind_pool(m);
  bind_norm(m);
  bind_layer_norm(m);
  bind_prelu(m);
  bind_rnn(m);
  bind_embedding(m);
}
}  // namespace fastann::bindings
