// softmax_avx512.cpp: the softmax loops (softmax_loops.hpp) compiled with the AVX-512 flags (CMakeLists.txt), in
// namespace fastann::cpu::avx512; softmax.cpp calls them when simd_level() is avx512.
#include "softmax_isa.hpp"

#define FASTANN_ISA avx512
#include "softmax_loops.hpp"
