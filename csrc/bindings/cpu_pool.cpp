// Bindings of the pool family (csrc/cpu/pool.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

namespace fastann::bind {

void bind_pool(py::module_& m) {}

}  // namespace fastann::bind
