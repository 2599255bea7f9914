// args/optim.hpp: signatures and argument parsing of the fused optimizer steps, shared by fastann._cpu and
// fastann._cuda. Every step updates param and its state arrays IN PLACE (they come first), reads grad, and
// returns None. All arrays: C-contiguous, one float dtype, the shape of param, writeable except grad, and
// pairwise disjoint (param is grad, or two state arrays sharing memory, would give wrong values).
// Optional state (momentum buffers, AMSGrad's max, RMSprop's grad average) is None when unused.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "checks.hpp"

namespace fastann::bindings {

enum class OptimKind { sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax, nadam, lion, ftrl, adafactor };

struct OptimCall {
  OptimKind kind;
  FloatType ft;
  ArrayView param, grad;
  std::optional<ArrayView> s0, s1, s2;  // the state arrays in signature order (see each def below)
  int64_t n = 0, step = 0;
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0, beta1 = 0, beta2 = 0, eps = 0, rho = 0,
         mu_product = 0, lr_power = 0, l1 = 0, l2 = 0, l2_shrinkage = 0, beta = 0;
  bool nesterov = false;
  // Adafactor: param seen as (batch, rows, cols); factored for rank >= 2 (row_var, col_var), else variance.
  int64_t batch = 0, rows = 0, cols = 0;
  bool factored = false;
  double beta_2_decay = 0, epsilon_1 = 0, epsilon_2 = 0, clip_threshold = 0;
};

namespace optim_detail {

inline void check_lr(double lr, const char* op) {
  FASTANN_CHECK(std::isfinite(lr) && lr >= 0.0, op, ": lr must be finite and >= 0, got ", lr);
}
inline void check_unit(double v, const char* op, const char* name) {  // [0, 1)
  FASTANN_CHECK(v >= 0.0 && v < 1.0, op, ": ", name, " must be in [0, 1), got ", v);
}
inline void check_closed_unit(double v, const char* op, const char* name) {  // [0, 1]
  FASTANN_CHECK(v >= 0.0 && v <= 1.0, op, ": ", name, " must be in [0, 1], got ", v);
}
inline void check_nonneg(double v, const char* op, const char* name) {
  FASTANN_CHECK(std::isfinite(v) && v >= 0.0, op, ": ", name, " must be finite and >= 0, got ", v);
}
inline int64_t step_arg(const IntArg& s, const char* op) {
  const int64_t step = to_int64(s, op, "step");
  FASTANN_CHECK(step >= 1, op, ": step must be the 1-based step count (>= 1), got ", step);
  return step;
}

// param (writeable, non-empty) and grad.
inline void param_grad(OptimCall& c, Device dev, py::handle param, py::handle grad, const char* op) {
  c.param = leading(param, dev, &c.ft, op, "param", /*out=*/true);
  require_nonempty(c.param, op, "param");
  c.grad = input(grad, dev, c.ft, op, "grad");
  require_same_shape(c.grad, c.param, op, "grad", "param");
  c.n = c.param.size;
}
// A state array (writeable, param's dtype and shape); None allowed when !required.
inline std::optional<ArrayView> state(const OptimCall& c, Device dev, py::handle a, const char* op,
                                      const char* name, bool required = true) {
  if (!required && a.is_none()) return std::nullopt;
  ArrayView s = output(a, dev, c.ft, op, name);
  require_same_shape(s, c.param, op, name, "param");
  return s;
}
inline void disjoint(const OptimCall& c, const char* op, const char* n0 = "", const char* n1 = "",
                     const char* n2 = "") {
  require_disjoint(op, {{c.param, "param"}, {c.s0, n0}, {c.s1, n1}, {c.s2, n2}}, {{c.grad, "grad"}});
}

// The scalars of the Adam family (adam, adamw, adamax, nadam), converted and checked in one place: step >= 1,
// lr > 0, beta1 and beta2 in [0, 1), eps and weight_decay >= 0.
inline void adam_family_scalars(OptimCall& c, const char* op, const IntArg& step, const RealArg& lr,
                                const RealArg& beta1, const RealArg& beta2, const RealArg& eps,
                                const RealArg& weight_decay) {
  c.step = step_arg(step, op);
  c.lr = to_double(lr, op, "lr");
  c.beta1 = to_double(beta1, op, "beta1");
  c.beta2 = to_double(beta2, op, "beta2");
  c.eps = to_double(eps, op, "eps");
  c.weight_decay = to_double(weight_decay, op, "weight_decay");
  check_lr(c.lr, op);
  check_unit(c.beta1, op, "beta1");
  check_unit(c.beta2, op, "beta2");
  check_nonneg(c.eps, op, "eps");
  check_nonneg(c.weight_decay, op, "weight_decay");
}


// The entries of a multi-tensor step: element i of each list argument (a list or tuple of arrays, all of one
// length >= 1; TypeError / ValueError otherwise), named "<argument>[i]" in messages.
inline py::sequence entry_list(py::handle obj, const char* op, const char* name) {
  // An array in place of the list is named as such, not by its type, so _cpu and _cuda say the same.
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj))
    type_fail(std::string(op) + ": " + name + " must be a list of arrays, got " +
              (py::hasattr(obj, "shape") || py::hasattr(obj, "__cuda_array_interface__")
                   ? std::string("a single array")
                   : std::string(py::str(py::type::handle_of(obj).attr("__name__")))));
  return py::reinterpret_borrow<py::sequence>(obj);
}
// ValueError when an array written by one entry (param or state) shares memory with an array of another
// entry (the arrays of one entry are checked by disjoint()); grads may share memory with each other. Sorted
// by address, so the cost is n log n for n arrays.
struct Span {
  uintptr_t lo, hi;
  const char* name;
  bool written;
  size_t entry;
};
inline void entries_disjoint(std::vector<Span>& spans, const char* op) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.lo < b.lo; });
  for (size_t i = 0; i < spans.size(); ++i)
    for (size_t j = i + 1; j < spans.size() && spans[j].lo < spans[i].hi; ++j)
      if ((spans[i].written || spans[j].written) && spans[i].entry != spans[j].entry)
        fail(op, ": ", spans[i].name, " and ", spans[j].name, " share memory; every parameter needs its own "
             "param and state arrays");
}
inline Span span_of(const ArrayView& a, const char* name, bool written, size_t entry) {
  const auto lo = reinterpret_cast<uintptr_t>(a.data);
  return {lo, lo + static_cast<uintptr_t>(a.nbytes()), name, written, entry};
}

}  // namespace optim_detail

template <class Run>
void def_optim(py::module_& m, Device dev, Run run) {
  using namespace optim_detail;
  using py::arg;
  m.def("sgd_step", [dev, run](py::object param, py::object momentum_buffer, py::object grad, RealArg lr_,
                               RealArg momentum_, RealArg dampening_, bool nesterov, RealArg weight_decay_) {
    const char* op = "sgd_step";
    const double lr = to_double(lr_, op, "lr");
    const double momentum = to_double(momentum_, op, "momentum");
    const double dampening = to_double(dampening_, op, "dampening");
    const double weight_decay = to_double(weight_decay_, op, "weight_decay");
    OptimCall c;
    c.kind = OptimKind::sgd;
    param_grad(c, dev, param, grad, op);
    check_lr(lr, op);
    check_nonneg(momentum, op, "momentum");
    check_nonneg(weight_decay, op, "weight_decay");
    FASTANN_CHECK(dampening >= 0.0 && dampening <= 1.0, op, ": dampening must be in [0, 1], got ", dampening);
    FASTANN_CHECK(!nesterov || (momentum > 0.0 && dampening == 0.0), op,
                  ": nesterov needs momentum > 0 and dampening = 0, got momentum=", momentum, " dampening=",
                  dampening);
    if (momentum > 0.0) {
      FASTANN_CHECK(!momentum_buffer.is_none(), op, ": momentum=", momentum, " needs a momentum_buffer");
      c.s0 = state(c, dev, momentum_buffer, op, "momentum_buffer");
    }
    disjoint(c, op, "momentum_buffer");
    c.lr = lr, c.momentum = momentum, c.dampening = dampening, c.nesterov = nesterov, c.weight_decay = weight_decay;
    run(c);
  }, arg("param"), arg("momentum_buffer").none(true), arg("grad"), arg("lr"), arg("momentum") = 0.0,
  arg("dampening") = 0.0, arg("nesterov") = false, arg("weight_decay") = 0.0,
  "SGD step in place (torch.optim.SGD): g = grad + wd p; buf = momentum buf + (1 - dampening) g; "
  "g = g + momentum buf (nesterov) or buf; p -= lr g. momentum_buffer may be None when momentum == 0.");

  for (const bool decoupled : {false, true}) {
    const char* name = decoupled ? "adamw_step" : "adam_step";
    m.def(name, [dev, run, decoupled, name](py::object param, py::object exp_avg, py::object exp_avg_sq,
                                            py::object max_exp_avg_sq, py::object grad, IntArg step, RealArg lr_,
                                            RealArg beta1_, RealArg beta2_, RealArg eps_, RealArg weight_decay_) {
      const char* op = name;
      OptimCall c;
      c.kind = decoupled ? OptimKind::adamw : OptimKind::adam;
      param_grad(c, dev, param, grad, op);
      c.s0 = state(c, dev, exp_avg, op, "exp_avg");
      c.s1 = state(c, dev, exp_avg_sq, op, "exp_avg_sq");
      c.s2 = state(c, dev, max_exp_avg_sq, op, "max_exp_avg_sq", false);
      disjoint(c, op, "exp_avg", "exp_avg_sq", "max_exp_avg_sq");
      adam_family_scalars(c, op, step, lr_, beta1_, beta2_, eps_, weight_decay_);
      run(c);
    }, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("max_exp_avg_sq").none(true), arg("grad"), arg("step"),
    arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7,
    arg("weight_decay") = decoupled ? 0.004 : 0.0,
    decoupled ? "AdamW step in place (Loshchilov & Hutter 2019 / torch.optim.AdamW): p *= 1 - lr wd, then the Adam "
                "update with g = grad."
              : "Adam step in place (Kingma & Ba 2015 Alg. 1 / torch.optim.Adam, L2 weight decay): g = grad + wd p; "
                "m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; [AMSGrad: vmax = max(vmax, v), v = vmax]; "
                "p -= lr / (1-b1^t) * m / (sqrt(v / (1-b2^t)) + eps).");
  }

  // The same update on several parameters in ONE call (one call per training step instead of one per
  // parameter): entry i of params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs (a list, or None without AMSGrad)
  // and grads is what adam_step / adamw_step takes as param, exp_avg, exp_avg_sq, max_exp_avg_sq and grad,
  // checked as there; every array has params[0]'s dtype, and no array written for one entry shares memory
  // with an array of another. All checks pass before any array is written; the entries are then updated in
  // order, each exactly as its own adam_step / adamw_step call would.
  for (const bool decoupled : {false, true}) {
    const char* name = decoupled ? "adamw_step_multi" : "adam_step_multi";
    m.def(name, [dev, run, decoupled, name](py::object params_, py::object exp_avgs_, py::object exp_avg_sqs_,
                                            py::object max_exp_avg_sqs_, py::object grads_, IntArg step,
                                            RealArg lr_, RealArg beta1_, RealArg beta2_, RealArg eps_,
                                            RealArg weight_decay_) {
      const char* op = name;
      const py::sequence params = entry_list(params_, op, "params");
      const py::sequence exp_avgs = entry_list(exp_avgs_, op, "exp_avgs");
      const py::sequence exp_avg_sqs = entry_list(exp_avg_sqs_, op, "exp_avg_sqs");
      const py::sequence grads = entry_list(grads_, op, "grads");
      const bool amsgrad = !max_exp_avg_sqs_.is_none();
      const py::sequence vmaxes =
          amsgrad ? entry_list(max_exp_avg_sqs_, op, "max_exp_avg_sqs") : py::sequence(py::list());
      const size_t n = params.size();
      FASTANN_CHECK(n >= 1, op, ": params is empty (give at least one parameter)");
      FASTANN_CHECK(exp_avgs.size() == n && exp_avg_sqs.size() == n && grads.size() == n &&
                        (!amsgrad || vmaxes.size() == n),
                    op, ": params, exp_avgs, exp_avg_sqs, grads", amsgrad ? " and max_exp_avg_sqs" : "",
                    " must have one entry per parameter, got lengths ", n, ", ", exp_avgs.size(), ", ",
                    exp_avg_sqs.size(), ", ", grads.size(), amsgrad ? ", " + std::to_string(vmaxes.size()) : "");
      // The names live as long as the call (reserved up front: no reallocation moves them).
      std::vector<std::string> names;
      names.reserve(5 * n);
      auto named = [&](const char* what, size_t i) {
        names.push_back(std::string(what) + "[" + std::to_string(i) + "]");
        return names.back().c_str();
      };
      OptimCall first;
      first.kind = decoupled ? OptimKind::adamw : OptimKind::adam;
      adam_family_scalars(first, op, step, lr_, beta1_, beta2_, eps_, weight_decay_);
      std::vector<OptimCall> calls(n, first);
      std::vector<Span> spans;
      spans.reserve(5 * n);
      for (size_t i = 0; i < n; ++i) {
        OptimCall& c = calls[i];
        const char* pn = named("params", i);
        if (i == 0) {
          c.param = leading(params[i], dev, &c.ft, op, pn, /*out=*/true);
        } else {
          c.ft = calls[0].ft;
          c.param = output(params[i], dev, c.ft, op, pn);
        }
        require_nonempty(c.param, op, pn);
        const char* gn = named("grads", i);
        c.grad = input(grads[i], dev, c.ft, op, gn);
        require_same_shape(c.grad, c.param, op, gn, pn);
        c.n = c.param.size;
        const char* mn = named("exp_avgs", i);
        const char* vn = named("exp_avg_sqs", i);
        const char* xn = amsgrad ? named("max_exp_avg_sqs", i) : "max_exp_avg_sqs";
        c.s0 = output(exp_avgs[i], dev, c.ft, op, mn);
        require_same_shape(*c.s0, c.param, op, mn, pn);
        c.s1 = output(exp_avg_sqs[i], dev, c.ft, op, vn);
        require_same_shape(*c.s1, c.param, op, vn, pn);
        if (amsgrad) {
          c.s2 = output(vmaxes[i], dev, c.ft, op, xn);
          require_same_shape(*c.s2, c.param, op, xn, pn);
        }
        require_disjoint(op, {{c.param, pn}, {c.s0, mn}, {c.s1, vn}, {c.s2, xn}}, {{c.grad, gn}});
        spans.push_back(span_of(c.param, pn, true, i));
        spans.push_back(span_of(*c.s0, mn, true, i));
        spans.push_back(span_of(*c.s1, vn, true, i));
        if (amsgrad) spans.push_back(span_of(*c.s2, xn, true, i));
        spans.push_back(span_of(c.grad, gn, false, i));
      }
      if (n > 1) entries_disjoint(spans, op);
      for (const OptimCall& c : calls) run(c);
    }, arg("params"), arg("exp_avgs"), arg("exp_avg_sqs"), arg("max_exp_avg_sqs").none(true), arg("grads"),
    arg("step"), arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7,
    arg("weight_decay") = decoupled ? 0.004 : 0.0,
    decoupled ? "adamw_step on every entry of the lists (params[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i] "
                "or None, grads[i]) in one call; all arrays of one dtype, entries disjoint; checked before any "
                "update."
              : "adam_step on every entry of the lists (params[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i] "
                "or None, grads[i]) in one call; all arrays of one dtype, entries disjoint; checked before any "
                "update.");
  }

  m.def("rmsprop_step", [dev, run](py::object param, py::object square_avg, py::object momentum_buffer,
                                   py::object grad_avg, py::object grad, RealArg lr_, RealArg rho_, RealArg eps_,
                                   RealArg momentum_, RealArg weight_decay_) {
    const char* op = "rmsprop_step";
    const double lr = to_double(lr_, op, "lr");
    const double rho = to_double(rho_, op, "rho");
    const double eps = to_double(eps_, op, "eps");
    const double momentum = to_double(momentum_, op, "momentum");
    const double weight_decay = to_double(weight_decay_, op, "weight_decay");
    OptimCall c;
    c.kind = OptimKind::rmsprop;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, square_avg, op, "square_avg");
    check_lr(lr, op);
    check_unit(rho, op, "rho");
    check_nonneg(eps, op, "eps");
    check_nonneg(momentum, op, "momentum");
    check_nonneg(weight_decay, op, "weight_decay");
    if (momentum > 0.0) {
      FASTANN_CHECK(!momentum_buffer.is_none(), op, ": momentum=", momentum, " needs a momentum_buffer");
      c.s1 = state(c, dev, momentum_buffer, op, "momentum_buffer");
    }
    c.s2 = state(c, dev, grad_avg, op, "grad_avg", false);
    disjoint(c, op, "square_avg", "momentum_buffer", "grad_avg");
    c.lr = lr, c.rho = rho, c.eps = eps, c.momentum = momentum, c.weight_decay = weight_decay;
    run(c);
  }, arg("param"), arg("square_avg"), arg("momentum_buffer").none(true), arg("grad_avg").none(true), arg("grad"),
  arg("lr"), arg("rho") = 0.9, arg("eps") = 1e-7, arg("momentum") = 0.0, arg("weight_decay") = 0.0,
  "RMSprop step in place (torch.optim.RMSprop): g = grad + wd p; s = rho s + (1-rho) g^2; centered "
  "(grad_avg given): a = rho a + (1-rho) g, s' = s - a^2; d = g / (sqrt(s') + eps); momentum: "
  "buf = momentum buf + d, p -= lr buf; else p -= lr d.");

  m.def("adagrad_step", [dev, run](py::object param, py::object accumulator, py::object grad, RealArg lr_, RealArg eps_,
                                   RealArg weight_decay_) {
    const char* op = "adagrad_step";
    const double lr = to_double(lr_, op, "lr");
    const double eps = to_double(eps_, op, "eps");
    const double weight_decay = to_double(weight_decay_, op, "weight_decay");
    OptimCall c;
    c.kind = OptimKind::adagrad;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, accumulator, op, "accumulator");
    disjoint(c, op, "accumulator");
    check_lr(lr, op);
    check_nonneg(eps, op, "eps");
    check_nonneg(weight_decay, op, "weight_decay");
    c.lr = lr, c.eps = eps, c.weight_decay = weight_decay;
    run(c);
  }, arg("param"), arg("accumulator"), arg("grad"), arg("lr"), arg("eps") = 1e-7, arg("weight_decay") = 0.0,
  "Adagrad step in place (Duchi et al. 2011 / torch.optim.Adagrad): g = grad + wd p; acc += g^2; "
  "p -= lr g / (sqrt(acc) + eps).");

  m.def("adadelta_step", [dev, run](py::object param, py::object accum_grad, py::object accum_update,
                                    py::object grad, RealArg lr_, RealArg rho_, RealArg eps_, RealArg weight_decay_) {
    const char* op = "adadelta_step";
    const double lr = to_double(lr_, op, "lr");
    const double rho = to_double(rho_, op, "rho");
    const double eps = to_double(eps_, op, "eps");
    const double weight_decay = to_double(weight_decay_, op, "weight_decay");
    OptimCall c;
    c.kind = OptimKind::adadelta;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, accum_grad, op, "accum_grad");
    c.s1 = state(c, dev, accum_update, op, "accum_update");
    disjoint(c, op, "accum_grad", "accum_update");
    check_lr(lr, op);
    check_unit(rho, op, "rho");
    check_nonneg(eps, op, "eps");
    check_nonneg(weight_decay, op, "weight_decay");
    c.lr = lr, c.rho = rho, c.eps = eps, c.weight_decay = weight_decay;
    run(c);
  }, arg("param"), arg("accum_grad"), arg("accum_update"), arg("grad"), arg("lr") = 1.0, arg("rho") = 0.95,
  arg("eps") = 1e-7, arg("weight_decay") = 0.0,
  "Adadelta step in place (Zeiler 2012 / torch.optim.Adadelta): s = rho s + (1-rho) g^2; "
  "d = sqrt(u + eps) / sqrt(s + eps) g; u = rho u + (1-rho) d^2; p -= lr d.");

  m.def("adamax_step", [dev, run](py::object param, py::object exp_avg, py::object exp_inf, py::object grad,
                                  IntArg step, RealArg lr_, RealArg beta1_, RealArg beta2_, RealArg eps_,
                                  RealArg weight_decay_) {
    const char* op = "adamax_step";
    OptimCall c;
    c.kind = OptimKind::adamax;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, exp_avg, op, "exp_avg");
    c.s1 = state(c, dev, exp_inf, op, "exp_inf");
    disjoint(c, op, "exp_avg", "exp_inf");
    adam_family_scalars(c, op, step, lr_, beta1_, beta2_, eps_, weight_decay_);
    run(c);
  }, arg("param"), arg("exp_avg"), arg("exp_inf"), arg("grad"), arg("step"), arg("lr"), arg("beta1") = 0.9,
  arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
  "Adamax step in place (Kingma & Ba 2015 sec. 7.1 / torch.optim.Adamax): m = b1 m + (1-b1) g; "
  "u = max(b2 u, |g| + eps); p -= lr / (1-b1^t) m / u.");

  m.def("nadam_step", [dev, run](py::object param, py::object exp_avg, py::object exp_avg_sq, py::object grad,
                                 IntArg step, RealArg mu_product_, RealArg lr_, RealArg beta1_, RealArg beta2_, RealArg eps_,
                                 RealArg weight_decay_) {
    const char* op = "nadam_step";
    const double mu_product = to_double(mu_product_, op, "mu_product");
    OptimCall c;
    c.kind = OptimKind::nadam;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, exp_avg, op, "exp_avg");
    c.s1 = state(c, dev, exp_avg_sq, op, "exp_avg_sq");
    disjoint(c, op, "exp_avg", "exp_avg_sq");
    adam_family_scalars(c, op, step, lr_, beta1_, beta2_, eps_, weight_decay_);
    // 0 is valid: the product underflows for a small beta1 or a late step, and the rule divides by 1 - P
    // and 1 - P mu_{t+1} only.
    FASTANN_CHECK(mu_product >= 0.0 && mu_product < 1.0, op,
                  ": mu_product (the product of the momentum schedule mu_1..mu_step) must be in [0, 1), got ",
                  mu_product);
    c.mu_product = mu_product;
    run(c);
  }, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("grad"), arg("step"), arg("mu_product"), arg("lr"),
  arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
  "Nadam step in place (Dozat 2016; keras.optimizers.Nadam = torch.optim.NAdam): mu_t = b1 (1 - 0.5 "
  "0.96^(0.004 t)); m, v as Adam; p -= [lr (1-mu_t)/(1-P_t) g + lr mu_{t+1}/(1-P_t mu_{t+1}) m] / "
  "(sqrt(v/(1-b2^t)) + eps), P_t = mu_product = prod_{i<=t} mu_i (given by the caller).");
  m.def("lion_step", [dev, run](py::object param, py::object exp_avg, py::object grad, RealArg lr_, RealArg beta1_,
                                RealArg beta2_, RealArg weight_decay_) {
    const char* op = "lion_step";
    const double lr = to_double(lr_, op, "lr"), beta1 = to_double(beta1_, op, "beta1"),
                 beta2 = to_double(beta2_, op, "beta2"), weight_decay = to_double(weight_decay_, op, "weight_decay");
    OptimCall c;
    c.kind = OptimKind::lion;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, exp_avg, op, "exp_avg");
    disjoint(c, op, "exp_avg");
    check_lr(lr, op);
    check_closed_unit(beta1, op, "beta1");
    check_closed_unit(beta2, op, "beta2");
    check_nonneg(weight_decay, op, "weight_decay");
    c.lr = lr, c.beta1 = beta1, c.beta2 = beta2, c.weight_decay = weight_decay;
    run(c);
  }, arg("param"), arg("exp_avg"), arg("grad"), arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.99,
  arg("weight_decay") = 0.0,
  "Lion step in place (Chen et al. 2023 Alg. 2 / keras.optimizers.Lion): p = p (1 - lr wd) - lr sign(b1 m + "
  "(1-b1) g); m = b2 m + (1-b2) g.");

  m.def("ftrl_step", [dev, run](py::object param, py::object accumulator, py::object linear, py::object grad,
                                RealArg lr_, RealArg lr_power_, RealArg l1_, RealArg l2_, RealArg l2_shrinkage_,
                                RealArg beta_) {
    const char* op = "ftrl_step";
    const double lr = to_double(lr_, op, "lr"), lr_power = to_double(lr_power_, op, "lr_power"),
                 l1 = to_double(l1_, op, "l1"), l2 = to_double(l2_, op, "l2"),
                 l2_shrinkage = to_double(l2_shrinkage_, op, "l2_shrinkage"), beta = to_double(beta_, op, "beta");
    OptimCall c;
    c.kind = OptimKind::ftrl;
    param_grad(c, dev, param, grad, op);
    c.s0 = state(c, dev, accumulator, op, "accumulator");
    c.s1 = state(c, dev, linear, op, "linear");
    disjoint(c, op, "accumulator", "linear");
    FASTANN_CHECK(std::isfinite(lr) && lr > 0.0, op, ": lr must be finite and > 0, got ", lr);
    FASTANN_CHECK(std::isfinite(lr_power) && lr_power <= 0.0, op, ": lr_power must be finite and <= 0, got ",
                  lr_power);
    check_nonneg(l1, op, "l1");
    check_nonneg(l2, op, "l2");
    check_nonneg(l2_shrinkage, op, "l2_shrinkage");
    check_nonneg(beta, op, "beta");
    c.lr = lr, c.lr_power = lr_power, c.l1 = l1, c.l2 = l2, c.l2_shrinkage = l2_shrinkage, c.beta = beta;
    run(c);
  }, arg("param"), arg("accumulator"), arg("linear"), arg("grad"), arg("lr") = 1e-3, arg("lr_power") = -0.5,
  arg("l1") = 0.0, arg("l2") = 0.0, arg("l2_shrinkage") = 0.0, arg("beta") = 0.0,
  "FTRL-Proximal step in place (McMahan et al. 2013 / keras.optimizers.Ftrl): n' = n + g^2; s = (n'^-lr_power - "
  "n^-lr_power) / lr; z += g + 2 l2_shrinkage p - s p; q = n'^-lr_power / lr + 2 l2 + beta / lr; "
  "p = (clip(z, -l1, l1) - z) / q; n = n'.");

  m.def("adafactor_step", [dev, run](py::object param, py::object row_var, py::object col_var, py::object variance,
                                     py::object grad, IntArg step, RealArg lr_, RealArg beta_2_decay_,
                                     RealArg epsilon_1_, RealArg epsilon_2_, RealArg clip_threshold_) {
    const char* op = "adafactor_step";
    OptimCall c;
    c.kind = OptimKind::adafactor;
    param_grad(c, dev, param, grad, op);
    c.step = step_arg(step, op);
    const double lr = to_double(lr_, op, "lr"), beta_2_decay = to_double(beta_2_decay_, op, "beta_2_decay"),
                 epsilon_1 = to_double(epsilon_1_, op, "epsilon_1"), epsilon_2 = to_double(epsilon_2_, op, "epsilon_2"),
                 clip_threshold = to_double(clip_threshold_, op, "clip_threshold");
    check_lr(lr, op);
    FASTANN_CHECK(std::isfinite(beta_2_decay) && beta_2_decay <= 0.0, op,
                  ": beta_2_decay must be finite and <= 0 (beta_2 = 1 - step^beta_2_decay in [0, 1)), got ",
                  beta_2_decay);
    check_nonneg(epsilon_1, op, "epsilon_1");
    check_nonneg(epsilon_2, op, "epsilon_2");
    FASTANN_CHECK(std::isfinite(clip_threshold) && clip_threshold > 0.0, op,
                  ": clip_threshold must be finite and > 0, got ", clip_threshold);
    const int64_t nd = c.param.ndim();
    c.factored = nd >= 2;
    c.cols = c.factored ? c.param.shape[nd - 1] : c.n;
    c.rows = c.factored ? c.param.shape[nd - 2] : 1;
    c.batch = c.n / (c.rows * c.cols);
    if (c.factored) {
      FASTANN_CHECK(variance.is_none(), op, ": variance must be None for a parameter of rank >= 2 (its second "
                    "moment is factored into row_var and col_var), got param shape ", shape_str(c.param));
      std::vector<int64_t> rshape(c.param.shape.begin(), c.param.shape.end() - 1);
      std::vector<int64_t> cshape(c.param.shape.begin(), c.param.shape.end() - 2);
      cshape.push_back(c.cols);
      c.s0 = output(row_var, dev, c.ft, op, "row_var");
      require_shape(*c.s0, rshape, op, "row_var");
      c.s1 = output(col_var, dev, c.ft, op, "col_var");
      require_shape(*c.s1, cshape, op, "col_var");
    } else {
      FASTANN_CHECK(row_var.is_none() && col_var.is_none(), op, ": row_var and col_var must be None for a "
                    "parameter of rank < 2 (its second moment is the full variance), got param shape ",
                    shape_str(c.param));
      c.s2 = state(c, dev, variance, op, "variance");
    }
    disjoint(c, op, "row_var", "col_var", "variance");
    c.lr = lr, c.beta_2_decay = beta_2_decay, c.epsilon_1 = epsilon_1, c.epsilon_2 = epsilon_2;
    c.clip_threshold = clip_threshold;
    run(c);
  }, arg("param"), arg("row_var").none(true), arg("col_var").none(true), arg("variance").none(true), arg("grad"),
  arg("step"), arg("lr") = 1e-3, arg("beta_2_decay") = -0.8, arg("epsilon_1") = 1e-30, arg("epsilon_2") = 1e-3,
  arg("clip_threshold") = 1.0,
  "Adafactor step in place (Shazeer & Stern 2018 / keras.optimizers.Adafactor): rho = min(lr, 1/sqrt(t)), "
  "b2 = 1 - t^beta_2_decay, G = g^2 + epsilon_1; rank >= 2: row_var (param.shape[:-1]) = b2 row_var + (1-b2) "
  "mean(G, -1), col_var (param.shape[:-2] + param.shape[-1:]) = b2 col_var + (1-b2) mean(G, -2), v = row_var / "
  "mean(row_var, -1) outer col_var; else variance = b2 variance + (1-b2) G, v = variance; u = g / sqrt(v); "
  "p -= max(epsilon_2, rms(p)) rho u / max(1, rms(u) / clip_threshold).");
}

}  // namespace fastann::bindings
