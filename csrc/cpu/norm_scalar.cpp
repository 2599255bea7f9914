// norm_scalar.cpp: batch norm's inner loops (norm_loops.hpp) compiled without ISA flags (CMakeLists.txt), in
// namespace fastann::cpu::scalar; norm.cpp takes these tables when simd_level() is scalar or avx2.
#include "norm_isa.hpp"

#define FASTANN_ISA scalar
#include "norm_loops.hpp"

namespace fastann::cpu::scalar {

BatchNormLoops<float> batch_norm_loops(float) { return make_loops<float>(); }
BatchNormLoops<double> batch_norm_loops(double) { return make_loops<double>(); }
BatchNormReluLoops<float> batch_norm_relu_loops(float) { return make_relu_loops<float>(); }
BatchNormReluLoops<double> batch_norm_relu_loops(double) { return make_relu_loops<double>(); }

}  // namespace fastann::cpu::scalar
