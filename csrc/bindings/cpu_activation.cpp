// Bindings of the activation family (csrc/cpu/activation.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_activation(py::module_& m) {}

}  // namespace fastann::bind
