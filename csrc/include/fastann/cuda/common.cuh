// fastann/cuda/common.cuh: what every CUDA kernel file (csrc/cuda/*.cu) and the _cuda bindings share.
//
//   - fastann::CudaError and FASTANN_CUDA_CHECK(call): every CUDA runtime call is checked; a failure throws
//     CudaError naming the call, the error and the source line (the bindings register it as fastann.CudaError).
//   - FASTANN_CUDA_CHECK_LAUNCH("name"): after each <<<...>>> launch, cudaGetLastError() turns a bad launch
//     configuration (too many threads, too much shared memory, ...) into a CudaError right away instead of a
//     silent no-op. Errors raised *inside* a running kernel surface at the next synchronizing call.
//   - grid-size helpers for grid-stride loops (the grid is capped; each thread loops over the rest).
//
// The file is valid host C++ too (the .cpp bindings include it through the family headers); the device-only
// helpers are behind __CUDACC__.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fastann {

// ---- errors ---------------------------------------------------------------------------------------
// A CUDA runtime error. pybind11 translates it into the Python exception fastann.CudaError (a RuntimeError).
class CudaError : public std::runtime_error {
 public:
  explicit CudaError(const std::string& what) : std::runtime_error(what) {}
};

namespace cuda_detail {
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  // Clear a non-sticky error so the next unrelated call does not report it again.
  (void)cudaGetLastError();
  throw CudaError(std::string(what) + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err) +
                  " (" + file + ":" + std::to_string(line) + ")");
}
}  // namespace cuda_detail

// FASTANN_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
#define FASTANN_CUDA_CHECK(call)                                                        \
  do {                                                                                  \
    cudaError_t fastann_err_ = (call);                                                  \
    if (fastann_err_ != cudaSuccess)                                                    \
      ::fastann::cuda_detail::throw_cuda_error(fastann_err_, #call, __FILE__, __LINE__); \
  } while (0)

// relu_kernel<<<grid, block, 0, stream>>>(...);  FASTANN_CUDA_CHECK_LAUNCH("relu_kernel");
#define FASTANN_CUDA_CHECK_LAUNCH(name)                                                            \
  do {                                                                                             \
    cudaError_t fastann_err_ = cudaGetLastError();                                                 \
    if (fastann_err_ != cudaSuccess)                                                               \
      ::fastann::cuda_detail::throw_cuda_error(fastann_err_, "launch of " name, __FILE__, __LINE__); \
  } while (0)

namespace cuda {

// ---- launch geometry ------------------------------------------------------------------------------
constexpr int kBlock = 256;  // threads per block of the elementwise / reduction kernels

// Blocks for a grid-stride loop over n items with `block` threads each. The grid is capped: beyond a few
// blocks per SM more blocks add no parallelism, and each thread simply loops (index += gridDim*blockDim).
// Never 0 (a 0-block launch is an error); launchers return early for n == 0 anyway.
inline unsigned grid_for(int64_t n, int block = kBlock, int64_t max_blocks = 4096) {
  int64_t g = (n + block - 1) / block;
  if (g > max_blocks) g = max_blocks;
  if (g < 1) g = 1;
  return static_cast<unsigned>(g);
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- device helpers -------------------------------------------------------------------------------
#ifdef __CUDACC__
// First index and stride of a 1-D grid-stride loop, in int64 so n > 2^31 does not overflow.
__device__ __forceinline__ int64_t global_thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t global_thread_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}
#endif

}  // namespace cuda
}  // namespace fastann
