// args/layer_norm.hpp: signatures and argument parsing of layer norm (forward and backward), shared by
// fastann._cpu and fastann._cuda. input (..., *normalized_shape), C-contiguous, seen as (M, N) with
// N = prod(normalized_shape); weight and bias have shape normalized_shape (or are None); save_mean and
// save_invstd are (M,).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "checks.hpp"

namespace fastann::bindings {

struct LayerNormCall {
  FloatType ft;
  int64_t M = 0, N = 0;
  ArrayView input, out;                  // out: the forward output or dinput
  std::optional<ArrayView> grad_output;  // backward
  std::optional<ArrayView> weight, bias;
  std::optional<ArrayView> save_mean, save_invstd;
  std::optional<ArrayView> dweight, dbias;
  double eps = 0;
};

namespace layer_norm_detail {

// normalized_shape: a non-empty list of ints equal to the input's trailing dimensions; sets M and N.
inline std::vector<int64_t> shape_arg(LayerNormCall& c, const IntListArg& ns, const char* op) {
  std::vector<int64_t> shape = to_int_list(ns, op, "normalized_shape");
  const int64_t k = int64_t(shape.size()), nd = c.input.ndim();
  std::string got = "[";
  for (size_t i = 0; i < shape.size(); ++i) got += (i ? ", " : "") + std::to_string(shape[i]);
  got += "]";
  FASTANN_CHECK(k >= 1 && k <= nd, op, ": normalized_shape must name 1 to input.ndim=", nd,
                " trailing dimensions of the input, got ", got);
  for (int64_t i = 0; i < k; ++i)
    FASTANN_CHECK(shape[i] == c.input.shape[nd - k + i], op, ": normalized_shape ", got,
                  " must equal the input's trailing dimensions, got input shape ", shape_str(c.input));
  require_nonempty(c.input, op, "input");
  c.N = 1;
  for (int64_t s : shape) c.N *= s;
  c.M = c.input.size / c.N;
  return shape;
}

// weight / bias (normalized_shape) or their gradients; None allowed.
inline std::optional<ArrayView> param(py::handle a, Device dev, FloatType ft, const std::vector<int64_t>& shape,
                                      const char* op, const char* name, bool out) {
  if (a.is_none()) return std::nullopt;
  ArrayView v = out ? output(a, dev, ft, op, name) : input(a, dev, ft, op, name);
  require_shape(v, shape, op, name);
  return v;
}

// save_mean / save_invstd (M,): required.
inline ArrayView row_stat(py::handle a, Device dev, FloatType ft, int64_t M, const char* op, const char* name,
                          bool out) {
  ArrayView v = out ? output(a, dev, ft, op, name) : input(a, dev, ft, op, name);
  require_shape(v, {M}, op, name);
  return v;
}

}  // namespace layer_norm_detail

template <class RunForward, class RunBackward>
void def_layer_norm(py::module_& m, Device dev, RunForward run_forward, RunBackward run_backward) {
  using namespace layer_norm_detail;
  m.def(
      "layer_norm_forward",
      [dev, run_forward](py::object out, py::object save_mean, py::object save_invstd, py::object input,
                         IntListArg normalized_shape, py::object weight, py::object bias, RealArg eps_) {
        const char* op = "layer_norm";
        LayerNormCall c;
        c.input = leading(input, dev, &c.ft, op, "input");
        const std::vector<int64_t> shape = shape_arg(c, normalized_shape, op);
        const double eps = to_double(eps_, op, "eps");
        FASTANN_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a positive number, got ", eps);
        c.eps = eps;
        c.out = output(out, dev, c.ft, op, "out");
        require_shape(c.out, c.input.shape, op, "out");
        c.save_mean = row_stat(save_mean, dev, c.ft, c.M, op, "save_mean", true);
        c.save_invstd = row_stat(save_invstd, dev, c.ft, c.M, op, "save_invstd", true);
        c.weight = param(weight, dev, c.ft, shape, op, "weight", false);
        c.bias = param(bias, dev, c.ft, shape, op, "bias", false);
        require_disjoint(op, {{c.out, "out"}, {c.save_mean, "save_mean"}, {c.save_invstd, "save_invstd"}},
                         {{c.input, "input"}, {c.weight, "weight"}, {c.bias, "bias"}});
        run_forward(c);
      },
      py::arg("out"), py::arg("save_mean"), py::arg("save_invstd"), py::arg("input"), py::arg("normalized_shape"),
      py::arg("weight").none(true), py::arg("bias").none(true), py::arg("eps"),
      "Layer norm (Ba et al. 2016, torch.nn.functional.layer_norm): out <- (input - mean) * invstd * weight + "
      "bias over the trailing normalized_shape dimensions; save_mean, save_invstd = 1/sqrt(var + eps) (M,), "
      "M = input.size / prod(normalized_shape). weight, bias (normalized_shape) or None.");

  m.def(
      "layer_norm_backward",
      [dev, run_backward](py::object dinput, py::object dweight, py::object dbias, py::object grad_output,
                          py::object input_, IntListArg normalized_shape, py::object weight, py::object save_mean,
                          py::object save_invstd) {
        const char* op = "layer_norm_backward";
        LayerNormCall c;
        c.input = leading(input_, dev, &c.ft, op, "input");
        const std::vector<int64_t> shape = shape_arg(c, normalized_shape, op);
        c.grad_output = input(grad_output, dev, c.ft, op, "grad_output");
        require_shape(*c.grad_output, c.input.shape, op, "grad_output");
        c.out = output(dinput, dev, c.ft, op, "dinput");
        require_shape(c.out, c.input.shape, op, "dinput");
        c.dweight = param(dweight, dev, c.ft, shape, op, "dweight", true);
        c.dbias = param(dbias, dev, c.ft, shape, op, "dbias", true);
        c.weight = param(weight, dev, c.ft, shape, op, "weight", false);
        c.save_mean = row_stat(save_mean, dev, c.ft, c.M, op, "save_mean", false);
        c.save_invstd = row_stat(save_invstd, dev, c.ft, c.M, op, "save_invstd", false);
        require_disjoint(op, {{c.out, "dinput"}, {c.dweight, "dweight"}, {c.dbias, "dbias"}},
                         {{*c.grad_output, "grad_output"}, {c.input, "input"}, {c.weight, "weight"},
                          {c.save_mean, "save_mean"}, {c.save_invstd, "save_invstd"}});
        run_backward(c);
      },
      py::arg("dinput"), py::arg("dweight").none(true), py::arg("dbias").none(true), py::arg("grad_output"),
      py::arg("input"), py::arg("normalized_shape"), py::arg("weight").none(true), py::arg("save_mean"),
      py::arg("save_invstd"),
      "Backward of layer norm: dinput = invstd * (g - mean(g) - xhat * mean(g*xhat)), g = grad_output * weight "
      "(means over each row); dweight = sum over rows of grad_output*xhat, dbias = sum over rows of grad_output "
      "(normalized_shape; either may be None: not computed).");
}

}  // namespace fastann::bindings
