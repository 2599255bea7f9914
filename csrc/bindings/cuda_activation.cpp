// Bindings of the activation family (csrc/cuda/activation.cu) into fastann._cuda: the same names and
// signatures as fastann._cpu.activation_forward / activation_backward, with CuPy arrays.
#include <cmath>

#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/activation.hpp"

namespace fastann::cudabind {

namespace {

void activation_forward(py::object out_, py::object input_, const std::string& name, double param) {
  const char* op = "activation_forward";
  const auto kind = cuda::activation_from_name(name, op);
  FASTANN_CHECK(std::isfinite(param), op, ": param must be finite, got ", param);
  DType dt;
  DeviceArray input = first_array(input_, &dt, op, "input", false);
  DeviceArray out = out_array(out_, dt, op, "out");
  require_same_shape(out, input, op, "out", "input");
  cudaStream_t stream = current_stream(input_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::activation_forward<T>(out.ptr<T>(), input.ptr<T>(), input.size, kind, param, stream);
  });
}

void activation_backward(py::object dinput_, py::object grad_output_, py::object input_, const std::string& name,
                         double param) {
  const char* op = "activation_backward";
  const auto kind = cuda::activation_from_name(name, op);
  FASTANN_CHECK(std::isfinite(param), op, ": param must be finite, got ", param);
  DType dt;
  DeviceArray input = first_array(input_, &dt, op, "input", false);
  DeviceArray dout = in_array(grad_output_, dt, op, "grad_output");
  DeviceArray dinp = out_array(dinput_, dt, op, "dinput");
  require_same_shape(dout, input, op, "grad_output", "input");
  require_same_shape(dinp, input, op, "dinput", "input");
  cudaStream_t stream = current_stream(input_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::activation_backward<T>(dinp.ptr<T>(), input.ptr<T>(), dout.ptr<T>(), input.size, kind, param, stream);
  });
}

}  // namespace

void bind_activation(py::module_& m) {
  static const std::string forward_doc =
      "out = f(input) elementwise on the GPU, f named by `name` (one of: " + cuda::activation_names() +
      "; 'gelu' is the exact erf form, 'gelu_tanh' the tanh approximation). `param` is leaky_relu's "
      "negative_slope or elu's alpha, ignored otherwise. out and input: C-contiguous float32/float64 CuPy "
      "arrays of one shape and dtype (out may be input). TypeError for a non-CuPy array or a dtype, ValueError "
      "for a shape, contiguity, read-only output or unknown name.";
  m.def("activation_forward", &activation_forward, py::arg("out"), py::arg("input"), py::arg("name"),
        py::arg("param") = 0.0, forward_doc.c_str());
  m.def("activation_backward", &activation_backward, py::arg("dinput"), py::arg("grad_output"), py::arg("input"),
        py::arg("name"), py::arg("param") = 0.0,
        "dinput = grad_output * f'(input) elementwise on the GPU (NaN where input is NaN). Same names, param "
        "and checks as activation_forward.");
}

}  // namespace fastann::cudabind
