// Bindings of the softmax family (csrc/cuda/softmax.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_softmax(py::module_& m) {}

}  // namespace fastann::cudabind
