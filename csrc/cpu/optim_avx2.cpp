// optim_avx2.cpp: the fused optimizer loops (optim_loops.hpp) compiled with the AVX2 flags (CMakeLists.txt), in
// namespace fastann::cpu::avx2; optim.cpp calls them when simd_level() is avx2.
#include "optim_isa.hpp"

#define FASTANN_ISA avx2
#include "optim_loops.hpp"
