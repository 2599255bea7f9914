// activation_avx512.cpp: the activation loops (activation_loops.hpp) compiled with the AVX-512 flags (CMakeLists.txt),
// in namespace fastann::cpu::avx512; activation.cpp calls them when simd_level() is avx512.
#include "activation_isa.hpp"

#define FASTANN_ISA avx512
#include "activation_loops.hpp"
