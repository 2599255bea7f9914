// norm_loops.hpp: batch norm's inner loops over one contiguous run of a channel's values, and the fused
// batch norm + ReLU (+ 2x2 max pool) loops over one (n, c) plane; compiled once per ISA (csrc/cpu/README.md):
// included by norm_scalar.cpp and norm_avx512.cpp, each with its own FASTANN_ISA namespace. make_loops<T>()
// and make_relu_loops<T>() return the tables of these loops; an ISA file may replace entries with
// hand-written ones before returning them from its entry points (norm_isa.hpp).
//
// `#pragma omp simd reduction` lets the compiler reorder the double accumulations into vector lanes without
// -ffast-math (a plain loop would stay scalar, since reordering float additions changes the result bits).
//
// Fused loops: z = (x - mean) * scale + beta is the batch-normalized value; the ReLU keeps NaN (as relu
// does). Every loop is a straight-line body over an output column (no early exits, the branches are
// selects), which the compiler vectorizes: the stride-2 reads of a window's columns become even/odd
// permutes. With pooling, the window's taps are visited row-major and a tap replaces the running maximum
// when it is greater or NaN (max_pool2d's rule); relu(max z) = max relu(z), so the pool runs on z and the
// ReLU on the winner. window_index = 2*row + column of the winner inside its 2x2 window (0..3), one byte
// per output.
//
// The forward fused loops are compiled with trapping math on (GCC's default), although the project builds
// with -fno-trapping-math: with it, GCC 12 rewrites the `z != z` NaN tests into a form its vectorizer
// rejects ("no vectype for stmt") and the window loops stay scalar (docs/batchnorm.md, Measured).
#include <cstdint>

#include "norm_isa.hpp"
#include "internal/shifted_sums.hpp"

namespace fastann::cpu::FASTANN_ISA {

// ---- batch norm -------------------------------------------------------------------------------------

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

// ---- fused batch norm + ReLU (+ 2x2 max pool) -----------------------------------------------------

#pragma GCC push_options
#pragma GCC optimize("trapping-math")

template <class T>
inline T relu_keep_nan(T v) {
  return (v > T(0) || v != v) ? v : T(0);
}

// y (H*W) = relu(z).
template <class T>
void relu_plane(T* y, const T* x, int64_t n, T mean, T scale, T beta) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = relu_keep_nan((x[i] - mean) * scale + beta);
}

// y (H/2 x W/2) = relu(max over 2x2 windows of z), window_index likewise. Odd trailing rows/columns of x
// belong to no window (floor mode) and are not read.
template <class T>
void relu_pool2_plane(T* y, uint8_t* window_index, const T* x, int64_t H, int64_t W, T mean, T scale, T beta) {
  const int64_t OH = H / 2, OW = W / 2;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    uint8_t* io = window_index + oh * OW;
#pragma omp simd
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T z0 = (r0[2 * ow] - mean) * scale + beta, z1 = (r0[2 * ow + 1] - mean) * scale + beta;
      const T z2 = (r1[2 * ow] - mean) * scale + beta, z3 = (r1[2 * ow + 1] - mean) * scale + beta;
      T best = z0;
      int k = 0;
      const bool t1 = z1 > best || z1 != z1;
      best = t1 ? z1 : best;
      k = t1 ? 1 : k;
      const bool t2 = z2 > best || z2 != z2;
      best = t2 ? z2 : best;
      k = t2 ? 2 : k;
      const bool t3 = z3 > best || z3 != z3;
      best = t3 ? z3 : best;
      k = t3 ? 3 : k;
      yo[ow] = relu_keep_nan(best);
      io[ow] = static_cast<uint8_t>(k);
    }
  }
}

// The backward loops have no NaN tests: they compile with the project's -fno-trapping-math, under which GCC
// if-converts their selects (with trapping math it keeps `live ? x[i] - mean : 0` a branch, the loops scalar).
#pragma GCC pop_options

// Backward, no pool: dz = (y > 0 ? dy : 0); sum_dz += sum(dz), sum_dz_xmu += sum(dz * (x - mean)), both
// factors zeroed where y <= 0 (as the AVX-512 loop: a selected 0, not 0 * (x - mean), so no branch and no
// NaN from a dead value).
template <class T>
void relu_grad_sums(const T* dy, const T* y, const T* x, int64_t n, T mean, double* sum_dz, double* sum_dz_xmu) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; ++i) {
    const T d = dy[i], xm = x[i] - mean;  // loaded unconditionally: a guarded load keeps the loop scalar
    const bool live = y[i] > T(0);
    const double g = live ? double(d) : 0.0;
    a += g;
    b += g * (live ? double(xm) : 0.0);
  }
  *sum_dz += a;
  *sum_dz_xmu += b;
}

// dx = a*dz + b*(x - mean) + c.
template <class T>
void relu_grad_input(T* dx, const T* dy, const T* y, const T* x, int64_t n, T mean, T a, T b, T c) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T d = dy[i];  // loaded unconditionally (see relu_grad_sums)
    dx[i] = a * (y[i] > T(0) ? d : T(0)) + b * (x[i] - mean) + c;
  }
}

// Backward, 2x2 pool: dz is dy at each window's winner when its output is > 0, zero elsewhere. The sums
// only need the winners: x at the winner is picked from the window's four taps by window_index.
template <class T>
void relu_pool2_grad_sums(const T* dy, const T* y, const uint8_t* window_index, const T* x, int64_t H, int64_t W,
                          T mean, double* sum_dz, double* sum_dz_xmu) {
  const int64_t OH = H / 2, OW = W / 2;
  double a = 0, b = 0;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    const T* go = dy + oh * OW;
    const T* yo = y + oh * OW;
    const uint8_t* io = window_index + oh * OW;
#pragma omp simd reduction(+ : a, b)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int k = io[ow];
      const T x01 = (k & 1) ? r0[2 * ow + 1] : r0[2 * ow];
      const T x23 = (k & 1) ? r1[2 * ow + 1] : r1[2 * ow];
      const T xw = (k & 2) ? x23 : x01;
      const double g = yo[ow] > T(0) ? double(go[ow]) : 0.0;
      a += g;
      b += g * double(xw - mean);
    }
  }
  *sum_dz += a;
  *sum_dz_xmu += b;
}

// dx over the whole plane: b*(x - mean) + c everywhere, plus a*dz at the winners.
template <class T>
void relu_pool2_grad_input(T* dx, const T* dy, const T* y, const uint8_t* window_index, const T* x, int64_t H,
                           int64_t W, T mean, T a, T b, T c) {
  const int64_t OH = H / 2, OW = W / 2;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* d0 = dx + 2 * oh * W;
    T* d1 = d0 + W;
    const T* go = dy + oh * OW;
    const T* yo = y + oh * OW;
    const uint8_t* io = window_index + oh * OW;
#pragma omp simd
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T k = T(io[ow]);  // compared as T: GCC 12 does not vectorize the byte compares mixed with T
      const T g = yo[ow] > T(0) ? a * go[ow] : T(0);
      d0[2 * ow] = (k == T(0) ? g : T(0)) + b * (r0[2 * ow] - mean) + c;
      d0[2 * ow + 1] = (k == T(1) ? g : T(0)) + b * (r0[2 * ow + 1] - mean) + c;
      d1[2 * ow] = (k == T(2) ? g : T(0)) + b * (r1[2 * ow] - mean) + c;
      d1[2 * ow + 1] = (k == T(3) ? g : T(0)) + b * (r1[2 * ow + 1] - mean) + c;
    }
    if (W % 2) {  // the odd last column is in no window
      d0[W - 1] = b * (r0[W - 1] - mean) + c;
      d1[W - 1] = b * (r1[W - 1] - mean) + c;
    }
  }
  if (H % 2)  // the odd last row likewise
    for (int64_t i = (H - 1) * W; i < H * W; ++i) dx[i] = b * (x[i] - mean) + c;
}

// The ReLU + pool's gradient alone (a conv's epilogue, relu_max_pool2_backward), as the separate ops compute
// it: max_pool2d_backward puts 0 + dy at each window's winner and 0 elsewhere, relu_backward multiplies by
// relu'(z) (1 for z > 0, 0 for z <= 0, NaN for NaN). At the winner z > 0 exactly where y > 0 and z is NaN
// exactly where y is; a window with y == 0 (every tap <= 0) pooled four zeros after the ReLU, whose winner
// is the first tap, so its (0 + dy) * 0 goes there. A NaN z at another tap or in an odd trailing row/column is not seen here: that
// element's gradient is 0 (the separate ops give NaN; its window's output is already NaN).
template <class T>
void relu_pool2_route(T* dx, const T* dy, const T* y, const uint8_t* window_index, int64_t H, int64_t W) {
  const int64_t OH = H / 2, OW = W / 2;
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* d0 = dx + 2 * oh * W;
    T* d1 = d0 + W;
    const T* go = dy + oh * OW;
    const T* yo = y + oh * OW;
    const uint8_t* io = window_index + oh * OW;
#pragma omp simd
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T v = yo[ow];
      const T k = v == T(0) ? T(0) : T(io[ow]);  // compared as T, as relu_pool2_grad_input
      const T g = (T(0) + go[ow]) * (v > T(0) ? T(1) : (v == v ? T(0) : v));
      d0[2 * ow] = k == T(0) ? g : T(0);
      d0[2 * ow + 1] = k == T(1) ? g : T(0);
      d1[2 * ow] = k == T(2) ? g : T(0);
      d1[2 * ow + 1] = k == T(3) ? g : T(0);
    }
    if (W % 2) d0[W - 1] = d1[W - 1] = T(0);
  }
  if (H % 2)
    for (int64_t i = (H - 1) * W; i < H * W; ++i) dx[i] = T(0);
}

template <class T>
BatchNormReluLoops<T> make_relu_loops() {
  return BatchNormReluLoops<T>{&relu_plane<T>, &relu_pool2_plane<T>, &relu_grad_sums<T>, &relu_grad_input<T>,
                               &relu_pool2_grad_sums<T>, &relu_pool2_grad_input<T>,
                               &relu_pool2_route<T>};
}

}  // namespace fastann::cpu::FASTANN_ISA
