// activation_avx512.cpp: the activation loops (activation_impl.hpp) compiled with the avx512 flags
// (CMakeLists.txt); entered only after the run-time CPU check in activation.cpp.
#define FASTANN_ISA avx512
#include "activation_impl.hpp"

namespace fastann::cpu::FASTANN_ISA {
template void act_forward<float>(float*, const float*, int64_t, Activation, float);
template void act_forward<double>(double*, const double*, int64_t, Activation, double);
template void act_backward<float>(float*, const float*, const float*, int64_t, Activation, float);
template void act_backward<double>(double*, const double*, const double*, int64_t, Activation, double);
}  // namespace fastann::cpu::FASTANN_ISA
