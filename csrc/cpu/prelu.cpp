// prelu.cpp: the parametric ReLU, forward and backward (math and layout in fastann/cpu/prelu.hpp). Plain loops
// the compiler vectorizes (selects, no branches); threads split the (n, c) planes for y and dx, and the
// channels for dw (each channel's planes summed in n order).
#include "fastann/cpu/prelu.hpp"

#include <algorithm>
#include <vector>

#include "fastann/common.hpp"

namespace fastann::cpu {

namespace {
int64_t plane_grain(int64_t S) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, S)); }
}  // namespace

template <class T>
void prelu_forward(T* out, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S, bool shared) {
  parallel_for(N * C, plane_grain(S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T w = weight[shared ? 0 : r % C];
      const T* x = inp + r * S;
      T* y = out + r * S;
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) y[i] = x[i] > T(0) ? x[i] : w * x[i];
    }
  });
}

template <class T>
void prelu_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S,
                    bool shared) {
  parallel_for(N * C, plane_grain(S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T w = weight[shared ? 0 : r % C];
      const T *x = inp + r * S, *dy = dout + r * S;
      T* dx = dinp + r * S;
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) dx[i] = x[i] > T(0) ? dy[i] : w * dy[i];
    }
  });
  std::vector<double> per_channel(C, 0.0);
  parallel_for(C, plane_grain(N * S), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T *x = inp + (n * C + c) * S, *dy = dout + (n * C + c) * S;
        double a = 0;
#pragma omp simd reduction(+ : a)
        for (int64_t i = 0; i < S; ++i) a += x[i] > T(0) ? 0.0 : double(dy[i]) * double(x[i]);
        s += a;
      }
      per_channel[c] = s;
    }
  });
  if (shared) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += per_channel[c];
    dweight[0] = T(s);
  } else {
    for (int64_t c = 0; c < C; ++c) dweight[c] = T(per_channel[c]);
  }
}

#define FASTANN_PRELU_INSTANTIATE(T)                                                                    \
  template void prelu_forward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool);             \
  template void prelu_backward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, bool);
FASTANN_PRELU_INSTANTIATE(float)
FASTANN_PRELU_INSTANTIATE(double)
#undef FASTANN_PRELU_INSTANTIATE

}  // namespace fastann::cpu
