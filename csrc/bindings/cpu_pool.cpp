// Bindings of the pool family (csrc/cpu/pool.cpp) into fastann._cpu.
//
// Window arguments arrive as (h, w) pairs, already normalised by fastann.ops (stride=None -> kernel_size).
// Output arrays come first and must already have the output shape the geometry gives.
#include <pybind11/stl.h>

#include <utility>

#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "fastann/cpu/pool.hpp"

namespace fastann::bind {

namespace {

using Pair = std::pair<int64_t, int64_t>;

// Geometry of a pooling call on a 4-D input, checked (ValueError naming `op` on any bad value).
cpu::Pool2dGeometry geometry(const char* op, const py::array& input_like, const char* name, Pair kernel_size,
                             Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  require_ndim(input_like, 4, op, name, "(N,C,H,W)");
  return cpu::make_pool2d_geometry(op, input_like.shape(0), input_like.shape(1), input_like.shape(2),
                                   input_like.shape(3), kernel_size.first, kernel_size.second, stride.first,
                                   stride.second, padding.first, padding.second, dilation.first, dilation.second,
                                   ceil_mode);
}

std::vector<int64_t> out_shape(const cpu::Pool2dGeometry& g) { return {g.N, g.C, g.OH, g.OW}; }

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](py::array out, py::array indices, py::array input, Pair kernel_size, Pair stride, Pair padding,
         Pair dilation, bool ceil_mode, int kernel) {
        const char* op = "max_pool2d";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        cpu::Pool2dGeometry g = geometry(op, input, "input", kernel_size, stride, padding, dilation, ceil_mode);
        check_out(out, dt, op, "out");
        require_shape(out, out_shape(g), op, "out");
        require_dtype_of<int64_t>(indices, op, "indices", "int64");
        require_contiguous(indices, op, "indices");
        require_writeable(indices, op, "indices");
        require_shape(indices, out_shape(g), op, "indices");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::max_pool2d_forward<T>(mptr<T>(out), mptr<int64_t>(indices), cptr<T>(input), g, kernel);
        });
      },
      py::arg("out"), py::arg("indices"), py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("kernel") = 0,
      "2-D max pooling: out, indices (N,C,OH,OW) <- input (N,C,H,W). indices: int64 flat ih*W+iw per plane. "
      "kernel: 0 auto, 1 direct, 2 2x2/stride-2 (on the CPU's best ISA).");

  m.def(
      "max_pool2d_backward",
      [](py::array dinput, py::array grad_output, py::array indices) {
        const char* op = "max_pool2d_backward";
        DType dt = float_dtype(grad_output, op, "grad_output");
        check_in(grad_output, dt, op, "grad_output");
        require_ndim(grad_output, 4, op, "grad_output", "(N,C,OH,OW)");
        require_dtype_of<int64_t>(indices, op, "indices", "int64");
        require_contiguous(indices, op, "indices");
        require_shape(indices, {grad_output.shape(0), grad_output.shape(1), grad_output.shape(2),
                                grad_output.shape(3)}, op, "indices");
        check_out(dinput, dt, op, "dinput");
        require_ndim(dinput, 4, op, "dinput", "(N,C,H,W)");
        FASTANN_CHECK(dinput.shape(0) == grad_output.shape(0) && dinput.shape(1) == grad_output.shape(1), op,
                      ": dinput ", shape_str(dinput), " and grad_output ", shape_str(grad_output),
                      " disagree in N or C");
        cpu::Pool2dGeometry g{};
        g.N = dinput.shape(0), g.C = dinput.shape(1), g.H = dinput.shape(2), g.W = dinput.shape(3);
        g.OH = grad_output.shape(2), g.OW = grad_output.shape(3);
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::max_pool2d_backward<T>(mptr<T>(dinput), cptr<T>(grad_output), cptr<int64_t>(indices), g);
        });
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("indices"),
      "Backward of max_pool2d: dinput (N,C,H,W) <- grad_output, indices (N,C,OH,OW). ValueError for an index "
      "outside [0, H*W).");

  m.def(
      "avg_pool2d_forward",
      [](py::array out, py::array input, Pair kernel_size, Pair stride, Pair padding, bool ceil_mode,
         bool count_include_pad) {
        const char* op = "avg_pool2d";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        cpu::Pool2dGeometry g = geometry(op, input, "input", kernel_size, stride, padding, {1, 1}, ceil_mode);
        check_out(out, dt, op, "out");
        require_shape(out, out_shape(g), op, "out");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::avg_pool2d_forward<T>(mptr<T>(out), cptr<T>(input), g, count_include_pad);
        });
      },
      py::arg("out"), py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"),
      "2-D average pooling: out (N,C,OH,OW) <- input (N,C,H,W), PyTorch's divisor rules.");

  m.def(
      "avg_pool2d_backward",
      [](py::array dinput, py::array grad_output, Pair kernel_size, Pair stride, Pair padding, bool ceil_mode,
         bool count_include_pad) {
        const char* op = "avg_pool2d_backward";
        DType dt = float_dtype(grad_output, op, "grad_output");
        check_in(grad_output, dt, op, "grad_output");
        check_out(dinput, dt, op, "dinput");
        cpu::Pool2dGeometry g = geometry(op, dinput, "dinput", kernel_size, stride, padding, {1, 1}, ceil_mode);
        require_shape(grad_output, out_shape(g), op, "grad_output");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::avg_pool2d_backward<T>(mptr<T>(dinput), cptr<T>(grad_output), g, count_include_pad);
        });
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"),
      "Backward of avg_pool2d: dinput (N,C,H,W) <- grad_output (N,C,OH,OW).");

  m.def(
      "global_avg_pool2d_forward",
      [](py::array out, py::array input) {
        const char* op = "global_avg_pool2d";
        DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        require_ndim(input, 4, op, "input", "(N,C,H,W)");
        FASTANN_CHECK(input.size() > 0, op, ": input is empty, shape ", shape_str(input));
        check_out(out, dt, op, "out");
        require_shape(out, {input.shape(0), input.shape(1)}, op, "out");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::global_avg_pool2d_forward<T>(mptr<T>(out), cptr<T>(input), input.shape(0) * input.shape(1),
                                            input.shape(2) * input.shape(3));
        });
      },
      py::arg("out"), py::arg("input"), "Global average pooling: out (N,C) <- input (N,C,H,W).");

  m.def(
      "global_avg_pool2d_backward",
      [](py::array dinput, py::array grad_output) {
        const char* op = "global_avg_pool2d_backward";
        DType dt = float_dtype(grad_output, op, "grad_output");
        check_in(grad_output, dt, op, "grad_output");
        require_ndim(grad_output, 2, op, "grad_output", "(N,C)");
        check_out(dinput, dt, op, "dinput");
        require_ndim(dinput, 4, op, "dinput", "(N,C,H,W)");
        FASTANN_CHECK(dinput.size() > 0, op, ": dinput is empty, shape ", shape_str(dinput));
        require_shape(grad_output, {dinput.shape(0), dinput.shape(1)}, op, "grad_output");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::global_avg_pool2d_backward<T>(mptr<T>(dinput), cptr<T>(grad_output),
                                             dinput.shape(0) * dinput.shape(1), dinput.shape(2) * dinput.shape(3));
        });
      },
      py::arg("dinput"), py::arg("grad_output"),
      "Backward of global_avg_pool2d: dinput (N,C,H,W) = grad_output (N,C) / (H*W), broadcast.");
}

}  // namespace fastann::bind
