// layer_norm_avx512.cpp: layer norm's inner loops (layer_norm_loops.hpp) compiled with the AVX-512 flags
// (CMakeLists.txt), in namespace fastann::cpu::avx512; layer_norm.cpp takes this table when simd_level() is avx512.
#include "layer_norm_isa.hpp"

#define FASTANN_ISA avx512
#include "layer_norm_loops.hpp"

namespace fastann::cpu::avx512 {

LayerNormLoops<float> layer_norm_loops(float) { return make_layer_norm_loops<float>(); }
LayerNormLoops<double> layer_norm_loops(double) { return make_layer_norm_loops<double>(); }

}  // namespace fastann::cpu::avx512
