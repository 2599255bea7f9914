// softmax_loops.hpp: softmax / log-softmax over one axis of a (outer, A, inner) view, forward and backward,
// compiled once per ISA (csrc/cpu/README.md): included by softmax_scalar.cpp, softmax_avx2.cpp and
// softmax_avx512.cpp, each with its own FASTANN_ISA namespace; softmax.cpp calls the one simd_level() names.
//
// Two loop shapes:
//  - inner == 1 (the last axis, the common case): each line is a contiguous row of A elements; one task
//    per block of rows, three short passes over the row while it sits in L1 (max, exp+sum, scale).
//  - inner > 1 (an inner axis, e.g. channels of NCHW): the A elements of a line are `inner` apart, so the
//    kernel walks a slab of up to kBlock neighbouring lines at once, a = 0..A-1 outside and the lines
//    inside: every access is then contiguous and the inner loop vectorizes across lines. Per-line max
//    and sum live in small stack arrays.
// Sums accumulate in double (16 lanes for a row, so the reductions vectorize: row_reduce.hpp). The max
// propagates NaN (a NaN line stays NaN instead of being skipped).
// log_softmax is (x - max) - log(sum): x - max is exact-ish and small near the maximum, so log(sum) is
// not rounded away when |max| is large (x - (max + log sum) gives 0 for x = [1e8, 1e8] in float32).
#include "softmax_isa.hpp"

#include <cmath>

#include "fastann/common.hpp"
#include "row_reduce.hpp"
#include "vexp.hpp"

namespace fastann::cpu::FASTANN_ISA {

// ---- helpers --------------------------------------------------------------------------------------
namespace {

// Elements per thread below which work stays on one thread: ~0.7 ns per element, so ~3 us of work, where
// handing a chunk to the thread team costs ~1 us (128 x 100 rows: 2 threads 1.6x one; docs/activations.md).
constexpr int64_t kGrain = 4096;
constexpr int64_t kBlock = 64;     // lines per slab when inner > 1

using rows::nan_max;

using Op = SoftmaxOp;

// One contiguous line of A elements (row_reduce.hpp: lane-split max/sum that vectorize).
// x: the input (forwards) or the saved forward output y (backwards); g: grad_output (backwards).
template <Op op, class T>
inline void row(T* dst, const T* x, const T* g, int64_t A) {
  if constexpr (op == Op::softmax) {
    const T m = rows::max(x, A);
    const T inv = T(1.0 / rows::exp_shift_sum(dst, x, m, A));  // dst holds exp(x - m) meanwhile
    for (int64_t a = 0; a < A; ++a) dst[a] *= inv;
  } else if constexpr (op == Op::log_softmax) {
    const T m = rows::max(x, A);
    const T lse = T(std::log(rows::exp_shift_sum(dst, x, m, A)));  // dst as scratch for exp
    for (int64_t a = 0; a < A; ++a) dst[a] = (x[a] - m) - lse;  // not x - (m + lse): lse is lost when |m| >> lse
  } else if constexpr (op == Op::softmax_backward) {  // x = y (softmax output)
    const T d = T(rows::dot(g, x, A));
    for (int64_t a = 0; a < A; ++a) dst[a] = x[a] * (g[a] - d);
  } else {  // log_softmax_backward, x = y (log-softmax output)
    const T s = T(rows::sum(g, A));
    for (int64_t a = 0; a < A; ++a) dst[a] = g[a] - vexp(x[a]) * s;
  }
}

// A slab of L <= kBlock neighbouring lines (stride `inner` along the axis) starting at x, g, dst.
template <Op op, class T>
inline void slab(T* dst, const T* x, const T* g, int64_t A, int64_t inner, int64_t L) {
  double acc[kBlock];
  if constexpr (op == Op::softmax || op == Op::log_softmax) {
    T m[kBlock];
    for (int64_t l = 0; l < L; ++l) m[l] = x[l];
    for (int64_t a = 1; a < A; ++a)
      for (int64_t l = 0; l < L; ++l) m[l] = nan_max(m[l], x[a * inner + l]);
    for (int64_t l = 0; l < L; ++l) acc[l] = 0;
    for (int64_t a = 0; a < A; ++a)
      for (int64_t l = 0; l < L; ++l) {
        const T e = vexp(x[a * inner + l] - m[l]);
        if constexpr (op == Op::softmax) dst[a * inner + l] = e;
        acc[l] += e;
      }
    if constexpr (op == Op::softmax) {
      T inv[kBlock];
      for (int64_t l = 0; l < L; ++l) inv[l] = T(1.0 / acc[l]);
      for (int64_t a = 0; a < A; ++a)
        for (int64_t l = 0; l < L; ++l) dst[a * inner + l] *= inv[l];
    } else {
      T lse[kBlock];
      for (int64_t l = 0; l < L; ++l) lse[l] = T(std::log(acc[l]));
      for (int64_t a = 0; a < A; ++a)
        for (int64_t l = 0; l < L; ++l) dst[a * inner + l] = (x[a * inner + l] - m[l]) - lse[l];
    }
  } else {
    for (int64_t l = 0; l < L; ++l) acc[l] = 0;
    for (int64_t a = 0; a < A; ++a)
      for (int64_t l = 0; l < L; ++l) {
        const double gv = g[a * inner + l];
        acc[l] += op == Op::softmax_backward ? gv * double(x[a * inner + l]) : gv;
      }
    T s[kBlock];
    for (int64_t l = 0; l < L; ++l) s[l] = T(acc[l]);
    for (int64_t a = 0; a < A; ++a)
      for (int64_t l = 0; l < L; ++l) {
        const int64_t k = a * inner + l;
        if constexpr (op == Op::softmax_backward) dst[k] = x[k] * (g[k] - s[l]);
        else dst[k] = g[k] - vexp(x[k]) * s[l];
      }
  }
}

// dst, x, g (outer, A, inner); g unused by the forwards.
template <Op op, class T>
void run(T* dst, const T* x, const T* g, int64_t outer, int64_t A, int64_t inner) {
  if (inner == 1) {
    const int64_t rows_per_task = A >= kGrain ? 1 : kGrain / A;
    parallel_for(outer, rows_per_task, [=](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) row<op>(dst + r * A, x + r * A, g ? g + r * A : nullptr, A);
    });
    return;
  }
  // tasks: (outer index, block of kBlock lines)
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const int64_t task_elems = A * (inner < kBlock ? inner : kBlock);
  const int64_t tasks_per_thread = task_elems >= kGrain ? 1 : kGrain / task_elems;
  parallel_for(outer * blocks, tasks_per_thread, [=](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / blocks, i0 = (t % blocks) * kBlock;
      const int64_t L = inner - i0 < kBlock ? inner - i0 : kBlock;
      const int64_t off = o * A * inner + i0;
      slab<op>(dst + off, x + off, g ? g + off : nullptr, A, inner, L);
    }
  });
}

}  // namespace

// ---- the entry point -----------------------------------------------------------------------------
template <class T>
void softmax_lines(SoftmaxOp op, T* dst, const T* x, const T* g, int64_t outer, int64_t A, int64_t inner) {
  switch (op) {
    case Op::softmax: return run<Op::softmax, T>(dst, x, nullptr, outer, A, inner);
    case Op::log_softmax: return run<Op::log_softmax, T>(dst, x, nullptr, outer, A, inner);
    case Op::softmax_backward: return run<Op::softmax_backward, T>(dst, x, g, outer, A, inner);
    case Op::log_softmax_backward: return run<Op::log_softmax_backward, T>(dst, x, g, outer, A, inner);
  }
}

template void softmax_lines<float>(SoftmaxOp, float*, const float*, const float*, int64_t, int64_t, int64_t);
template void softmax_lines<double>(SoftmaxOp, double*, const double*, const double*, int64_t, int64_t, int64_t);

}  // namespace fastann::cpu::FASTANN_ISA
