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
inline int team_size(int64_t n) {
  if (in_parallel_region()) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), n)));
}

// body(t, queue) runs once for each t = 0..team_size(n)-1, as an item of the kernels' team (run_on_team,
// fastann/common.hpp), and pulls work items from the one queue. A body whose helper has not started by the
// time the queue runs dry finds it empty and returns at once; t only names per-thread scratch.
template <class Body>
void parallel_dynamic(int64_t n, Body&& body) {
  WorkQueue queue(n);
  const int nt = team_size(n);
  if (nt == 1) {
    body(0, queue);
    return;
  }
  struct Team {
    Body* body;
    WorkQueue* queue;
    static void run(void* ctx, int64_t t) {
      Team& s = *static_cast<Team*>(ctx);
      (*s.body)(static_cast<int>(t), *s.queue);
    }
  } team{&body, &queue};
  run_on_team(nt, nt - 1, &Team::run, &team);
}

}  // namespace fastann::cpu
