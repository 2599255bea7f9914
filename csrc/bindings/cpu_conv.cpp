// Bindings of the conv family (csrc/cpu/conv.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_conv(py::module_& m) {}

}  // namespace fastann::bind
