// cuda_prelu.cpp: the parametric ReLU of fastann._cuda; signatures and checks in args/prelu.hpp, kernels in
// csrc/cuda/prelu.cu.
#include "args/prelu.hpp"
#include "families.hpp"
#include "cuda_stream.hpp"
#include "fastann/cuda/prelu.hpp"

namespace fastann::bindings {

void bind_prelu(py::module_& m) {
  def_prelu(
      m, Device::cuda,
      [](const PreluCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cuda::prelu_forward<T>(c.out.ptr<T>(), c.input.ptr<const T>(), c.weight.ptr<const T>(), c.N, c.C, c.S,
                                 c.shared, s);
        });
      },
      [](const PreluCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cuda::prelu_backward<T>(c.out.ptr<T>(), c.dweight->ptr<T>(), c.grad_output->ptr<const T>(),
                                  c.input.ptr<const T>(), c.weight.ptr<const T>(), c.N, c.C, c.S, c.shared, s);
        });
      });
}

}  // namespace fastann::bindings
