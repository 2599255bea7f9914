// work_queue.hpp: dynamic work distribution for the CPU kernels. WorkQueue hands out items one at a time from
// an atomic counter; parallel_dynamic runs a body on a team of threads that pull from one queue. Internal to
// csrc/cpu; usable by any family (no ISA-specific code).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "fastann/common.hpp"

namespace fastann::cpu {

// Work handed out one item at a time (an atomic counter) rather than in fixed chunks: on a shared machine a
// thread whose core is busy with another process simply takes fewer items instead of holding up the rest.
class WorkQueue {
 public:
  explicit WorkQueue(int64_t n) : n_(n) {}
  int64_t next() {  // the next item, or -1 when all are taken
    const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    return i < n_ ? i : -1;
  }

 private:
  const int64_t n_;
  std::atomic<int64_t> next_{0};
};

// Threads used for n items: fastann's thread count, at most n.
inline int team_size(int64_t n) { return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), n))); }

// body(t, queue) runs once on each of team_size(n) threads (t = 0..team-1) and pulls items from the queue.
template <class Body>
void parallel_dynamic(int64_t n, Body&& body) {
  WorkQueue queue(n);
  const int nt = team_size(n);
  if (nt == 1) {
    body(0, queue);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  body(omp_get_thread_num(), queue);
#else
  body(0, queue);
#endif
}

}  // namespace fastann::cpu
