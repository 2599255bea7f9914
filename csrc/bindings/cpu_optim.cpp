// Bindings of the fused optimizer steps (csrc/cpu/optim.cpp) into fastann._cpu.
//
// Every step updates param and its state arrays IN PLACE (they come first, as outputs), reads grad, and
// returns None. All arrays: C-contiguous, writeable (except grad), one float dtype, the shape of param.
// Optional state (momentum buffers, AMSGrad's max, RMSprop's grad average) is None when unused.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "dense_utils.hpp"
#include "fastann/cpu/optim.hpp"

#include <cmath>
#include <optional>

#include <pybind11/stl.h>

namespace fastann::bind {

namespace {

using OptArray = std::optional<py::array>;

// param (writeable) and grad; returns the dtype.
DType check_param_grad(const py::array& param, const py::array& grad, const char* op) {
  const DType dt = float_dtype(param, op, "param");
  check_out(param, dt, op, "param");
  require_nonempty(param, op, "param");
  check_in(grad, dt, op, "grad");
  require_same_shape(grad, param, op, "grad", "param");
  return dt;
}

// A state array: writeable, param's dtype and shape.
void check_state(const py::array& a, const py::array& param, DType dt, const char* op, const char* name) {
  check_out(a, dt, op, name);
  require_same_shape(a, param, op, name, "param");
}

void check_lr(double lr, const char* op) {
  FASTANN_CHECK(std::isfinite(lr) && lr >= 0.0, op, ": lr must be finite and >= 0, got ", lr);
}
void check_unit(double v, const char* op, const char* name) {  // [0, 1)
  FASTANN_CHECK(v >= 0.0 && v < 1.0, op, ": ", name, " must be in [0, 1), got ", v);
}
void check_nonneg(double v, const char* op, const char* name) {
  FASTANN_CHECK(std::isfinite(v) && v >= 0.0, op, ": ", name, " must be finite and >= 0, got ", v);
}
void check_step(int64_t step, const char* op) {
  FASTANN_CHECK(step >= 1, op, ": step must be the 1-based step count (>= 1), got ", step);
}

void sgd_step(py::array param, OptArray momentum_buffer, py::array grad, double lr, double momentum,
              double dampening, bool nesterov, double weight_decay) {
  const char* op = "sgd_step";
  const DType dt = check_param_grad(param, grad, op);
  check_lr(lr, op);
  check_nonneg(momentum, op, "momentum");
  check_nonneg(weight_decay, op, "weight_decay");
  FASTANN_CHECK(dampening >= 0.0 && dampening <= 1.0, op, ": dampening must be in [0, 1], got ", dampening);
  FASTANN_CHECK(!nesterov || (momentum > 0.0 && dampening == 0.0), op,
                ": nesterov needs momentum > 0 and dampening = 0, got momentum=", momentum, " dampening=", dampening);
  if (momentum > 0.0) {
    FASTANN_CHECK(momentum_buffer.has_value(), op, ": momentum=", momentum, " needs a momentum_buffer");
    check_state(*momentum_buffer, param, dt, op, "momentum_buffer");
  }
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* buf = momentum > 0.0 ? opt_ptr<T>(momentum_buffer) : nullptr;
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::sgd_step<T>(p, buf, g, n, lr, momentum, dampening, nesterov, weight_decay);
  });
}

void adam_like(py::array param, py::array exp_avg, py::array exp_avg_sq, OptArray max_exp_avg_sq, py::array grad,
               int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
               bool decoupled, const char* op) {
  const DType dt = check_param_grad(param, grad, op);
  check_state(exp_avg, param, dt, op, "exp_avg");
  check_state(exp_avg_sq, param, dt, op, "exp_avg_sq");
  if (max_exp_avg_sq) check_state(*max_exp_avg_sq, param, dt, op, "max_exp_avg_sq");
  check_step(step, op);
  check_lr(lr, op);
  check_unit(beta1, op, "beta1");
  check_unit(beta2, op, "beta2");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* m = mptr<T>(exp_avg);
    T* v = mptr<T>(exp_avg_sq);
    T* vmax = opt_ptr<T>(max_exp_avg_sq);
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::adam_step<T>(p, m, v, vmax, g, n, step, lr, beta1, beta2, eps, weight_decay, decoupled);
  });
}

void rmsprop_step(py::array param, py::array square_avg, OptArray momentum_buffer, OptArray grad_avg,
                  py::array grad, double lr, double rho, double eps, double momentum, double weight_decay) {
  const char* op = "rmsprop_step";
  const DType dt = check_param_grad(param, grad, op);
  check_state(square_avg, param, dt, op, "square_avg");
  check_lr(lr, op);
  check_unit(rho, op, "rho");
  check_nonneg(eps, op, "eps");
  check_nonneg(momentum, op, "momentum");
  check_nonneg(weight_decay, op, "weight_decay");
  if (momentum > 0.0) {
    FASTANN_CHECK(momentum_buffer.has_value(), op, ": momentum=", momentum, " needs a momentum_buffer");
    check_state(*momentum_buffer, param, dt, op, "momentum_buffer");
  }
  if (grad_avg) check_state(*grad_avg, param, dt, op, "grad_avg");
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* sq = mptr<T>(square_avg);
    T* buf = momentum > 0.0 ? opt_ptr<T>(momentum_buffer) : nullptr;
    T* ga = opt_ptr<T>(grad_avg);
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::rmsprop_step<T>(p, sq, buf, ga, g, n, lr, rho, eps, momentum, weight_decay);
  });
}

void adagrad_step(py::array param, py::array accumulator, py::array grad, double lr, double eps,
                  double weight_decay) {
  const char* op = "adagrad_step";
  const DType dt = check_param_grad(param, grad, op);
  check_state(accumulator, param, dt, op, "accumulator");
  check_lr(lr, op);
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* acc = mptr<T>(accumulator);
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::adagrad_step<T>(p, acc, g, n, lr, eps, weight_decay);
  });
}

void adadelta_step(py::array param, py::array accum_grad, py::array accum_update, py::array grad, double lr,
                   double rho, double eps, double weight_decay) {
  const char* op = "adadelta_step";
  const DType dt = check_param_grad(param, grad, op);
  check_state(accum_grad, param, dt, op, "accum_grad");
  check_state(accum_update, param, dt, op, "accum_update");
  check_lr(lr, op);
  check_unit(rho, op, "rho");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* sq = mptr<T>(accum_grad);
    T* ad = mptr<T>(accum_update);
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::adadelta_step<T>(p, sq, ad, g, n, lr, rho, eps, weight_decay);
  });
}

void adamax_step(py::array param, py::array exp_avg, py::array exp_inf, py::array grad, int64_t step, double lr,
                 double beta1, double beta2, double eps, double weight_decay) {
  const char* op = "adamax_step";
  const DType dt = check_param_grad(param, grad, op);
  check_state(exp_avg, param, dt, op, "exp_avg");
  check_state(exp_inf, param, dt, op, "exp_inf");
  check_step(step, op);
  check_lr(lr, op);
  check_unit(beta1, op, "beta1");
  check_unit(beta2, op, "beta2");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* m = mptr<T>(exp_avg);
    T* u = mptr<T>(exp_inf);
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::adamax_step<T>(p, m, u, g, n, step, lr, beta1, beta2, eps, weight_decay);
  });
}

void nadam_step(py::array param, py::array exp_avg, py::array exp_avg_sq, py::array grad, int64_t step,
                double mu_product, double lr, double beta1, double beta2, double eps, double weight_decay) {
  const char* op = "nadam_step";
  const DType dt = check_param_grad(param, grad, op);
  check_state(exp_avg, param, dt, op, "exp_avg");
  check_state(exp_avg_sq, param, dt, op, "exp_avg_sq");
  check_step(step, op);
  check_lr(lr, op);
  check_unit(beta1, op, "beta1");
  check_unit(beta2, op, "beta2");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  // 0 is valid: the product underflows for a small beta1 or a late step, and the rule divides by 1 - P
  // and 1 - P mu_{t+1} only.
  FASTANN_CHECK(mu_product >= 0.0 && mu_product < 1.0, op,
                ": mu_product (the product of the momentum schedule mu_1..mu_step) must be in [0, 1), got ",
                mu_product);
  const int64_t n = param.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = mptr<T>(param);
    T* m = mptr<T>(exp_avg);
    T* v = mptr<T>(exp_avg_sq);
    const T* g = cptr<T>(grad);
    nogil gil;
    cpu::nadam_step<T>(p, m, v, g, n, step, lr, beta1, beta2, eps, weight_decay, mu_product);
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  using py::arg;
  m.def("sgd_step", &sgd_step, arg("param"), arg("momentum_buffer").none(true), arg("grad"), arg("lr"),
        arg("momentum") = 0.0, arg("dampening") = 0.0, arg("nesterov") = false, arg("weight_decay") = 0.0,
        "SGD step in place (torch.optim.SGD): g = grad + wd p; buf = momentum buf + (1 - dampening) g; "
        "g = g + momentum buf (nesterov) or buf; p -= lr g. momentum_buffer may be None when momentum == 0.");
  m.def("adam_step", [](py::array param, py::array exp_avg, py::array exp_avg_sq, OptArray max_exp_avg_sq,
                        py::array grad, int64_t step, double lr, double beta1, double beta2, double eps,
                        double weight_decay) {
    adam_like(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, step, lr, beta1, beta2, eps, weight_decay, false,
              "adam_step");
  }, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("max_exp_avg_sq").none(true), arg("grad"), arg("step"),
  arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
  "Adam step in place (Kingma & Ba 2015 Alg. 1 / torch.optim.Adam, L2 weight decay): g = grad + wd p; "
  "m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; [AMSGrad: vmax = max(vmax, v), v = vmax]; "
  "p -= lr / (1-b1^t) * m / (sqrt(v / (1-b2^t)) + eps).");
  m.def("adamw_step", [](py::array param, py::array exp_avg, py::array exp_avg_sq, OptArray max_exp_avg_sq,
                         py::array grad, int64_t step, double lr, double beta1, double beta2, double eps,
                         double weight_decay) {
    adam_like(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, step, lr, beta1, beta2, eps, weight_decay, true,
              "adamw_step");
  }, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("max_exp_avg_sq").none(true), arg("grad"), arg("step"),
  arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.004,
  "AdamW step in place (Loshchilov & Hutter 2019 / torch.optim.AdamW): p *= 1 - lr wd, then the Adam "
  "update with g = grad.");
  m.def("rmsprop_step", &rmsprop_step, arg("param"), arg("square_avg"), arg("momentum_buffer").none(true),
        arg("grad_avg").none(true), arg("grad"), arg("lr"), arg("rho") = 0.9, arg("eps") = 1e-7,
        arg("momentum") = 0.0, arg("weight_decay") = 0.0,
        "RMSprop step in place (torch.optim.RMSprop): g = grad + wd p; s = rho s + (1-rho) g^2; centered "
        "(grad_avg given): a = rho a + (1-rho) g, s' = s - a^2; d = g / (sqrt(s') + eps); momentum: "
        "buf = momentum buf + d, p -= lr buf; else p -= lr d.");
  m.def("adagrad_step", &adagrad_step, arg("param"), arg("accumulator"), arg("grad"), arg("lr"), arg("eps") = 1e-7,
        arg("weight_decay") = 0.0,
        "Adagrad step in place (Duchi et al. 2011 / torch.optim.Adagrad): g = grad + wd p; acc += g^2; "
        "p -= lr g / (sqrt(acc) + eps).");
  m.def("adadelta_step", &adadelta_step, arg("param"), arg("accum_grad"), arg("accum_update"), arg("grad"),
        arg("lr") = 1.0, arg("rho") = 0.95, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
        "Adadelta step in place (Zeiler 2012 / torch.optim.Adadelta): s = rho s + (1-rho) g^2; "
        "d = sqrt(u + eps) / sqrt(s + eps) g; u = rho u + (1-rho) d^2; p -= lr d.");
  m.def("adamax_step", &adamax_step, arg("param"), arg("exp_avg"), arg("exp_inf"), arg("grad"), arg("step"),
        arg("lr"), arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
        "Adamax step in place (Kingma & Ba 2015 sec. 7.1 / torch.optim.Adamax): m = b1 m + (1-b1) g; "
        "u = max(b2 u, |g| + eps); p -= lr / (1-b1^t) m / u.");
  m.def("nadam_step", &nadam_step, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("grad"), arg("step"),
        arg("mu_product"), arg("lr"), arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7,
        arg("weight_decay") = 0.0,
        "Nadam step in place (Dozat 2016; keras.optimizers.Nadam = torch.optim.NAdam): mu_t = b1 (1 - 0.5 "
        "0.96^(0.004 t)); m, v as Adam; p -= [lr (1-mu_t)/(1-P_t) g + lr mu_{t+1}/(1-P_t mu_{t+1}) m] / "
        "(sqrt(v/(1-b2^t)) + eps), P_t = mu_product = prod_{i<=t} mu_i (given by the caller).");
  m.def("nadam_mu", &cpu::nadam_mu, arg("beta1"), arg("t"),
        "mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule.");
}

}  // namespace fastann::bind
