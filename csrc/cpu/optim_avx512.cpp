// optim_avx512.cpp: the fused optimizer loops (optim_loops.hpp) compiled with the AVX-512 flags (CMakeLists.txt), in
// namespace fastann::cpu::avx512; optim.cpp calls them when simd_level() is avx512.
#include "optim_isa.hpp"

#define FASTANN_ISA avx512
#include "optim_loops.hpp"
