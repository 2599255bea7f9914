// cpu_pool.cpp: the pool family of fastann._cpu; signatures and checks in args/pool.hpp, kernels in
// csrc/cpu/pool*.cpp.
#include "args/pool.hpp"
#include "families.hpp"
#include "fastann/cpu/pool.hpp"

namespace fastann::bindings {

void bind_pool(py::module_& m) {
  def_pool(
      m, Device::cpu,
      "2-D max pooling: out, indices (N,C,OH,OW) <- input (N,C,H,W). indices: int64 flat ih*W+iw per plane. "
      "rung: 0 auto, 1 direct, 2 2x2/stride-2 (on the CPU's best ISA).",
      [](const PoolCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::max_pool2d_forward<T>(c.out.ptr<T>(), c.indices->ptr<int64_t>(), c.x.ptr<const T>(), c.g, c.rung);
        });
      },
      [](const PoolCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::max_pool2d_backward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.indices->ptr<const int64_t>(), c.g);
        });
      },
      [](const PoolCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::avg_pool2d_forward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g, c.count_include_pad);
        });
      },
      [](const PoolCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::avg_pool2d_backward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g, c.count_include_pad);
        });
      },
      [](const PoolCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::global_avg_pool2d_forward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g.N * c.g.C, c.g.H * c.g.W);
        });
      },
      [](const PoolCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::global_avg_pool2d_backward<T>(c.out.ptr<T>(), c.x.ptr<const T>(), c.g.N * c.g.C, c.g.H * c.g.W);
        });
      });
}

}  // namespace fastann::bindings
