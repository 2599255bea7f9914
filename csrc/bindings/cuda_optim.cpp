// Bindings of the optim family (csrc/cuda/optim.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_optim(py::module_& m) {}

}  // namespace fastann::cudabind
