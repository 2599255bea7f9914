// Bindings of the pool family (csrc/cuda/pool.cu) into fastann._cuda: the same names, arguments and checks as
// fastann._cpu's (csrc/bindings/cpu_pool.cpp), with CuPy arrays.
//
// Window arguments arrive as (h, w) pairs, already normalised by fastann.ops (stride=None -> kernel_size).
// Output arrays come first and must already have the output shape the geometry gives.
#include <pybind11/stl.h>

#include <utility>
#include <vector>

#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/pool.hpp"

namespace fastann::cudabind {

namespace {

using Pair = std::pair<int64_t, int64_t>;

// Geometry of a pooling call on a 4-D input, checked (ValueError naming `op` on any bad value).
cuda::Pool2dGeometry geometry(const char* op, const DeviceArray& input_like, const char* name, Pair kernel_size,
                              Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  require_ndim(input_like, 4, op, name, "(N,C,H,W)");
  return cuda::make_pool2d_geometry(op, input_like.shape[0], input_like.shape[1], input_like.shape[2],
                                    input_like.shape[3], kernel_size.first, kernel_size.second, stride.first,
                                    stride.second, padding.first, padding.second, dilation.first, dilation.second,
                                    ceil_mode);
}

std::vector<int64_t> out_shape(const cuda::Pool2dGeometry& g) { return {g.N, g.C, g.OH, g.OW}; }

// An int64 index array: TypeError for another dtype (not a CuPy array: TypeError from parse_array).
DeviceArray index_array(py::handle obj, const char* op, const char* name) {
  DeviceArray a = parse_array(obj, op, name);
  if (a.dtype != DevDType::i64)
    throw py::type_error(std::string(op) + ": " + name + " must be int64, got dtype " + cuda::dtype_name(a.dtype));
  return a;
}

void max_pool2d_forward_binding(py::object out_, py::object indices_, py::object input_, Pair kernel_size,
                                Pair stride, Pair padding, Pair dilation, bool ceil_mode, int kernel) {
  const char* op = "max_pool2d";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  cuda::Pool2dGeometry g = geometry(op, input, "input", kernel_size, stride, padding, dilation, ceil_mode);
  DeviceArray out = out_array(out_, dt, op, "out");
  require_shape(out, out_shape(g), op, "out");
  DeviceArray indices = index_array(indices_, op, "indices");
  require_writeable(indices, op, "indices");
  require_shape(indices, out_shape(g), op, "indices");
  cudaStream_t stream = current_stream(out_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::max_pool2d_forward<T>(out.ptr<T>(), indices.ptr<int64_t>(), input.ptr<T>(), g, kernel, stream);
  });
}

void max_pool2d_backward_binding(py::object dinput_, py::object grad_output_, py::object indices_) {
  const char* op = "max_pool2d_backward";
  DeviceArray dout = parse_array(grad_output_, op, "grad_output");
  const DType dt = float_dtype(dout, op, "grad_output");
  require_ndim(dout, 4, op, "grad_output", "(N,C,OH,OW)");
  DeviceArray indices = index_array(indices_, op, "indices");
  require_shape(indices, {dout.shape[0], dout.shape[1], dout.shape[2], dout.shape[3]}, op, "indices");
  DeviceArray dinput = out_array(dinput_, dt, op, "dinput");
  require_ndim(dinput, 4, op, "dinput", "(N,C,H,W)");
  FASTANN_CHECK(dinput.shape[0] == dout.shape[0] && dinput.shape[1] == dout.shape[1], op, ": dinput ",
                shape_str(dinput), " and grad_output ", shape_str(dout), " disagree in N or C");
  cuda::Pool2dGeometry g{};
  g.N = dinput.shape[0], g.C = dinput.shape[1], g.H = dinput.shape[2], g.W = dinput.shape[3];
  g.OH = dout.shape[2], g.OW = dout.shape[3];
  cudaStream_t stream = current_stream(dinput_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::max_pool2d_backward<T>(dinput.ptr<T>(), dout.ptr<T>(), indices.ptr<int64_t>(), g, stream);
  });
}

void avg_pool2d_forward_binding(py::object out_, py::object input_, Pair kernel_size, Pair stride, Pair padding,
                                bool ceil_mode, bool count_include_pad) {
  const char* op = "avg_pool2d";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  cuda::Pool2dGeometry g = geometry(op, input, "input", kernel_size, stride, padding, {1, 1}, ceil_mode);
  DeviceArray out = out_array(out_, dt, op, "out");
  require_shape(out, out_shape(g), op, "out");
  cudaStream_t stream = current_stream(out_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::avg_pool2d_forward<T>(out.ptr<T>(), input.ptr<T>(), g, count_include_pad, stream);
  });
}

void avg_pool2d_backward_binding(py::object dinput_, py::object grad_output_, Pair kernel_size, Pair stride,
                                 Pair padding, bool ceil_mode, bool count_include_pad) {
  const char* op = "avg_pool2d_backward";
  DeviceArray dout = parse_array(grad_output_, op, "grad_output");
  const DType dt = float_dtype(dout, op, "grad_output");
  DeviceArray dinput = out_array(dinput_, dt, op, "dinput");
  cuda::Pool2dGeometry g = geometry(op, dinput, "dinput", kernel_size, stride, padding, {1, 1}, ceil_mode);
  require_shape(dout, out_shape(g), op, "grad_output");
  cudaStream_t stream = current_stream(dinput_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::avg_pool2d_backward<T>(dinput.ptr<T>(), dout.ptr<T>(), g, count_include_pad, stream);
  });
}

void global_avg_pool2d_forward_binding(py::object out_, py::object input_) {
  const char* op = "global_avg_pool2d";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  require_ndim(input, 4, op, "input", "(N,C,H,W)");
  FASTANN_CHECK(input.size > 0, op, ": input is empty, shape ", shape_str(input));
  DeviceArray out = out_array(out_, dt, op, "out");
  require_shape(out, {input.shape[0], input.shape[1]}, op, "out");
  cudaStream_t stream = current_stream(out_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::global_avg_pool2d_forward<T>(out.ptr<T>(), input.ptr<T>(), input.shape[0] * input.shape[1],
                                       input.shape[2] * input.shape[3], stream);
  });
}

void global_avg_pool2d_backward_binding(py::object dinput_, py::object grad_output_) {
  const char* op = "global_avg_pool2d_backward";
  DeviceArray dout = parse_array(grad_output_, op, "grad_output");
  const DType dt = float_dtype(dout, op, "grad_output");
  require_ndim(dout, 2, op, "grad_output", "(N,C)");
  DeviceArray dinput = out_array(dinput_, dt, op, "dinput");
  require_ndim(dinput, 4, op, "dinput", "(N,C,H,W)");
  FASTANN_CHECK(dinput.size > 0, op, ": dinput is empty, shape ", shape_str(dinput));
  require_shape(dout, {dinput.shape[0], dinput.shape[1]}, op, "grad_output");
  cudaStream_t stream = current_stream(dinput_);
  nogil release;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::global_avg_pool2d_backward<T>(dinput.ptr<T>(), dout.ptr<T>(), dinput.shape[0] * dinput.shape[1],
                                        dinput.shape[2] * dinput.shape[3], stream);
  });
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward_binding, py::arg("out"), py::arg("indices"), py::arg("input"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
        py::arg("kernel") = 0,
        "2-D max pooling on the GPU: out, indices (N,C,OH,OW) <- input (N,C,H,W). indices: int64 flat ih*W+iw per\n"
        "plane. kernel: 0 auto, 1 direct, 2 2x2/stride-2, 3 2x2/stride-2 with 128-bit loads.");
  m.def("max_pool2d_backward", &max_pool2d_backward_binding, py::arg("dinput"), py::arg("grad_output"),
        py::arg("indices"),
        "Backward of max_pool2d on the GPU: dinput (N,C,H,W) <- grad_output, indices (N,C,OH,OW). ValueError for\n"
        "an index outside [0, H*W) (checked on the device; this call synchronises CuPy's current stream).");
  m.def("avg_pool2d_forward", &avg_pool2d_forward_binding, py::arg("out"), py::arg("input"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        "2-D average pooling on the GPU: out (N,C,OH,OW) <- input (N,C,H,W), PyTorch's divisor rules.");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_binding, py::arg("dinput"), py::arg("grad_output"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
        py::arg("count_include_pad"), "Backward of avg_pool2d on the GPU: dinput (N,C,H,W) <- grad_output (N,C,OH,OW).");
  m.def("global_avg_pool2d_forward", &global_avg_pool2d_forward_binding, py::arg("out"), py::arg("input"),
        "Global average pooling on the GPU: out (N,C) <- input (N,C,H,W).");
  m.def("global_avg_pool2d_backward", &global_avg_pool2d_backward_binding, py::arg("dinput"), py::arg("grad_output"),
        "Backward of global_avg_pool2d on the GPU: dinput (N,C,H,W) = grad_output (N,C) / (H*W), broadcast.");
}

}  // namespace fastann::cudabind
