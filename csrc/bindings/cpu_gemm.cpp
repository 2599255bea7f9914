// Bindings of the gemm family (csrc/cpu/gemm.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_gemm(py::module_& m) {}

}  // namespace fastann::bind
