// softmax_scalar.cpp: the softmax loops (softmax_loops.hpp) compiled without ISA flags, in namespace
// fastann::cpu::scalar; softmax.cpp calls them when simd_level() is scalar.
#include "softmax_isa.hpp"

#define FASTANN_ISA scalar
#include "softmax_loops.hpp"
