// Host emulation of the CUDA execution model, enough for every kernel in csrc/cuda/ (see README.md).
// Each block runs its threads as std::threads (blocks one after another, so at most 1024 OS threads at once);
// __shared__ = static (one block alive at a time), __syncthreads = a per-block std::barrier, warp shuffles go
// through a per-warp slot buffer between two per-warp barriers, atomics = std::atomic_ref.
// translate.py includes this first in every translated .cu file and rewrites `k<<<g, b, smem, s>>>(args)`
// into `::emu::launch(k, g, b, smem, s)(args)`. The runtime calls the launchers make are in runtime.cpp.
#pragma once
#include <cuda_runtime_api.h>
#include <vector_functions.h>  // make_float4 and friends
#include <vector_types.h>
#include <math.h>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __launch_bounds__(...)
using std::exp; using std::log; using std::log1p; using std::fabs; using std::sqrt;
using std::max; using std::min; using std::isnan;

// The built-in index variables: per OS thread (= CUDA thread) for the indices, shared for the launch shape.
inline thread_local uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace emu {
inline thread_local std::barrier<>* block_barrier = nullptr;
inline thread_local std::barrier<>* warp_barrier = nullptr;
inline thread_local double* warp_slots = nullptr;  // 32 slots of this thread's warp
inline thread_local unsigned warp_size = 32;       // lanes in this thread's warp (the last one may be partial)
inline long long launches = 0;

inline unsigned linear_tid() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }

template <class... KArgs>
void run(void (*k)(KArgs...), dim3 g, dim3 b, KArgs... args) {
  ++launches;
  const unsigned nt = b.x * b.y * b.z;
  // The limits a real launch would reject (cudaErrorInvalidConfiguration): fail loudly instead of running.
  if (nt == 0 || nt > 1024 || b.z > 64 || g.x == 0 || g.y == 0 || g.z == 0 || g.y > 65535 || g.z > 65535) {
    fprintf(stderr, "emu: bad launch config grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z, b.x, b.y, b.z);
    abort();
  }
  gridDim = g, blockDim = b;
  const unsigned nw = (nt + 31) / 32;
  for (unsigned bz = 0; bz < g.z; ++bz)
    for (unsigned by = 0; by < g.y; ++by)
      for (unsigned bx = 0; bx < g.x; ++bx) {
        std::barrier<> bar(nt);
        std::vector<std::unique_ptr<std::barrier<>>> wbars;
        for (unsigned w = 0; w < nw; ++w) wbars.emplace_back(new std::barrier<>(std::min(32u, nt - w * 32)));
        std::vector<double> slots(nw * 32);
        std::vector<std::thread> ts;
        ts.reserve(nt);
        for (unsigned t = 0; t < nt; ++t)
          ts.emplace_back([&, t] {
            block_barrier = &bar;
            warp_barrier = wbars[t / 32].get();
            warp_slots = slots.data() + (t / 32) * 32;
            warp_size = std::min(32u, nt - (t / 32) * 32);
            blockIdx = uint3{bx, by, bz};
            threadIdx = uint3{t % b.x, (t / b.x) % b.y, t / (b.x * b.y)};
            k(args...);
          });
        for (auto& th : ts) th.join();
      }
}

// launch(k, grid, block, smem, stream)(args...): the arguments convert to the kernel's parameter types, as
// they do in a real launch.
template <class... KArgs>
struct Launcher {
  void (*k)(KArgs...);
  dim3 g, b;
  template <class... A>
  void operator()(A&&... a) const { run<KArgs...>(k, g, b, KArgs(a)...); }
};
template <class... KArgs>
Launcher<KArgs...> launch(void (*k)(KArgs...), dim3 g, dim3 b, size_t = 0, cudaStream_t = nullptr) {
  return Launcher<KArgs...>{k, g, b};
}

// Every lane writes its value, all wait, each reads its source lane, all wait again (so slots can be reused).
// A source lane outside the warp (or past a partial warp's end) returns the caller's own value, as CUDA does.
template <class T, class Src>
T shuffle(T v, Src src_lane) {
  const unsigned lane = linear_tid() % 32;
  warp_slots[lane] = static_cast<double>(v);
  warp_barrier->arrive_and_wait();
  const unsigned s = src_lane(lane);
  T r = s < warp_size ? static_cast<T>(warp_slots[s]) : v;
  warp_barrier->arrive_and_wait();
  return r;
}
}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }
template <class T>
inline T __shfl_xor_sync(unsigned, T v, int mask) { return emu::shuffle(v, [=](unsigned l) { return l ^ unsigned(mask); }); }
template <class T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta) { return emu::shuffle(v, [=](unsigned l) { return l + delta; }); }
template <class T>
inline T __ldg(const T* p) { return *p; }

inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) {
  return std::atomic_ref<unsigned long long>(*p).exchange(v);
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  std::atomic_ref<unsigned long long> a(*p);
  unsigned long long old = a.load();
  while (v < old && !a.compare_exchange_weak(old, v)) {}
  return old;
}

// common.cuh keeps these behind __CUDACC__; the host build needs its own.
namespace fastann::cuda {
inline int64_t global_thread_index() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
inline int64_t global_thread_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }
}  // namespace fastann::cuda
