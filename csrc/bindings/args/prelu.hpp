// args/prelu.hpp: signatures and argument parsing of the parametric ReLU (forward, backward), shared by
// fastann._cpu and fastann._cuda. input: rank >= 1, C-contiguous, non-empty; its channel axis is 1 (rank >= 2)
// or there is one channel (rank 1); weight: 1-D with C values or 1 (shared by every channel).
#pragma once

#include "checks.hpp"

namespace fastann::bindings {

struct PreluCall {
  FloatType ft;
  int64_t N = 0, C = 0, S = 0;
  bool shared = false;
  ArrayView input, weight, out;          // out: the forward output or dinput
  std::optional<ArrayView> grad_output;  // backward
  std::optional<ArrayView> dweight;      // backward
};

namespace prelu_detail {

// input and weight: sets the layout (N, C, S) and whether the weight is shared.
inline void input_weight(PreluCall& c, Device dev, py::handle input_obj, py::handle weight, const char* op) {
  c.input = leading(input_obj, dev, &c.ft, op, "input");
  FASTANN_CHECK(c.input.ndim() >= 1, op, ": input must have at least 1 dimension, got a 0-D array");
  require_nonempty(c.input, op, "input");
  const int64_t channels = c.input.ndim() >= 2 ? c.input.shape[1] : 1;
  c.weight = input(weight, dev, c.ft, op, "weight");
  require_ndim(c.weight, 1, op, "weight", "(C,) or (1,)");
  const int64_t k = c.weight.shape[0];
  FASTANN_CHECK(k == 1 || k == channels, op, ": weight must have 1 value or one per channel (", channels,
                ", input shape ", shape_str(c.input), "), got ", k);
  c.shared = k == 1;
  c.N = c.input.ndim() >= 2 ? c.input.shape[0] : 1;
  c.C = channels;
  c.S = c.input.size / (c.N * c.C);
}

}  // namespace prelu_detail

template <class RunForward, class RunBackward>
void def_prelu(py::module_& m, Device dev, RunForward run_forward, RunBackward run_backward) {
  using namespace prelu_detail;
  m.def(
      "prelu_forward",
      [dev, run_forward](py::object out, py::object input_obj, py::object weight) {
        const char* op = "prelu";
        PreluCall c;
        input_weight(c, dev, input_obj, weight, op);
        c.out = output(out, dev, c.ft, op, "out");
        require_shape(c.out, c.input.shape, op, "out");
        require_disjoint(op, {{c.out, "out"}}, {{c.input, "input"}, {c.weight, "weight"}});
        run_forward(c);
      },
      py::arg("out"), py::arg("input"), py::arg("weight"),
      "Parametric ReLU (He et al. 2015, torch.nn.functional.prelu): out = input where input > 0, else "
      "weight[c] * input; c the channel axis 1 (one channel for 1-D input); weight (C,) or (1,).");
  m.def(
      "prelu_backward",
      [dev, run_backward](py::object dinput, py::object dweight, py::object grad_output, py::object input_obj,
                          py::object weight) {
        const char* op = "prelu_backward";
        PreluCall c;
        input_weight(c, dev, input_obj, weight, op);
        c.grad_output = input(grad_output, dev, c.ft, op, "grad_output");
        require_shape(*c.grad_output, c.input.shape, op, "grad_output");
        c.out = output(dinput, dev, c.ft, op, "dinput");
        require_shape(c.out, c.input.shape, op, "dinput");
        c.dweight = output(dweight, dev, c.ft, op, "dweight");
        require_shape(*c.dweight, c.weight.shape, op, "dweight");
        require_disjoint(op, {{c.out, "dinput"}, {c.dweight, "dweight"}},
                         {{*c.grad_output, "grad_output"}, {c.input, "input"}, {c.weight, "weight"}});
        run_backward(c);
      },
      py::arg("dinput"), py::arg("dweight"), py::arg("grad_output"), py::arg("input"), py::arg("weight"),
      "Backward of prelu: dinput = grad_output where input > 0, else weight[c] * grad_output; dweight[c] = sum of "
      "grad_output * input where input <= 0 over the channel's values (over everything when weight has 1 value).");
}

}  // namespace fastann::bindings
