// dropout_avx2.cpp: the dropout mask loop (dropout_loops.hpp) compiled with the AVX2 flags (CMakeLists.txt), in
// namespace fastann::cpu::avx2; dropout.cpp calls it when simd_level() is avx2.
#include "dropout_isa.hpp"

#define FASTANN_ISA avx2
#include "dropout_loops.hpp"
