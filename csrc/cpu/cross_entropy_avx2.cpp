// cross_entropy_avx2.cpp: the softmax cross-entropy loops (cross_entropy_loops.hpp) compiled with the AVX2
// flags (CMakeLists.txt), in namespace fastann::cpu::avx2; loss.cpp calls them when simd_level() is avx2.
#include "cross_entropy_isa.hpp"

#define FASTANN_ISA avx2
#include "cross_entropy_loops.hpp"
