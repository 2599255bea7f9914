// args/activation.hpp: signatures and argument parsing of activation_forward / activation_backward, shared
// by fastann._cpu and fastann._cuda. The activation name is resolved by the backend's activation_from_name
// (each backend has its own enum), at the same point of the checks on both.
#pragma once

#include <cmath>
#include <string>

#include "checks.hpp"

namespace fastann::bindings {

template <class Kind>
struct ActivationCall {
  FloatType ft;
  ArrayView out, input, grad_output;  // forward: out, input; backward: out = dinput, grad_output, input
  Kind kind;
  double param;
};

// from_name(name, op) -> Kind (ValueError for an unknown name). out may be input in the forward (the
// documented in-place use; each element is read before it is written); any other overlap is refused.
template <class Kind, class FromName, class Run>
void def_activation(py::module_& m, Device dev, FromName from_name, const char* forward_doc,
                    const char* backward_doc, Run run) {
  m.def("activation_forward",
        [dev, from_name, run](py::object out, py::object input_, const std::string& name, RealArg param_) {
          const char* op = "activation_forward";
          ActivationCall<Kind> a;
          a.kind = from_name(name, op);
          const double param = to_double(param_, op, "param");
          FASTANN_CHECK(std::isfinite(param), op, ": param must be finite, got ", param);
          a.param = param;
          a.input = leading(input_, dev, &a.ft, op, "input");
          require_nonempty(a.input, op, "input");
          a.out = output(out, dev, a.ft, op, "out");
          require_same_shape(a.out, a.input, op, "out", "input");
          if (!same_buffer(a.out, a.input)) require_disjoint(op, {{a.out, "out"}}, {{a.input, "input"}});
          run(a, false);
        },
        py::arg("out"), py::arg("input"), py::arg("name"), py::arg("param") = 0.0, forward_doc);
  m.def("activation_backward",
        [dev, from_name, run](py::object dinput, py::object grad_output, py::object input_, const std::string& name,
                              RealArg param_) {
          const char* op = "activation_backward";
          ActivationCall<Kind> a;
          a.kind = from_name(name, op);
          const double param = to_double(param_, op, "param");
          FASTANN_CHECK(std::isfinite(param), op, ": param must be finite, got ", param);
          a.param = param;
          a.input = leading(input_, dev, &a.ft, op, "input");
          require_nonempty(a.input, op, "input");
          a.grad_output = input(grad_output, dev, a.ft, op, "grad_output");
          a.out = output(dinput, dev, a.ft, op, "dinput");
          require_same_shape(a.grad_output, a.input, op, "grad_output", "input");
          require_same_shape(a.out, a.input, op, "dinput", "input");
          require_disjoint(op, {{a.out, "dinput"}}, {{a.grad_output, "grad_output"}, {a.input, "input"}});
          run(a, true);
        },
        py::arg("dinput"), py::arg("grad_output"), py::arg("input"), py::arg("name"), py::arg("param") = 0.0,
        backward_doc);
}

}  // namespace fastann::bindings
