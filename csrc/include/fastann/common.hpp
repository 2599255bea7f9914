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

// Run f(begin, end) over [0, n) split into contiguous chunks. Below `grain` items per thread the
// work stays on the calling thread: a fork/join costs microseconds, more than a small op itself.
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  int nt = num_threads();
  if (grain < 1) grain = 1;
  int64_t max_useful = (n + grain - 1) / grain;
  if (max_useful < nt) nt = static_cast<int>(max_useful);
  if (nt <= 1) {
    f(int64_t(0), n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    const int64_t chunk = (n + T - 1) / T;
    const int64_t b = t * chunk;
    const int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) f(b, e);
  }
#else
  f(int64_t(0), n);
#endif
}

// ---- SIMD path ------------------------------------------------------------------------------------
enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2 };
SimdLevel simd_level();          // best the CPU supports, capped by FASTANN_SIMD=scalar|avx2|avx512
const char* simd_level_name(SimdLevel l);

}  // namespace fastann
