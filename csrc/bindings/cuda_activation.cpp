// cuda_activation.cpp: activation_forward / activation_backward of fastann._cuda; signatures and checks in
// args/activation.hpp, launchers in csrc/cuda/activation.cu.
#include <string>

#include "args/activation.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/activation.hpp"

namespace fastann::bindings {

void bind_activation(py::module_& m) {
  // The docstring is built at run time (it lists the names): keep it alive as long as the module.
  static const std::string forward_doc =
      "out = f(input) elementwise on the GPU, f named by `name` (one of: " + cuda::activation_names() +
      "; 'gelu' is the exact erf form, 'gelu_tanh' the tanh approximation). `param` is leaky_relu's "
      "negative_slope or elu's alpha, ignored otherwise. out and input: C-contiguous float32/float64 CuPy "
      "arrays of one shape and dtype (non-empty; out may be input, no other overlap). TypeError for a non-CuPy "
      "array or a dtype, ValueError for a shape, contiguity, read-only output, overlap or unknown name.";
  def_activation<cuda::Activation>(
      m, Device::cuda, [](const std::string& n, const char* op) { return cuda::activation_from_name(n, op); },
      forward_doc.c_str(),
      "dinput = grad_output * f'(input) elementwise on the GPU (NaN where input is NaN). Same names, param "
      "and checks as activation_forward (dinput disjoint from the inputs).",
      [](const ActivationCall<cuda::Activation>& a, bool backward) {
        cudaStream_t stream = current_stream(a.input.obj);
        nogil release;
        dispatch_float(a.ft, [&](auto tag) {
          using T = decltype(tag);
          if (backward)
            cuda::activation_backward<T>(a.out.ptr<T>(), a.input.ptr<const T>(), a.grad_output.ptr<const T>(),
                                         a.input.size, a.kind, a.param, stream);
          else
            cuda::activation_forward<T>(a.out.ptr<T>(), a.input.ptr<const T>(), a.input.size, a.kind, a.param,
                                        stream);
        });
      });
}

}  // namespace fastann::bindings
