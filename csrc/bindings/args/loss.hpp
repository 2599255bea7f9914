// args/loss.hpp: signatures and argument parsing of the loss family, shared by fastann._cpu and
// fastann._cuda. Loss outputs are 0-d arrays of the input's dtype (`out`), so one signature serves both
// modules. Integer labels are range-checked by the backend (CPU: a host loop; CUDA: a device search, which
// costs a stream synchronisation and may be switched off with the CUDA-only keyword check_labels=False)
// after every other check has passed.
#pragma once

#include <cmath>
#include <string>

#include "checks.hpp"

namespace fastann::bindings {

inline void check_loss_eps(double eps, const char* op) {
  FASTANN_CHECK(std::isfinite(eps) && eps >= 0.0 && eps < 0.5, op, ": eps must be in [0, 0.5), got ", eps);
}

inline void check_scalar_out(const ArrayView& out, const char* op) {
  if (out.ndim() != 0) fail(op, ": out must be a 0-d array (shape ()), got shape ", shape_str(out));
}

// ---- elementwise losses ---------------------------------------------------------------------------------
enum class ElementwiseLoss {
  mse, l1, bce, bce_with_logits,
  huber, kl_divergence, hinge, squared_hinge, log_cosh, poisson  // Keras's (csrc/include/fastann/loss_terms.hpp)
};

struct ElementwiseLossCall {
  FloatType ft;
  ElementwiseLoss loss;
  bool backward;
  ArrayView out, input, target;  // out: 0-d loss (forward) or dinput (backward)
  int64_t n;
  int64_t rows = 1;  // n / (last dimension): kl_divergence's batch (1 for a 0-d or 1-D input)
  double eps = 0.0, grad_output = 1.0;
  double delta = 1.0;  // huber
};

inline void check_huber_delta(double delta, const char* op) {
  FASTANN_CHECK(std::isfinite(delta) && delta > 0.0, op, ": delta must be a finite number > 0, got ", delta);
}

inline ElementwiseLossCall parse_elementwise_loss(Device dev, ElementwiseLoss loss, bool backward, py::handle out,
                                                  py::handle input_, py::handle target, const RealArg& eps_, const RealArg& grad_,
                                                  const char* op) {
  const double eps = to_double(eps_, op, "eps"), grad = to_double(grad_, op, "grad_output");
  ElementwiseLossCall c;
  c.loss = loss, c.backward = backward, c.eps = eps, c.grad_output = grad;
  if (loss == ElementwiseLoss::bce || loss == ElementwiseLoss::kl_divergence || loss == ElementwiseLoss::poisson)
    check_loss_eps(eps, op);
  c.input = leading(input_, dev, &c.ft, op, "input");
  require_nonempty(c.input, op, "input");
  c.target = input(target, dev, c.ft, op, "target");
  require_same_shape(c.target, c.input, op, "target", "input");
  if (backward) {
    c.out = output(out, dev, c.ft, op, "dinput");
    require_same_shape(c.out, c.input, op, "dinput", "input");
  } else {
    c.out = output(out, dev, c.ft, op, "out");
    check_scalar_out(c.out, op);
  }
  require_disjoint(op, {{c.out, backward ? "dinput" : "out"}}, {{c.input, "input"}, {c.target, "target"}});
  c.n = c.input.size;
  if (c.input.ndim() >= 2) c.rows = c.n / c.input.shape[c.input.ndim() - 1];
  return c;
}

template <class Run>
void def_elementwise_losses(py::module_& m, Device dev, Run run) {
  using py::arg;
  struct Entry {
    const char* name;
    ElementwiseLoss loss;
    const char* fdoc;
    const char* bdoc;
  };
  for (const Entry& e : {Entry{"mse_loss", ElementwiseLoss::mse, "out (0-d) = mean((input - target)^2). input, "
                               "target: float32/float64 C-contiguous arrays of one shape.",
                               "dinput = grad_output * 2 (input - target) / n."},
                         Entry{"l1_loss", ElementwiseLoss::l1, "out (0-d) = mean|input - target|.",
                               "dinput = grad_output * sign(input - target) / n (0 where equal)."},
                         Entry{"binary_cross_entropy_with_logits", ElementwiseLoss::bce_with_logits,
                               "out (0-d) = mean(max(x,0) - x t + log1p(exp(-|x|))), x = input logits.",
                               "dinput = grad_output (sigmoid(input) - target) / n."},
                         Entry{"hinge_loss", ElementwiseLoss::hinge,
                               "out (0-d) = mean(max(1 - y input, 0)), y = 2 target - 1 when every target is 0 or 1, "
                               "else target (Keras hinge).",
                               "dinput = -grad_output y / n where 1 - y input > 0, else 0."},
                         Entry{"squared_hinge_loss", ElementwiseLoss::squared_hinge,
                               "out (0-d) = mean(max(1 - y input, 0)^2), y as in hinge_loss (Keras squared_hinge).",
                               "dinput = -2 grad_output y max(1 - y input, 0) / n."},
                         Entry{"log_cosh_loss", ElementwiseLoss::log_cosh,
                               "out (0-d) = mean(log(cosh(input - target))) (Keras log_cosh).",
                               "dinput = grad_output tanh(input - target) / n."}}) {
    const char* name = e.name;
    const ElementwiseLoss loss = e.loss;
    const std::string bname = std::string(name) + "_backward";
    m.def((std::string(name) + "_forward").c_str(), [dev, run, name, loss](py::object out, py::object input,
                                                                          py::object target) {
      run(parse_elementwise_loss(dev, loss, false, out, input, target, 0.0, 1.0, name));
    }, arg("out"), arg("input"), arg("target"), e.fdoc);
    m.def(bname.c_str(), [dev, run, loss, bname](py::object dinput, py::object input, py::object target,
                                                 RealArg grad_output) {
      run(parse_elementwise_loss(dev, loss, true, dinput, input, target, 0.0, grad_output, bname.c_str()));
    }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0, e.bdoc);
  }
  m.def("binary_cross_entropy_forward", [dev, run](py::object out, py::object input, py::object target, RealArg eps) {
    run(parse_elementwise_loss(dev, ElementwiseLoss::bce, false, out, input, target, eps, 1.0,
                               "binary_cross_entropy"));
  }, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7,
  "out (0-d) = -mean(t log p + (1-t) log(1-p)), p = clip(input, eps, 1-eps) (Keras).");
  m.def("binary_cross_entropy_backward", [dev, run](py::object dinput, py::object input, py::object target,
                                                    RealArg eps, RealArg grad_output) {
    run(parse_elementwise_loss(dev, ElementwiseLoss::bce, true, dinput, input, target, eps, grad_output,
                               "binary_cross_entropy_backward"));
  }, arg("dinput"), arg("input"), arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0,
  "dinput = grad_output (p - t) / (p (1 - p)) / n where eps <= input <= 1-eps, else 0.");
  // Keras's losses with a scalar parameter: huber (delta), kl_divergence and poisson (eps)
  m.def("huber_loss_forward", [dev, run](py::object out, py::object input, py::object target, RealArg delta_) {
    const double delta = to_double(delta_, "huber_loss", "delta");
    check_huber_delta(delta, "huber_loss");
    auto c = parse_elementwise_loss(dev, ElementwiseLoss::huber, false, out, input, target, 0.0, 1.0, "huber_loss");
    c.delta = delta;
    run(c);
  }, arg("out"), arg("input"), arg("target"), arg("delta") = 1.0,
  "out (0-d) = mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2), e = input - target (Keras Huber).");
  m.def("huber_loss_backward", [dev, run](py::object dinput, py::object input, py::object target, RealArg delta_,
                                          RealArg grad_output) {
    const double delta = to_double(delta_, "huber_loss_backward", "delta");
    check_huber_delta(delta, "huber_loss_backward");
    auto c = parse_elementwise_loss(dev, ElementwiseLoss::huber, true, dinput, input, target, 0.0, grad_output,
                                    "huber_loss_backward");
    c.delta = delta;
    run(c);
  }, arg("dinput"), arg("input"), arg("target"), arg("delta") = 1.0, arg("grad_output") = 1.0,
  "dinput = grad_output (e if |e| <= delta else delta sign(e)) / n.");
  m.def("kl_divergence_forward", [dev, run](py::object out, py::object input, py::object target, RealArg eps) {
    run(parse_elementwise_loss(dev, ElementwiseLoss::kl_divergence, false, out, input, target, eps, 1.0,
                               "kl_divergence"));
  }, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7,
  "out (0-d) = sum(t log(t / p)) / rows, t = clip(target, eps, 1), p = clip(input, eps, 1), rows = size / "
  "last dimension (Keras KLDivergence).");
  m.def("kl_divergence_backward", [dev, run](py::object dinput, py::object input, py::object target, RealArg eps,
                                             RealArg grad_output) {
    run(parse_elementwise_loss(dev, ElementwiseLoss::kl_divergence, true, dinput, input, target, eps, grad_output,
                               "kl_divergence_backward"));
  }, arg("dinput"), arg("input"), arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0,
  "dinput = -grad_output t / input / rows where eps <= input <= 1, else 0.");
  m.def("poisson_loss_forward", [dev, run](py::object out, py::object input, py::object target, RealArg eps) {
    run(parse_elementwise_loss(dev, ElementwiseLoss::poisson, false, out, input, target, eps, 1.0, "poisson_loss"));
  }, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7,
  "out (0-d) = mean(input - target log(input + eps)) (Keras Poisson).");
  m.def("poisson_loss_backward", [dev, run](py::object dinput, py::object input, py::object target, RealArg eps,
                                            RealArg grad_output) {
    run(parse_elementwise_loss(dev, ElementwiseLoss::poisson, true, dinput, input, target, eps, grad_output,
                               "poisson_loss_backward"));
  }, arg("dinput"), arg("input"), arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0,
  "dinput = grad_output (1 - target / (input + eps)) / n.");
}

// ---- (N, C) losses: integer labels (N,) or float targets (N, C) -------------------------------------
enum class TargetKind { labels32, labels64, dense };
enum class ClassLoss { cross_entropy, categorical_crossentropy };

struct ClassLossCall {
  FloatType ft;
  ClassLoss loss;
  TargetKind kind;
  std::optional<ArrayView> out, dinput;  // 0-d loss, (N, C) gradient; at least one present
  ArrayView input, target;
  int64_t N, C;
  double eps = 0.0, grad_output = 1.0;
  const char* op;
};

inline ClassLossCall parse_class_loss(Device dev, ClassLoss loss, py::handle out, py::handle dinput,
                                      py::handle input_, py::handle target, const RealArg& eps_, const RealArg& grad_,
                                      const char* op) {
  const double eps = to_double(eps_, op, "eps"), grad = to_double(grad_, op, "grad_output");
  ClassLossCall c;
  c.loss = loss, c.eps = eps, c.grad_output = grad, c.op = op;
  if (loss == ClassLoss::categorical_crossentropy) check_loss_eps(eps, op);
  c.input = leading(input_, dev, &c.ft, op, "input");
  require_ndim(c.input, 2, op, "input", "(N, C)");
  require_nonempty(c.input, op, "input");
  c.N = c.input.shape[0], c.C = c.input.shape[1];
  c.target = view_of(target, dev, op, "target");
  if (c.target.dtype == DType::i32 || c.target.dtype == DType::i64) {
    require_shape(c.target, {c.N}, op, "target (integer class labels)");
    require_contiguous(c.target, op, "target");
    c.kind = c.target.dtype == DType::i32 ? TargetKind::labels32 : TargetKind::labels64;
  } else {
    if (c.target.dtype != DType::f32 && c.target.dtype != DType::f64)
      type_fail(std::string(op) + ": target must be int32/int64 class labels of shape (N,) or float " +
                "probabilities of shape (N, C), got dtype " + c.target.dtype_name());
    if (c.target.ndim() == 1)
      type_fail(std::string(op) + ": a 1-D target must hold integer class labels (int32 or int64), got dtype " +
                c.target.dtype_name() + "; float targets must have shape (N, C)");
    require_dtype(c.target, c.ft, op, "target");
    require_contiguous(c.target, op, "target");
    require_same_shape(c.target, c.input, op, "target", "input");
    c.kind = TargetKind::dense;
  }
  if (!out.is_none()) {
    c.out = output(out, dev, c.ft, op, "out");
    check_scalar_out(*c.out, op);
  }
  if (!dinput.is_none()) {
    c.dinput = output(dinput, dev, c.ft, op, "dinput");
    require_same_shape(*c.dinput, c.input, op, "dinput", "input");
  }
  require_disjoint(op, {{c.out, "out"}, {c.dinput, "dinput"}}, {{c.input, "input"}, {c.target, "target"}});
  return c;
}

// The five (N, C) loss functions. With `check_labels_kw` (the CUDA module) each takes the keyword-only
// check_labels=True; run(call, check_labels) then does the label check and the computation.
template <class Run>
void def_class_losses(py::module_& m, Device dev, bool check_labels_kw, Run run) {
  using py::arg;
  const char* ce_doc =
      "out (0-d) = mean_i sum_j t_ij (logsumexp(x_i) - x_ij). input (N, C) logits float32/float64; target (N,) "
      "int32/int64 labels in [0, C) or (N, C) float probabilities of input's dtype. TypeError for a float 1-D "
      "target, ValueError naming an out-of-range label.";
  const char* ceb_doc = "dinput (N, C) = grad_output (sum_j t_ij softmax(x_i) - t_i) / N (= (softmax - onehot)/N "
                        "for labels).";
  const char* cewg_doc = "Loss (into 0-d out) and dinput of cross_entropy in ONE pass over the logits.";
  const char* cc_doc = "out (0-d) = mean_i -sum_j t_ij log q_ij, q = clip(p / rowsum(p), eps, 1-eps) (Keras, on "
                       "probabilities). input (N, C) probabilities; target (N,) int32/int64 labels or (N, C) floats.";
  const char* ccb_doc = "dinput (N, C): gradient of categorical_crossentropy w.r.t. the probabilities (through the "
                        "row normalisation and the clip).";
  const auto CE = ClassLoss::cross_entropy, CC = ClassLoss::categorical_crossentropy;
  auto ce_fwd = [dev, run, CE](py::object out, py::object input, py::object target, bool check) {
    run(parse_class_loss(dev, CE, out, py::none(), input, target, 0.0, 1.0, "cross_entropy"), check);
  };
  auto ce_bwd = [dev, run, CE](py::object dinput, py::object input, py::object target, const RealArg& g, bool check) {
    run(parse_class_loss(dev, CE, py::none(), dinput, input, target, 0.0, g, "cross_entropy_backward"), check);
  };
  auto ce_both = [dev, run, CE](py::object out, py::object dinput, py::object input, py::object target, const RealArg& g,
                                bool check) {
    run(parse_class_loss(dev, CE, out, dinput, input, target, 0.0, g, "cross_entropy_with_grad"), check);
  };
  auto cc_fwd = [dev, run, CC](py::object out, py::object input, py::object target, const RealArg& eps, bool check) {
    run(parse_class_loss(dev, CC, out, py::none(), input, target, eps, 1.0, "categorical_crossentropy"), check);
  };
  auto cc_bwd = [dev, run, CC](py::object dinput, py::object input, py::object target, const RealArg& eps, const RealArg& g,
                               bool check) {
    run(parse_class_loss(dev, CC, py::none(), dinput, input, target, eps, g, "categorical_crossentropy_backward"),
        check);
  };
  if (check_labels_kw) {
    m.def("cross_entropy_forward", ce_fwd, arg("out"), arg("input"), arg("target"), py::kw_only(),
          arg("check_labels") = true, ce_doc);
    m.def("cross_entropy_backward", ce_bwd, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
          py::kw_only(), arg("check_labels") = true, ceb_doc);
    m.def("cross_entropy_with_grad", ce_both, arg("out"), arg("dinput"), arg("input"), arg("target"),
          arg("grad_output") = 1.0, py::kw_only(), arg("check_labels") = true, cewg_doc);
    m.def("categorical_crossentropy_forward", cc_fwd, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7,
          py::kw_only(), arg("check_labels") = true, cc_doc);
    m.def("categorical_crossentropy_backward", cc_bwd, arg("dinput"), arg("input"), arg("target"),
          arg("eps") = 1e-7, arg("grad_output") = 1.0, py::kw_only(), arg("check_labels") = true, ccb_doc);
  } else {
    m.def("cross_entropy_forward", [ce_fwd](py::object out, py::object input, py::object target) {
      ce_fwd(out, input, target, true);
    }, arg("out"), arg("input"), arg("target"), ce_doc);
    m.def("cross_entropy_backward", [ce_bwd](py::object dinput, py::object input, py::object target, RealArg g) {
      ce_bwd(dinput, input, target, g, true);
    }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0, ceb_doc);
    m.def("cross_entropy_with_grad", [ce_both](py::object out, py::object dinput, py::object input,
                                               py::object target, RealArg g) {
      ce_both(out, dinput, input, target, g, true);
    }, arg("out"), arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0, cewg_doc);
    m.def("categorical_crossentropy_forward", [cc_fwd](py::object out, py::object input, py::object target,
                                                       RealArg eps) {
      cc_fwd(out, input, target, eps, true);
    }, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7, cc_doc);
    m.def("categorical_crossentropy_backward", [cc_bwd](py::object dinput, py::object input, py::object target,
                                                        RealArg eps, RealArg g) {
      cc_bwd(dinput, input, target, eps, g, true);
    }, arg("dinput"), arg("input"), arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0, ccb_doc);
  }
}

}  // namespace fastann::bindings
