// embedding.cpp: the embedding lookup and its backward (fastann/cpu/embedding.hpp). The lookup is a row
// gather (Bengio et al. 2003, "A neural probabilistic language model": the table C of word features); its
// gradient adds each output-gradient row into the table row its index names. Several positions may name the
// same row, so the backward buckets the positions by row first (a stable counting sort, O(L + V)) and then
// gives each thread whole rows: no two threads write one row and each row adds its positions in increasing
// order, so the sum is deterministic and independent of the thread count (no atomics).
#include "fastann/cpu/embedding.hpp"

#include <cstring>
#include <vector>

#include "fastann/common.hpp"

namespace fastann::cpu {

template <class I>
int64_t embedding_first_bad_index(const I* indices, int64_t L, int64_t V) {
  for (int64_t l = 0; l < L; ++l) {
    const int64_t v = static_cast<int64_t>(indices[l]);
    if (v < 0 || v >= V) return l;
  }
  return -1;
}

namespace {

template <class I>
void check_indices(const char* op, const I* indices, int64_t L, int64_t V) {
  const int64_t bad = embedding_first_bad_index(indices, L, V);
  FASTANN_CHECK(bad < 0, op, ": index ", static_cast<int64_t>(indices[bad < 0 ? 0 : bad]), " at flat position ",
                bad, " is out of range for a table of ", V, " rows (valid: 0 to ", V - 1, ")");
}

}  // namespace

// out (L, D), weight (V, D), indices (L,)
template <class T, class I>
void embedding_forward(T* out, const T* weight, const I* indices, int64_t L, int64_t V, int64_t D) {
  check_indices("embedding_forward", indices, L, V);
  const int64_t grain = D >= 4096 ? 1 : 4096 / D + 1;  // rows per thread worth a fork
  parallel_for(L, grain, [&](int64_t b, int64_t e) {
    for (int64_t l = b; l < e; ++l)
      std::memcpy(out + l * D, weight + static_cast<int64_t>(indices[l]) * D, sizeof(T) * D);
  });
}

// dweight (V, D), grad_output (L, D), indices (L,)
template <class T, class I>
void embedding_backward(T* dweight, const T* grad_output, const I* indices, int64_t L, int64_t V, int64_t D,
                        int64_t padding_idx) {
  check_indices("embedding_backward", indices, L, V);
  // stable counting sort of the positions by row: row v's positions are order[start[v] .. start[v + 1])
  std::vector<int64_t> start(V + 1, 0), order(L);
  for (int64_t l = 0; l < L; ++l) ++start[static_cast<int64_t>(indices[l]) + 1];
  for (int64_t v = 0; v < V; ++v) start[v + 1] += start[v];
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t l = 0; l < L; ++l) order[next[static_cast<int64_t>(indices[l])]++] = l;
  }
  const int64_t grain = D >= 4096 ? 1 : 4096 / D + 1;
  parallel_for(V, grain, [&](int64_t b, int64_t e) {
    for (int64_t v = b; v < e; ++v) {
      T* row = dweight + v * D;
      std::memset(row, 0, sizeof(T) * D);
      if (v == padding_idx) continue;
      for (int64_t k = start[v]; k < start[v + 1]; ++k) {
        const T* g = grad_output + order[k] * D;
        for (int64_t d = 0; d < D; ++d) row[d] += g[d];
      }
    }
  });
}

// ---- explicit instantiations ----------------------------------------------------------------------
template int64_t embedding_first_bad_index<int32_t>(const int32_t*, int64_t, int64_t);
template int64_t embedding_first_bad_index<int64_t>(const int64_t*, int64_t, int64_t);
#define FASTANN_EMBEDDING(T, I)                                                                       \
  template void embedding_forward<T, I>(T*, const T*, const I*, int64_t, int64_t, int64_t);          \
  template void embedding_backward<T, I>(T*, const T*, const I*, int64_t, int64_t, int64_t, int64_t);
FASTANN_EMBEDDING(float, int32_t)
FASTANN_EMBEDDING(float, int64_t)
FASTANN_EMBEDDING(double, int32_t)
FASTANN_EMBEDDING(double, int64_t)
#undef FASTANN_EMBEDDING

}  // namespace fastann::cpu
