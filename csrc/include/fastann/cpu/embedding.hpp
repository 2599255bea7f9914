// fastann/cpu/embedding.hpp: the embedding lookup (a row gather) and its backward (a scatter-add of the
// output gradient's rows into the table's rows), csrc/cpu/embedding.cpp.
//
// Layouts (torch.nn.functional.embedding): weight (V, D) C-contiguous, indices (L,) int32 or int64 (any
// input shape flattened), out (L, D). Every index must be in [0, V): the kernels check that first and throw
// (std::invalid_argument, a ValueError in Python) before writing anything, so a bad index never reads or
// writes outside the table.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// The position of the first index outside [0, V), or -1 when every index is in range.
template <class I>
int64_t embedding_first_bad_index(const I* indices, int64_t L, int64_t V);

// out (L, D): out[l] = weight[indices[l]]. Throws on an index outside [0, V).
template <class T, class I>
void embedding_forward(T* out, const T* weight, const I* indices, int64_t L, int64_t V, int64_t D);

// dweight (V, D) = sum over the positions l with indices[l] = v of grad_output[l] (grad_output (L, D)); rows
// no index names, and row padding_idx when 0 <= padding_idx < V, are zero. Deterministic: the positions are
// bucketed by row with a stable counting sort and each row sums its positions in increasing l, one row per
// thread, so the result is the same bit for bit at any thread count. Throws on an index outside [0, V).
template <class T, class I>
void embedding_backward(T* dweight, const T* grad_output, const I* indices, int64_t L, int64_t V, int64_t D,
                        int64_t padding_idx);

}  // namespace fastann::cpu
