// fastann/cuda/workspace.hpp: a temporary device buffer for the launchers of csrc/cuda/*.cu.
//
// Stream-ordered (cudaMallocAsync / cudaFreeAsync on the launch stream, CUDA 11.2+): no device-wide
// synchronisation, the kernels enqueued on the same stream between allocation and release may use it, and the
// driver's pool hands the memory back for the next call. Released on every exit path (RAII), so an exception
// thrown by a later launch does not leak it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fastann/cuda/common.cuh"

namespace fastann::cuda {

template <class T>
class Workspace {
 public:
  Workspace(int64_t n, cudaStream_t stream) : stream_(stream) {
    if (n > 0)
      FASTANN_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&p_), static_cast<size_t>(n) * sizeof(T), stream));
  }
  ~Workspace() {
    if (p_) (void)cudaFreeAsync(p_, stream_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  cudaStream_t stream_;
};

// Multiprocessors of the current device (for sizing grids of reductions).
inline int sm_count() {
  int dev = 0, n = 0;
  FASTANN_CUDA_CHECK(cudaGetDevice(&dev));
  FASTANN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return n > 0 ? n : 1;
}

}  // namespace fastann::cuda
