// optim_avx2.cpp: the fused optimizer loops (optim_impl.hpp) compiled with the avx2 flags (CMakeLists.txt);
// entered only after the run-time CPU check in optim.cpp.
#define FASTANN_ISA avx2
#include "optim_impl.hpp"
#include "optim_isa_instances.hpp"
