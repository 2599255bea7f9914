// cpu_prelu.cpp: the parametric ReLU of fastann._cpu; signatures and checks in args/prelu.hpp, kernels in
// csrc/cpu/prelu.cpp.
#include "args/prelu.hpp"
#include "families.hpp"
#include "fastann/cpu/prelu.hpp"

namespace fastann::bindings {

void bind_prelu(py::module_& m) {
  def_prelu(
      m, Device::cpu,
      [](const PreluCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::prelu_forward<T>(c.out.ptr<T>(), c.input.ptr<const T>(), c.weight.ptr<const T>(), c.N, c.C, c.S,
                                 c.shared);
        });
      },
      [](const PreluCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::prelu_backward<T>(c.out.ptr<T>(), c.dweight->ptr<T>(), c.grad_output->ptr<const T>(),
                                  c.input.ptr<const T>(), c.weight.ptr<const T>(), c.N, c.C, c.S, c.shared);
        });
      });
}

}  // namespace fastann::bindings
