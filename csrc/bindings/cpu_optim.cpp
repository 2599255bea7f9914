// Bindings of the optim family (csrc/cpu/optim.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_optim(py::module_& m) {}

}  // namespace fastann::bind
