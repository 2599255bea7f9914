// Bindings of the softmax family (csrc/cpu/softmax.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_softmax(py::module_& m) {}

}  // namespace fastann::bind
