// Bindings of the loss family (csrc/cpu/loss.cpp) into fastann._cpu.
//
// Loss outputs are 0-d arrays of the input's dtype (`out`, written by the kernel), so the same signature
// serves the CUDA module, where the loss stays on the device. Integer labels are range-checked here,
// before the kernel runs, and the first bad one is named.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "dense_utils.hpp"
#include "fastann/cpu/loss.hpp"

#include <cmath>

namespace fastann::bind {

namespace {

void check_scalar_out(const py::array& out, DType dt, const char* op) {
  check_out(out, dt, op, "out");
  if (out.ndim() != 0) fail(op, ": out must be a 0-d array (shape ()), got shape ", shape_str(out));
}

// input and target: float arrays of one dtype and shape, non-empty. Returns the dtype.
DType check_pair(const py::array& input, const py::array& target, const char* op) {
  const DType dt = float_dtype(input, op, "input");
  check_in(input, dt, op, "input");
  require_nonempty(input, op, "input");
  check_in(target, dt, op, "target");
  require_same_shape(target, input, op, "target", "input");
  return dt;
}

void check_eps(double eps, const char* op) {
  FASTANN_CHECK(std::isfinite(eps) && eps >= 0.0 && eps < 0.5, op, ": eps must be in [0, 0.5), got ", eps);
}

// ---- elementwise losses: one forward and one backward binding per loss --------------------------
template <class Fwd>
void elementwise_forward(py::array out, py::array input, py::array target, const char* op, Fwd fwd) {
  const DType dt = check_pair(input, target, op);
  check_scalar_out(out, dt, op);
  const int64_t n = input.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* x = cptr<T>(input);
    const T* t = cptr<T>(target);
    T* l = mptr<T>(out);
    nogil g;
    fwd(l, x, t, n);
  });
}

template <class Bwd>
void elementwise_backward(py::array dinput, py::array input, py::array target, const char* op, Bwd bwd) {
  const DType dt = check_pair(input, target, op);
  check_out(dinput, dt, op, "dinput");
  require_same_shape(dinput, input, op, "dinput", "input");
  const int64_t n = input.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* x = cptr<T>(input);
    const T* t = cptr<T>(target);
    T* d = mptr<T>(dinput);
    nogil g;
    bwd(d, x, t, n);
  });
}

// ---- (N, C) losses: integer labels (N,) or float targets (N, C) ---------------------------------
enum class TargetKind { labels32, labels64, dense };

// input (N, C) float; target (N,) int32/int64 labels in [0, C) or (N, C) of input's dtype.
TargetKind check_class_target(const py::array& input, const py::array& target, DType dt, const char* op) {
  check_in(input, dt, op, "input");
  require_ndim(input, 2, op, "input", "(N, C)");
  require_nonempty(input, op, "input");
  const int64_t N = input.shape(0), C = input.shape(1);
  const bool i32 = target.dtype().is(py::dtype::of<int32_t>());
  const bool i64 = target.dtype().is(py::dtype::of<int64_t>());
  if (i32 || i64) {
    require_shape(target, {N}, op, "target (integer class labels)");
    require_contiguous(target, op, "target");
    for (int64_t i = 0; i < N; ++i) {
      const int64_t lab = i32 ? int64_t(cptr<int32_t>(target)[i]) : cptr<int64_t>(target)[i];
      if (lab < 0 || lab >= C)
        fail(op, ": target label ", lab, " at index ", i, " is out of range [0, ", C, ") for C=", C, " classes");
    }
    return i32 ? TargetKind::labels32 : TargetKind::labels64;
  }
  const bool is_float = target.dtype().is(py::dtype::of<float>()) || target.dtype().is(py::dtype::of<double>());
  if (!is_float)
    throw py::type_error(std::string(op) + ": target must be int32/int64 class labels of shape (N,) or float " +
                         "probabilities of shape (N, C), got dtype " + dtype_str(target));
  if (target.ndim() == 1)
    throw py::type_error(std::string(op) + ": a 1-D target must hold integer class labels (int32 or int64), " +
                         "got dtype " + dtype_str(target) + "; float targets must have shape (N, C)");
  check_in(target, dt, op, "target");
  require_same_shape(target, input, op, "target", "input");
  return TargetKind::dense;
}

// body(T{}, target_tag) with target_tag an int32_t / int64_t label type, or T itself for dense targets.
template <class F>
void dispatch_class_target(DType dt, TargetKind kind, F&& body) {
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    if (kind == TargetKind::labels32) body(T{}, int32_t{});
    else if (kind == TargetKind::labels64) body(T{}, int64_t{});
    else body(T{}, T{});
  });
}

// Cross-entropy from logits; loss_out and/or dinput may be None.
void cross_entropy_call(py::object loss_out, py::object dinput, py::array input, py::array target, double grad,
                        const char* op) {
  const DType dt = float_dtype(input, op, "input");
  const TargetKind kind = check_class_target(input, target, dt, op);
  py::array lo, di;
  if (!loss_out.is_none()) {
    lo = py::cast<py::array>(loss_out);
    check_scalar_out(lo, dt, op);
  }
  if (!dinput.is_none()) {
    di = py::cast<py::array>(dinput);
    check_out(di, dt, op, "dinput");
    require_same_shape(di, input, op, "dinput", "input");
  }
  const int64_t N = input.shape(0), C = input.shape(1);
  dispatch_class_target(dt, kind, [&](auto tag, auto ltag) {
    using T = decltype(tag);
    using L = decltype(ltag);
    T* l = loss_out.is_none() ? nullptr : mptr<T>(lo);
    T* d = dinput.is_none() ? nullptr : mptr<T>(di);
    const T* x = cptr<T>(input);
    const L* t = cptr<L>(target);
    nogil g;
    if constexpr (std::is_same_v<L, T>) cpu::cross_entropy_dense<T>(l, d, x, t, N, C, grad);
    else cpu::cross_entropy_sparse<T, L>(l, d, x, t, N, C, grad);
  });
}

void categorical_crossentropy_forward(py::array out, py::array input, py::array target, double eps) {
  const char* op = "categorical_crossentropy";
  check_eps(eps, op);
  const DType dt = float_dtype(input, op, "input");
  const TargetKind kind = check_class_target(input, target, dt, op);
  check_scalar_out(out, dt, op);
  const int64_t N = input.shape(0), C = input.shape(1);
  dispatch_class_target(dt, kind, [&](auto tag, auto ltag) {
    using T = decltype(tag);
    using L = decltype(ltag);
    T* l = mptr<T>(out);
    const T* x = cptr<T>(input);
    const L* t = cptr<L>(target);
    nogil g;
    if constexpr (std::is_same_v<L, T>) cpu::categorical_crossentropy_dense_forward<T>(l, x, t, N, C, eps);
    else cpu::categorical_crossentropy_sparse_forward<T, L>(l, x, t, N, C, eps);
  });
}

void categorical_crossentropy_backward(py::array dinput, py::array input, py::array target, double eps,
                                       double grad) {
  const char* op = "categorical_crossentropy_backward";
  check_eps(eps, op);
  const DType dt = float_dtype(input, op, "input");
  const TargetKind kind = check_class_target(input, target, dt, op);
  check_out(dinput, dt, op, "dinput");
  require_same_shape(dinput, input, op, "dinput", "input");
  const int64_t N = input.shape(0), C = input.shape(1);
  dispatch_class_target(dt, kind, [&](auto tag, auto ltag) {
    using T = decltype(tag);
    using L = decltype(ltag);
    T* d = mptr<T>(dinput);
    const T* x = cptr<T>(input);
    const L* t = cptr<L>(target);
    nogil g;
    if constexpr (std::is_same_v<L, T>) cpu::categorical_crossentropy_dense_backward<T>(d, x, t, N, C, eps, grad);
    else cpu::categorical_crossentropy_sparse_backward<T, L>(d, x, t, N, C, eps, grad);
  });
}

}  // namespace

void bind_loss(py::module_& m) {
  using py::arg;
  // Elementwise losses. The lambdas name the kernel for each dtype (a generic lambda picks T).
  m.def("mse_loss_forward", [](py::array out, py::array input, py::array target) {
    elementwise_forward(out, input, target, "mse_loss", [](auto* l, auto* x, auto* t, int64_t n) {
      cpu::mse_loss_forward(l, x, t, n); });
  }, arg("out"), arg("input"), arg("target"),
  "out (0-d) = mean((input - target)^2). input, target: float32/float64 C-contiguous arrays of one shape.");
  m.def("mse_loss_backward", [](py::array dinput, py::array input, py::array target, double grad_output) {
    elementwise_backward(dinput, input, target, "mse_loss_backward", [&](auto* d, auto* x, auto* t, int64_t n) {
      cpu::mse_loss_backward(d, x, t, n, grad_output); });
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput = grad_output * 2 (input - target) / n.");
  m.def("l1_loss_forward", [](py::array out, py::array input, py::array target) {
    elementwise_forward(out, input, target, "l1_loss", [](auto* l, auto* x, auto* t, int64_t n) {
      cpu::l1_loss_forward(l, x, t, n); });
  }, arg("out"), arg("input"), arg("target"), "out (0-d) = mean|input - target|.");
  m.def("l1_loss_backward", [](py::array dinput, py::array input, py::array target, double grad_output) {
    elementwise_backward(dinput, input, target, "l1_loss_backward", [&](auto* d, auto* x, auto* t, int64_t n) {
      cpu::l1_loss_backward(d, x, t, n, grad_output); });
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput = grad_output * sign(input - target) / n (0 where equal).");
  m.def("binary_cross_entropy_forward", [](py::array out, py::array input, py::array target, double eps) {
    check_eps(eps, "binary_cross_entropy");
    elementwise_forward(out, input, target, "binary_cross_entropy", [&](auto* l, auto* x, auto* t, int64_t n) {
      cpu::binary_cross_entropy_forward(l, x, t, n, eps); });
  }, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7,
  "out (0-d) = -mean(t log p + (1-t) log(1-p)), p = clip(input, eps, 1-eps) (Keras).");
  m.def("binary_cross_entropy_backward", [](py::array dinput, py::array input, py::array target, double eps,
                                            double grad_output) {
    check_eps(eps, "binary_cross_entropy_backward");
    elementwise_backward(dinput, input, target, "binary_cross_entropy_backward",
                         [&](auto* d, auto* x, auto* t, int64_t n) {
                           cpu::binary_cross_entropy_backward(d, x, t, n, eps, grad_output); });
  }, arg("dinput"), arg("input"), arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0,
  "dinput = grad_output (p - t) / (p (1 - p)) / n where eps <= input <= 1-eps, else 0.");
  m.def("binary_cross_entropy_with_logits_forward", [](py::array out, py::array input, py::array target) {
    elementwise_forward(out, input, target, "binary_cross_entropy_with_logits",
                        [](auto* l, auto* x, auto* t, int64_t n) {
                          cpu::binary_cross_entropy_with_logits_forward(l, x, t, n); });
  }, arg("out"), arg("input"), arg("target"),
  "out (0-d) = mean(max(x,0) - x t + log1p(exp(-|x|))), x = input logits.");
  m.def("binary_cross_entropy_with_logits_backward", [](py::array dinput, py::array input, py::array target,
                                                        double grad_output) {
    elementwise_backward(dinput, input, target, "binary_cross_entropy_with_logits_backward",
                         [&](auto* d, auto* x, auto* t, int64_t n) {
                           cpu::binary_cross_entropy_with_logits_backward(d, x, t, n, grad_output); });
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput = grad_output (sigmoid(input) - target) / n.");

  // Softmax cross-entropy from logits.
  m.def("cross_entropy_forward", [](py::array out, py::array input, py::array target) {
    cross_entropy_call(out, py::none(), input, target, 1.0, "cross_entropy");
  }, arg("out"), arg("input"), arg("target"),
  "out (0-d) = mean_i sum_j t_ij (logsumexp(x_i) - x_ij). input (N, C) logits float32/float64; target "
  "(N,) int32/int64 labels in [0, C) or (N, C) float probabilities of input's dtype. TypeError for a float "
  "1-D target, ValueError naming an out-of-range label.");
  m.def("cross_entropy_backward", [](py::array dinput, py::array input, py::array target, double grad_output) {
    cross_entropy_call(py::none(), dinput, input, target, grad_output, "cross_entropy_backward");
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput (N, C) = grad_output (sum_j t_ij softmax(x_i) - t_i) / N (= (softmax - onehot)/N for labels).");
  m.def("cross_entropy_with_grad", [](py::array out, py::array dinput, py::array input, py::array target,
                                      double grad_output) {
    cross_entropy_call(out, dinput, input, target, grad_output, "cross_entropy_with_grad");
  }, arg("out"), arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "Loss (into 0-d out) and dinput of cross_entropy in ONE pass over the logits.");

  m.def("categorical_crossentropy_forward", &categorical_crossentropy_forward, arg("out"), arg("input"),
        arg("target"), arg("eps") = 1e-7,
        "out (0-d) = mean_i -sum_j t_ij log q_ij, q = clip(p / rowsum(p), eps, 1-eps) (Keras, on probabilities). "
        "input (N, C) probabilities; target (N,) int32/int64 labels or (N, C) floats.");
  m.def("categorical_crossentropy_backward", &categorical_crossentropy_backward, arg("dinput"), arg("input"),
        arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0,
        "dinput (N, C): gradient of categorical_crossentropy w.r.t. the probabilities (through the row "
        "normalisation and the clip).");
}

}  // namespace fastann::bind
