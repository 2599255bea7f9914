// layer_norm.cpp: layer normalization, forward (saving each row's mean and inverse standard deviation) and
// backward (dx, dgamma, dbeta), float32 and float64. The math is in fastann/cpu/layer_norm.hpp; the inner
// loops over one row are in layer_norm_loops.hpp, compiled per ISA, and run on the ISA simd_level() names.
//
// Threads: the forward and dx split the M rows (a row's statistics and its dx belong to one thread); dgamma
// and dbeta split the N columns, each thread summing its columns over all rows in row order. No result
// depends on the thread count.
#include "fastann/cpu/layer_norm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastann/common.hpp"
#include "layer_norm_isa.hpp"

namespace fastann::cpu {

namespace {

template <class T>
LayerNormLoops<T> loops() {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512::layer_norm_loops(T{});
    default: return scalar::layer_norm_loops(T{});
  }
}

// Rows per thread chunk: ~32k values of work.
int64_t row_grain(int64_t N) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, N)); }

// Columns per thread chunk for dgamma/dbeta: multiples of 16 keep the vector loops on whole lines.
int64_t column_grain(int64_t M) { return std::max<int64_t>(16, (32768 / std::max<int64_t>(1, M) + 15) / 16 * 16); }

// The shift of a row's sums: its first value, 0 when that is +-inf or NaN (as batch norm's channel_shift:
// x - inf would turn a row of finite values and +infs into NaN instead of +inf).
inline double row_shift(double first) { return std::isfinite(first) ? first : 0.0; }

}  // namespace

// inp/out (M,N); save_mean, save_invstd (M,); weight, bias (N,) or null.
template <class T>
void layer_norm_forward(T* out, T* save_mean, T* save_invstd, const T* inp, const T* weight, const T* bias,
                        int64_t M, int64_t N, double eps) {
  const LayerNormLoops<T> L = loops<T>();
  parallel_for(M, row_grain(N), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = inp + r * N;
      const double shift = row_shift(double(x[0]));
      double s1 = 0, s2 = 0;
      L.shifted_sums(x, N, shift, &s1, &s2);
      const double d = s1 / double(N);
      double var = s2 / double(N) - d * d;
      if (var < 0) var = 0;  // rounding only; `if` keeps a NaN variance NaN
      const double invstd = 1.0 / std::sqrt(var + eps);
      save_mean[r] = T(shift + d);
      save_invstd[r] = T(invstd);
      L.normalize(out + r * N, x, weight, bias, N, T(shift + d), T(invstd));
    }
  });
}

// dout, inp, dinp (M,N); weight (N,) or null; save_mean, save_invstd (M,); dweight, dbias (N,) or null.
template <class T>
void layer_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t M, int64_t N) {
  const LayerNormLoops<T> L = loops<T>();
  parallel_for(M, row_grain(N), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T *dy = dout + r * N, *x = inp + r * N;
      const T mean = save_mean[r], invstd = save_invstd[r];
      double sg = 0, sgx = 0;
      L.grad_sums(dy, x, weight, N, mean, invstd, &sg, &sgx);
      L.grad_input(dinp + r * N, dy, x, weight, N, mean, invstd, T(sg / double(N)), T(sgx / double(N)));
    }
  });
  if (!dweight && !dbias) return;
  parallel_for(N, column_grain(M), [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> dw(dweight ? w : 0, 0.0), db(dbias ? w : 0, 0.0);
    for (int64_t r = 0; r < M; ++r)
      L.param_sums(dweight ? dw.data() : nullptr, dbias ? db.data() : nullptr, dout + r * N + c0,
                   inp + r * N + c0, w, save_mean[r], save_invstd[r]);
    for (int64_t j = 0; j < w; ++j) {
      if (dweight) dweight[c0 + j] = T(dw[j]);
      if (dbias) dbias[c0 + j] = T(db[j]);
    }
  });
}

#define FASTANN_LAYER_NORM_INSTANTIATE(T)                                                                    \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, double);  \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int64_t, \
                                       int64_t);
FASTANN_LAYER_NORM_INSTANTIATE(float)
FASTANN_LAYER_NORM_INSTANTIATE(double)
#undef FASTANN_LAYER_NORM_INSTANTIATE

}  // namespace fastann::cpu
