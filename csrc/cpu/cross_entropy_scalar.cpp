// cross_entropy_scalar.cpp: the softmax cross-entropy loops (cross_entropy_loops.hpp) compiled without ISA flags,
// in namespace fastann::cpu::scalar; loss.cpp calls them when simd_level() is scalar.
#include "cross_entropy_isa.hpp"

#define FASTANN_ISA scalar
#include "cross_entropy_loops.hpp"
