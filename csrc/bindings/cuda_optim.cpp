// Bindings of the fused optimizer steps (csrc/cuda/optim.cu) into fastann._cuda: the same names, signatures,
// defaults and checks as fastann._cpu's, with CuPy arrays. Every step updates param and its state IN PLACE
// on the GPU (they come first), reads grad, and returns None. Optional state is None when unused.
#include <cmath>

#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/optim.hpp"

namespace fastann::cudabind {

namespace {

struct ParamGrad {
  DType dt;
  DeviceArray param, grad;
};

ParamGrad check_param_grad(py::handle param_, py::handle grad_, const char* op) {
  ParamGrad pg;
  pg.param = first_array(param_, &pg.dt, op, "param", true);
  if (pg.param.size == 0) fail(op, ": param is empty (shape ", shape_str(pg.param), ")");
  pg.grad = in_array(grad_, pg.dt, op, "grad");
  require_same_shape(pg.grad, pg.param, op, "grad", "param");
  return pg;
}

// A state array: writeable, param's dtype and shape.
DeviceArray state(py::handle a, const ParamGrad& pg, const char* op, const char* name) {
  DeviceArray s = out_array(a, pg.dt, op, name);
  require_same_shape(s, pg.param, op, name, "param");
  return s;
}
// Optional state: nullptr for None.
void* opt_state(py::handle a, const ParamGrad& pg, const char* op, const char* name) {
  if (a.is_none()) return nullptr;
  return state(a, pg, op, name).data;
}

void check_lr(double lr, const char* op) {
  FASTANN_CHECK(std::isfinite(lr) && lr >= 0.0, op, ": lr must be finite and >= 0, got ", lr);
}
void check_unit(double v, const char* op, const char* name) {
  FASTANN_CHECK(v >= 0.0 && v < 1.0, op, ": ", name, " must be in [0, 1), got ", v);
}
void check_nonneg(double v, const char* op, const char* name) {
  FASTANN_CHECK(std::isfinite(v) && v >= 0.0, op, ": ", name, " must be finite and >= 0, got ", v);
}
void check_step(int64_t step, const char* op) {
  FASTANN_CHECK(step >= 1, op, ": step must be the 1-based step count (>= 1), got ", step);
}

void sgd_step(py::object param_, py::object momentum_buffer_, py::object grad_, double lr, double momentum,
              double dampening, bool nesterov, double weight_decay) {
  const char* op = "sgd_step";
  ParamGrad pg = check_param_grad(param_, grad_, op);
  check_lr(lr, op);
  check_nonneg(momentum, op, "momentum");
  check_nonneg(weight_decay, op, "weight_decay");
  FASTANN_CHECK(dampening >= 0.0 && dampening <= 1.0, op, ": dampening must be in [0, 1], got ", dampening);
  FASTANN_CHECK(!nesterov || (momentum > 0.0 && dampening == 0.0), op,
                ": nesterov needs momentum > 0 and dampening = 0, got momentum=", momentum, " dampening=", dampening);
  void* buf = nullptr;
  if (momentum > 0.0) {
    FASTANN_CHECK(!momentum_buffer_.is_none(), op, ": momentum=", momentum, " needs a momentum_buffer");
    buf = state(momentum_buffer_, pg, op, "momentum_buffer").data;
  }
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::sgd_step<T>(pg.param.ptr<T>(), static_cast<T*>(buf), pg.grad.ptr<T>(), pg.param.size, lr, momentum,
                      dampening, nesterov, weight_decay, s);
  });
}

void adam_like(py::object param_, py::object exp_avg_, py::object exp_avg_sq_, py::object max_exp_avg_sq_,
               py::object grad_, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
               bool decoupled, const char* op) {
  ParamGrad pg = check_param_grad(param_, grad_, op);
  DeviceArray m = state(exp_avg_, pg, op, "exp_avg");
  DeviceArray v = state(exp_avg_sq_, pg, op, "exp_avg_sq");
  void* vmax = opt_state(max_exp_avg_sq_, pg, op, "max_exp_avg_sq");
  check_step(step, op);
  check_lr(lr, op);
  check_unit(beta1, op, "beta1");
  check_unit(beta2, op, "beta2");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::adam_step<T>(pg.param.ptr<T>(), m.ptr<T>(), v.ptr<T>(), static_cast<T*>(vmax), pg.grad.ptr<T>(),
                       pg.param.size, step, lr, beta1, beta2, eps, weight_decay, decoupled, s);
  });
}

void rmsprop_step(py::object param_, py::object square_avg_, py::object momentum_buffer_, py::object grad_avg_,
                  py::object grad_, double lr, double rho, double eps, double momentum, double weight_decay) {
  const char* op = "rmsprop_step";
  ParamGrad pg = check_param_grad(param_, grad_, op);
  DeviceArray sq = state(square_avg_, pg, op, "square_avg");
  check_lr(lr, op);
  check_unit(rho, op, "rho");
  check_nonneg(eps, op, "eps");
  check_nonneg(momentum, op, "momentum");
  check_nonneg(weight_decay, op, "weight_decay");
  void* buf = nullptr;
  if (momentum > 0.0) {
    FASTANN_CHECK(!momentum_buffer_.is_none(), op, ": momentum=", momentum, " needs a momentum_buffer");
    buf = state(momentum_buffer_, pg, op, "momentum_buffer").data;
  }
  void* ga = opt_state(grad_avg_, pg, op, "grad_avg");
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::rmsprop_step<T>(pg.param.ptr<T>(), sq.ptr<T>(), static_cast<T*>(buf), static_cast<T*>(ga), pg.grad.ptr<T>(),
                          pg.param.size, lr, rho, eps, momentum, weight_decay, s);
  });
}

void adagrad_step(py::object param_, py::object accumulator_, py::object grad_, double lr, double eps,
                  double weight_decay) {
  const char* op = "adagrad_step";
  ParamGrad pg = check_param_grad(param_, grad_, op);
  DeviceArray acc = state(accumulator_, pg, op, "accumulator");
  check_lr(lr, op);
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::adagrad_step<T>(pg.param.ptr<T>(), acc.ptr<T>(), pg.grad.ptr<T>(), pg.param.size, lr, eps, weight_decay, s);
  });
}

void adadelta_step(py::object param_, py::object accum_grad_, py::object accum_update_, py::object grad_, double lr,
                   double rho, double eps, double weight_decay) {
  const char* op = "adadelta_step";
  ParamGrad pg = check_param_grad(param_, grad_, op);
  DeviceArray sq = state(accum_grad_, pg, op, "accum_grad");
  DeviceArray ad = state(accum_update_, pg, op, "accum_update");
  check_lr(lr, op);
  check_unit(rho, op, "rho");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::adadelta_step<T>(pg.param.ptr<T>(), sq.ptr<T>(), ad.ptr<T>(), pg.grad.ptr<T>(), pg.param.size, lr, rho, eps,
                           weight_decay, s);
  });
}

void adamax_step(py::object param_, py::object exp_avg_, py::object exp_inf_, py::object grad_, int64_t step,
                 double lr, double beta1, double beta2, double eps, double weight_decay) {
  const char* op = "adamax_step";
  ParamGrad pg = check_param_grad(param_, grad_, op);
  DeviceArray m = state(exp_avg_, pg, op, "exp_avg");
  DeviceArray u = state(exp_inf_, pg, op, "exp_inf");
  check_step(step, op);
  check_lr(lr, op);
  check_unit(beta1, op, "beta1");
  check_unit(beta2, op, "beta2");
  check_nonneg(eps, op, "eps");
  check_nonneg(weight_decay, op, "weight_decay");
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::adamax_step<T>(pg.param.ptr<T>(), m.ptr<T>(), u.ptr<T>(), pg.grad.ptr<T>(), pg.param.size, step, lr, beta1,
                         beta2, eps, weight_decay, s);
  });
}

void nadam_step(py::object param_, py::object exp_avg_, py::object exp_avg_sq_, py::object grad_, int64_t step,
                double mu_product, double lr, double beta1, double beta2, double eps, double weight_decay) {
  const char* op = "nadam_step";
  ParamGrad pg = check_param_grad(param_, grad_, op);
  DeviceArray m = state(exp_avg_, pg, op, "exp_avg");
  DeviceArray v = state(exp_avg_sq_, pg, op, "exp_avg_sq");
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
  cudaStream_t s = current_stream(param_);
  nogil g;
  dispatch_float(pg.dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::nadam_step<T>(pg.param.ptr<T>(), m.ptr<T>(), v.ptr<T>(), pg.grad.ptr<T>(), pg.param.size, step, lr, beta1,
                        beta2, eps, weight_decay, mu_product, s);
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  using py::arg;
  m.def("sgd_step", &sgd_step, arg("param"), arg("momentum_buffer").none(true), arg("grad"), arg("lr"),
        arg("momentum") = 0.0, arg("dampening") = 0.0, arg("nesterov") = false, arg("weight_decay") = 0.0,
        "SGD step in place on the GPU (torch.optim.SGD); same rule and checks as fastann._cpu.sgd_step.");
  m.def("adam_step", [](py::object param, py::object exp_avg, py::object exp_avg_sq, py::object max_exp_avg_sq,
                        py::object grad, int64_t step, double lr, double beta1, double beta2, double eps,
                        double weight_decay) {
    adam_like(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, step, lr, beta1, beta2, eps, weight_decay, false,
              "adam_step");
  }, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("max_exp_avg_sq").none(true), arg("grad"), arg("step"),
  arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
  "Adam step in place on the GPU (Kingma & Ba 2015 / torch.optim.Adam, L2 weight decay, optional AMSGrad).");
  m.def("adamw_step", [](py::object param, py::object exp_avg, py::object exp_avg_sq, py::object max_exp_avg_sq,
                         py::object grad, int64_t step, double lr, double beta1, double beta2, double eps,
                         double weight_decay) {
    adam_like(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, step, lr, beta1, beta2, eps, weight_decay, true,
              "adamw_step");
  }, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("max_exp_avg_sq").none(true), arg("grad"), arg("step"),
  arg("lr") = 1e-3, arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.004,
  "AdamW step in place on the GPU (Loshchilov & Hutter 2019): p *= 1 - lr wd, then the Adam update.");
  m.def("rmsprop_step", &rmsprop_step, arg("param"), arg("square_avg"), arg("momentum_buffer").none(true),
        arg("grad_avg").none(true), arg("grad"), arg("lr"), arg("rho") = 0.9, arg("eps") = 1e-7,
        arg("momentum") = 0.0, arg("weight_decay") = 0.0,
        "RMSprop step in place on the GPU (torch.optim.RMSprop; centered when grad_avg is given).");
  m.def("adagrad_step", &adagrad_step, arg("param"), arg("accumulator"), arg("grad"), arg("lr"), arg("eps") = 1e-7,
        arg("weight_decay") = 0.0, "Adagrad step in place on the GPU (Duchi et al. 2011 / torch.optim.Adagrad).");
  m.def("adadelta_step", &adadelta_step, arg("param"), arg("accum_grad"), arg("accum_update"), arg("grad"),
        arg("lr") = 1.0, arg("rho") = 0.95, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
        "Adadelta step in place on the GPU (Zeiler 2012 / torch.optim.Adadelta).");
  m.def("adamax_step", &adamax_step, arg("param"), arg("exp_avg"), arg("exp_inf"), arg("grad"), arg("step"),
        arg("lr"), arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7, arg("weight_decay") = 0.0,
        "Adamax step in place on the GPU (Kingma & Ba 2015 sec. 7.1 / torch.optim.Adamax).");
  m.def("nadam_step", &nadam_step, arg("param"), arg("exp_avg"), arg("exp_avg_sq"), arg("grad"), arg("step"),
        arg("mu_product"), arg("lr"), arg("beta1") = 0.9, arg("beta2") = 0.999, arg("eps") = 1e-7,
        arg("weight_decay") = 0.0,
        "Nadam step in place on the GPU (Dozat 2016; keras.optimizers.Nadam = torch.optim.NAdam); mu_product = "
        "prod_{i<=step} mu_i from the caller.");
  m.def("nadam_mu", &cuda::nadam_mu, arg("beta1"), arg("t"),
        "mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule.");
}

}  // namespace fastann::cudabind
