// layer_norm_isa.hpp: the table of layer norm's inner loops over one row and the entry points that return it
// in each ISA namespace (csrc/cpu/README.md), defined in layer_norm_scalar.cpp and layer_norm_avx512.cpp;
// layer_norm.cpp takes the table of the ISA simd_level() names (no AVX2 file: avx2 runs the scalar loops).
#pragma once

#include <cstdint>

namespace fastann::cpu {

template <class T>
struct LayerNormLoops {
  // s1 += sum(x - shift), s2 += sum((x - shift)^2) over x[0..n), in double.
  void (*shifted_sums)(const T* x, int64_t n, double shift, double* s1, double* s2);
  // y = (x - mean) * invstd * w + b; w, b null: 1 and 0.
  void (*normalize)(T* y, const T* x, const T* w, const T* b, int64_t n, T mean, T invstd);
  // sum_g += sum(g), sum_gx += sum(g * xhat), g = dy*w (dy where w is null), xhat = (x - mean)*invstd; double.
  void (*grad_sums)(const T* dy, const T* x, const T* w, int64_t n, T mean, T invstd, double* sum_g,
                    double* sum_gx);
  // dx = invstd * (g - mean_g - xhat * mean_gx).
  void (*grad_input)(T* dx, const T* dy, const T* x, const T* w, int64_t n, T mean, T invstd, T mean_g,
                     T mean_gx);
  // dw[j] += dy[j] * xhat[j] (dw may be null), db[j] += dy[j] (db may be null), over one row's n columns, double.
  void (*param_sums)(double* dw, double* db, const T* dy, const T* x, int64_t n, T mean, T invstd);
};

}  // namespace fastann::cpu

// The argument only selects the overload.
#define FASTANN_LAYER_NORM_ENTRY_POINTS            \
  LayerNormLoops<float> layer_norm_loops(float);   \
  LayerNormLoops<double> layer_norm_loops(double);
namespace fastann::cpu::scalar { FASTANN_LAYER_NORM_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_LAYER_NORM_ENTRY_POINTS }
#undef FASTANN_LAYER_NORM_ENTRY_POINTS
