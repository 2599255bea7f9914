// shifted_sums: the sums of (x - shift) and (x - shift)^2 over n contiguous values, accumulated in double and
// added to *s1, *s2. Batch norm (over a channel's run) and layer norm (over a row) take their mean and
// variance from these (the shift, a value of the data, keeps the second sum from cancelling; Chan et al.
// 1983). Included by the per-ISA loop headers inside their FASTANN_ISA namespace, so each ISA compiles its own.
//
// `#pragma omp simd reduction` lets the compiler reorder the double accumulations into vector lanes without
// -ffast-math.
#pragma once
#include <cstdint>

namespace fastann::cpu::FASTANN_ISA {

template <class T>
void shifted_sums(const T* x, int64_t n, double shift, double* s1, double* s2) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(x[i]) - shift;
    a += d;
    b += d * d;
  }
  *s1 += a;
  *s2 += b;
}

}  // namespace fastann::cpu::FASTANN_ISA
