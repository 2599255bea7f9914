// layer_norm_loops.hpp: layer norm's inner loops over one row (fastann/cpu/layer_norm.hpp), compiled once
// per ISA (csrc/cpu/README.md): included by layer_norm_scalar.cpp and layer_norm_avx512.cpp, each with its own
// FASTANN_ISA namespace; make_layer_norm_loops<T>() returns their table (layer_norm_isa.hpp).
//
// `#pragma omp simd reduction` lets the compiler reorder the double accumulations into vector lanes without
// -ffast-math. A null weight or bias is tested once per call, outside the loops.
#include <cstdint>

#include "layer_norm_isa.hpp"
#include "internal/shifted_sums.hpp"

namespace fastann::cpu::FASTANN_ISA {

template <class T>
void ln_normalize(T* y, const T* x, const T* w, const T* b, int64_t n, T mean, T invstd) {
  if (w && b) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * invstd * w[i] + b[i];
  } else if (w) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * invstd * w[i];
  } else if (b) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * invstd + b[i];
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * invstd;
  }
}

template <class T>
void ln_grad_sums(const T* dy, const T* x, const T* w, int64_t n, T mean, T invstd, double* sum_g, double* sum_gx) {
  double a = 0, b = 0;
  if (w) {
#pragma omp simd reduction(+ : a, b)
    for (int64_t i = 0; i < n; ++i) {
      const double g = double(dy[i] * w[i]);
      a += g;
      b += g * double((x[i] - mean) * invstd);
    }
  } else {
#pragma omp simd reduction(+ : a, b)
    for (int64_t i = 0; i < n; ++i) {
      const double g = double(dy[i]);
      a += g;
      b += g * double((x[i] - mean) * invstd);
    }
  }
  *sum_g += a;
  *sum_gx += b;
}

template <class T>
void ln_grad_input(T* dx, const T* dy, const T* x, const T* w, int64_t n, T mean, T invstd, T mean_g, T mean_gx) {
  if (w) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = invstd * (dy[i] * w[i] - mean_g - (x[i] - mean) * invstd * mean_gx);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = invstd * (dy[i] - mean_g - (x[i] - mean) * invstd * mean_gx);
  }
}

template <class T>
void ln_param_sums(double* dw, double* db, const T* dy, const T* x, int64_t n, T mean, T invstd) {
  if (dw) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dw[i] += double(dy[i]) * double((x[i] - mean) * invstd);
  }
  if (db) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) db[i] += double(dy[i]);
  }
}

template <class T>
LayerNormLoops<T> make_layer_norm_loops() {
  return LayerNormLoops<T>{&shifted_sums<T>, &ln_normalize<T>, &ln_grad_sums<T>, &ln_grad_input<T>,
                           &ln_param_sums<T>};
}

}  // namespace fastann::cpu::FASTANN_ISA
