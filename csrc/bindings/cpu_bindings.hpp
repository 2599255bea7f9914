// cpu_bindings.hpp: one registration function per kernel family; each lives in csrc/bindings/cpu_<family>.cpp.
#pragma once
#include <pybind11/pybind11.h>
namespace fastann::bind {
void bind_gemm(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_softmax(pybind11::module_& m);
void bind_loss(pybind11::module_& m);
void bind_dropout(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_norm(pybind11::module_& m);
}  // namespace fastann::bind
