// Bindings of the gemm family (csrc/cuda/gemm.cu) into fastann._cuda.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"

namespace fastann::cudabind {

void bind_gemm(py::module_& m) {}

}  // namespace fastann::cudabind
