// cpu_softmax.cpp: the softmax family of fastann._cpu; signatures and checks in args/softmax.hpp, kernels in
// csrc/cpu/softmax.cpp.
#include "args/softmax.hpp"
#include "families.hpp"
#include "fastann/cpu/softmax.hpp"

namespace fastann::bindings {

void bind_softmax(py::module_& m) {
  auto run = [](const SoftmaxCall& s) {
    dispatch_float(s.ft, [&](auto tag) {
      using T = decltype(tag);
      T* out = s.out.ptr<T>();
      const T* x = s.x.ptr<const T>();
      nogil release;
      if (!s.backward) {
        if (s.log) cpu::log_softmax_forward(out, x, s.outer, s.axis, s.inner);
        else cpu::softmax_forward(out, x, s.outer, s.axis, s.inner);
      } else {
        const T* g = s.grad_output.ptr<const T>();
        if (s.log) cpu::log_softmax_backward(out, x, g, s.outer, s.axis, s.inner);
        else cpu::softmax_backward(out, x, g, s.outer, s.axis, s.inner);
      }
    });
  };
  def_softmax(m, Device::cpu, false,
              "out = exp(x - max) / sum exp(x - max) along dim. out, input: C-contiguous float32/float64 arrays of "
              "one shape (any ndim >= 1); dim in [-ndim, ndim).",
              "dinput = y * (grad_output - sum(grad_output * y)) along dim, y = the softmax output.", run);
  def_softmax(m, Device::cpu, true, "out = x - max - log sum exp(x - max) along dim.",
              "dinput = grad_output - exp(y) * sum(grad_output) along dim, y = the log-softmax output.", run);
}

}  // namespace fastann::bindings
