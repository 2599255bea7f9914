// Bindings of the norm family (csrc/cpu/norm.cpp) into fastann._cpu.
//
// input (N,C) or (N,C,H,W); every per-channel array (C,). Optional arrays (weight, bias, running stats in
// training) are passed as None.
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "fastann/cpu/norm.hpp"

namespace fastann::bind {

namespace {

struct Layout {
  int64_t N, C, HW;
};

Layout batch_norm_layout(const char* op, const py::array& a, const char* name) {
  FASTANN_CHECK(a.ndim() == 2 || a.ndim() == 4, op, ": ", name, " must be 2-D (N,C) or 4-D (N,C,H,W), got ndim=",
                a.ndim(), " shape ", shape_str(a));
  FASTANN_CHECK(a.size() > 0, op, ": ", name, " is empty, shape ", shape_str(a));
  return {a.shape(0), a.shape(1), a.ndim() == 4 ? a.shape(2) * a.shape(3) : 1};
}

// A per-channel (C,) input array of the working dtype, or None (returns nullptr).
template <class T>
const T* channel_in(const std::optional<py::array>& a, DType dt, int64_t C, const char* op, const char* name) {
  if (!a) return nullptr;
  check_in(*a, dt, op, name);
  require_shape(*a, {C}, op, name);
  return cptr<T>(*a);
}

// running_mean, running_var: (C,) of the working dtype when given; written (training) or only read.
void check_running_stats(const std::optional<py::array>& running_mean, const std::optional<py::array>& running_var,
                         DType dt, int64_t C, bool written, const char* op) {
  for (const auto* p : {&running_mean, &running_var}) {
    if (!*p) continue;
    const char* name = p == &running_mean ? "running_mean" : "running_var";
    if (written)
      check_out(**p, dt, op, name);
    else
      check_in(**p, dt, op, name);
    require_shape(**p, {C}, op, name);
  }
}

void check_eps(const char* op, double eps) {
  FASTANN_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a positive number, got ", eps);
}

// The training forwards' scalars: momentum in [0, 1] (PyTorch's convention), eps > 0.
void check_momentum_eps(const char* op, double momentum, double eps) {
  FASTANN_CHECK(std::isfinite(momentum) && momentum >= 0 && momentum <= 1, op,
                ": momentum must be in [0, 1], got ", momentum);
  check_eps(op, eps);
}

// save_mean, save_invstd: the training forwards' (C,) outputs of the working dtype.
void check_saved_stats_out(const py::array& save_mean, const py::array& save_invstd, DType dt, int64_t C,
                           const char* op) {
  check_out(save_mean, dt, op, "save_mean");
  require_shape(save_mean, {C}, op, "save_mean");
  check_out(save_invstd, dt, op, "save_invstd");
  require_shape(save_invstd, {C}, op, "save_invstd");
}


// The fused batch_norm_relu's image layout: input (N,C,H,W) and the (pooled) output's shape.
struct FusedLayout {
  int64_t N, C, H, W;
  std::vector<int64_t> out_shape;
};

FusedLayout fused_layout(const char* op, const py::array& input, int pool) {
  FASTANN_CHECK(pool == 1 || pool == 2, op, ": pool must be 1 (no pooling) or 2 (2x2 max pool), got ", pool);
  FASTANN_CHECK(input.ndim() == 4, op, ": input must be 4-D (N,C,H,W), got ndim=", input.ndim(), " shape ",
                shape_str(input));
  FASTANN_CHECK(input.size() > 0, op, ": input is empty, shape ", shape_str(input));
  const int64_t N = input.shape(0), C = input.shape(1), H = input.shape(2), W = input.shape(3);
  FASTANN_CHECK(H >= pool && W >= pool, op, ": a 2x2 max pool needs H, W >= 2, got input shape ", shape_str(input));
  return {N, C, H, W, {N, C, H / pool, W / pool}};
}

// window_index: uint8, C-contiguous, the output's shape; present exactly when pool == 2.
void check_window_index(const std::optional<py::array>& wi, const FusedLayout& l, int pool, bool writeable,
                        const char* op) {
  FASTANN_CHECK(bool(wi) == (pool == 2), op, ": window_index is needed with pool=2 and only then (pool=", pool, ")");
  if (!wi) return;
  require_dtype_of<uint8_t>(*wi, op, "window_index", "uint8");
  require_contiguous(*wi, op, "window_index");
  if (writeable) require_writeable(*wi, op, "window_index");
  require_shape(*wi, l.out_shape, op, "window_index");
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def(
      "batch_norm_forward_training",
      [](py::array out, py::array save_mean, py::array save_invstd, std::optional<py::array> running_mean,
         std::optional<py::array> running_var, py::array input, std::optional<py::array> weight,
         std::optional<py::array> bias, double momentum, double eps) {
        const char* op = "batch_norm";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        Layout l = batch_norm_layout(op, input, "input");
        FASTANN_CHECK(l.N * l.HW >= 2, op, ": training needs more than one value per channel, got input shape ",
                      shape_str(input));
        check_momentum_eps(op, momentum, eps);
        check_out(out, dt, op, "out");
        require_shape(out, std::vector<int64_t>(input.shape(), input.shape() + input.ndim()), op, "out");
        check_saved_stats_out(save_mean, save_invstd, dt, l.C, op);
        check_running_stats(running_mean, running_var, dt, l.C, true, op);
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* w = channel_in<T>(weight, dt, l.C, op, "weight");
          const T* b = channel_in<T>(bias, dt, l.C, op, "bias");
          T* rm = opt_ptr<T>(running_mean);
          T* rv = opt_ptr<T>(running_var);
          nogil release;
          cpu::batch_norm_forward_training<T>(mptr<T>(out), mptr<T>(save_mean), mptr<T>(save_invstd), rm, rv,
                                              cptr<T>(input), w, b, l.N, l.C, l.HW, momentum, eps);
        });
      },
      py::arg("out"), py::arg("save_mean"), py::arg("save_invstd"), py::arg("running_mean").none(true),
      py::arg("running_var").none(true), py::arg("input"), py::arg("weight").none(true),
      py::arg("bias").none(true), py::arg("momentum"), py::arg("eps"),
      "Batch norm, training mode: out (N,C[,H,W]), save_mean and save_invstd (C,) <- input; running_mean and "
      "running_var (C,) updated in place (PyTorch momentum, unbiased variance) unless None.");

  m.def(
      "batch_norm_forward_inference",
      [](py::array out, py::array input, py::array running_mean, py::array running_var,
         std::optional<py::array> weight, std::optional<py::array> bias, double eps) {
        const char* op = "batch_norm";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        Layout l = batch_norm_layout(op, input, "input");
        check_eps(op, eps);
        check_out(out, dt, op, "out");
        require_shape(out, std::vector<int64_t>(input.shape(), input.shape() + input.ndim()), op, "out");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* rm = channel_in<T>(running_mean, dt, l.C, op, "running_mean");
          const T* rv = channel_in<T>(running_var, dt, l.C, op, "running_var");
          const T* w = channel_in<T>(weight, dt, l.C, op, "weight");
          const T* b = channel_in<T>(bias, dt, l.C, op, "bias");
          nogil release;
          cpu::batch_norm_forward_inference<T>(mptr<T>(out), cptr<T>(input), rm, rv, w, b, l.N, l.C, l.HW, eps);
        });
      },
      py::arg("out"), py::arg("input"), py::arg("running_mean"), py::arg("running_var"),
      py::arg("weight").none(true), py::arg("bias").none(true), py::arg("eps"),
      "Batch norm, inference mode: out (N,C[,H,W]) <- input normalised with running_mean, running_var (C,).");

  m.def(
      "batch_norm_backward",
      [](py::array dinput, py::array dweight, py::array dbias, py::array grad_output, py::array input,
         std::optional<py::array> weight, py::array save_mean, py::array save_invstd) {
        const char* op = "batch_norm_backward";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        Layout l = batch_norm_layout(op, input, "input");
        const std::vector<int64_t> shape(input.shape(), input.shape() + input.ndim());
        check_in(grad_output, dt, op, "grad_output");
        require_shape(grad_output, shape, op, "grad_output");
        check_out(dinput, dt, op, "dinput");
        require_shape(dinput, shape, op, "dinput");
        check_out(dweight, dt, op, "dweight");
        require_shape(dweight, {l.C}, op, "dweight");
        check_out(dbias, dt, op, "dbias");
        require_shape(dbias, {l.C}, op, "dbias");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* w = channel_in<T>(weight, dt, l.C, op, "weight");
          const T* sm = channel_in<T>(save_mean, dt, l.C, op, "save_mean");
          const T* si = channel_in<T>(save_invstd, dt, l.C, op, "save_invstd");
          nogil release;
          cpu::batch_norm_backward<T>(mptr<T>(dinput), mptr<T>(dweight), mptr<T>(dbias), cptr<T>(grad_output),
                                      cptr<T>(input), w, sm, si, l.N, l.C, l.HW);
        });
      },
      py::arg("dinput"), py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("input"),
      py::arg("weight").none(true), py::arg("save_mean"), py::arg("save_invstd"),
      "Backward of training-mode batch norm in one fused pass per channel: dinput (N,C[,H,W]), dweight = "
      "sum(dy*xhat), dbias = sum(dy) (C,) <- grad_output, input, weight (or None: gamma = 1), save_mean, "
      "save_invstd.");
  m.def(
      "batch_norm_relu_forward",
      [](py::array out, std::optional<py::array> window_index, std::optional<py::array> save_mean,
         std::optional<py::array> save_invstd, std::optional<py::array> running_mean,
         std::optional<py::array> running_var, py::array input, std::optional<py::array> weight,
         std::optional<py::array> bias, bool training, double momentum, double eps, int pool) {
        const char* op = "batch_norm_relu";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        const FusedLayout l = fused_layout(op, input, pool);
        FASTANN_CHECK(!training || l.N * l.H * l.W >= 2, op,
                      ": training needs more than one value per channel, got input shape ", shape_str(input));
        check_momentum_eps(op, momentum, eps);
        check_out(out, dt, op, "out");
        require_shape(out, l.out_shape, op, "out");
        check_window_index(window_index, l, pool, true, op);
        if (training) {
          FASTANN_CHECK(save_mean && save_invstd, op, ": training needs save_mean and save_invstd");
          check_saved_stats_out(*save_mean, *save_invstd, dt, l.C, op);
        } else {
          FASTANN_CHECK(running_mean && running_var, op, ": inference needs running_mean and running_var");
        }
        check_running_stats(running_mean, running_var, dt, l.C, training, op);
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* w = channel_in<T>(weight, dt, l.C, op, "weight");
          const T* b = channel_in<T>(bias, dt, l.C, op, "bias");
          T* rm = opt_ptr<T>(running_mean);
          T* rv = opt_ptr<T>(running_var);
          T* sm = training ? mptr<T>(*save_mean) : nullptr;
          T* si = training ? mptr<T>(*save_invstd) : nullptr;
          uint8_t* wi = opt_ptr<uint8_t>(window_index);
          nogil release;
          cpu::batch_norm_relu_forward<T>(mptr<T>(out), wi, sm, si, rm, rv, cptr<T>(input), w, b, l.N, l.C, l.H, l.W,
                                          pool, training, momentum, eps);
        });
      },
      py::arg("out"), py::arg("window_index").none(true), py::arg("save_mean").none(true),
      py::arg("save_invstd").none(true), py::arg("running_mean").none(true), py::arg("running_var").none(true),
      py::arg("input"), py::arg("weight").none(true), py::arg("bias").none(true), py::arg("training"),
      py::arg("momentum"), py::arg("eps"), py::arg("pool"),
      "Fused batch norm + ReLU (+ 2x2/stride-2 max pool when pool=2): out (N,C,H/pool,W/pool), window_index "
      "(uint8, pool=2 only: 2*row+column of each window's winner) <- input (N,C,H,W). Training: batch "
      "statistics into save_mean, save_invstd (C,), running stats updated unless None; inference: "
      "running_mean, running_var read.");

  m.def(
      "batch_norm_relu_backward",
      [](py::array dinput, py::array dweight, py::array dbias, py::array grad_output, py::array output,
         std::optional<py::array> window_index, py::array input, std::optional<py::array> weight,
         std::optional<py::array> bias, py::array save_mean, py::array save_invstd, int pool) {
        const char* op = "batch_norm_relu_backward";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        const FusedLayout l = fused_layout(op, input, pool);
        check_in(grad_output, dt, op, "grad_output");
        require_shape(grad_output, l.out_shape, op, "grad_output");
        check_in(output, dt, op, "output");
        require_shape(output, l.out_shape, op, "output");
        check_window_index(window_index, l, pool, false, op);
        check_out(dinput, dt, op, "dinput");
        require_shape(dinput, {l.N, l.C, l.H, l.W}, op, "dinput");
        check_out(dweight, dt, op, "dweight");
        require_shape(dweight, {l.C}, op, "dweight");
        check_out(dbias, dt, op, "dbias");
        require_shape(dbias, {l.C}, op, "dbias");
        if (window_index) {  // a byte outside 0..3 would drop its gradient silently
          const uint8_t* wi = cptr<uint8_t>(*window_index);
          const int64_t n = window_index->size();
          uint8_t worst = 0;
          for (int64_t i = 0; i < n; ++i) worst = std::max(worst, wi[i]);
          FASTANN_CHECK(worst <= 3, op, ": window_index values must be 0..3 (2*row + column), found ", int(worst));
        }
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* w = channel_in<T>(weight, dt, l.C, op, "weight");
          const T* b = channel_in<T>(bias, dt, l.C, op, "bias");
          const T* sm = channel_in<T>(save_mean, dt, l.C, op, "save_mean");
          const T* si = channel_in<T>(save_invstd, dt, l.C, op, "save_invstd");
          const uint8_t* wi = window_index ? cptr<uint8_t>(*window_index) : nullptr;
          nogil release;
          cpu::batch_norm_relu_backward<T>(mptr<T>(dinput), mptr<T>(dweight), mptr<T>(dbias), cptr<T>(grad_output),
                                           cptr<T>(output), wi, cptr<T>(input), w, b, sm, si, l.N, l.C, l.H, l.W,
                                           pool);
        });
      },
      py::arg("dinput"), py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("output"),
      py::arg("window_index").none(true), py::arg("input"), py::arg("weight").none(true),
      py::arg("bias").none(true), py::arg("save_mean"), py::arg("save_invstd"), py::arg("pool"),
      "Backward of training-mode batch_norm_relu_forward: dinput (N,C,H,W), dweight = sum(dz*xhat), dbias = "
      "sum(dz) (C,) <- grad_output, output (its forward's out: output > 0 is the ReLU mask, and output - bias "
      "gives the live values' normalized input), window_index (pool=2), input, weight and bias (or None) as "
      "given to the forward, save_mean, save_invstd.");
}

}  // namespace fastann::bind
