// class_targets.hpp: the targets of the (N, C) classification losses, as small accessors shared by the softmax
// cross-entropy (cross_entropy_loops.hpp, compiled per ISA) and Keras's categorical cross-entropy on
// probabilities (loss.cpp): sparse (integer labels) and dense (probability / one-hot rows) targets run one
// implementation through t.at(i, j), t.sum(i) and t.dot_gap(i, x, m) = sum_j t_ij (m - x_ij). Also the rows
// per thread of those losses. Internal to csrc/cpu, with internal linkage (csrc/cpu/README.md).
#pragma once

#include <cstdint>

namespace fastann::cpu {
namespace {

// Elements per thread below which an (N, C) loss stays on one thread: ~0.7 ns per element (the softmax
// cross-entropy of 128 x 1000), so ~3 us of work, where handing a chunk to the thread team costs ~1 us (128 x 100:
// 2 threads 1.5x one; docs/losses.md).
constexpr int64_t kRowGrain = 4096;

// Rows per thread for an (N, C) kernel: about kRowGrain elements.
inline int64_t row_grain(int64_t C) { return C >= kRowGrain ? 1 : kRowGrain / C; }

// Targets of the (N, C) losses.
template <class T, class L>
struct SparseTarget {  // labels (N,): t_ij = [j == label_i]
  const L* labels;
  T at(int64_t i, int64_t j) const { return j == static_cast<int64_t>(labels[i]) ? T(1) : T(0); }
  double sum(int64_t) const { return 1.0; }
  double dot_gap(int64_t i, const T* x, T m) const { return double(m) - double(x[labels[i]]); }
};
template <class T>
struct DenseTarget {  // tgt (N, C)
  const T* tgt;
  int64_t C;
  T at(int64_t i, int64_t j) const { return tgt[i * C + j]; }
  double sum(int64_t i) const {
    double s = 0;
    for (int64_t j = 0; j < C; ++j) s += tgt[i * C + j];
    return s;
  }
  double dot_gap(int64_t i, const T* x, T m) const {
    double s = 0;
    for (int64_t j = 0; j < C; ++j) s += double(tgt[i * C + j]) * (double(m) - double(x[j]));
    return s;
  }
};

}  // namespace
}  // namespace fastann::cpu
