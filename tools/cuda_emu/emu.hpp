// Host emulation of the CUDA features gemm.cu uses: one std::thread per CUDA thread, blocks run one by one,
// __syncthreads = std::barrier, __shared__ = static (one block at a time).
#pragma once
#include <cuda_runtime_api.h>
#include <vector_functions.h>
#include <barrier>
#include <thread>
#include <vector>
#include <functional>
#include <memory>
#include <cstring>
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
inline thread_local uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline thread_local std::barrier<>* g_bar = nullptr;
inline thread_local std::barrier<>* g_warp_bar = nullptr;
inline thread_local double* g_warp_buf = nullptr;
template <class T> inline T __shfl_xor_sync(unsigned, T v, int off) {
  const int lane = (threadIdx.x + threadIdx.y * blockDim.x) % 32;
  g_warp_buf[lane] = double(v);
  g_warp_bar->arrive_and_wait();
  T r = T(g_warp_buf[lane ^ off]);
  g_warp_bar->arrive_and_wait();
  return r;
}
#include <mutex>
inline std::mutex g_atomic_mutex;
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  std::lock_guard<std::mutex> l(g_atomic_mutex); auto o = *p; if (v < o) *p = v; return o;
}
inline void __syncthreads() { g_bar->arrive_and_wait(); }
template <class T> inline T __ldg(const T* p) { return *p; }
inline cudaError_t emu_last_error() { return cudaSuccess; }
#define cudaGetLastError emu_last_error
namespace fastann::cuda {
inline int64_t global_thread_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
inline int64_t global_thread_stride() { return int64_t(gridDim.x) * blockDim.x; }
}
template <class K, class... A>
void emu_launch(K kernel, dim3 grid, dim3 block, A... args) {
  gridDim = grid; blockDim = block;
  const unsigned nt = block.x * block.y * block.z;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        std::barrier<> bar(nt);
        const unsigned nw = (nt + 31) / 32;
        std::vector<std::unique_ptr<std::barrier<>>> wbars;
        for (unsigned w = 0; w < nw; ++w) wbars.emplace_back(new std::barrier<>(std::min(32u, nt - w * 32)));
        std::vector<double> wbuf(nw * 32);
        std::vector<std::thread> ts;
        ts.reserve(nt);
        for (unsigned t = 0; t < nt; ++t)
          ts.emplace_back([&, t] {
            g_bar = &bar;
            g_warp_bar = wbars[t / 32].get();
            g_warp_buf = wbuf.data() + (t / 32) * 32;
            blockIdx = uint3{bx, by, bz};
            threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            kernel(args...);
          });
        for (auto& th : ts) th.join();
      }
}
#include <cstdlib>
#define cudaMallocAsync(p, n, s) (*(p) = std::malloc(n), cudaSuccess)
#define cudaFreeAsync(p, s) (std::free(p), cudaSuccess)
#define cudaMemsetAsync(p, v, n, s) (std::memset(p, v, n), cudaSuccess)
#define cudaMemcpyAsync(d, src, n, kind, s) (std::memcpy(d, src, n), cudaSuccess)
#define cudaStreamSynchronize(s) cudaSuccess
#define cudaMemcpy(d, src, n, kind) (std::memcpy(d, src, n), cudaSuccess)
