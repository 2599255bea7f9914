// row_reduce.hpp: max and sum along a contiguous row, written so they vectorize (softmax, cross-entropy).
//
// A plain `s += x[a]` loop is a chain of dependent additions the compiler may not reorder (that would
// change the rounding, and we do not compile with -ffast-math), so it runs one element per add latency.
// Keeping kLanes independent partial results (lanes), combined at the end, is a reordering we choose
// explicitly: the lane loop vectorizes, and the result is as accurate (pairwise-ish) as the serial sum.
#pragma once

#include <cstdint>
#include <cstring>

#include "vexp.hpp"

namespace fastann::cpu::rows {
// Internal linkage: files compiled for different ISAs each keep their own copy (csrc/cpu/README.md).
namespace {

constexpr int64_t kLanes = 16;

// max(a, b) that propagates NaN from either side.
template <class T>
FASTANN_ALWAYS_INLINE T nan_max(T a, T b) { return (b > a || b != b) ? b : a; }

// max_a x[a], NaN if any x[a] is NaN. x (A,), A >= 1. The lanes are one 64-byte GCC vector (an AVX-512
// register; two AVX2 or four SSE registers on the other paths): written as scalar lanes, GCC kept the
// NaN-aware select scalar, 16 compares and branches per 16 elements (softmax of 128 x 1000: 143 -> 93 us;
// four independent vectors measured no faster, docs/activations.md).
template <class T>
inline T max(const T* x, int64_t A) {
  typedef T V __attribute__((vector_size(64)));
  constexpr int64_t W = 64 / sizeof(T);
  T m = x[0];
  int64_t a = 0;
  if (A >= W) {
    V lane, v;
    std::memcpy(&lane, x, sizeof lane);  // memcpy: unaligned vector loads
    for (a = W; a + W <= A; a += W) {
      std::memcpy(&v, x + a, sizeof v);
      lane = ((v > lane) | (v != v)) ? v : lane;
    }
    for (int64_t k = 0; k < W; ++k) m = nan_max(m, lane[k]);
  }
  for (; a < A; ++a) m = nan_max(m, x[a]);
  return m;
}

// sum_{i in [b, e)} term(i) accumulated in double, in kLanes independent partial sums (so a vectorisable
// term vectorises, and the adds do not wait on each other), combined at the end.
template <class F>
inline double lane_sum(int64_t b, int64_t e, F term) {
  double lane[kLanes] = {};
  int64_t i = b;
  for (; i + kLanes <= e; i += kLanes)
    for (int64_t k = 0; k < kLanes; ++k) lane[k] += term(i + k);
  double s = 0;
  for (int64_t k = 0; k < kLanes; ++k) s += lane[k];
  for (; i < e; ++i) s += term(i);
  return s;
}

// sum_a x[a] accumulated in double. x (A,)
template <class T>
inline double sum(const T* x, int64_t A) {
  return lane_sum(0, A, [x](int64_t a) { return double(x[a]); });
}

// e[a] = exp(x[a] - m) for a < A; returns sum_a e[a] (in double). x, e (A,); e may be x.
template <class T>
inline double exp_shift_sum(T* e, const T* x, T m, int64_t A) {
  for (int64_t a = 0; a < A; ++a) e[a] = vexp(x[a] - m);
  return sum(e, A);
}

// sum_a g[a] * y[a] in double. g, y (A,)
template <class T>
inline double dot(const T* g, const T* y, int64_t A) {
  return lane_sum(0, A, [g, y](int64_t a) { return double(g[a]) * double(y[a]); });
}

}  // namespace
}  // namespace fastann::cpu::rows
