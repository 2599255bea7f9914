// norm_loops.inl: batch norm's inner loops over one contiguous run of a channel's values.
//
// Included by norm.cpp (baseline x86-64) and norm_avx512.cpp (AVX-512 flags), each inside its own
// namespace so the two compilations never mix at link time. `#pragma omp simd reduction` lets the compiler
// reorder the double accumulations into vector lanes without -ffast-math (a plain loop would stay scalar,
// since reordering float additions changes the result bits).
//
// Expects BatchNormLoops (fastann/cpu/norm.hpp) and <cstdint> to be visible.

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

template <class T>
void normalize(T* y, const T* x, int64_t n, T mean, T scale, T beta) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * scale + beta;
}

template <class T>
void grad_sums(const T* dy, const T* x, int64_t n, T mean, double* sum_dy, double* sum_dy_xmu) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; ++i) {
    const double g = double(dy[i]);
    a += g;
    b += g * double(x[i] - mean);
  }
  *sum_dy += a;
  *sum_dy_xmu += b;
}

template <class T>
void grad_input(T* dx, const T* dy, const T* x, int64_t n, T mean, T a, T b, T c) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] = a * dy[i] + b * (x[i] - mean) + c;
}

template <class T>
BatchNormLoops<T> make_loops() {
  return BatchNormLoops<T>{&shifted_sums<T>, &normalize<T>, &grad_sums<T>, &grad_input<T>};
}
