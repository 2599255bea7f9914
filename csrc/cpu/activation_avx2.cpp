// activation_avx2.cpp: the activation loops (activation_loops.hpp) compiled with the AVX2 flags (CMakeLists.txt),
// in namespace fastann::cpu::avx2; activation.cpp calls them when simd_level() is avx2.
#include "activation_isa.hpp"

#define FASTANN_ISA avx2
#include "activation_loops.hpp"
