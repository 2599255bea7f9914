// runtime.cpp: thread count and run-time SIMD detection (no ISA flags: compiled for baseline x86-64).
#include "fastann/common.hpp"

#include "internal/tile_team.hpp"

#include <cstdlib>
#include <cstring>

namespace fastann {

namespace {
int g_threads = 0;  // 0: not set yet, take OpenMP's default
}

int num_threads() {
  if (g_threads > 0) return g_threads;
#ifdef _OPENMP
  g_threads = omp_get_max_threads();
#else
  g_threads = 1;
#endif
  return g_threads;
}

void set_num_threads(int n) {
  FASTANN_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  g_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

void run_on_team(int64_t items, int helpers, void (*fn)(void* ctx, int64_t item), void* ctx) {
  if (in_parallel_region()) helpers = 0;
  cpu::TileTeam::instance().run(items, helpers, fn, ctx);
}

bool in_parallel_region() {
#ifdef _OPENMP
  if (omp_in_parallel()) return true;
#endif
  return cpu::TileTeam::in_job();
}

static SimdLevel detect() {
  SimdLevel best = SimdLevel::scalar;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = SimdLevel::avx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    best = SimdLevel::avx512;
#endif
  // FASTANN_SIMD lets a user (or a test) force a lower path, never a higher one than the CPU has.
  if (const char* env = std::getenv("FASTANN_SIMD")) {
    SimdLevel want = best;
    if (!std::strcmp(env, "scalar")) want = SimdLevel::scalar;
    else if (!std::strcmp(env, "avx2")) want = SimdLevel::avx2;
    else if (!std::strcmp(env, "avx512")) want = SimdLevel::avx512;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

SimdLevel simd_level() {
  static const SimdLevel level = detect();
  return level;
}

const char* simd_level_name(SimdLevel l) {
  switch (l) {
    case SimdLevel::avx512: return "avx512";
    case SimdLevel::avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace fastann
