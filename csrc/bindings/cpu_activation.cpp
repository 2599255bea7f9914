// cpu_activation.cpp: activation_forward / activation_backward of fastann._cpu; signatures and checks in
// args/activation.hpp, kernels in csrc/cpu/activation*.cpp.
#include <string>

#include "args/activation.hpp"
#include "families.hpp"
#include "fastann/cpu/activation.hpp"

namespace fastann::bindings {

void bind_activation(py::module_& m) {
  // The docstring is built at run time (it lists the names): keep it alive as long as the module.
  static const std::string forward_doc =
      "out = f(input) elementwise, f named by `name` (one of: " + cpu::activation_names() +
      "; 'gelu' is the exact erf form, 'gelu_tanh' the tanh approximation). `param` is leaky_relu's "
      "negative_slope or elu's alpha, ignored otherwise. out and input: C-contiguous float32/float64 arrays of "
      "one shape and dtype (any ndim, non-empty; out may be input, no other overlap). TypeError for a dtype, "
      "ValueError for a shape, contiguity, read-only output, overlap or unknown name. Releases the GIL.";
  def_activation<cpu::Activation>(
      m, Device::cpu, [](const std::string& n, const char* op) { return cpu::activation_from_name(n, op); },
      forward_doc.c_str(),
      "dinput = grad_output * f'(input) elementwise (the gradient computed from the forward's input; NaN where "
      "input is NaN). Same names, param and checks as activation_forward (dinput disjoint from the inputs). "
      "Releases the GIL.",
      [](const ActivationCall<cpu::Activation>& a, bool backward) {
        dispatch_float(a.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          if (backward)
            cpu::activation_backward<T>(a.out.ptr<T>(), a.input.ptr<const T>(), a.grad_output.ptr<const T>(),
                                        a.input.size, a.kind, a.param);
          else
            cpu::activation_forward<T>(a.out.ptr<T>(), a.input.ptr<const T>(), a.input.size, a.kind, a.param);
        });
      });
}

}  // namespace fastann::bindings
