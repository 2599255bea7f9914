// layer_norm_scalar.cpp: layer norm's inner loops (layer_norm_loops.hpp) compiled without ISA flags (CMakeLists.txt),
// in namespace fastann::cpu::scalar; layer_norm.cpp takes this table when simd_level() is scalar or avx2.
#include "layer_norm_isa.hpp"

#define FASTANN_ISA scalar
#include "layer_norm_loops.hpp"

namespace fastann::cpu::scalar {

LayerNormLoops<float> layer_norm_loops(float) { return make_layer_norm_loops<float>(); }
LayerNormLoops<double> layer_norm_loops(double) { return make_layer_norm_loops<double>(); }

}  // namespace fastann::cpu::scalar
