// loss_avx2.cpp: the elementwise loss loops (loss_loops.hpp) compiled with the AVX2 flags (CMakeLists.txt), in namespace
// fastann::cpu::avx2; loss.cpp calls them when simd_level() is avx2.
#include "loss_isa.hpp"

#define FASTANN_ISA avx2
#include "loss_loops.hpp"
