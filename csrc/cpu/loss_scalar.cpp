// loss_scalar.cpp: the elementwise loss loops (loss_loops.hpp) compiled for baseline x86-64, in namespace
// fastann::cpu::scalar; loss.cpp calls them when simd_level() is scalar.
#include "loss_isa.hpp"

#define FASTANN_ISA scalar
#include "loss_loops.hpp"
