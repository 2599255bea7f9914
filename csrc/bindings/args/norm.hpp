// args/norm.hpp: signatures and argument parsing of batch norm (training forward, inference forward,
// backward), shared by fastann._cpu and fastann._cuda. input (N,C) or (N,C,H,W); every per-channel array
// (C,). Optional arrays (weight, bias, running stats in training) are passed as None.
#pragma once

#include <cmath>
#include <vector>

#include "checks.hpp"

namespace fastann::bindings {

struct BatchNormLayout {
  int64_t N, C, HW;
};

inline BatchNormLayout batch_norm_layout(const char* op, const ArrayView& a, const char* name) {
  FASTANN_CHECK(a.ndim() == 2 || a.ndim() == 4, op, ": ", name, " must be 2-D (N,C) or 4-D (N,C,H,W), got ndim=",
                a.ndim(), " shape ", shape_str(a));
  require_nonempty(a, op, name);
  return {a.shape[0], a.shape[1], a.ndim() == 4 ? a.shape[2] * a.shape[3] : 1};
}

inline void check_norm_eps(const char* op, double eps) {
  FASTANN_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a positive number, got ", eps);
}
inline void check_norm_momentum(const char* op, double momentum) {
  FASTANN_CHECK(std::isfinite(momentum) && momentum >= 0 && momentum <= 1, op, ": momentum must be in [0, 1], got ",
                momentum);
}

// A per-channel (C,) array of the call's dtype: input or output; None allowed unless required (then None is
// the TypeError of a missing array).
inline std::optional<ArrayView> channel(py::handle a, Device dev, FloatType ft, int64_t C, const char* op,
                                        const char* name, bool out, bool required) {
  if (a.is_none() && !required) return std::nullopt;
  ArrayView v = out ? output(a, dev, ft, op, name) : input(a, dev, ft, op, name);
  require_shape(v, {C}, op, name);
  return v;
}

struct BatchNormCall {
  FloatType ft;
  BatchNormLayout l;
  ArrayView input, out;                          // out: the forward output or dinput
  std::optional<ArrayView> grad_output;          // backward
  std::optional<ArrayView> weight, bias;         // forward: weight, bias; backward: weight
  std::optional<ArrayView> running_mean, running_var;
  std::optional<ArrayView> save_mean, save_invstd;
  std::optional<ArrayView> dweight, dbias;
  double momentum = 0, eps = 0;
};

template <class RunTrain, class RunInfer, class RunBackward>
void def_batch_norm(py::module_& m, Device dev, RunTrain run_train, RunInfer run_infer, RunBackward run_backward) {
  m.def(
      "batch_norm_forward_training",
      [dev, run_train](py::object out, py::object save_mean, py::object save_invstd, py::object running_mean,
                       py::object running_var, py::object input, py::object weight, py::object bias, RealArg momentum_,
                       RealArg eps_) {
        const char* op = "batch_norm";
        BatchNormCall b;
        b.input = leading(input, dev, &b.ft, op, "input");
        b.l = batch_norm_layout(op, b.input, "input");
        FASTANN_CHECK(b.l.N * b.l.HW >= 2, op, ": training needs more than one value per channel, got input shape ",
                      shape_str(b.input));
        const double momentum = to_double(momentum_, op, "momentum"), eps = to_double(eps_, op, "eps");
        check_norm_momentum(op, momentum);
        check_norm_eps(op, eps);
        b.momentum = momentum, b.eps = eps;
        b.out = output(out, dev, b.ft, op, "out");
        require_shape(b.out, b.input.shape, op, "out");
        b.save_mean = channel(save_mean, dev, b.ft, b.l.C, op, "save_mean", true, true);
        b.save_invstd = channel(save_invstd, dev, b.ft, b.l.C, op, "save_invstd", true, true);
        b.running_mean = channel(running_mean, dev, b.ft, b.l.C, op, "running_mean", true, false);
        b.running_var = channel(running_var, dev, b.ft, b.l.C, op, "running_var", true, false);
        b.weight = channel(weight, dev, b.ft, b.l.C, op, "weight", false, false);
        b.bias = channel(bias, dev, b.ft, b.l.C, op, "bias", false, false);
        require_disjoint(op,
                         {{b.out, "out"}, {b.save_mean, "save_mean"}, {b.save_invstd, "save_invstd"},
                          {b.running_mean, "running_mean"}, {b.running_var, "running_var"}},
                         {{b.input, "input"}, {b.weight, "weight"}, {b.bias, "bias"}});
        run_train(b);
      },
      py::arg("out"), py::arg("save_mean"), py::arg("save_invstd"), py::arg("running_mean").none(true),
      py::arg("running_var").none(true), py::arg("input"), py::arg("weight").none(true), py::arg("bias").none(true),
      py::arg("momentum"), py::arg("eps"),
      "Batch norm, training mode: out (N,C[,H,W]), save_mean and save_invstd (C,) <- input; running_mean and "
      "running_var (C,) updated in place (PyTorch momentum, unbiased variance) unless None.");

  m.def(
      "batch_norm_forward_inference",
      [dev, run_infer](py::object out, py::object input, py::object running_mean, py::object running_var,
                       py::object weight, py::object bias, RealArg eps_) {
        const char* op = "batch_norm";
        BatchNormCall b;
        b.input = leading(input, dev, &b.ft, op, "input");
        b.l = batch_norm_layout(op, b.input, "input");
        const double eps = to_double(eps_, op, "eps");
        check_norm_eps(op, eps);
        b.eps = eps;
        b.out = output(out, dev, b.ft, op, "out");
        require_shape(b.out, b.input.shape, op, "out");
        b.running_mean = channel(running_mean, dev, b.ft, b.l.C, op, "running_mean", false, true);
        b.running_var = channel(running_var, dev, b.ft, b.l.C, op, "running_var", false, true);
        b.weight = channel(weight, dev, b.ft, b.l.C, op, "weight", false, false);
        b.bias = channel(bias, dev, b.ft, b.l.C, op, "bias", false, false);
        require_disjoint(op, {{b.out, "out"}},
                         {{b.input, "input"}, {b.running_mean, "running_mean"}, {b.running_var, "running_var"},
                          {b.weight, "weight"}, {b.bias, "bias"}});
        run_infer(b);
      },
      py::arg("out"), py::arg("input"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight").none(true),
      py::arg("bias").none(true), py::arg("eps"),
      "Batch norm, inference mode: out (N,C[,H,W]) <- input normalised with running_mean, running_var (C,).");

  m.def(
      "batch_norm_backward",
      [dev, run_backward](py::object dinput, py::object dweight, py::object dbias, py::object grad_output,
                          py::object input_, py::object weight, py::object save_mean, py::object save_invstd) {
        const char* op = "batch_norm_backward";
        BatchNormCall b;
        b.input = leading(input_, dev, &b.ft, op, "input");
        b.l = batch_norm_layout(op, b.input, "input");
        b.grad_output = input(grad_output, dev, b.ft, op, "grad_output");
        require_shape(*b.grad_output, b.input.shape, op, "grad_output");
        b.out = output(dinput, dev, b.ft, op, "dinput");
        require_shape(b.out, b.input.shape, op, "dinput");
        b.dweight = channel(dweight, dev, b.ft, b.l.C, op, "dweight", true, true);
        b.dbias = channel(dbias, dev, b.ft, b.l.C, op, "dbias", true, true);
        b.weight = channel(weight, dev, b.ft, b.l.C, op, "weight", false, false);
        b.save_mean = channel(save_mean, dev, b.ft, b.l.C, op, "save_mean", false, true);
        b.save_invstd = channel(save_invstd, dev, b.ft, b.l.C, op, "save_invstd", false, true);
        require_disjoint(op, {{b.out, "dinput"}, {b.dweight, "dweight"}, {b.dbias, "dbias"}},
                         {{*b.grad_output, "grad_output"}, {b.input, "input"}, {b.weight, "weight"},
                          {b.save_mean, "save_mean"}, {b.save_invstd, "save_invstd"}});
        run_backward(b);
      },
      py::arg("dinput"), py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("input"),
      py::arg("weight").none(true), py::arg("save_mean"), py::arg("save_invstd"),
      "Backward of training-mode batch norm in one fused pass per channel: dinput (N,C[,H,W]), dweight = "
      "sum(dy*xhat), dbias = sum(dy) (C,) <- grad_output, input, weight (or None: gamma = 1), save_mean, "
      "save_invstd.");
}

}  // namespace fastann::bindings
