// cpu_loss.cpp: the loss family of fastann._cpu; signatures and checks in args/loss.hpp, kernels in
// csrc/cpu/loss.cpp. Integer labels are range-checked here (a host loop) after the other checks, and the
// first bad one is named.
#include <type_traits>

#include "args/loss.hpp"
#include "families.hpp"
#include "fastann/cpu/loss.hpp"

namespace fastann::bindings {

void bind_loss(py::module_& m) {
  def_elementwise_losses(m, Device::cpu, [](const ElementwiseLossCall& c) {
    dispatch_float(c.ft, [&](auto tag) {
      using T = decltype(tag);
      T* o = c.out.ptr<T>();
      const T* x = c.input.ptr<const T>();
      const T* t = c.target.ptr<const T>();
      const int64_t n = c.n;
      nogil release;
      switch (c.loss) {
        case ElementwiseLoss::mse:
          if (c.backward) cpu::mse_loss_backward(o, x, t, n, c.grad_output);
          else cpu::mse_loss_forward(o, x, t, n);
          break;
        case ElementwiseLoss::l1:
          if (c.backward) cpu::l1_loss_backward(o, x, t, n, c.grad_output);
          else cpu::l1_loss_forward(o, x, t, n);
          break;
        case ElementwiseLoss::bce:
          if (c.backward) cpu::binary_cross_entropy_backward(o, x, t, n, c.eps, c.grad_output);
          else cpu::binary_cross_entropy_forward(o, x, t, n, c.eps);
          break;
        case ElementwiseLoss::bce_with_logits:
          if (c.backward) cpu::binary_cross_entropy_with_logits_backward(o, x, t, n, c.grad_output);
          else cpu::binary_cross_entropy_with_logits_forward(o, x, t, n);
          break;
        case ElementwiseLoss::huber:
          if (c.backward) cpu::huber_loss_backward(o, x, t, n, c.delta, c.grad_output);
          else cpu::huber_loss_forward(o, x, t, n, c.delta);
          break;
        case ElementwiseLoss::kl_divergence:
          if (c.backward) cpu::kl_divergence_backward(o, x, t, n, c.rows, c.eps, c.grad_output);
          else cpu::kl_divergence_forward(o, x, t, n, c.rows, c.eps);
          break;
        case ElementwiseLoss::hinge:
          if (c.backward) cpu::hinge_loss_backward(o, x, t, n, c.grad_output);
          else cpu::hinge_loss_forward(o, x, t, n);
          break;
        case ElementwiseLoss::squared_hinge:
          if (c.backward) cpu::squared_hinge_loss_backward(o, x, t, n, c.grad_output);
          else cpu::squared_hinge_loss_forward(o, x, t, n);
          break;
        case ElementwiseLoss::log_cosh:
          if (c.backward) cpu::log_cosh_loss_backward(o, x, t, n, c.grad_output);
          else cpu::log_cosh_loss_forward(o, x, t, n);
          break;
        case ElementwiseLoss::poisson:
          if (c.backward) cpu::poisson_loss_backward(o, x, t, n, c.eps, c.grad_output);
          else cpu::poisson_loss_forward(o, x, t, n, c.eps);
          break;
      }
    });
  });

  def_class_losses(m, Device::cpu, /*check_labels_kw=*/false, [](const ClassLossCall& c, bool) {
    if (c.kind != TargetKind::dense) {
      for (int64_t i = 0; i < c.N; ++i) {
        const int64_t lab = c.kind == TargetKind::labels32 ? int64_t(c.target.ptr<const int32_t>()[i])
                                                           : c.target.ptr<const int64_t>()[i];
        if (lab < 0 || lab >= c.C)
          fail(c.op, ": target label ", lab, " at index ", i, " is out of range [0, ", c.C, ") for C=", c.C,
               " classes");
      }
    }
    dispatch_float(c.ft, [&](auto tag) {
      using T = decltype(tag);
      auto body = [&](auto ltag) {
        using L = decltype(ltag);
        T* l = ptr_or_null<T>(c.out);
        T* d = ptr_or_null<T>(c.dinput);
        const T* x = c.input.ptr<const T>();
        const L* t = c.target.ptr<const L>();
        nogil release;
        if (c.loss == ClassLoss::cross_entropy) {
          if constexpr (std::is_same_v<L, T>) cpu::cross_entropy_dense<T>(l, d, x, t, c.N, c.C, c.grad_output);
          else cpu::cross_entropy_sparse<T, L>(l, d, x, t, c.N, c.C, c.grad_output);
        } else if (l) {
          if constexpr (std::is_same_v<L, T>) cpu::categorical_crossentropy_dense_forward<T>(l, x, t, c.N, c.C, c.eps);
          else cpu::categorical_crossentropy_sparse_forward<T, L>(l, x, t, c.N, c.C, c.eps);
        } else {
          if constexpr (std::is_same_v<L, T>)
            cpu::categorical_crossentropy_dense_backward<T>(d, x, t, c.N, c.C, c.eps, c.grad_output);
          else
            cpu::categorical_crossentropy_sparse_backward<T, L>(d, x, t, c.N, c.C, c.eps, c.grad_output);
        }
      };
      if (c.kind == TargetKind::labels32) body(int32_t{});
      else if (c.kind == TargetKind::labels64) body(int64_t{});
      else body(T{});
    });
  });
}

}  // namespace fastann::bindings
