// Host emulation of the CUDA execution model, enough for fastann's conv/pool/norm kernels: each block runs
// its threads as std::threads (blocks one after another), __shared__ = static, barriers = std::barrier,
// warp shuffles through a slot array with per-warp barriers, atomics = std::atomic_ref.
#pragma once
#include <cuda_runtime_api.h>
#include <vector_types.h>
#include <math.h>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
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
using std::max;
using std::min;
using std::isnan;

namespace emu {
inline thread_local uint3 t_idx, b_idx;
inline dim3 g_dim, b_dim;
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline double shfl_slots[1024];
inline long long launches = 0;

template <class... KArgs>
void run(void (*k)(KArgs...), dim3 g, dim3 b, KArgs... args) {
  ++launches;
  const unsigned nt = b.x * b.y * b.z;
  if (nt == 0 || nt > 1024 || g.x == 0 || g.y == 0 || g.z == 0 || g.y > 65535 || g.z > 65535) {
    fprintf(stderr, "emu: bad launch config\n");
    abort();
  }
  g_dim = g, b_dim = b;
  for (unsigned bz = 0; bz < g.z; ++bz)
    for (unsigned by = 0; by < g.y; ++by)
      for (unsigned bx = 0; bx < g.x; ++bx) {
        std::barrier<> bar(nt);
        block_barrier = &bar;
        warp_barriers.clear();
        for (unsigned w = 0; w * 32 < nt; ++w) warp_barriers.emplace_back(new std::barrier<>(std::min(32u, nt - w * 32)));
        std::vector<std::thread> ts;
        ts.reserve(nt);
        for (unsigned t = 0; t < nt; ++t)
          ts.emplace_back([=] {
            t_idx = uint3{t % b.x, (t / b.x) % b.y, t / (b.x * b.y)};
            b_idx = uint3{bx, by, bz};
            k(args...);
          });
        for (auto& th : ts) th.join();
      }
}

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
}  // namespace emu

#define threadIdx (::emu::t_idx)
#define blockIdx (::emu::b_idx)
#define blockDim (::emu::b_dim)
#define gridDim (::emu::g_dim)

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }

template <class T>
inline T __shfl_down_sync(unsigned, T v, int off) {
  const unsigned tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  auto& b = *emu::warp_barriers[warp];
  emu::shfl_slots[tid] = static_cast<double>(v);
  b.arrive_and_wait();
  T r = (lane + off < 32 && tid + off < blockDim.x) ? static_cast<T>(emu::shfl_slots[tid + off]) : v;
  b.arrive_and_wait();
  return r;
}
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) {
  return std::atomic_ref<unsigned long long>(*p).exchange(v);
}
namespace fastann::cuda {
inline int64_t global_thread_index() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
inline int64_t global_thread_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }
}  // namespace fastann::cuda

