// softmax_avx2.cpp: the softmax loops (softmax_loops.hpp) compiled with the AVX2 flags (CMakeLists.txt), in namespace
// fastann::cpu::avx2; softmax.cpp calls them when simd_level() is avx2.
#include "softmax_isa.hpp"

#define FASTANN_ISA avx2
#include "softmax_loops.hpp"
