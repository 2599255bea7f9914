// Bindings of the pool family (csrc/cuda/pool.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_pool(py::module_& m) {}

}  // namespace fastann::cudabind
