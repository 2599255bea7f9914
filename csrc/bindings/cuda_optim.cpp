// cuda_optim.cpp: the fused optimizer steps of fastann._cuda; signatures and checks in args/optim.hpp,
// launchers in csrc/cuda/optim.cu.
#include "args/optim.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/optim.hpp"

namespace fastann::bindings {

void bind_optim(py::module_& m) {
  def_optim(m, Device::cuda, [](const OptimCall& c) {
    cudaStream_t s = current_stream(c.param.obj);
    nogil release;
    dispatch_float(c.ft, [&](auto tag) {
      using T = decltype(tag);
      T* p = c.param.ptr<T>();
      const T* g = c.grad.ptr<const T>();
      T *s0 = ptr_or_null<T>(c.s0), *s1 = ptr_or_null<T>(c.s1), *s2 = ptr_or_null<T>(c.s2);
      switch (c.kind) {
        case OptimKind::sgd:
          cuda::sgd_step<T>(p, s0, g, c.n, c.lr, c.momentum, c.dampening, c.nesterov, c.weight_decay, s);
          break;
        case OptimKind::adam:
        case OptimKind::adamw:
          cuda::adam_step<T>(p, s0, s1, s2, g, c.n, c.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay,
                             c.kind == OptimKind::adamw, s);
          break;
        case OptimKind::rmsprop:
          cuda::rmsprop_step<T>(p, s0, s1, s2, g, c.n, c.lr, c.rho, c.eps, c.momentum, c.weight_decay, s);
          break;
        case OptimKind::adagrad: cuda::adagrad_step<T>(p, s0, g, c.n, c.lr, c.eps, c.weight_decay, s); break;
        case OptimKind::adadelta:
          cuda::adadelta_step<T>(p, s0, s1, g, c.n, c.lr, c.rho, c.eps, c.weight_decay, s);
          break;
        case OptimKind::adamax:
          cuda::adamax_step<T>(p, s0, s1, g, c.n, c.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, s);
          break;
        case OptimKind::nadam:
          cuda::nadam_step<T>(p, s0, s1, g, c.n, c.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, c.mu_product,
                              s);
          break;
        case OptimKind::lion:
          cuda::lion_step<T>(p, s0, g, c.n, c.lr, c.beta1, c.beta2, c.weight_decay, s);
          break;
        case OptimKind::ftrl:
          cuda::ftrl_step<T>(p, s0, s1, g, c.n, c.lr, c.lr_power, c.l1, c.l2, c.l2_shrinkage, c.beta, s);
          break;
        case OptimKind::adafactor:
          cuda::adafactor_step<T>(p, s0, s1, s2, g, c.batch, c.rows, c.cols, c.factored, c.step, c.lr,
                                  c.beta_2_decay, c.epsilon_1, c.epsilon_2, c.clip_threshold, s);
          break;
      }
    });
  });
  m.def("nadam_mu", &cuda::nadam_mu, py::arg("beta1"), py::arg("t"),
        "mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule.");
}

}  // namespace fastann::bindings
