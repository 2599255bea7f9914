// Bindings of the conv family (csrc/cpu/conv.cpp) into fastann._cpu.
//
// Padding arrives explicit (top, bottom, left, right): fastann.ops resolves "same"/"valid" first. Every
// argument is checked here again (dtype -> TypeError; ndim, shapes, channel agreement, stride, dilation,
// groups, padding, contiguity, writeability -> ValueError), so calling fastann._cpu directly is safe.
#include <string>

#include <pybind11/stl.h>

#include "binding_utils.hpp"
#include "conv_args.hpp"
#include "cpu_bindings.hpp"
#include "fastann/cpu/conv.hpp"

namespace fastann::bind {

namespace {

using cpu::Conv2dParams;
using cpu::PaddingMode;

PaddingMode parse_mode(const std::string& s, const char* op) {
  if (s == "zeros") return PaddingMode::zeros;
  if (s == "reflect") return PaddingMode::reflect;
  if (s == "replicate") return PaddingMode::replicate;
  fail(op, ": padding_mode must be 'zeros', 'reflect' or 'replicate', got '", s, "'");
}

// Geometry from the input shape (N,C,H,W), the weight shape (OC,C/groups,KH,KW) and the hyper-parameters;
// validated (std::invalid_argument -> ValueError) and OH/OW filled in.
Conv2dParams make_params(const char* op, const py::ssize_t* in, const py::ssize_t* w, int64_t sh, int64_t sw,
                         int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups,
                         const std::string& mode) {
  Conv2dParams p;
  p.N = in[0], p.C = in[1], p.H = in[2], p.W = in[3];
  p.OC = w[0], p.KH = w[2], p.KW = w[3];
  p.stride_h = sh, p.stride_w = sw, p.dilation_h = dh, p.dilation_w = dw;
  p.pad_top = pt, p.pad_bottom = pb, p.pad_left = pl, p.pad_right = pr;
  p.groups = groups;
  p.mode = parse_mode(mode, op);
  FASTANN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  FASTANN_CHECK(w[1] * groups == p.C, op, ": channel mismatch: weight (", w[0], ", ", w[1], ", ", w[2], ", ", w[3],
                ") expects C_in/groups=", w[1], " (C_in=", w[1] * groups, ") but the input has C=", p.C,
                " with groups=", groups);
  cpu::conv2d_validate(p, op);
  return p;
}


void check_kernel(int kernel, const char* op) {
  FASTANN_CHECK(kernel >= 0 && kernel <= 4, op, ": kernel must be 0 (auto), 1, 2, 3 or 4, got ", kernel);
}


}  // namespace

void bind_conv(py::module_& m) {
  m.def(
      "conv2d_forward",
      [](py::array out, py::array input, py::array weight, py::object bias, int64_t sh, int64_t sw, int64_t pt,
         int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups, const std::string& mode,
         int kernel) {
        const char* op = "conv2d_forward";
        const DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        check_in(weight, dt, op, "weight");
        check_out(out, dt, op, "out");
        require_ndim(input, 4, op, "input", "(N, C, H, W)");
        require_ndim(weight, 4, op, "weight", "(C_out, C_in/groups, kH, kW)");
        check_kernel(kernel, op);
        Conv2dParams p = make_params(op, input.shape(), weight.shape(), sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
        require_shape(out, {p.N, p.OC, p.OH, p.OW}, op, "out");
        py::array b;
        if (!bias.is_none()) {
          b = bias.cast<py::array>();
          check_in(b, dt, op, "bias");
          require_shape(b, {p.OC}, op, "bias");
        }
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* bp = bias.is_none() ? nullptr : cptr<T>(b);
          nogil g;
          cpu::conv2d_forward<T>(mptr<T>(out), cptr<T>(input), cptr<T>(weight), bp, p, kernel);
        });
      },
      py::arg("out"), py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride_h"), py::arg("stride_w"),
      py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"),
      py::arg("dilation_w"), py::arg("groups"), py::arg("padding_mode"), py::arg("kernel"),
      "out (N,OC,OH,OW) = conv2d(input (N,C,H,W), weight (OC,C/groups,KH,KW)) + bias (OC or None). "
      "kernel: 0 auto, 1 naive, 2 im2col+GEMM, 3 fused SIMD.");

  m.def(
      "conv2d_backward_input",
      [](py::array dinput, py::array grad_output, py::array weight, int64_t sh, int64_t sw, int64_t pt, int64_t pb,
         int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups, const std::string& mode, int kernel) {
        const char* op = "conv2d_backward_input";
        const DType dt = float_dtype(grad_output, op, "grad_output");
        check_in(grad_output, dt, op, "grad_output");
        check_in(weight, dt, op, "weight");
        check_out(dinput, dt, op, "dinput");
        require_ndim(dinput, 4, op, "dinput", "(N, C, H, W)");
        require_ndim(grad_output, 4, op, "grad_output", "(N, C_out, OH, OW)");
        require_ndim(weight, 4, op, "weight", "(C_out, C_in/groups, kH, kW)");
        check_kernel(kernel, op);
        Conv2dParams p = make_params(op, dinput.shape(), weight.shape(), sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
        require_shape(grad_output, {p.N, p.OC, p.OH, p.OW}, op, "grad_output");
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil g;
          cpu::conv2d_backward_input<T>(mptr<T>(dinput), cptr<T>(grad_output), cptr<T>(weight), p, kernel);
        });
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("weight"), py::arg("stride_h"), py::arg("stride_w"),
      py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"),
      py::arg("dilation_w"), py::arg("groups"), py::arg("padding_mode"), py::arg("kernel"),
      "dinput (N,C,H,W) = gradient of conv2d w.r.t. its input, from grad_output (N,OC,OH,OW) and weight.");

  m.def(
      "conv2d_backward_weight",
      [](py::array dweight, py::object dbias, py::array grad_output, py::array input, int64_t sh, int64_t sw,
         int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups,
         const std::string& mode, int kernel) {
        const char* op = "conv2d_backward_weight";
        const DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        check_in(grad_output, dt, op, "grad_output");
        check_out(dweight, dt, op, "dweight");
        require_ndim(input, 4, op, "input", "(N, C, H, W)");
        require_ndim(grad_output, 4, op, "grad_output", "(N, C_out, OH, OW)");
        require_ndim(dweight, 4, op, "dweight", "(C_out, C_in/groups, kH, kW)");
        check_kernel(kernel, op);
        Conv2dParams p = make_params(op, input.shape(), dweight.shape(), sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
        require_shape(grad_output, {p.N, p.OC, p.OH, p.OW}, op, "grad_output");
        py::array db;
        if (!dbias.is_none()) {
          db = dbias.cast<py::array>();
          check_out(db, dt, op, "dbias");
          require_shape(db, {p.OC}, op, "dbias");
        }
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          T* dbp = dbias.is_none() ? nullptr : mptr<T>(db);
          nogil g;
          cpu::conv2d_backward_weight<T>(mptr<T>(dweight), dbp, cptr<T>(grad_output), cptr<T>(input), p, kernel);
        });
      },
      py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("input"), py::arg("stride_h"),
      py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),
      py::arg("dilation_h"), py::arg("dilation_w"), py::arg("groups"), py::arg("padding_mode"), py::arg("kernel"),
      "dweight (OC,C/groups,KH,KW) and dbias (OC, or None to skip) of conv2d from grad_output and input.");

  m.def(
      "conv2d_pick_kernel",
      [](std::vector<int64_t> input_shape, std::vector<int64_t> weight_shape, int64_t sh, int64_t sw, int64_t pt,
         int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups, const std::string& mode,
         int direction, const std::string& dtype) {
        const char* op = "conv2d_pick_kernel";
        bindings::check_pick_kernel_args(op, input_shape, weight_shape, direction, dtype);
        std::vector<py::ssize_t> in(input_shape.begin(), input_shape.end());
        std::vector<py::ssize_t> w(weight_shape.begin(), weight_shape.end());
        Conv2dParams p = make_params(op, in.data(), w.data(), sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
        return cpu::conv2d_pick_kernel(p, direction, dtype == "float32");
      },
      py::arg("input_shape"), py::arg("weight_shape"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
      py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"),
      py::arg("groups"), py::arg("padding_mode"), py::arg("direction"), py::arg("dtype") = "float32",
      "The rung kernel=None runs for this geometry (direction 0 forward, 1 input grad, 2 weight grad) and dtype.");

  auto upsample_args = [](const py::array& small, const py::array& big, int64_t sh, int64_t sw, const char* op,
                          const char* small_name, const char* big_name) {
    require_ndim(small, 4, op, small_name, "(N, C, H, W)");
    require_ndim(big, 4, op, big_name, "(N, C, H*sh, W*sw)");
    FASTANN_CHECK(sh > 0 && sw > 0, op, ": scale_factor must be positive, got (", sh, ", ", sw, ")");
    FASTANN_CHECK(small.size() > 0, op, ": ", small_name, " is empty (shape ", shape_str(small), ")");
    const int64_t H = small.shape(2), W = small.shape(3);
    FASTANN_CHECK(H < (int64_t(1) << 31) / sh && W < (int64_t(1) << 31) / sw, op, ": output too large");
    require_shape(big, {small.shape(0), small.shape(1), H * sh, W * sw}, op, big_name);
  };

  m.def(
      "upsample2d_forward",
      [upsample_args](py::array out, py::array input, int64_t sh, int64_t sw, const std::string& mode,
                      bool align_corners) {
        const char* op = "upsample2d_forward";
        const DType dt = float_dtype(input, op, "input");
        check_in(input, dt, op, "input");
        check_out(out, dt, op, "out");
        upsample_args(input, out, sh, sw, op, "input", "out");
        FASTANN_CHECK(mode == "nearest" || mode == "bilinear", op, ": mode must be 'nearest' or 'bilinear', got '",
                      mode, "'");
        FASTANN_CHECK(mode == "bilinear" || !align_corners, op, ": align_corners only applies to mode='bilinear'");
        const int64_t N = input.shape(0), C = input.shape(1), H = input.shape(2), W = input.shape(3);
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil g;
          if (mode == "nearest")
            cpu::upsample2d_nearest_forward<T>(mptr<T>(out), cptr<T>(input), N, C, H, W, sh, sw);
          else
            cpu::upsample2d_bilinear_forward<T>(mptr<T>(out), cptr<T>(input), N, C, H, W, sh, sw, align_corners);
        });
      },
      py::arg("out"), py::arg("input"), py::arg("scale_h"), py::arg("scale_w"), py::arg("mode"),
      py::arg("align_corners"), "out (N,C,H*sh,W*sw) = upsample of input (N,C,H,W), nearest or bilinear.");

  m.def(
      "upsample2d_backward",
      [upsample_args](py::array dinput, py::array grad_output, int64_t sh, int64_t sw, const std::string& mode,
                      bool align_corners) {
        const char* op = "upsample2d_backward";
        const DType dt = float_dtype(grad_output, op, "grad_output");
        check_in(grad_output, dt, op, "grad_output");
        check_out(dinput, dt, op, "dinput");
        upsample_args(dinput, grad_output, sh, sw, op, "dinput", "grad_output");
        FASTANN_CHECK(mode == "nearest" || mode == "bilinear", op, ": mode must be 'nearest' or 'bilinear', got '",
                      mode, "'");
        FASTANN_CHECK(mode == "bilinear" || !align_corners, op, ": align_corners only applies to mode='bilinear'");
        const int64_t N = dinput.shape(0), C = dinput.shape(1), H = dinput.shape(2), W = dinput.shape(3);
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          nogil g;
          if (mode == "nearest")
            cpu::upsample2d_nearest_backward<T>(mptr<T>(dinput), cptr<T>(grad_output), N, C, H, W, sh, sw);
          else
            cpu::upsample2d_bilinear_backward<T>(mptr<T>(dinput), cptr<T>(grad_output), N, C, H, W, sh, sw,
                                                 align_corners);
        });
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("scale_h"), py::arg("scale_w"), py::arg("mode"),
      py::arg("align_corners"), "dinput (N,C,H,W) = gradient of upsample2d from grad_output (N,C,H*sh,W*sw).");
}

}  // namespace fastann::bind
