// norm_avx512.cpp: batch norm's inner loops (norm_loops.inl) compiled with AVX-512 flags. Entered only
// through batch_norm_loops_avx512, which norm.cpp calls when fastann::simd_level() reports avx512.
#include <cstdint>

#include "fastann/cpu/norm.hpp"

namespace fastann::cpu {

namespace norm_avx512 {
#include "norm_loops.inl"
}  // namespace norm_avx512

BatchNormLoops<float> batch_norm_loops_avx512(float) { return norm_avx512::make_loops<float>(); }
BatchNormLoops<double> batch_norm_loops_avx512(double) { return norm_avx512::make_loops<double>(); }

}  // namespace fastann::cpu
