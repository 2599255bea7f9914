// optim_scalar.cpp: the fused optimizer loops (optim_loops.hpp) compiled without ISA flags (CMakeLists.txt), in
// namespace fastann::cpu::scalar; optim.cpp calls them when simd_level() is scalar.
#include "optim_isa.hpp"

#define FASTANN_ISA scalar
#include "optim_loops.hpp"
