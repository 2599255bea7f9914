// Bindings of the norm family (csrc/cpu/norm.cpp) into fastann._cpu.
//
// input (N,C) or (N,C,H,W); every per-channel array (C,). Optional arrays (weight, bias, running stats in
// training) are passed as None.
#include <pybind11/stl.h>

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

void check_eps(const char* op, double eps) {
  FASTANN_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a positive number, got ", eps);
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
        FASTANN_CHECK(std::isfinite(momentum) && momentum >= 0 && momentum <= 1, op,
                      ": momentum must be in [0, 1], got ", momentum);
        check_eps(op, eps);
        check_out(out, dt, op, "out");
        require_shape(out, std::vector<int64_t>(input.shape(), input.shape() + input.ndim()), op, "out");
        for (auto* p : {&save_mean, &save_invstd}) {
          const char* name = p == &save_mean ? "save_mean" : "save_invstd";
          check_out(*p, dt, op, name);
          require_shape(*p, {l.C}, op, name);
        }
        for (auto* p : {&running_mean, &running_var}) {
          if (!*p) continue;
          const char* name = p == &running_mean ? "running_mean" : "running_var";
          check_out(**p, dt, op, name);
          require_shape(**p, {l.C}, op, name);
        }
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* w = channel_in<T>(weight, dt, l.C, op, "weight");
          const T* b = channel_in<T>(bias, dt, l.C, op, "bias");
          T* rm = running_mean ? mptr<T>(*running_mean) : nullptr;
          T* rv = running_var ? mptr<T>(*running_var) : nullptr;
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
}

}  // namespace fastann::bind
