// Bindings of the norm family (csrc/cpu/norm.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_norm(py::module_& m) {}

}  // namespace fastann::bind
