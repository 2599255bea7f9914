// Bindings of the norm family (csrc/cuda/norm.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_norm(py::module_& m) {}

}  // namespace fastann::cudabind
