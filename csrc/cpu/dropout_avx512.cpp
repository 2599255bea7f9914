// dropout_avx512.cpp: the dropout mask loop (dropout_loops.hpp) compiled with the AVX-512 flags (CMakeLists.txt), in
// namespace fastann::cpu::avx512; dropout.cpp calls it when simd_level() is avx512.
#include "dropout_isa.hpp"

#define FASTANN_ISA avx512
#include "dropout_loops.hpp"
