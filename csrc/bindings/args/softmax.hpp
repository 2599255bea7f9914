// args/softmax.hpp: signatures and argument parsing of the softmax family (softmax / log_softmax, forward and
// backward), shared by fastann._cpu and fastann._cuda.
#pragma once

#include "checks.hpp"

namespace fastann::bindings {

struct SoftmaxCall {
  FloatType ft;
  ArrayView out, x, grad_output;  // forward: out, x = input; backward: out = dinput, grad_output, x = output
  int64_t outer = 1, axis = 1, inner = 1;  // the (outer, axis, inner) view around `dim`
  bool log, backward;
};

inline void split_at_dim(SoftmaxCall& s, const IntArg& dim_arg, const char* op) {
  const int64_t nd = s.x.ndim();
  const int64_t dim = to_int64(dim_arg, op, "dim");
  FASTANN_CHECK(nd >= 1, op, ": input must have at least 1 dimension, got a 0-d array");
  FASTANN_CHECK(dim >= -nd && dim < nd, op, ": dim ", dim, " is out of range for an array of ndim=", nd,
                " (valid: ", -nd, " .. ", nd - 1, ")");
  const int64_t d = dim < 0 ? dim + nd : dim;
  for (int64_t i = 0; i < d; ++i) s.outer *= s.x.shape[i];
  s.axis = s.x.shape[d];
  for (int64_t i = d + 1; i < nd; ++i) s.inner *= s.x.shape[i];
}

template <class Run>
void def_softmax(py::module_& m, Device dev, bool log, const char* forward_doc, const char* backward_doc, Run run) {
  m.def(log ? "log_softmax_forward" : "softmax_forward",
        [dev, log, run](py::object out, py::object input_, IntArg dim) {
          const char* op = log ? "log_softmax" : "softmax";
          SoftmaxCall s;
          s.log = log, s.backward = false;
          s.x = leading(input_, dev, &s.ft, op, "input");
          require_nonempty(s.x, op, "input");
          s.out = output(out, dev, s.ft, op, "out");
          require_same_shape(s.out, s.x, op, "out", "input");
          split_at_dim(s, dim, op);
          require_disjoint(op, {{s.out, "out"}}, {{s.x, "input"}});
          run(s);
        },
        py::arg("out"), py::arg("input"), py::arg("dim") = -1, forward_doc);
  m.def(log ? "log_softmax_backward" : "softmax_backward",
        [dev, log, run](py::object dinput, py::object grad_output, py::object output_, IntArg dim) {
          const char* op = log ? "log_softmax_backward" : "softmax_backward";
          SoftmaxCall s;
          s.log = log, s.backward = true;
          s.x = leading(output_, dev, &s.ft, op, "output");
          require_nonempty(s.x, op, "output");
          s.grad_output = input(grad_output, dev, s.ft, op, "grad_output");
          require_same_shape(s.grad_output, s.x, op, "grad_output", "output");
          s.out = output(dinput, dev, s.ft, op, "dinput");
          require_same_shape(s.out, s.x, op, "dinput", "output");
          split_at_dim(s, dim, op);
          require_disjoint(op, {{s.out, "dinput"}}, {{s.grad_output, "grad_output"}, {s.x, "output"}});
          run(s);
        },
        py::arg("dinput"), py::arg("grad_output"), py::arg("output"), py::arg("dim") = -1, backward_doc);
}

}  // namespace fastann::bindings
