// dropout_scalar.cpp: the dropout mask loop (dropout_loops.hpp) compiled without ISA flags (CMakeLists.txt), in
// namespace fastann::cpu::scalar; dropout.cpp calls it when simd_level() is scalar.
#include "dropout_isa.hpp"

#define FASTANN_ISA scalar
#include "dropout_loops.hpp"
