// Bindings of the norm family (csrc/cuda/norm.cu) into fastann._cuda: the same names, arguments and checks as
// fastann._cpu's (csrc/bindings/cpu_norm.cpp), with CuPy arrays.
//
// input (N,C) or (N,C,H,W); every per-channel array (C,). Optional arrays (weight, bias, running stats in
// training) are passed as None.
#include <cmath>
#include <vector>

#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/norm.hpp"

namespace fastann::cudabind {

namespace {

struct Layout {
  int64_t N, C, HW;
};

Layout batch_norm_layout(const char* op, const DeviceArray& a, const char* name) {
  FASTANN_CHECK(a.ndim == 2 || a.ndim == 4, op, ": ", name, " must be 2-D (N,C) or 4-D (N,C,H,W), got ndim=",
                a.ndim, " shape ", shape_str(a));
  FASTANN_CHECK(a.size > 0, op, ": ", name, " is empty, shape ", shape_str(a));
  return {a.shape[0], a.shape[1], a.ndim == 4 ? a.shape[2] * a.shape[3] : 1};
}

std::vector<int64_t> shape_of(const DeviceArray& a) { return std::vector<int64_t>(a.shape, a.shape + a.ndim); }

// A per-channel (C,) input array of the working dtype, or None (returns nullptr) unless `required` (then None
// is a TypeError, as the CPU binding's py::array argument gives).
const void* channel_in(py::handle a, DType dt, int64_t C, const char* op, const char* name, bool required = false) {
  if (a.is_none() && !required) return nullptr;
  DeviceArray d = in_array(a, dt, op, name);
  require_shape(d, {C}, op, name);
  return d.data;
}
// A per-channel (C,) output array (writeable), or None (returns nullptr) unless `required`.
void* channel_out(py::handle a, DType dt, int64_t C, const char* op, const char* name, bool required = false) {
  if (a.is_none() && !required) return nullptr;
  DeviceArray d = out_array(a, dt, op, name);
  require_shape(d, {C}, op, name);
  return d.data;
}

void check_eps(const char* op, double eps) {
  FASTANN_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a positive number, got ", eps);
}

void forward_training_binding(py::object out_, py::object save_mean_, py::object save_invstd_,
                              py::object running_mean_, py::object running_var_, py::object input_,
                              py::object weight_, py::object bias_, double momentum, double eps) {
  const char* op = "batch_norm";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  Layout l = batch_norm_layout(op, input, "input");
  FASTANN_CHECK(l.N * l.HW >= 2, op, ": training needs more than one value per channel, got input shape ",
                shape_str(input));
  FASTANN_CHECK(std::isfinite(momentum) && momentum >= 0 && momentum <= 1, op, ": momentum must be in [0, 1], got ",
                momentum);
  check_eps(op, eps);
  DeviceArray out = out_array(out_, dt, op, "out");
  require_shape(out, shape_of(input), op, "out");
  void* save_mean = channel_out(save_mean_, dt, l.C, op, "save_mean", /*required=*/true);
  void* save_invstd = channel_out(save_invstd_, dt, l.C, op, "save_invstd", /*required=*/true);
  void* rm = channel_out(running_mean_, dt, l.C, op, "running_mean");
  void* rv = channel_out(running_var_, dt, l.C, op, "running_var");
  const void* w = channel_in(weight_, dt, l.C, op, "weight");
  const void* b = channel_in(bias_, dt, l.C, op, "bias");
  cudaStream_t stream = current_stream(out_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::batch_norm_forward_training<T>(out.ptr<T>(), static_cast<T*>(save_mean), static_cast<T*>(save_invstd),
                                         static_cast<T*>(rm), static_cast<T*>(rv), input.ptr<T>(),
                                         static_cast<const T*>(w), static_cast<const T*>(b), l.N, l.C, l.HW, momentum,
                                         eps, stream);
  });
}

void forward_inference_binding(py::object out_, py::object input_, py::object running_mean_,
                               py::object running_var_, py::object weight_, py::object bias_, double eps) {
  const char* op = "batch_norm";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  Layout l = batch_norm_layout(op, input, "input");
  check_eps(op, eps);
  DeviceArray out = out_array(out_, dt, op, "out");
  require_shape(out, shape_of(input), op, "out");
  const void* rm = channel_in(running_mean_, dt, l.C, op, "running_mean", /*required=*/true);
  const void* rv = channel_in(running_var_, dt, l.C, op, "running_var", /*required=*/true);
  const void* w = channel_in(weight_, dt, l.C, op, "weight");
  const void* b = channel_in(bias_, dt, l.C, op, "bias");
  cudaStream_t stream = current_stream(out_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::batch_norm_forward_inference<T>(out.ptr<T>(), input.ptr<T>(), static_cast<const T*>(rm),
                                          static_cast<const T*>(rv), static_cast<const T*>(w),
                                          static_cast<const T*>(b), l.N, l.C, l.HW, eps, stream);
  });
}

void backward_binding(py::object dinput_, py::object dweight_, py::object dbias_, py::object grad_output_,
                      py::object input_, py::object weight_, py::object save_mean_, py::object save_invstd_) {
  const char* op = "batch_norm_backward";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  Layout l = batch_norm_layout(op, input, "input");
  const std::vector<int64_t> shape = shape_of(input);
  DeviceArray dout = in_array(grad_output_, dt, op, "grad_output");
  require_shape(dout, shape, op, "grad_output");
  DeviceArray dinput = out_array(dinput_, dt, op, "dinput");
  require_shape(dinput, shape, op, "dinput");
  DeviceArray dweight = out_array(dweight_, dt, op, "dweight");
  require_shape(dweight, {l.C}, op, "dweight");
  DeviceArray dbias = out_array(dbias_, dt, op, "dbias");
  require_shape(dbias, {l.C}, op, "dbias");
  const void* w = channel_in(weight_, dt, l.C, op, "weight");
  const void* sm = channel_in(save_mean_, dt, l.C, op, "save_mean", /*required=*/true);
  const void* si = channel_in(save_invstd_, dt, l.C, op, "save_invstd", /*required=*/true);
  cudaStream_t stream = current_stream(dinput_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::batch_norm_backward<T>(dinput.ptr<T>(), dweight.ptr<T>(), dbias.ptr<T>(), dout.ptr<T>(), input.ptr<T>(),
                                 static_cast<const T*>(w), static_cast<const T*>(sm), static_cast<const T*>(si), l.N,
                                 l.C, l.HW, stream);
  });
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def("batch_norm_forward_training", &forward_training_binding, py::arg("out"), py::arg("save_mean"),
        py::arg("save_invstd"), py::arg("running_mean").none(true), py::arg("running_var").none(true),
        py::arg("input"), py::arg("weight").none(true), py::arg("bias").none(true), py::arg("momentum"),
        py::arg("eps"),
        "Batch norm, training mode, on the GPU: out (N,C[,H,W]), save_mean and save_invstd (C,) <- input;\n"
        "running_mean and running_var (C,) updated in place (PyTorch momentum, unbiased variance) unless None.");
  m.def("batch_norm_forward_inference", &forward_inference_binding, py::arg("out"), py::arg("input"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("weight").none(true), py::arg("bias").none(true),
        py::arg("eps"),
        "Batch norm, inference mode, on the GPU: out (N,C[,H,W]) <- input normalised with running_mean,\n"
        "running_var (C,).");
  m.def("batch_norm_backward", &backward_binding, py::arg("dinput"), py::arg("dweight"), py::arg("dbias"),
        py::arg("grad_output"), py::arg("input"), py::arg("weight").none(true), py::arg("save_mean"),
        py::arg("save_invstd"),
        "Backward of training-mode batch norm on the GPU (per-channel sums of dy and dy*xhat in one read, then\n"
        "dx): dinput (N,C[,H,W]), dweight = sum(dy*xhat), dbias = sum(dy) (C,) <- grad_output, input, weight (or\n"
        "None: gamma = 1), save_mean, save_invstd.");
}

}  // namespace fastann::cudabind
