// pool_scalar.cpp: the 2x2 / stride-2 pooling loops (pool_isa.hpp) compiled without ISA flags
// (CMakeLists.txt), in namespace fastann::cpu::scalar; pool.cpp calls them when simd_level() is scalar or avx2.
#include "pool_isa.hpp"

namespace fastann::cpu::scalar {

// ---- helpers ----------------------------------------------------------------------------------------
namespace {

// max_pool2d's update rule (PyTorch's CPU kernel), as pool.cpp's rung 1: take v if it is larger or NaN.
// `|`, not `||`: both compares always run, which leaves the compiler free to pick flag-setting code over a
// second branch.
template <class T>
inline bool takes_over(T v, T best) {
  return (v > best) | (v != v);  // v != v: v is NaN
}

// ---- kernels ----------------------------------------------------------------------------------------

// The four taps at fixed offsets (r0c0, r0c1, r1c0, r1c1 = 0, 1, W, W+1), in that order, without clipping
// or bounds tests.
template <class T>
void max_2x2(T* out, int64_t* indices, const T* inp, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* row0 = inp + 2 * oh * W;
    const T* row1 = row0 + W;
    T* o = out + oh * OW;
    int64_t* ix = indices + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      // Branch-free selects (see takes_over): each tap either replaces (value, offset) or not.
      T best = row0[2 * ow];
      int64_t offset = 0;  // 0, 1, W, W+1: which tap won
      const T t1 = row0[2 * ow + 1], t2 = row1[2 * ow], t3 = row1[2 * ow + 1];
      bool take = takes_over(t1, best);
      best = take ? t1 : best;
      offset = take ? 1 : offset;
      take = takes_over(t2, best);
      best = take ? t2 : best;
      offset = take ? W : offset;
      take = takes_over(t3, best);
      best = take ? t3 : best;
      offset = take ? W + 1 : offset;
      o[ow] = best;
      ix[ow] = 2 * oh * W + 2 * ow + offset;
    }
  }
}

template <class T>
void avg_2x2(T* out, const T* inp, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* row0 = inp + 2 * oh * W;
    const T* row1 = row0 + W;
    T* o = out + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow)
      o[ow] = ((row0[2 * ow] + row0[2 * ow + 1]) + (row1[2 * ow] + row1[2 * ow + 1])) * T(0.25);
  }
}

}  // namespace

// ---- dispatch (entry points called from pool.cpp) ----------------------------------------------------
void max_pool2d_2x2(float* out, int64_t* indices, const float* inp, int64_t W, int64_t OH, int64_t OW) {
  max_2x2(out, indices, inp, W, OH, OW);
}
void max_pool2d_2x2(double* out, int64_t* indices, const double* inp, int64_t W, int64_t OH, int64_t OW) {
  max_2x2(out, indices, inp, W, OH, OW);
}
void avg_pool2d_2x2(float* out, const float* inp, int64_t W, int64_t OH, int64_t OW) {
  avg_2x2(out, inp, W, OH, OW);
}
void avg_pool2d_2x2(double* out, const double* inp, int64_t W, int64_t OH, int64_t OW) {
  avg_2x2(out, inp, W, OH, OW);
}

}  // namespace fastann::cpu::scalar
