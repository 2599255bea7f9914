// Bindings of the activation family (csrc/cuda/activation.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_activation(py::module_& m) {}

}  // namespace fastann::cudabind
