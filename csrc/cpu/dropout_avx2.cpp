// dropout_avx2.cpp: the dropout mask loop (dropout_impl.hpp) compiled with the avx2 flags (CMakeLists.txt);
// entered only after the run-time CPU check in dropout.cpp.
#define FASTANN_ISA avx2
#include "dropout_impl.hpp"

namespace fastann::cpu::FASTANN_ISA {
template void dropout_apply<float>(float*, const float*, int64_t, uint64_t, uint64_t, float);
template void dropout_apply<double>(double*, const double*, int64_t, uint64_t, uint64_t, double);
}  // namespace fastann::cpu::FASTANN_ISA
