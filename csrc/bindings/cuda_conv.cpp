// Bindings of the conv family (csrc/cuda/conv.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_conv(py::module_& m) {}

}  // namespace fastann::cudabind
