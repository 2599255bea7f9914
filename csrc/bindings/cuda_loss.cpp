// Bindings of the loss family (csrc/cuda/loss.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_loss(py::module_& m) {}

}  // namespace fastann::cudabind
