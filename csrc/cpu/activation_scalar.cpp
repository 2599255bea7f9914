// activation_scalar.cpp: the activation loops (activation_loops.hpp) compiled without ISA flags (CMakeLists.txt),
// in namespace fastann::cpu::scalar; activation.cpp calls them when simd_level() is scalar.
#include "activation_isa.hpp"

#define FASTANN_ISA scalar
#include "activation_loops.hpp"
