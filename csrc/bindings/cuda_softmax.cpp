// Bindings of the softmax family (csrc/cuda/softmax.cu) into fastann._cuda (same names and signatures as the
// fastann._cpu functions, with CuPy arrays).
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/softmax.hpp"

namespace fastann::cudabind {

namespace {

struct AxisView {
  int64_t outer = 1, L = 1, inner = 1;
};

// (outer, L, inner) of `a` around axis `dim` (negative counts from the end; out of range: ValueError).
AxisView axis_view(const DeviceArray& a, int64_t dim, const char* op) {
  FASTANN_CHECK(a.ndim >= 1, op, ": input must have at least 1 dimension, got a 0-d array");
  FASTANN_CHECK(dim >= -a.ndim && dim < a.ndim, op, ": dim ", dim, " is out of range for an array of ndim=", a.ndim,
                " (valid: ", -a.ndim, " .. ", a.ndim - 1, ")");
  const int d = static_cast<int>(dim < 0 ? dim + a.ndim : dim);
  AxisView v;
  for (int i = 0; i < d; ++i) v.outer *= a.shape[i];
  v.L = a.shape[d];
  for (int i = d + 1; i < a.ndim; ++i) v.inner *= a.shape[i];
  return v;
}

template <bool LOG>
void forward(py::object out_, py::object input_, int64_t dim) {
  const char* op = LOG ? "log_softmax" : "softmax";
  DType dt;
  DeviceArray input = first_array(input_, &dt, op, "input", false);
  if (input.size == 0) fail(op, ": input is empty (shape ", shape_str(input), ")");
  DeviceArray out = out_array(out_, dt, op, "out");
  require_same_shape(out, input, op, "out", "input");
  const AxisView v = axis_view(input, dim, op);
  cudaStream_t stream = current_stream(input_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::softmax_forward<T>(out.ptr<T>(), input.ptr<T>(), v.outer, v.L, v.inner, LOG, stream);
  });
}

template <bool LOG>
void backward(py::object dinput_, py::object grad_output_, py::object output_, int64_t dim) {
  const char* op = LOG ? "log_softmax_backward" : "softmax_backward";
  DType dt;
  DeviceArray output = first_array(output_, &dt, op, "output", false);
  if (output.size == 0) fail(op, ": output is empty (shape ", shape_str(output), ")");
  DeviceArray dout = in_array(grad_output_, dt, op, "grad_output");
  DeviceArray dinp = out_array(dinput_, dt, op, "dinput");
  require_same_shape(dout, output, op, "grad_output", "output");
  require_same_shape(dinp, output, op, "dinput", "output");
  const AxisView v = axis_view(output, dim, op);
  cudaStream_t stream = current_stream(output_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::softmax_backward<T>(dinp.ptr<T>(), dout.ptr<T>(), output.ptr<T>(), v.outer, v.L, v.inner, LOG, stream);
  });
}

}  // namespace

void bind_softmax(py::module_& m) {
  m.def("softmax_forward", &forward<false>, py::arg("out"), py::arg("input"), py::arg("dim") = -1,
        "out = softmax(input) along `dim` on the GPU (max-subtracted; a NaN makes its row NaN). float32/float64 "
        "CuPy arrays of one shape, any ndim.");
  m.def("log_softmax_forward", &forward<true>, py::arg("out"), py::arg("input"), py::arg("dim") = -1,
        "out = log_softmax(input) = x - max - log(sum(exp(x - max))) along `dim` on the GPU.");
  m.def("softmax_backward", &backward<false>, py::arg("dinput"), py::arg("grad_output"), py::arg("output"),
        py::arg("dim") = -1, "dinput = y * (g - sum(g * y)) along `dim`, y = softmax's output, g = grad_output.");
  m.def("log_softmax_backward", &backward<true>, py::arg("dinput"), py::arg("grad_output"), py::arg("output"),
        py::arg("dim") = -1, "dinput = g - exp(y) * sum(g) along `dim`, y = log_softmax's output.");
}

}  // namespace fastann::cudabind
