// Bindings of the loss family (csrc/cuda/loss.cu) into fastann._cuda: the same names and signatures as the
// fastann._cpu loss functions, with CuPy arrays. Loss outputs are 0-d device arrays (`out`), so the loss stays
// on the GPU. Integer labels are range-checked before the kernels run, as on the CPU; on the GPU that check
// costs one stream synchronisation (the verdict must reach the host to raise a ValueError naming the label),
// so the (N, C) losses take a CUDA-only keyword check_labels=True that a training loop may turn off: an
// out-of-range label then gives a NaN loss and NaN gradient row (never an out-of-bounds read).
#include <cmath>

#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/loss.hpp"

namespace fastann::cudabind {

namespace {

void check_scalar_out(const DeviceArray& out, DType dt, const char* op) {
  require_dtype(out, dt, op, "out");
  require_writeable(out, op, "out");
  if (out.ndim != 0) fail(op, ": out must be a 0-d array (shape ()), got shape ", shape_str(out));
}

void require_nonempty(const DeviceArray& a, const char* op, const char* name) {
  if (a.size == 0) fail(op, ": ", name, " is empty (shape ", shape_str(a), ")");
}

void check_eps(double eps, const char* op) {
  FASTANN_CHECK(std::isfinite(eps) && eps >= 0.0 && eps < 0.5, op, ": eps must be in [0, 0.5), got ", eps);
}

struct Pair {
  DType dt;
  DeviceArray input, target;
};
// input and target: float arrays of one dtype and shape, non-empty.
Pair check_pair(py::handle input_, py::handle target_, const char* op) {
  Pair p;
  p.input = first_array(input_, &p.dt, op, "input", false);
  require_nonempty(p.input, op, "input");
  p.target = in_array(target_, p.dt, op, "target");
  require_same_shape(p.target, p.input, op, "target", "input");
  return p;
}

template <class Fwd>
void elementwise_forward(py::object out_, py::object input_, py::object target_, const char* op, Fwd fwd) {
  Pair p = check_pair(input_, target_, op);
  DeviceArray out = parse_array(out_, op, "out");
  check_scalar_out(out, p.dt, op);
  cudaStream_t stream = current_stream(input_);
  nogil g;
  dispatch_float(p.dt, [&](auto tag) {
    using T = decltype(tag);
    fwd(out.ptr<T>(), p.input.ptr<T>(), p.target.ptr<T>(), p.input.size, stream);
  });
}

template <class Bwd>
void elementwise_backward(py::object dinput_, py::object input_, py::object target_, const char* op, Bwd bwd) {
  Pair p = check_pair(input_, target_, op);
  DeviceArray dinp = out_array(dinput_, p.dt, op, "dinput");
  require_same_shape(dinp, p.input, op, "dinput", "input");
  cudaStream_t stream = current_stream(input_);
  nogil g;
  dispatch_float(p.dt, [&](auto tag) {
    using T = decltype(tag);
    bwd(dinp.ptr<T>(), p.input.ptr<T>(), p.target.ptr<T>(), p.input.size, stream);
  });
}

// ---- (N, C) losses: integer labels (N,) or float targets (N, C) ---------------------------------
enum class TargetKind { labels32, labels64, dense };

TargetKind check_class_target(const DeviceArray& input, const DeviceArray& target, DType dt, const char* op,
                              bool check_labels, cudaStream_t stream) {
  require_ndim(input, 2, op, "input", "(N, C)");
  require_nonempty(input, op, "input");
  const int64_t N = input.shape[0], C = input.shape[1];
  if (target.dtype == DevDType::i32 || target.dtype == DevDType::i64) {
    require_shape(target, {N}, op, "target (integer class labels)");
    if (check_labels) {
      int64_t bad = 0, idx;
      {
        nogil g;
        idx = target.dtype == DevDType::i32
                  ? cuda::find_bad_label<int32_t>(target.ptr<int32_t>(), N, C, &bad, stream)
                  : cuda::find_bad_label<int64_t>(target.ptr<int64_t>(), N, C, &bad, stream);
      }
      if (idx >= 0)
        fail(op, ": target label ", bad, " at index ", idx, " is out of range [0, ", C, ") for C=", C, " classes");
    }
    return target.dtype == DevDType::i32 ? TargetKind::labels32 : TargetKind::labels64;
  }
  if (target.dtype != DevDType::f32 && target.dtype != DevDType::f64)
    throw py::type_error(std::string(op) + ": target must be int32/int64 class labels of shape (N,) or float " +
                         "probabilities of shape (N, C), got dtype " + cuda::dtype_name(target.dtype));
  if (target.ndim == 1)
    throw py::type_error(std::string(op) + ": a 1-D target must hold integer class labels (int32 or int64), " +
                         "got dtype " + cuda::dtype_name(target.dtype) + "; float targets must have shape (N, C)");
  require_dtype(target, dt, op, "target");
  require_same_shape(target, input, op, "target", "input");
  return TargetKind::dense;
}

template <class F>
void dispatch_class_target(DType dt, TargetKind kind, F&& body) {
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    if (kind == TargetKind::labels32) body(T{}, int32_t{});
    else if (kind == TargetKind::labels64) body(T{}, int64_t{});
    else body(T{}, T{});
  });
}

void cross_entropy_call(py::object loss_out, py::object dinput_, py::object input_, py::object target_, double grad,
                        const char* op, bool check_labels) {
  DType dt;
  DeviceArray input = first_array(input_, &dt, op, "input", false);
  DeviceArray target = parse_array(target_, op, "target");
  DeviceArray lo, di;
  if (!loss_out.is_none()) {
    lo = parse_array(loss_out, op, "out");
    check_scalar_out(lo, dt, op);
  }
  if (!dinput_.is_none()) {
    di = out_array(dinput_, dt, op, "dinput");
    require_same_shape(di, input, op, "dinput", "input");
  }
  cudaStream_t stream = current_stream(input_);
  const TargetKind kind = check_class_target(input, target, dt, op, check_labels, stream);
  const int64_t N = input.shape[0], C = input.shape[1];
  nogil g;
  dispatch_class_target(dt, kind, [&](auto tag, auto ltag) {
    using T = decltype(tag);
    using L = decltype(ltag);
    T* l = loss_out.is_none() ? nullptr : lo.ptr<T>();
    T* d = dinput_.is_none() ? nullptr : di.ptr<T>();
    if constexpr (std::is_same_v<L, T>)
      cuda::cross_entropy_dense<T>(l, d, input.ptr<T>(), target.ptr<T>(), N, C, grad, stream);
    else
      cuda::cross_entropy_sparse<T, L>(l, d, input.ptr<T>(), target.ptr<L>(), N, C, grad, stream);
  });
}

void categorical_crossentropy_forward(py::object out_, py::object input_, py::object target_, double eps,
                                      bool check_labels) {
  const char* op = "categorical_crossentropy";
  check_eps(eps, op);
  DType dt;
  DeviceArray input = first_array(input_, &dt, op, "input", false);
  DeviceArray target = parse_array(target_, op, "target");
  DeviceArray out = parse_array(out_, op, "out");
  check_scalar_out(out, dt, op);
  cudaStream_t stream = current_stream(input_);
  const TargetKind kind = check_class_target(input, target, dt, op, check_labels, stream);
  const int64_t N = input.shape[0], C = input.shape[1];
  nogil g;
  dispatch_class_target(dt, kind, [&](auto tag, auto ltag) {
    using T = decltype(tag);
    using L = decltype(ltag);
    if constexpr (std::is_same_v<L, T>)
      cuda::categorical_crossentropy_dense_forward<T>(out.ptr<T>(), input.ptr<T>(), target.ptr<T>(), N, C, eps, stream);
    else
      cuda::categorical_crossentropy_sparse_forward<T, L>(out.ptr<T>(), input.ptr<T>(), target.ptr<L>(), N, C, eps,
                                                          stream);
  });
}

void categorical_crossentropy_backward(py::object dinput_, py::object input_, py::object target_, double eps,
                                       double grad, bool check_labels) {
  const char* op = "categorical_crossentropy_backward";
  check_eps(eps, op);
  DType dt;
  DeviceArray input = first_array(input_, &dt, op, "input", false);
  DeviceArray target = parse_array(target_, op, "target");
  DeviceArray dinp = out_array(dinput_, dt, op, "dinput");
  require_same_shape(dinp, input, op, "dinput", "input");
  cudaStream_t stream = current_stream(input_);
  const TargetKind kind = check_class_target(input, target, dt, op, check_labels, stream);
  const int64_t N = input.shape[0], C = input.shape[1];
  nogil g;
  dispatch_class_target(dt, kind, [&](auto tag, auto ltag) {
    using T = decltype(tag);
    using L = decltype(ltag);
    if constexpr (std::is_same_v<L, T>)
      cuda::categorical_crossentropy_dense_backward<T>(dinp.ptr<T>(), input.ptr<T>(), target.ptr<T>(), N, C, eps,
                                                       grad, stream);
    else
      cuda::categorical_crossentropy_sparse_backward<T, L>(dinp.ptr<T>(), input.ptr<T>(), target.ptr<L>(), N, C, eps,
                                                           grad, stream);
  });
}

}  // namespace

void bind_loss(py::module_& m) {
  using py::arg;
  m.def("mse_loss_forward", [](py::object out, py::object input, py::object target) {
    elementwise_forward(out, input, target, "mse_loss", [](auto* l, auto* x, auto* t, int64_t n, cudaStream_t s) {
      cuda::mse_loss_forward(l, x, t, n, s); });
  }, arg("out"), arg("input"), arg("target"),
  "out (0-d, on the GPU) = mean((input - target)^2). input, target: float32/float64 CuPy arrays of one shape.");
  m.def("mse_loss_backward", [](py::object dinput, py::object input, py::object target, double grad_output) {
    elementwise_backward(dinput, input, target, "mse_loss_backward",
                         [&](auto* d, auto* x, auto* t, int64_t n, cudaStream_t s) {
                           cuda::mse_loss_backward(d, x, t, n, grad_output, s); });
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput = grad_output * 2 (input - target) / n.");
  m.def("l1_loss_forward", [](py::object out, py::object input, py::object target) {
    elementwise_forward(out, input, target, "l1_loss", [](auto* l, auto* x, auto* t, int64_t n, cudaStream_t s) {
      cuda::l1_loss_forward(l, x, t, n, s); });
  }, arg("out"), arg("input"), arg("target"), "out (0-d) = mean|input - target|.");
  m.def("l1_loss_backward", [](py::object dinput, py::object input, py::object target, double grad_output) {
    elementwise_backward(dinput, input, target, "l1_loss_backward",
                         [&](auto* d, auto* x, auto* t, int64_t n, cudaStream_t s) {
                           cuda::l1_loss_backward(d, x, t, n, grad_output, s); });
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput = grad_output * sign(input - target) / n (0 where equal).");
  m.def("binary_cross_entropy_forward", [](py::object out, py::object input, py::object target, double eps) {
    check_eps(eps, "binary_cross_entropy");
    elementwise_forward(out, input, target, "binary_cross_entropy",
                        [&](auto* l, auto* x, auto* t, int64_t n, cudaStream_t s) {
                          cuda::binary_cross_entropy_forward(l, x, t, n, eps, s); });
  }, arg("out"), arg("input"), arg("target"), arg("eps") = 1e-7,
  "out (0-d) = -mean(t log p + (1-t) log(1-p)), p = clip(input, eps, 1-eps) (Keras).");
  m.def("binary_cross_entropy_backward", [](py::object dinput, py::object input, py::object target, double eps,
                                            double grad_output) {
    check_eps(eps, "binary_cross_entropy_backward");
    elementwise_backward(dinput, input, target, "binary_cross_entropy_backward",
                         [&](auto* d, auto* x, auto* t, int64_t n, cudaStream_t s) {
                           cuda::binary_cross_entropy_backward(d, x, t, n, eps, grad_output, s); });
  }, arg("dinput"), arg("input"), arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0,
  "dinput = grad_output (p - t) / (p (1 - p)) / n where eps <= input <= 1-eps, else 0.");
  m.def("binary_cross_entropy_with_logits_forward", [](py::object out, py::object input, py::object target) {
    elementwise_forward(out, input, target, "binary_cross_entropy_with_logits",
                        [](auto* l, auto* x, auto* t, int64_t n, cudaStream_t s) {
                          cuda::binary_cross_entropy_with_logits_forward(l, x, t, n, s); });
  }, arg("out"), arg("input"), arg("target"),
  "out (0-d) = mean(max(x,0) - x t + log1p(exp(-|x|))), x = input logits.");
  m.def("binary_cross_entropy_with_logits_backward", [](py::object dinput, py::object input, py::object target,
                                                        double grad_output) {
    elementwise_backward(dinput, input, target, "binary_cross_entropy_with_logits_backward",
                         [&](auto* d, auto* x, auto* t, int64_t n, cudaStream_t s) {
                           cuda::binary_cross_entropy_with_logits_backward(d, x, t, n, grad_output, s); });
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0,
  "dinput = grad_output (sigmoid(input) - target) / n.");

  m.def("cross_entropy_forward", [](py::object out, py::object input, py::object target, bool check_labels) {
    cross_entropy_call(out, py::none(), input, target, 1.0, "cross_entropy", check_labels);
  }, arg("out"), arg("input"), arg("target"), py::kw_only(), arg("check_labels") = true,
  "out (0-d) = mean_i sum_j t_ij (logsumexp(x_i) - x_ij). input (N, C) logits; target (N,) int32/int64 labels "
  "or (N, C) floats. TypeError for a float 1-D target, ValueError naming an out-of-range label (check_labels "
  "synchronises the stream; with check_labels=False a bad label gives NaN instead).");
  m.def("cross_entropy_backward", [](py::object dinput, py::object input, py::object target, double grad_output,
                                     bool check_labels) {
    cross_entropy_call(py::none(), dinput, input, target, grad_output, "cross_entropy_backward", check_labels);
  }, arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0, py::kw_only(),
  arg("check_labels") = true, "dinput (N, C) = grad_output (sum_j t_ij softmax(x_i) - t_i) / N.");
  m.def("cross_entropy_with_grad", [](py::object out, py::object dinput, py::object input, py::object target,
                                      double grad_output, bool check_labels) {
    cross_entropy_call(out, dinput, input, target, grad_output, "cross_entropy_with_grad", check_labels);
  }, arg("out"), arg("dinput"), arg("input"), arg("target"), arg("grad_output") = 1.0, py::kw_only(),
  arg("check_labels") = true, "Loss (into 0-d out) and dinput of cross_entropy in ONE pass over the logits.");

  m.def("categorical_crossentropy_forward", &categorical_crossentropy_forward, arg("out"), arg("input"),
        arg("target"), arg("eps") = 1e-7, py::kw_only(), arg("check_labels") = true,
        "out (0-d) = mean_i -sum_j t_ij log q_ij, q = clip(p / rowsum(p), eps, 1-eps) (Keras, on probabilities).");
  m.def("categorical_crossentropy_backward", &categorical_crossentropy_backward, arg("dinput"), arg("input"),
        arg("target"), arg("eps") = 1e-7, arg("grad_output") = 1.0, py::kw_only(), arg("check_labels") = true,
        "dinput (N, C): gradient of categorical_crossentropy w.r.t. the probabilities (through the row "
        "normalisation and the clip).");
}

}  // namespace fastann::cudabind
