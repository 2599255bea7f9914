// embedding.cu: the embedding lookup (a row gather) and its backward (a scatter-add) on the GPU, float32 and
// float64 tables, int32 and int64 indices; the twins of csrc/cpu/embedding.cpp.
//
// Forward: one thread per output element (grid-stride), out[l, d] = weight[idx[l], d].
// Backward, deterministic without atomics on floats: the positions are sorted by (row, position) as 64-bit keys
// idx << 32 | l (a bitonic sort, Batcher 1968, on the keys padded to a power of two), each row finds where its
// positions start by binary search, and one thread per (row, column) adds its row's gradient rows in
// increasing position order: the same order, and so the same bits, as the CPU kernel.
//
// Sections: kernels, launchers.
#include <climits>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"
#include "fastann/cuda/embedding.hpp"
#include "fastann/cuda/workspace.hpp"

namespace fastann::cuda {
namespace {

// =====================================================================================================
// Kernels
// =====================================================================================================

// first_bad = the smallest l with idx[l] outside [0, V) (starts at ULLONG_MAX).
template <class I>
__global__ void find_bad_index_kernel(unsigned long long* first_bad, const I* idx, int64_t L, int64_t V) {
  for (int64_t l = global_thread_index(); l < L; l += global_thread_stride()) {
    const int64_t v = static_cast<int64_t>(idx[l]);
    if (v < 0 || v >= V) atomicMin(first_bad, static_cast<unsigned long long>(l));
  }
}

// out (L, D)
template <class T, class I>
__global__ void gather_kernel(T* out, const T* weight, const I* idx, int64_t L, int64_t D) {
  const int64_t n = L * D;
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const int64_t l = i / D, d = i - l * D;
    out[i] = weight[static_cast<int64_t>(idx[l]) * D + d];
  }
}

// keys (n_pow2,): idx[l] << 32 | l for l < L, ULLONG_MAX after.
template <class I>
__global__ void make_keys_kernel(unsigned long long* keys, const I* idx, int64_t L, int64_t n_pow2) {
  for (int64_t i = global_thread_index(); i < n_pow2; i += global_thread_stride())
    keys[i] = i < L ? (static_cast<unsigned long long>(idx[i]) << 32) | static_cast<unsigned long long>(i)
                    : ULLONG_MAX;
}

// One compare-exchange pass (k, j) of the bitonic sorting network, ascending overall.
__global__ void bitonic_pass_kernel(unsigned long long* keys, int64_t n_pow2, int64_t j, int64_t k) {
  for (int64_t i = global_thread_index(); i < n_pow2; i += global_thread_stride()) {
    const int64_t p = i ^ j;
    if (p <= i) continue;
    const unsigned long long a = keys[i], b = keys[p];
    const bool ascending = (i & k) == 0;
    if ((a > b) == ascending) {
      keys[i] = b;
      keys[p] = a;
    }
  }
}

// start (V + 1,): start[v] = the first sorted position whose row is >= v (a lower bound on the keys).
__global__ void row_starts_kernel(int64_t* start, const unsigned long long* keys, int64_t L, int64_t V) {
  for (int64_t v = global_thread_index(); v <= V; v += global_thread_stride()) {
    const unsigned long long target = static_cast<unsigned long long>(v) << 32;
    int64_t lo = 0, hi = L;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (keys[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    start[v] = lo;
  }
}

// dweight (V, D): one thread per (v, d), the row's positions in increasing order.
template <class T>
__global__ void row_sums_kernel(T* dweight, const T* grad, const unsigned long long* keys, const int64_t* start,
                                int64_t V, int64_t D, int64_t padding_idx) {
  const int64_t n = V * D;
  for (int64_t i = global_thread_index(); i < n; i += global_thread_stride()) {
    const int64_t v = i / D, d = i - v * D;
    T acc = T(0);
    if (v != padding_idx)
      for (int64_t k = start[v]; k < start[v + 1]; ++k)
        acc += grad[static_cast<int64_t>(keys[k] & 0xFFFFFFFFULL) * D + d];
    dweight[i] = acc;
  }
}

// Throws (naming op, the index and its position) when an index is outside [0, V).
template <class I>
void check_indices(const char* op, const I* idx, int64_t L, int64_t V, cudaStream_t s) {
  if (L <= 0) return;
  Workspace<unsigned long long> first_bad(1, s);
  FASTANN_CUDA_CHECK(cudaMemsetAsync(first_bad.get(), 0xFF, sizeof(unsigned long long), s));
  find_bad_index_kernel<I><<<grid_for(L), kBlock, 0, s>>>(first_bad.get(), idx, L, V);
  FASTANN_CUDA_CHECK_LAUNCH("find_bad_index_kernel");
  unsigned long long first = ULLONG_MAX;
  FASTANN_CUDA_CHECK(cudaMemcpyAsync(&first, first_bad.get(), sizeof(first), cudaMemcpyDeviceToHost, s));
  FASTANN_CUDA_CHECK(cudaStreamSynchronize(s));
  if (first == ULLONG_MAX) return;
  I value;
  FASTANN_CUDA_CHECK(cudaMemcpy(&value, idx + first, sizeof(I), cudaMemcpyDeviceToHost));
  fail(op, ": index ", static_cast<int64_t>(value), " at flat position ", static_cast<int64_t>(first),
       " is out of range for a table of ", V, " rows (valid: 0 to ", V - 1, ")");
}

}  // namespace

// =====================================================================================================
// Launchers
// =====================================================================================================

template <class T, class I>
void embedding_forward(T* out, const T* weight, const I* indices, int64_t L, int64_t V, int64_t D, cudaStream_t s) {
  check_indices("embedding_forward", indices, L, V, s);
  if (L * D <= 0) return;
  gather_kernel<T, I><<<grid_for(L * D), kBlock, 0, s>>>(out, weight, indices, L, D);
  FASTANN_CUDA_CHECK_LAUNCH("gather_kernel");
}

template <class T, class I>
void embedding_backward(T* dweight, const T* grad_output, const I* indices, int64_t L, int64_t V, int64_t D,
                        int64_t padding_idx, cudaStream_t s) {
  check_indices("embedding_backward", indices, L, V, s);
  FASTANN_CHECK(L < (int64_t(1) << 32) && V < (int64_t(1) << 31), "embedding_backward: the CUDA kernel takes "
                "fewer than 2^32 positions and 2^31 rows, got ", L, " and ", V);
  if (V * D <= 0) return;
  int64_t n_pow2 = 1;
  while (n_pow2 < L) n_pow2 <<= 1;
  Workspace<unsigned long long> keys(L > 0 ? n_pow2 : 1, s);
  Workspace<int64_t> start(V + 1, s);
  if (L > 0) {
    make_keys_kernel<I><<<grid_for(n_pow2), kBlock, 0, s>>>(keys.get(), indices, L, n_pow2);
    FASTANN_CUDA_CHECK_LAUNCH("make_keys_kernel");
    for (int64_t k = 2; k <= n_pow2; k <<= 1)
      for (int64_t j = k >> 1; j > 0; j >>= 1) {
        bitonic_pass_kernel<<<grid_for(n_pow2), kBlock, 0, s>>>(keys.get(), n_pow2, j, k);
        FASTANN_CUDA_CHECK_LAUNCH("bitonic_pass_kernel");
      }
  }
  row_starts_kernel<<<grid_for(V + 1), kBlock, 0, s>>>(start.get(), keys.get(), L, V);
  FASTANN_CUDA_CHECK_LAUNCH("row_starts_kernel");
  row_sums_kernel<T><<<grid_for(V * D), kBlock, 0, s>>>(dweight, grad_output, keys.get(), start.get(), V, D,
                                                       padding_idx);
  FASTANN_CUDA_CHECK_LAUNCH("row_sums_kernel");
}

// ---- explicit instantiations ----------------------------------------------------------------------
#define FASTANN_EMBEDDING(T, I)                                                                                  \
  template void embedding_forward<T, I>(T*, const T*, const I*, int64_t, int64_t, int64_t, cudaStream_t);      \
  template void embedding_backward<T, I>(T*, const T*, const I*, int64_t, int64_t, int64_t, int64_t, cudaStream_t);
FASTANN_EMBEDDING(float, int32_t)
FASTANN_EMBEDDING(float, int64_t)
FASTANN_EMBEDDING(double, int32_t)
FASTANN_EMBEDDING(double, int64_t)
#undef FASTANN_EMBEDDING

}  // namespace fastann::cuda
