// loss.cu: losses with mean reduction on the GPU, forward and backward, float32 and float64.
//
// The CUDA twin of csrc/cpu/loss.cpp (same formulas, same NaN behaviour; sources there). What is GPU-specific
// is the reduction to one number:
//   - every thread sums its grid-stride share of the terms in double, the block sums its threads with warp
//     shuffles (block_sum, fixed order), and
//   - a small problem (one block's worth) writes the mean straight into the 0-d output: one launch, no
//     scratch memory; a larger one writes one partial per block into scratch from the stream-ordered
//     allocator, and a one-block finalize kernel adds the partials in order.
//   No atomics, so the loss is bit-for-bit reproducible run to run.
// The (N, C) losses give each row to one WARP: the lanes stride along the row (coalesced), and the row max /
// sums are warp shuffles. The fused softmax cross-entropy computes loss and gradient in one pass over the
// logits, as on the CPU: exp(x - max) is written into dinput and rescaled by the same lanes.
//
// Sections: helpers (reduction machinery, targets), kernels (term and row functors), launchers.
#include <climits>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/loss.hpp"
#include "fastann/cuda/reduce.cuh"
#include "fastann/loss_terms.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Helpers
// =====================================================================================================

constexpr int kRedBlock = 256;          // threads per reduction block
constexpr int64_t kItemsPerBlock = 8192;  // below this many elements one block does the whole sum
constexpr int kMaxRedBlocks = 256;

// NaN-propagating clamp.
__device__ __forceinline__ double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

// Sum `term(i)` over i < n (grid-stride); block b writes its sum to partials[b], or with a single block the
// scaled total straight to *out.
template <class T, class Term>
__global__ void __launch_bounds__(kRedBlock) sum_terms_kernel(T* out, double* partials, int64_t n, double scale,
                                                              Term term) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) acc += term(i);
  const double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) {
    if (gridDim.x == 1) out[0] = T(total * scale);
    else partials[blockIdx.x] = total;
  }
}

// One warp per row: row_fn(r, lane) is warp-collective and returns the row's loss on every lane (it may also
// write the row's gradient). With out == nullptr nothing is reduced (gradient-only calls).
template <class T, class RowFn>
__global__ void __launch_bounds__(kRedBlock) sum_rows_kernel(T* out, double* partials, int64_t N, double scale,
                                                             RowFn row_fn) {
  __shared__ double scratch[32];
  const int lane = threadIdx.x % 32;
  const int64_t warps_per_block = blockDim.x / 32;
  double acc = 0;
  for (int64_t r = blockIdx.x * warps_per_block + threadIdx.x / 32; r < N; r += gridDim.x * warps_per_block) {
    const double v = row_fn(r, lane);
    if (lane == 0) acc += v;
  }
  if (out == nullptr) return;  // kernel-uniform: every thread leaves here or none does
  const double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) {
    if (gridDim.x == 1) out[0] = T(total * scale);
    else partials[blockIdx.x] = total;
  }
}

template <class T>
__global__ void __launch_bounds__(kRedBlock) finalize_kernel(T* out, const double* partials, int nparts, double scale) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += partials[i];
  const double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[0] = T(total * scale);
}

int reduction_blocks(int64_t work, int64_t max_by_items) {
  int64_t g = ceil_div(work, kItemsPerBlock);
  g = g < 1 ? 1 : g;
  g = g > kMaxRedBlocks ? kMaxRedBlocks : g;
  g = g > max_by_items ? max_by_items : g;
  return static_cast<int>(g < 1 ? 1 : g);
}

// Scratch for the partials of a multi-block reduction, freed on the stream after use.
struct Partials {
  double* ptr = nullptr;
  cudaStream_t stream;
  Partials(int n, cudaStream_t s) : stream(s) {
    if (n > 1) FASTANN_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&ptr), sizeof(double) * n, s));
  }
  ~Partials() {
    if (ptr) (void)cudaFreeAsync(ptr, stream);  // enqueued after the kernels that use it
  }
  Partials(const Partials&) = delete;
  Partials& operator=(const Partials&) = delete;
};

// out = scale * sum_i term(i), i < n.
template <class T, class Term>
void reduce_terms(T* out, int64_t n, double scale, Term term, cudaStream_t s) {
  const int blocks = reduction_blocks(n, ceil_div(n, kRedBlock));
  Partials p(blocks, s);
  sum_terms_kernel<T, Term><<<blocks, kRedBlock, 0, s>>>(out, p.ptr, n, scale, term);
  FASTANN_CUDA_CHECK_LAUNCH("sum_terms_kernel");
  if (blocks > 1) {
    finalize_kernel<T><<<1, kRedBlock, 0, s>>>(out, p.ptr, blocks, scale);
    FASTANN_CUDA_CHECK_LAUNCH("finalize_kernel");
  }
}

// out = scale * sum_r row_fn(r), r < N (out may be null: the row functor's side effects only).
template <class T, class RowFn>
void reduce_rows(T* out, int64_t N, int64_t C, double scale, RowFn row_fn, cudaStream_t s) {
  const int64_t warps = kRedBlock / 32;
  const int blocks = reduction_blocks(N * C, ceil_div(N, warps));
  // Without a loss to reduce, use as many blocks as there are rows to cover (up to the grid-stride cap).
  const int grid = out ? blocks : static_cast<int>(std::min<int64_t>(ceil_div(N, warps), 4096));
  Partials p(out ? blocks : 1, s);
  sum_rows_kernel<T, RowFn><<<grid, kRedBlock, 0, s>>>(out, p.ptr, N, scale, row_fn);
  FASTANN_CUDA_CHECK_LAUNCH("sum_rows_kernel");
  if (out && blocks > 1) {
    finalize_kernel<T><<<1, kRedBlock, 0, s>>>(out, p.ptr, blocks, scale);
    FASTANN_CUDA_CHECK_LAUNCH("finalize_kernel");
  }
}

// ---- targets of the (N, C) losses: warp-collective accessors --------------------------------------
template <class T, class L>
struct SparseTarget {  // labels (N,): t_ij = [j == label_i]
  const L* labels;
  int64_t C;
  __device__ __forceinline__ bool valid(int64_t i) const {
    const int64_t l = static_cast<int64_t>(labels[i]);
    return l >= 0 && l < C;
  }
  __device__ __forceinline__ double at(int64_t i, int64_t j) const {
    return j == static_cast<int64_t>(labels[i]) ? 1.0 : 0.0;
  }
  __device__ __forceinline__ double sum(int64_t, int) const { return 1.0; }
  // sum_j t_ij (m - x_j), x = row i
  __device__ __forceinline__ double dot_gap(int64_t i, const T* x, T m, int) const {
    return double(m) - double(x[labels[i]]);
  }
};
template <class T>
struct DenseTarget {  // tgt (N, C)
  const T* tgt;
  int64_t C;
  __device__ __forceinline__ bool valid(int64_t) const { return true; }
  __device__ __forceinline__ double at(int64_t i, int64_t j) const { return tgt[i * C + j]; }
  __device__ __forceinline__ double sum(int64_t i, int lane) const {
    double s = 0;
    for (int64_t j = lane; j < C; j += 32) s += tgt[i * C + j];
    return warp_sum(s);
  }
  __device__ __forceinline__ double dot_gap(int64_t i, const T* x, T m, int lane) const {
    double s = 0;
    for (int64_t j = lane; j < C; j += 32) s += double(tgt[i * C + j]) * (double(m) - double(x[j]));
    return warp_sum(s);
  }
};

// =====================================================================================================
// Kernels: per-element terms and per-row functors
// =====================================================================================================

template <class T>
struct MseTerm {
  const T* x; const T* t;
  __device__ double operator()(int64_t i) const { const double d = double(x[i]) - double(t[i]); return d * d; }
};
template <class T>
struct L1Term {
  const T* x; const T* t;
  __device__ double operator()(int64_t i) const { return fabs(double(x[i]) - double(t[i])); }
};
template <class T>
struct BceTerm {
  const T* x; const T* t; double eps;
  __device__ double operator()(int64_t i) const {
    const double p = clampd(x[i], eps, 1.0 - eps), tt = t[i];
    return -(tt * log(p) + (1.0 - tt) * log(1.0 - p));
  }
};
template <class T>
struct BceLogitsTerm {
  const T* x; const T* t;
  __device__ double operator()(int64_t i) const {
    const double v = x[i], tt = t[i];
    return (v > 0 ? v : 0.0) - v * tt + log1p(exp(-fabs(v)));
  }
};

// inp, tgt, dinp (n,)
template <class T>
__global__ void mse_backward_kernel(T* dinp, const T* inp, const T* tgt, int64_t n, T scale) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) dinp[i] = scale * (inp[i] - tgt[i]);
}
template <class T>
__global__ void l1_backward_kernel(T* dinp, const T* inp, const T* tgt, int64_t n, T scale) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T d = inp[i] - tgt[i];
    const T sign = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
    dinp[i] = d != d ? d : scale * sign;
  }
}
template <class T>
__global__ void bce_backward_kernel(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double scale) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const double p = inp[i], t = tgt[i];
    const bool inside = p >= eps && p <= 1.0 - eps;
    const double d = inside ? scale * (p - t) / (p * (1.0 - p)) : 0.0;
    dinp[i] = p != p ? T(p) : T(d);
  }
}
template <class T>
__global__ void bce_logits_backward_kernel(T* dinp, const T* inp, const T* tgt, int64_t n, T scale) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const T x = inp[i];
    const T ex = exp(-fabs(x));
    const T sig = x >= T(0) ? T(1) / (T(1) + ex) : ex / (T(1) + ex);
    dinp[i] = scale * (sig - tgt[i]);
  }
}

// Softmax cross-entropy of row r (warp-collective). inp, dinp (N, C); dinp may be null.
template <class T, class Target>
struct CrossEntropyRow {
  const T* inp;
  T* dinp;
  Target t;
  int64_t C;
  double scale;  // g / N
  double g, unit;  // g and 1 / N, for an infinite or NaN g
  __device__ double operator()(int64_t r, int lane) const {
    const T* x = inp + r * C;
    T* d = dinp ? dinp + r * C : nullptr;
    if (!t.valid(r)) {  // a label outside [0, C): NaN, never an out-of-bounds read
      if (d) for (int64_t j = lane; j < C; j += 32) d[j] = T(NAN);
      return NAN;
    }
    T m = -INFINITY;
    for (int64_t j = lane; j < C; j += 32) m = nan_max(m, x[j]);
    m = warp_max(m);
    double sumexp = 0;
    for (int64_t j = lane; j < C; j += 32) {
      const T ex = exp(x[j] - m);
      if (d) d[j] = ex;
      sumexp += ex;
    }
    sumexp = warp_sum(sumexp);
    const double tsum = t.sum(r, lane);
    const double loss = tsum * log(sumexp) + t.dot_gap(r, x, m, lane);  // sum_j t_j (lse - x_j)
    if (d && isfinite(T(scale))) {
      // d_j = scale (tsum softmax_j - t_j); each lane rescales the elements it wrote
      const T a = T(scale * tsum / sumexp);
      for (int64_t j = lane; j < C; j += 32) d[j] = a * d[j] - T(scale) * T(t.at(r, j));
    } else if (d) {
      // g infinite or NaN: g times the gradient for g = 1 (+-inf, NaN where it is exactly 0), as on the CPU
      const T a = T(unit * tsum / sumexp);
      for (int64_t j = lane; j < C; j += 32) d[j] = T(g) * (a * d[j] - T(unit) * T(t.at(r, j)));
    }
    return loss;
  }
};

// Categorical cross-entropy on probabilities, row r: loss or (dinp != null) gradient. inp, dinp (N, C)
template <class T, class Target>
struct CategoricalRow {
  const T* inp;
  T* dinp;
  Target t;
  int64_t C;
  double eps, scale;
  __device__ double operator()(int64_t r, int lane) const {
    const T* p = inp + r * C;
    if (!t.valid(r)) {
      if (dinp) for (int64_t j = lane; j < C; j += 32) dinp[r * C + j] = T(NAN);
      return NAN;
    }
    double S = 0;
    for (int64_t j = lane; j < C; j += 32) S += p[j];
    S = warp_sum(S);
    if (!dinp) {
      // -sum_j t_j log q_j over every column where a q_j can be NaN or log q_j -inf (a non-finite or zero
      // row sum, eps = 0: 0 * NaN = NaN as in Keras); else only the t_j != 0 columns (csrc/cpu/loss.cpp).
      const bool all_columns = !(isfinite(S) && S != 0.0) || eps == 0.0;
      double acc = 0;
      for (int64_t j = lane; j < C; j += 32) {
        const double tj = t.at(r, j);
        if (tj != 0.0 || all_columns) acc -= tj * log(clampd(p[j] / S, eps, 1.0 - eps));
      }
      return warp_sum(acc);
    }
    // dL/dp_k = scale (A - t_k [k inside] / q_k) / S, A = sum_j t_j [j inside]
    double A = 0;
    for (int64_t j = lane; j < C; j += 32) {
      const double q = p[j] / S;
      if (q >= eps && q <= 1.0 - eps) A += t.at(r, j);
    }
    A = warp_sum(A);
    for (int64_t j = lane; j < C; j += 32) {
      const double q = p[j] / S;
      const bool inside = q >= eps && q <= 1.0 - eps;
      const double tj = t.at(r, j);
      dinp[r * C + j] = T(scale * (A - (inside && tj != 0.0 ? tj / q : 0.0)) / S);
    }
    return 0.0;
  }
};

// Keras's regression and margin losses: element i's term (fastann/loss_terms.hpp). `nonbinary` (hinge and
// squared hinge only, else null) points at a device flag, 0 when every target is 0 or 1.
template <class Term, class T>
struct KerasTerm {
  const T* x; const T* t; double param; const int* nonbinary;
  __device__ double operator()(int64_t i) const {
    const bool binary = nonbinary && *nonbinary == 0;
    return Term::term(x[i], loss_terms::hinge_label(t[i], binary), param);
  }
};
// inp, tgt, dinp (n,)
template <class Term, class T>
__global__ void keras_grad_kernel(T* dinp, const T* inp, const T* tgt, int64_t n, double param, double scale,
                                  const int* nonbinary) {
  const bool binary = nonbinary && *nonbinary == 0;
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride())
    dinp[i] = T(scale * Term::grad(inp[i], loss_terms::hinge_label(tgt[i], binary), param));
}
// *flag = 1 when some tgt[i] is neither 0 nor 1 (every writer stores the same value). tgt (n,)
template <class T>
__global__ void find_nonbinary_kernel(int* flag, const T* tgt, int64_t n) {
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride())
    if (!loss_terms::is_binary_label(tgt[i])) *flag = 1;
}

// first_bad = min index i with labels[i] outside [0, C) (starts at ULLONG_MAX).
template <class L>
__global__ void find_bad_label_kernel(unsigned long long* first_bad, const L* labels, int64_t N, int64_t C) {
  for (int64_t i = global_thread_index(); i < N; i += global_thread_stride()) {
    const int64_t l = static_cast<int64_t>(labels[i]);
    if (l < 0 || l >= C) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

template <class T>
void mse_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s) {
  FASTANN_CHECK(n > 0, "mse_loss: empty input");
  reduce_terms(loss, n, 1.0 / double(n), MseTerm<T>{inp, tgt}, s);
}
template <class T>
void mse_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s) {
  if (n <= 0) return;
  mse_backward_kernel<T><<<grid_for(n), kBlock, 0, s>>>(dinp, inp, tgt, n, T(2.0 * g / double(n)));
  FASTANN_CUDA_CHECK_LAUNCH("mse_backward_kernel");
}
template <class T>
void l1_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s) {
  FASTANN_CHECK(n > 0, "l1_loss: empty input");
  reduce_terms(loss, n, 1.0 / double(n), L1Term<T>{inp, tgt}, s);
}
template <class T>
void l1_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s) {
  if (n <= 0) return;
  l1_backward_kernel<T><<<grid_for(n), kBlock, 0, s>>>(dinp, inp, tgt, n, T(g / double(n)));
  FASTANN_CUDA_CHECK_LAUNCH("l1_backward_kernel");
}
template <class T>
void binary_cross_entropy_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps, cudaStream_t s) {
  FASTANN_CHECK(n > 0, "binary_cross_entropy: empty input");
  reduce_terms(loss, n, 1.0 / double(n), BceTerm<T>{inp, tgt, eps}, s);
}
template <class T>
void binary_cross_entropy_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g,
                                   cudaStream_t s) {
  if (n <= 0) return;
  bce_backward_kernel<T><<<grid_for(n), kBlock, 0, s>>>(dinp, inp, tgt, n, eps, g / double(n));
  FASTANN_CUDA_CHECK_LAUNCH("bce_backward_kernel");
}
template <class T>
void binary_cross_entropy_with_logits_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s) {
  FASTANN_CHECK(n > 0, "binary_cross_entropy_with_logits: empty input");
  reduce_terms(loss, n, 1.0 / double(n), BceLogitsTerm<T>{inp, tgt}, s);
}
template <class T>
void binary_cross_entropy_with_logits_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g,
                                               cudaStream_t s) {
  if (n <= 0) return;
  bce_logits_backward_kernel<T><<<grid_for(n), kBlock, 0, s>>>(dinp, inp, tgt, n, T(g / double(n)));
  FASTANN_CUDA_CHECK_LAUNCH("bce_logits_backward_kernel");
}

template <class T, class L>
void cross_entropy_sparse(T* loss, T* dinp, const T* inp, const L* labels, int64_t N, int64_t C, double g,
                          cudaStream_t s) {
  FASTANN_CHECK(N > 0 && C > 0, "cross_entropy: empty input");
  using Row = CrossEntropyRow<T, SparseTarget<T, L>>;
  reduce_rows(loss, N, C, 1.0 / double(N),
              Row{inp, dinp, SparseTarget<T, L>{labels, C}, C, g / double(N), g, 1.0 / double(N)}, s);
}
template <class T>
void cross_entropy_dense(T* loss, T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double g,
                         cudaStream_t s) {
  FASTANN_CHECK(N > 0 && C > 0, "cross_entropy: empty input");
  using Row = CrossEntropyRow<T, DenseTarget<T>>;
  reduce_rows(loss, N, C, 1.0 / double(N), Row{inp, dinp, DenseTarget<T>{tgt, C}, C, g / double(N), g, 1.0 / double(N)},
              s);
}
template <class T, class L>
void categorical_crossentropy_sparse_forward(T* loss, const T* inp, const L* labels, int64_t N, int64_t C,
                                             double eps, cudaStream_t s) {
  FASTANN_CHECK(N > 0 && C > 0, "categorical_crossentropy: empty input");
  using Row = CategoricalRow<T, SparseTarget<T, L>>;
  reduce_rows(loss, N, C, 1.0 / double(N), Row{inp, nullptr, SparseTarget<T, L>{labels, C}, C, eps, 0.0}, s);
}
template <class T>
void categorical_crossentropy_dense_forward(T* loss, const T* inp, const T* tgt, int64_t N, int64_t C, double eps,
                                            cudaStream_t s) {
  FASTANN_CHECK(N > 0 && C > 0, "categorical_crossentropy: empty input");
  using Row = CategoricalRow<T, DenseTarget<T>>;
  reduce_rows(loss, N, C, 1.0 / double(N), Row{inp, nullptr, DenseTarget<T>{tgt, C}, C, eps, 0.0}, s);
}
template <class T, class L>
void categorical_crossentropy_sparse_backward(T* dinp, const T* inp, const L* labels, int64_t N, int64_t C,
                                              double eps, double g, cudaStream_t s) {
  if (N <= 0 || C <= 0) return;
  using Row = CategoricalRow<T, SparseTarget<T, L>>;
  reduce_rows<T>(nullptr, N, C, 0.0, Row{inp, dinp, SparseTarget<T, L>{labels, C}, C, eps, g / double(N)}, s);
}
template <class T>
void categorical_crossentropy_dense_backward(T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double eps,
                                             double g, cudaStream_t s) {
  if (N <= 0 || C <= 0) return;
  using Row = CategoricalRow<T, DenseTarget<T>>;
  reduce_rows<T>(nullptr, N, C, 0.0, Row{inp, dinp, DenseTarget<T>{tgt, C}, C, eps, g / double(N)}, s);
}

namespace {

// Device flag of Keras's hinge label conversion for tgt (n,): set on the stream, freed after its users.
struct HingeFlag {
  int* ptr = nullptr;
  cudaStream_t stream;
  template <class T>
  HingeFlag(const T* tgt, int64_t n, cudaStream_t s) : stream(s) {
    FASTANN_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&ptr), sizeof(int), s));
    FASTANN_CUDA_CHECK(cudaMemsetAsync(ptr, 0, sizeof(int), s));
    find_nonbinary_kernel<T><<<grid_for(n), kBlock, 0, s>>>(ptr, tgt, n);
    FASTANN_CUDA_CHECK_LAUNCH("find_nonbinary_kernel");
  }
  ~HingeFlag() {
    if (ptr) (void)cudaFreeAsync(ptr, stream);
  }
  HingeFlag(const HingeFlag&) = delete;
  HingeFlag& operator=(const HingeFlag&) = delete;
};

template <class Term, class T>
void keras_forward(T* loss, const T* inp, const T* tgt, int64_t n, double divisor, double param, bool hinge,
                   cudaStream_t s) {
  FASTANN_CHECK(n > 0, "loss: empty input");
  if (hinge) {
    HingeFlag flag(tgt, n, s);
    reduce_terms(loss, n, 1.0 / divisor, KerasTerm<Term, T>{inp, tgt, param, flag.ptr}, s);
  } else {
    reduce_terms(loss, n, 1.0 / divisor, KerasTerm<Term, T>{inp, tgt, param, nullptr}, s);
  }
}
template <class Term, class T>
void keras_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double divisor, double param, double g,
                    bool hinge, cudaStream_t s) {
  if (n <= 0) return;
  if (hinge) {
    HingeFlag flag(tgt, n, s);
    keras_grad_kernel<Term, T><<<grid_for(n), kBlock, 0, s>>>(dinp, inp, tgt, n, param, g / divisor, flag.ptr);
  } else {
    keras_grad_kernel<Term, T><<<grid_for(n), kBlock, 0, s>>>(dinp, inp, tgt, n, param, g / divisor, nullptr);
  }
  FASTANN_CUDA_CHECK_LAUNCH("keras_grad_kernel");
}

}  // namespace

template <class T>
void huber_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double delta, cudaStream_t s) {
  keras_forward<loss_terms::Huber>(loss, inp, tgt, n, double(n), delta, false, s);
}
template <class T>
void huber_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double delta, double g, cudaStream_t s) {
  keras_backward<loss_terms::Huber>(dinp, inp, tgt, n, double(n), delta, g, false, s);
}
template <class T>
void kl_divergence_forward(T* loss, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps, cudaStream_t s) {
  keras_forward<loss_terms::KLDivergence>(loss, inp, tgt, n, double(rows), eps, false, s);
}
template <class T>
void kl_divergence_backward(T* dinp, const T* inp, const T* tgt, int64_t n, int64_t rows, double eps, double g,
                            cudaStream_t s) {
  keras_backward<loss_terms::KLDivergence>(dinp, inp, tgt, n, double(rows), eps, g, false, s);
}
template <class T>
void hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s) {
  keras_forward<loss_terms::Hinge>(loss, inp, tgt, n, double(n), 0.0, true, s);
}
template <class T>
void hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s) {
  keras_backward<loss_terms::Hinge>(dinp, inp, tgt, n, double(n), 0.0, g, true, s);
}
template <class T>
void squared_hinge_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s) {
  keras_forward<loss_terms::SquaredHinge>(loss, inp, tgt, n, double(n), 0.0, true, s);
}
template <class T>
void squared_hinge_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s) {
  keras_backward<loss_terms::SquaredHinge>(dinp, inp, tgt, n, double(n), 0.0, g, true, s);
}
template <class T>
void log_cosh_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, cudaStream_t s) {
  keras_forward<loss_terms::LogCosh>(loss, inp, tgt, n, double(n), 0.0, false, s);
}
template <class T>
void log_cosh_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double g, cudaStream_t s) {
  keras_backward<loss_terms::LogCosh>(dinp, inp, tgt, n, double(n), 0.0, g, false, s);
}
template <class T>
void poisson_loss_forward(T* loss, const T* inp, const T* tgt, int64_t n, double eps, cudaStream_t s) {
  keras_forward<loss_terms::Poisson>(loss, inp, tgt, n, double(n), eps, false, s);
}
template <class T>
void poisson_loss_backward(T* dinp, const T* inp, const T* tgt, int64_t n, double eps, double g, cudaStream_t s) {
  keras_backward<loss_terms::Poisson>(dinp, inp, tgt, n, double(n), eps, g, false, s);
}

template <class L>
int64_t find_bad_label(const L* labels, int64_t N, int64_t C, int64_t* bad_label, cudaStream_t s) {
  if (N <= 0) return -1;
  unsigned long long* d_first = nullptr;
  FASTANN_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&d_first), sizeof(unsigned long long), s));
  unsigned long long first = ULLONG_MAX;
  cudaError_t err = cudaMemsetAsync(d_first, 0xFF, sizeof(unsigned long long), s);  // ULLONG_MAX
  if (err == cudaSuccess) {
    find_bad_label_kernel<L><<<grid_for(N), kBlock, 0, s>>>(d_first, labels, N, C);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) err = cudaMemcpyAsync(&first, d_first, sizeof(first), cudaMemcpyDeviceToHost, s);
  (void)cudaFreeAsync(d_first, s);
  if (err == cudaSuccess) err = cudaStreamSynchronize(s);
  if (err != cudaSuccess) cuda_detail::throw_cuda_error(err, "find_bad_label", __FILE__, __LINE__);
  if (first == ULLONG_MAX) return -1;
  L value;
  FASTANN_CUDA_CHECK(cudaMemcpy(&value, labels + first, sizeof(L), cudaMemcpyDeviceToHost));
  *bad_label = static_cast<int64_t>(value);
  return static_cast<int64_t>(first);
}

// ---- explicit instantiations ----------------------------------------------------------------------
#define FASTANN_LOSS_T(T)                                                                                   \
  template void mse_loss_forward<T>(T*, const T*, const T*, int64_t, cudaStream_t);                        \
  template void mse_loss_backward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);               \
  template void l1_loss_forward<T>(T*, const T*, const T*, int64_t, cudaStream_t);                         \
  template void l1_loss_backward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);                \
  template void binary_cross_entropy_forward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);    \
  template void binary_cross_entropy_backward<T>(T*, const T*, const T*, int64_t, double, double, cudaStream_t); \
  template void binary_cross_entropy_with_logits_forward<T>(T*, const T*, const T*, int64_t, cudaStream_t); \
  template void binary_cross_entropy_with_logits_backward<T>(T*, const T*, const T*, int64_t, double,      \
                                                             cudaStream_t);                                \
  template void cross_entropy_dense<T>(T*, T*, const T*, const T*, int64_t, int64_t, double, cudaStream_t); \
  template void categorical_crossentropy_dense_forward<T>(T*, const T*, const T*, int64_t, int64_t, double, \
                                                          cudaStream_t);                                   \
  template void categorical_crossentropy_dense_backward<T>(T*, const T*, const T*, int64_t, int64_t, double, \
                                                           double, cudaStream_t);
#define FASTANN_LOSS_TL(T, L)                                                                               \
  template void cross_entropy_sparse<T, L>(T*, T*, const T*, const L*, int64_t, int64_t, double, cudaStream_t); \
  template void categorical_crossentropy_sparse_forward<T, L>(T*, const T*, const L*, int64_t, int64_t,     \
                                                              double, cudaStream_t);                       \
  template void categorical_crossentropy_sparse_backward<T, L>(T*, const T*, const L*, int64_t, int64_t,    \
                                                               double, double, cudaStream_t);
FASTANN_LOSS_T(float)
FASTANN_LOSS_T(double)
FASTANN_LOSS_TL(float, int32_t)
FASTANN_LOSS_TL(float, int64_t)
FASTANN_LOSS_TL(double, int32_t)
FASTANN_LOSS_TL(double, int64_t)
template int64_t find_bad_label<int32_t>(const int32_t*, int64_t, int64_t, int64_t*, cudaStream_t);
template int64_t find_bad_label<int64_t>(const int64_t*, int64_t, int64_t, int64_t*, cudaStream_t);

#define FASTANN_KERAS_LOSS_T(T)                                                                             \
  template void huber_loss_forward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);              \
  template void huber_loss_backward<T>(T*, const T*, const T*, int64_t, double, double, cudaStream_t);     \
  template void kl_divergence_forward<T>(T*, const T*, const T*, int64_t, int64_t, double, cudaStream_t);  \
  template void kl_divergence_backward<T>(T*, const T*, const T*, int64_t, int64_t, double, double,        \
                                          cudaStream_t);                                                   \
  template void hinge_loss_forward<T>(T*, const T*, const T*, int64_t, cudaStream_t);                      \
  template void hinge_loss_backward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);             \
  template void squared_hinge_loss_forward<T>(T*, const T*, const T*, int64_t, cudaStream_t);              \
  template void squared_hinge_loss_backward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);     \
  template void log_cosh_loss_forward<T>(T*, const T*, const T*, int64_t, cudaStream_t);                   \
  template void log_cosh_loss_backward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);          \
  template void poisson_loss_forward<T>(T*, const T*, const T*, int64_t, double, cudaStream_t);            \
  template void poisson_loss_backward<T>(T*, const T*, const T*, int64_t, double, double, cudaStream_t);
FASTANN_KERAS_LOSS_T(float)
FASTANN_KERAS_LOSS_T(double)

}  // namespace fastann::cuda
