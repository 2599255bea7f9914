// Bindings of the softmax family (csrc/cpu/softmax.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "dense_utils.hpp"
#include "fastann/cpu/softmax.hpp"

namespace fastann::bind {

namespace {

struct Split {
  int64_t outer, A, inner;
};

// The (outer, axis, inner) view of `a` around `dim` (negative dims count from the end).
Split split_at(const py::array& a, int64_t dim, const char* op) {
  const int64_t nd = a.ndim();
  FASTANN_CHECK(nd >= 1, op, ": input must have at least 1 dimension, got a 0-d array");
  FASTANN_CHECK(dim >= -nd && dim < nd, op, ": dim ", dim, " is out of range for an array of ndim=", nd,
                " (valid: ", -nd, " .. ", nd - 1, ")");
  if (dim < 0) dim += nd;
  Split s{1, a.shape(dim), 1};
  for (int64_t i = 0; i < dim; ++i) s.outer *= a.shape(i);
  for (int64_t i = dim + 1; i < nd; ++i) s.inner *= a.shape(i);
  return s;
}

template <class Kernel>
void forward(py::array out, py::array input, int64_t dim, const char* op, Kernel kernel) {
  const DType dt = float_dtype(input, op, "input");
  check_in(input, dt, op, "input");
  require_nonempty(input, op, "input");
  check_out(out, dt, op, "out");
  require_same_shape(out, input, op, "out", "input");
  const Split s = split_at(input, dim, op);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* x = cptr<T>(input);
    T* y = mptr<T>(out);
    nogil g;
    kernel(y, x, s.outer, s.A, s.inner);
  });
}

template <class Kernel>
void backward(py::array dinput, py::array grad_output, py::array output, int64_t dim, const char* op,
              Kernel kernel) {
  const DType dt = float_dtype(output, op, "output");
  check_in(output, dt, op, "output");
  require_nonempty(output, op, "output");
  check_in(grad_output, dt, op, "grad_output");
  require_same_shape(grad_output, output, op, "grad_output", "output");
  check_out(dinput, dt, op, "dinput");
  require_same_shape(dinput, output, op, "dinput", "output");
  const Split s = split_at(output, dim, op);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* y = cptr<T>(output);
    const T* gy = cptr<T>(grad_output);
    T* dx = mptr<T>(dinput);
    nogil g;
    kernel(dx, y, gy, s.outer, s.A, s.inner);
  });
}

}  // namespace

void bind_softmax(py::module_& m) {
  using py::arg;
  m.def("softmax_forward", [](py::array out, py::array input, int64_t dim) {
    forward(out, input, dim, "softmax", [](auto* y, auto* x, int64_t o, int64_t a, int64_t i) {
      cpu::softmax_forward(y, x, o, a, i); });
  }, arg("out"), arg("input"), arg("dim") = -1,
  "out = exp(x - max) / sum exp(x - max) along dim. out, input: C-contiguous float32/float64 arrays of one "
  "shape (any ndim >= 1); dim in [-ndim, ndim).");
  m.def("log_softmax_forward", [](py::array out, py::array input, int64_t dim) {
    forward(out, input, dim, "log_softmax", [](auto* y, auto* x, int64_t o, int64_t a, int64_t i) {
      cpu::log_softmax_forward(y, x, o, a, i); });
  }, arg("out"), arg("input"), arg("dim") = -1, "out = x - max - log sum exp(x - max) along dim.");
  m.def("softmax_backward", [](py::array dinput, py::array grad_output, py::array output, int64_t dim) {
    backward(dinput, grad_output, output, dim, "softmax_backward",
             [](auto* dx, auto* y, auto* g, int64_t o, int64_t a, int64_t i) {
               cpu::softmax_backward(dx, y, g, o, a, i); });
  }, arg("dinput"), arg("grad_output"), arg("output"), arg("dim") = -1,
  "dinput = y * (grad_output - sum(grad_output * y)) along dim, y = the softmax output.");
  m.def("log_softmax_backward", [](py::array dinput, py::array grad_output, py::array output, int64_t dim) {
    backward(dinput, grad_output, output, dim, "log_softmax_backward",
             [](auto* dx, auto* y, auto* g, int64_t o, int64_t a, int64_t i) {
               cpu::log_softmax_backward(dx, y, g, o, a, i); });
  }, arg("dinput"), arg("grad_output"), arg("output"), arg("dim") = -1,
  "dinput = grad_output - exp(y) * sum(grad_output) along dim, y = the log-softmax output.");
}

}  // namespace fastann::bind
