// cuda_pool.cpp: the pool family of fastann._cuda; signatures and checks in args/pool.hpp, launchers in
// csrc/cuda/pool.cu.
#include "args/pool.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/pool.hpp"

namespace fastann::bindings {

void bind_pool(py::module_& m) {
  def_pool(
      m, Device::cuda,
      "2-D max pooling on the GPU: out, indices (N,C,OH,OW) <- input (N,C,H,W). indices: int64 flat ih*W+iw per "
      "plane. rung: 0 auto, 1 direct, 2 2x2/stride-2, 3 2x2/stride-2 with 128-bit loads.",
      [](const PoolCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::max_pool2d_forward<T>(c.out.ptr<T>(), c.indices->ptr<int64_t>(), c.x.ptr<const T>(), c.g, c.rung, s);
        });
      },
      [](const PoolCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::max_pool2d_backward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.indices->ptr<const int64_t>(), c.g, s);
        });
      },
      [](const PoolCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::avg_pool2d_forward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g, c.count_include_pad, s);
        });
      },
      [](const PoolCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::avg_pool2d_backward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g, c.count_include_pad, s);
        });
      },
      [](const PoolCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::global_avg_pool2d_forward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g.N * c.g.C, c.g.H * c.g.W, s);
        });
      },
      [](const PoolCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::global_avg_pool2d_backward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g.N * c.g.C, c.g.H * c.g.W, s);
        });
      });
}

}  // namespace fastann::bindings
