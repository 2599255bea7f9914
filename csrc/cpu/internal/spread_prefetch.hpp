// spread_prefetch.hpp: SpreadPrefetch, prefetches of the next work item's memory spread evenly over the
// current item's steps. Internal to csrc/cpu; usable by any family and from baseline and ISA-specific files
// alike (it issues only __builtin_prefetch).
#pragma once

#include <algorithm>
#include <cstdint>

namespace fastann::cpu {

// A kernel that pads each work item into a per-thread buffer just before computing it waits on memory when
// that copy reads cold lines (in conv's rung 3: ~15% of a 14x14 backward-input convolution, 7% of its
// forward), and so do the first stores to its output. SpreadPrefetch asks for the next item's cache lines (up
// to three regions: e.g. its input, its output, a gradient) while the current one computes: a few lines per
// step(), spread evenly over the `steps` micro-kernel calls, so that the prefetches never pile up.
// (prefetcht1, a read prefetch: a write prefetch, PREFETCHW, would need -mprfchw in every file that includes
// this.)
// The class is shared by name between baseline and AVX-512 files (kernels take it by reference), so its member
// functions are forced inline: an out-of-line copy would be merged by the linker into one, compiled for
// whichever file came first (gemm_packed.hpp, tools/check_isa_symbols.py).
class SpreadPrefetch {
 public:
  explicit SpreadPrefetch(int64_t steps) : steps_(std::max<int64_t>(1, steps)) {}
  __attribute__((always_inline)) void add(const void* p, int64_t bytes) {  // nullptr (no next item) is ignored
    if (!p || regions_ == 3) return;
    const int64_t lines = (bytes + 63) / 64;
    r_[regions_++] = {static_cast<const char*>(p), lines, 0, (lines + steps_ - 1) / steps_};
  }
  __attribute__((always_inline)) void step() {
    for (int i = 0; i < regions_; ++i) {
      Region& r = r_[i];
      for (const int64_t e = std::min(r.lines, r.next + r.per_step); r.next < e; ++r.next)
        __builtin_prefetch(r.p + r.next * 64, 0, 2);  // prefetcht1
    }
  }

 private:
  struct Region {
    const char* p;
    int64_t lines, next, per_step;
  };
  int64_t steps_;
  int regions_ = 0;
  Region r_[3] = {};
};

}  // namespace fastann::cpu
