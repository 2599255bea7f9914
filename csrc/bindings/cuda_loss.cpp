// cuda_loss.cpp: the loss family of fastann._cuda; signatures and checks in args/loss.hpp, launchers in
// csrc/cuda/loss.cu. Loss outputs are 0-d device arrays, so the loss stays on the GPU. Integer labels are
// range-checked after the other checks by a device search; the verdict must reach the host to raise a
// ValueError naming the label, which costs one stream synchronisation, so the (N, C) losses take the
// CUDA-only keyword check_labels=True that a training loop may turn off: an out-of-range label then gives a
// NaN loss and NaN gradient row (never an out-of-bounds read).
#include <type_traits>

#include "args/loss.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/loss.hpp"

namespace fastann::bindings {

void bind_loss(py::module_& m) {
  def_elementwise_losses(m, Device::cuda, [](const ElementwiseLossCall& c) {
    cudaStream_t s = current_stream(c.input.obj);
    nogil release;
    dispatch_float(c.ft, [&](auto tag) {
      using T = decltype(tag);
      T* o = c.out.ptr<T>();
      const T* x = c.input.ptr<const T>();
      const T* t = c.target.ptr<const T>();
      const int64_t n = c.n;
      switch (c.loss) {
        case ElementwiseLoss::mse:
          if (c.backward) cuda::mse_loss_backward(o, x, t, n, c.grad_output, s);
          else cuda::mse_loss_forward(o, x, t, n, s);
          break;
        case ElementwiseLoss::l1:
          if (c.backward) cuda::l1_loss_backward(o, x, t, n, c.grad_output, s);
          else cuda::l1_loss_forward(o, x, t, n, s);
          break;
        case ElementwiseLoss::bce:
          if (c.backward) cuda::binary_cross_entropy_backward(o, x, t, n, c.eps, c.grad_output, s);
          else cuda::binary_cross_entropy_forward(o, x, t, n, c.eps, s);
          break;
        case ElementwiseLoss::bce_with_logits:
          if (c.backward) cuda::binary_cross_entropy_with_logits_backward(o, x, t, n, c.grad_output, s);
          else cuda::binary_cross_entropy_with_logits_forward(o, x, t, n, s);
          break;
        case ElementwiseLoss::huber:
          if (c.backward) cuda::huber_loss_backward(o, x, t, n, c.delta, c.grad_output, s);
          else cuda::huber_loss_forward(o, x, t, n, c.delta, s);
          break;
        case ElementwiseLoss::kl_divergence:
          if (c.backward) cuda::kl_divergence_backward(o, x, t, n, c.rows, c.eps, c.grad_output, s);
          else cuda::kl_divergence_forward(o, x, t, n, c.rows, c.eps, s);
          break;
        case ElementwiseLoss::hinge:
          if (c.backward) cuda::hinge_loss_backward(o, x, t, n, c.grad_output, s);
          else cuda::hinge_loss_forward(o, x, t, n, s);
          break;
        case ElementwiseLoss::squared_hinge:
          if (c.backward) cuda::squared_hinge_loss_backward(o, x, t, n, c.grad_output, s);
          else cuda::squared_hinge_loss_forward(o, x, t, n, s);
          break;
        case ElementwiseLoss::log_cosh:
          if (c.backward) cuda::log_cosh_loss_backward(o, x, t, n, c.grad_output, s);
          else cuda::log_cosh_loss_forward(o, x, t, n, s);
          break;
        case ElementwiseLoss::poisson:
          if (c.backward) cuda::poisson_loss_backward(o, x, t, n, c.eps, c.grad_output, s);
          else cuda::poisson_loss_forward(o, x, t, n, c.eps, s);
          break;
      }
    });
  });

  def_class_losses(m, Device::cuda, /*check_labels_kw=*/true, [](const ClassLossCall& c, bool check_labels) {
    cudaStream_t stream = current_stream(c.input.obj);
    if (c.kind != TargetKind::dense && check_labels) {
      int64_t bad = 0, idx;
      {
        nogil release;
        idx = c.kind == TargetKind::labels32
                  ? cuda::find_bad_label<int32_t>(c.target.ptr<const int32_t>(), c.N, c.C, &bad, stream)
                  : cuda::find_bad_label<int64_t>(c.target.ptr<const int64_t>(), c.N, c.C, &bad, stream);
      }
      if (idx >= 0)
        fail(c.op, ": target label ", bad, " at index ", idx, " is out of range [0, ", c.C, ") for C=", c.C,
             " classes");
    }
    nogil release;
    dispatch_float(c.ft, [&](auto tag) {
      using T = decltype(tag);
      auto body = [&](auto ltag) {
        using L = decltype(ltag);
        T* l = ptr_or_null<T>(c.out);
        T* d = ptr_or_null<T>(c.dinput);
        const T* x = c.input.ptr<const T>();
        const L* t = c.target.ptr<const L>();
        if (c.loss == ClassLoss::cross_entropy) {
          if constexpr (std::is_same_v<L, T>) cuda::cross_entropy_dense<T>(l, d, x, t, c.N, c.C, c.grad_output, stream);
          else cuda::cross_entropy_sparse<T, L>(l, d, x, t, c.N, c.C, c.grad_output, stream);
        } else if (l) {
          if constexpr (std::is_same_v<L, T>)
            cuda::categorical_crossentropy_dense_forward<T>(l, x, t, c.N, c.C, c.eps, stream);
          else
            cuda::categorical_crossentropy_sparse_forward<T, L>(l, x, t, c.N, c.C, c.eps, stream);
        } else {
          if constexpr (std::is_same_v<L, T>)
            cuda::categorical_crossentropy_dense_backward<T>(d, x, t, c.N, c.C, c.eps, c.grad_output, stream);
          else
            cuda::categorical_crossentropy_sparse_backward<T, L>(d, x, t, c.N, c.C, c.eps, c.grad_output, stream);
        }
      };
      if (c.kind == TargetKind::labels32) body(int32_t{});
      else if (c.kind == TargetKind::labels64) body(int64_t{});
      else body(T{});
    });
  });
}

}  // namespace fastann::bindings
