// parallel_sum.hpp: a threaded sum for the loss kernels (header-only, internal to csrc/cpu).
#pragma once

#include <cstdint>
#include <vector>

#include "fastann/common.hpp"

namespace fastann::cpu::detail {

// Sum f(begin, end) -> double over [0, n) split into at most num_threads() chunks of >= grain items.
// Each chunk writes its own partial and the partials are added in order afterwards, so there is no
// shared accumulator between threads (the result depends only on the chunking, not on timing).
template <class F>
inline double parallel_sum(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return 0.0;
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks > num_threads()) chunks = num_threads();
  if (chunks <= 1) return f(int64_t(0), n);
  const int64_t len = (n + chunks - 1) / chunks;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t b = c * len, e = b + len < n ? b + len : n;
      if (b < e) partial[static_cast<size_t>(c)] = f(b, e);
    }
  });
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

}  // namespace fastann::cpu::detail
