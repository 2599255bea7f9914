// Bindings of the loss family (csrc/cpu/loss.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_loss(py::module_& m) {}

}  // namespace fastann::bind
