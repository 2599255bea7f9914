// Bindings of the dropout family (csrc/cpu/dropout.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_dropout(py::module_& m) {}

}  // namespace fastann::bind
