// loss_avx512.cpp: the elementwise loss loops (loss_loops.hpp) compiled with the AVX-512 flags (CMakeLists.txt), in namespace
// fastann::cpu::avx512; loss.cpp calls them when simd_level() is avx512.
#include "loss_isa.hpp"

#define FASTANN_ISA avx512
#include "loss_loops.hpp"
