// run_sums.hpp: sums over work items that come out bit-for-bit the same in every call at a given thread count,
// however the threads share the items (Runs, guided_runs, RunCursor, RunSums). Internal to csrc/cpu; usable by
// any family (no ISA-specific code).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fastann/common.hpp"
#include "work_queue.hpp"

namespace fastann::cpu {

// A sum over work items that comes out the same in every call: the items are cut into runs of consecutive
// items, a WorkQueue hands out whole runs, and each run is summed in item order into its own buffer; the
// buffers are then added in run order. Which thread took which run does not matter (as it would with one
// buffer per thread); only the cut does, and that depends on the item and thread counts alone.
// The runs shrink as they go (OpenMP's "guided" schedule): each is 1/threads of the items left, so the
// first are long (few buffers to add up) and the last are single items (a thread that runs out of work
// waits at most one item for the others).
struct Runs {
  std::vector<int64_t> start;  // run r is items [start[r], start[r+1])
  int64_t count() const { return int64_t(start.size()) - 1; }
  int64_t of(int64_t item) const {  // the run an item belongs to
    return std::upper_bound(start.begin(), start.end(), item) - start.begin() - 1;
  }
};

inline Runs guided_runs(int64_t items, int threads) {
  Runs runs{{0}};
  for (int64_t s = 0; s < items;) {
    s += std::max<int64_t>(1, (items - s) / threads);
    runs.start.push_back(s);
  }
  return runs;
}

// One thread's items, in order: those of the runs it claims, one run after another; -1 at the end.
class RunCursor {
 public:
  RunCursor(WorkQueue& queue, const Runs& runs) : queue_(queue), runs_(runs) {}
  int64_t next() {
    if (cur_ == end_) {
      const int64_t r = queue_.next();
      if (r < 0) return -1;
      cur_ = runs_.start[r];
      end_ = runs_.start[r + 1];
    }
    return cur_++;
  }

 private:
  WorkQueue& queue_;
  const Runs& runs_;
  int64_t cur_ = 0, end_ = 0;
};

// A deterministic sum over work items (see Runs), with one buffer of `size` elements per run.
//   RunSums<T> sums(items, size);
//   sums.parallel([&](RunCursor& items) { for (ng; (ng = items.next()) >= 0;) add item ng into sums.buffer(ng); });
//   T* total = sums.total();
// buffer(ng) is ng's run's buffer, zeroed when the run's first item asks for it (a run's items come in order,
// on one thread); total() adds the runs into the first, in run order.
template <class T>
class RunSums {
 public:
  RunSums(int64_t items, int64_t size)
      : runs_(guided_runs(items, team_size(items))), size_(size), partial_(runs_.count()) {}

  // body(cursor) runs on each thread of the team; the cursor hands it whole runs.
  template <class Body>
  void parallel(Body&& body) {
    parallel_dynamic(runs_.count(), [&](int, WorkQueue& run_queue) {
      RunCursor items(run_queue, runs_);
      body(items);
    });
  }
  T* buffer(int64_t item) {
    const int64_t r = runs_.of(item);
    if (item == runs_.start[r]) partial_[r].assign(size_, T(0));
    return partial_[r].data();
  }
  T* total() {
    T* first = partial_[0].data();
    parallel_for(size_, 4096, [&](int64_t b, int64_t e) {  // contiguous, vectorized
      for (size_t r = 1; r < partial_.size(); ++r) {
        const T* run = partial_[r].data();
        for (int64_t i = b; i < e; ++i) first[i] += run[i];
      }
    });
    return first;
  }

 private:
  const Runs runs_;
  const int64_t size_;
  std::vector<std::vector<T>> partial_;
};

}  // namespace fastann::cpu
