// cpu_optim.cpp: the fused optimizer steps of fastann._cpu; signatures and checks in args/optim.hpp, kernels
// in csrc/cpu/optim*.cpp.
#include "args/optim.hpp"
#include "families.hpp"
#include "fastann/cpu/optim.hpp"

namespace fastann::bindings {

void bind_optim(py::module_& m) {
  def_optim(m, Device::cpu, [](const OptimCall& c) {
    dispatch_float(c.ft, [&](auto tag) {
      using T = decltype(tag);
      T* p = c.param.ptr<T>();
      const T* g = c.grad.ptr<const T>();
      T *s0 = ptr_or_null<T>(c.s0), *s1 = ptr_or_null<T>(c.s1), *s2 = ptr_or_null<T>(c.s2);
      nogil release;
      switch (c.kind) {
        case OptimKind::sgd:
          cpu::sgd_step<T>(p, s0, g, c.n, c.lr, c.momentum, c.dampening, c.nesterov, c.weight_decay);
          break;
        case OptimKind::adam:
        case OptimKind::adamw:
          cpu::adam_step<T>(p, s0, s1, s2, g, c.n, c.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay,
                            c.kind == OptimKind::adamw);
          break;
        case OptimKind::rmsprop:
          cpu::rmsprop_step<T>(p, s0, s1, s2, g, c.n, c.lr, c.rho, c.eps, c.momentum, c.weight_decay);
          break;
        case OptimKind::adagrad: cpu::adagrad_step<T>(p, s0, g, c.n, c.lr, c.eps, c.weight_decay); break;
        case OptimKind::adadelta: cpu::adadelta_step<T>(p, s0, s1, g, c.n, c.lr, c.rho, c.eps, c.weight_decay); break;
        case OptimKind::adamax:
          cpu::adamax_step<T>(p, s0, s1, g, c.n, c.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay);
          break;
        case OptimKind::nadam:
          cpu::nadam_step<T>(p, s0, s1, g, c.n, c.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, c.mu_product);
          break;
        case OptimKind::lion:
          cpu::lion_step<T>(p, s0, g, c.n, c.lr, c.beta1, c.beta2, c.weight_decay);
          break;
        case OptimKind::ftrl:
          cpu::ftrl_step<T>(p, s0, s1, g, c.n, c.lr, c.lr_power, c.l1, c.l2, c.l2_shrinkage, c.beta);
          break;
        case OptimKind::adafactor:
          cpu::adafactor_step<T>(p, s0, s1, s2, g, c.batch, c.rows, c.cols, c.factored, c.step, c.lr,
                                 c.beta_2_decay, c.epsilon_1, c.epsilon_2, c.clip_threshold);
          break;
      }
    });
  });
  m.def("nadam_mu", &cpu::nadam_mu, py::arg("beta1"), py::arg("t"),
        "mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule.");
}

}  // namespace fastann::bindings
