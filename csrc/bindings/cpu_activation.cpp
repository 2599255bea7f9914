// Bindings of the activation family (csrc/cpu/activation.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "dense_utils.hpp"
#include "fastann/cpu/activation.hpp"

#include <cmath>

namespace fastann::bind {

namespace {

void activation_forward(py::array out, py::array input, const std::string& name, double param) {
  const char* op = "activation_forward";
  const auto kind = cpu::activation_from_name(name, op);
  FASTANN_CHECK(std::isfinite(param), op, ": param must be finite, got ", param);
  const DType dt = float_dtype(input, op, "input");
  check_in(input, dt, op, "input");
  require_nonempty(input, op, "input");
  check_out(out, dt, op, "out");
  require_same_shape(out, input, op, "out", "input");
  const int64_t n = input.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* x = cptr<T>(input);
    T* y = mptr<T>(out);
    nogil g;
    cpu::activation_forward<T>(y, x, n, kind, param);
  });
}

void activation_backward(py::array dinput, py::array grad_output, py::array input, const std::string& name,
                         double param) {
  const char* op = "activation_backward";
  const auto kind = cpu::activation_from_name(name, op);
  FASTANN_CHECK(std::isfinite(param), op, ": param must be finite, got ", param);
  const DType dt = float_dtype(input, op, "input");
  check_in(input, dt, op, "input");
  require_nonempty(input, op, "input");
  check_in(grad_output, dt, op, "grad_output");
  check_out(dinput, dt, op, "dinput");
  require_same_shape(grad_output, input, op, "grad_output", "input");
  require_same_shape(dinput, input, op, "dinput", "input");
  const int64_t n = input.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* x = cptr<T>(input);
    const T* dy = cptr<T>(grad_output);
    T* dx = mptr<T>(dinput);
    nogil g;
    cpu::activation_backward<T>(dx, x, dy, n, kind, param);
  });
}

}  // namespace

void bind_activation(py::module_& m) {
  // pybind11 keeps the doc pointer: the string must outlive the module.
  static const std::string forward_doc =
        "out = f(input) elementwise, f named by `name` (one of: " + cpu::activation_names() +
            "; 'gelu' is the exact erf form, 'gelu_tanh' the tanh approximation). `param` is leaky_relu's "
            "negative_slope or elu's alpha, ignored otherwise. out and input: C-contiguous float32/float64 "
            "arrays of one shape and dtype (any ndim, non-empty; out may be input). TypeError for a dtype, ValueError "
            "for a shape, contiguity, read-only output or unknown name. Releases the GIL.";
  m.def("activation_forward", &activation_forward, py::arg("out"), py::arg("input"), py::arg("name"),
        py::arg("param") = 0.0, forward_doc.c_str());
  m.def("activation_backward", &activation_backward, py::arg("dinput"), py::arg("grad_output"),
        py::arg("input"), py::arg("name"), py::arg("param") = 0.0,
        "dinput = grad_output * f'(input) elementwise (the gradient computed from the forward's input; "
        "NaN where input is NaN). Same names, param and checks as activation_forward. Releases the GIL.");
}

}  // namespace fastann::bind
