// fastann/common.hpp: what every CPU kernel file shares.
//   - FASTANN_CHECK(cond, ...): argument checks that throw std::invalid_argument (pybind11 -> ValueError)
//   - threads: num_threads() / set_num_threads(), parallel_for with a grain so small ops stay on one thread
//   - the SIMD path chosen at run time (simd_level())
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastann {

// ---- error helpers --------------------------------------------------------------------------------
namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
inline void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

template <class... Args>
[[noreturn]] inline void fail(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  throw std::invalid_argument(os.str());
}

// FASTANN_CHECK(ok, "conv2d: input must be 4-D (N,C,H,W), got ndim=", nd);
#define FASTANN_CHECK(cond, ...)            \
  do {                                      \
    if (!(cond)) ::fastann::fail(__VA_ARGS__); \
  } while (0)

// ---- threads --------------------------------------------------------------------------------------
int num_threads();             // threads fastann's kernels use (fastann.set_num_threads / OMP_NUM_THREADS)
void set_num_threads(int n);   // n >= 1

// Runs fn(ctx, i) for every i in [0, items) on the calling thread and up to `helpers` threads of the CPU
// kernels' team (csrc/cpu/internal/tile_team.hpp: items go out one at a time, and the caller never waits for a
// helper that has not started); returns when all are done. On a thread that is already running a team item
// or an OpenMP parallel region, every item runs on the calling thread.
void run_on_team(int64_t items, int helpers, void (*fn)(void* ctx, int64_t item), void* ctx);
// True on a thread that runs a team item or sits in an OpenMP parallel region: its team holds the cores.
bool in_parallel_region();

// Run f(begin, end) over [0, n) split into contiguous chunks, one per thread, on the team. Below `grain`
// items per thread the work stays on the calling thread: handing out chunks costs microseconds, more than a
// small op itself. One chunk per thread keeps the blocks the kernels lay out their memory walks for (batch
// norm's channel blocks, for one); a helper that has not started when the caller finishes its own chunk
// leaves its chunk to the caller instead of holding up the call. f must not depend on where the chunk
// boundaries fall (they change with the thread count).
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  int nt = in_parallel_region() ? 1 : num_threads();
  if (grain < 1) grain = 1;
  int64_t max_useful = (n + grain - 1) / grain;
  if (max_useful < nt) nt = static_cast<int>(max_useful);
  if (nt <= 1) {
    f(int64_t(0), n);
    return;
  }
  struct Chunks {
    F* f;
    int64_t n, chunk;
    static void run(void* ctx, int64_t t) {
      const Chunks& c = *static_cast<const Chunks*>(ctx);
      const int64_t b = t * c.chunk;
      const int64_t e = b + c.chunk < c.n ? b + c.chunk : c.n;
      if (b < e) (*c.f)(b, e);
    }
  } chunks{&f, n, (n + nt - 1) / nt};
  run_on_team(nt, nt - 1, &Chunks::run, &chunks);
}

// ---- SIMD path ------------------------------------------------------------------------------------
enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2 };
SimdLevel simd_level();          // best the CPU supports, capped by FASTANN_SIMD=scalar|avx2|avx512
const char* simd_level_name(SimdLevel l);

}  // namespace fastann
