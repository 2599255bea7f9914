// cuda_bindings.hpp: one registration function per kernel family of fastann._cuda; each lives in
// csrc/bindings/cuda_<family>.cpp and binds the launchers of csrc/cuda/<family>.cu under the SAME names and
// signatures as the family's fastann._cpu functions (CuPy arrays instead of NumPy arrays).
#pragma once
#include <pybind11/pybind11.h>
namespace fastann::cudabind {
void bind_gemm(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_softmax(pybind11::module_& m);
void bind_loss(pybind11::module_& m);
void bind_dropout(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_norm(pybind11::module_& m);
}  // namespace fastann::cudabind
