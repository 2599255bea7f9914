// Bindings of the dropout family (csrc/cuda/dropout.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_dropout(py::module_& m) {}

}  // namespace fastann::cudabind
