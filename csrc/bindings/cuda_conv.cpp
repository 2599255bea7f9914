// Bindings of the conv family (csrc/cuda/conv.cu) into fastann._cuda: the same names, arguments and checks
// as fastann._cpu's (csrc/bindings/cpu_conv.cpp), with CuPy arrays.
//
// Padding arrives explicit (top, bottom, left, right): fastann.ops resolves "same"/"valid" first. Every
// argument is checked here again (dtype -> TypeError; ndim, shapes, channel agreement, stride, dilation,
// groups, padding, contiguity, writeability -> ValueError), so calling fastann._cuda directly is safe.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "conv_args.hpp"
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/conv.hpp"

namespace fastann::cudabind {

namespace {

using cuda::Conv2dParams;
using cuda::PaddingMode;

PaddingMode parse_mode(const std::string& s, const char* op) {
  if (s == "zeros") return PaddingMode::zeros;
  if (s == "reflect") return PaddingMode::reflect;
  if (s == "replicate") return PaddingMode::replicate;
  fail(op, ": padding_mode must be 'zeros', 'reflect' or 'replicate', got '", s, "'");
}

// Geometry from the input shape (N,C,H,W), the weight shape (OC,C/groups,KH,KW) and the hyper-parameters;
// validated (std::invalid_argument -> ValueError) and OH/OW filled in.
Conv2dParams make_params(const char* op, const int64_t* in, const int64_t* w, int64_t sh, int64_t sw, int64_t pt,
                         int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups,
                         const std::string& mode) {
  Conv2dParams p;
  p.N = in[0], p.C = in[1], p.H = in[2], p.W = in[3];
  p.OC = w[0], p.KH = w[2], p.KW = w[3];
  p.stride_h = sh, p.stride_w = sw, p.dilation_h = dh, p.dilation_w = dw;
  p.pad_top = pt, p.pad_bottom = pb, p.pad_left = pl, p.pad_right = pr;
  p.groups = groups;
  p.mode = parse_mode(mode, op);
  FASTANN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  FASTANN_CHECK(w[1] > 0 && w[1] <= INT64_MAX / groups && w[1] * groups == p.C, op, ": channel mismatch: weight (",
                w[0], ", ", w[1], ", ", w[2], ", ", w[3], ") expects C_in/groups=", w[1],
                " but the input has C=", p.C, " with groups=", groups);
  cuda::conv2d_validate(p, op);
  return p;
}

void check_kernel(int kernel, const char* op) {
  FASTANN_CHECK(kernel >= 0 && kernel <= cuda::kConvNumKernels, op, ": kernel must be 0 (auto), 1, 2 or 3, got ",
                kernel);
}


void conv2d_forward_binding(py::object out_, py::object input_, py::object weight_, py::object bias_, int64_t sh,
                            int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw,
                            int64_t groups, const std::string& mode, int kernel) {
  const char* op = "conv2d_forward";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  DeviceArray weight = in_array(weight_, dt, op, "weight");
  DeviceArray out = out_array(out_, dt, op, "out");
  require_ndim(input, 4, op, "input", "(N, C, H, W)");
  require_ndim(weight, 4, op, "weight", "(C_out, C_in/groups, kH, kW)");
  check_kernel(kernel, op);
  Conv2dParams p = make_params(op, input.shape, weight.shape, sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
  require_shape(out, {p.N, p.OC, p.OH, p.OW}, op, "out");
  const void* bias = nullptr;
  if (!bias_.is_none()) {
    DeviceArray b = in_array(bias_, dt, op, "bias");
    require_shape(b, {p.OC}, op, "bias");
    bias = b.data;
  }
  cudaStream_t stream = current_stream(out_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::conv2d_forward<T>(out.ptr<T>(), input.ptr<T>(), weight.ptr<T>(), static_cast<const T*>(bias), p, kernel,
                            stream);
  });
}

void conv2d_backward_input_binding(py::object dinput_, py::object grad_output_, py::object weight_, int64_t sh,
                                   int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh,
                                   int64_t dw, int64_t groups, const std::string& mode, int kernel) {
  const char* op = "conv2d_backward_input";
  DeviceArray dout = parse_array(grad_output_, op, "grad_output");
  const DType dt = float_dtype(dout, op, "grad_output");
  DeviceArray weight = in_array(weight_, dt, op, "weight");
  DeviceArray dinput = out_array(dinput_, dt, op, "dinput");
  require_ndim(dinput, 4, op, "dinput", "(N, C, H, W)");
  require_ndim(dout, 4, op, "grad_output", "(N, C_out, OH, OW)");
  require_ndim(weight, 4, op, "weight", "(C_out, C_in/groups, kH, kW)");
  check_kernel(kernel, op);
  Conv2dParams p = make_params(op, dinput.shape, weight.shape, sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
  require_shape(dout, {p.N, p.OC, p.OH, p.OW}, op, "grad_output");
  cudaStream_t stream = current_stream(dinput_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::conv2d_backward_input<T>(dinput.ptr<T>(), dout.ptr<T>(), weight.ptr<T>(), p, kernel, stream);
  });
}

void conv2d_backward_weight_binding(py::object dweight_, py::object dbias_, py::object grad_output_,
                                    py::object input_, int64_t sh, int64_t sw, int64_t pt, int64_t pb, int64_t pl,
                                    int64_t pr, int64_t dh, int64_t dw, int64_t groups, const std::string& mode,
                                    int kernel) {
  const char* op = "conv2d_backward_weight";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  DeviceArray dout = in_array(grad_output_, dt, op, "grad_output");
  DeviceArray dweight = out_array(dweight_, dt, op, "dweight");
  require_ndim(input, 4, op, "input", "(N, C, H, W)");
  require_ndim(dout, 4, op, "grad_output", "(N, C_out, OH, OW)");
  require_ndim(dweight, 4, op, "dweight", "(C_out, C_in/groups, kH, kW)");
  check_kernel(kernel, op);
  Conv2dParams p = make_params(op, input.shape, dweight.shape, sh, sw, pt, pb, pl, pr, dh, dw, groups, mode);
  require_shape(dout, {p.N, p.OC, p.OH, p.OW}, op, "grad_output");
  void* dbias = nullptr;
  if (!dbias_.is_none()) {
    DeviceArray db = out_array(dbias_, dt, op, "dbias");
    require_shape(db, {p.OC}, op, "dbias");
    dbias = db.data;
  }
  cudaStream_t stream = current_stream(dweight_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::conv2d_backward_weight<T>(dweight.ptr<T>(), static_cast<T*>(dbias), dout.ptr<T>(), input.ptr<T>(), p,
                                    kernel, stream);
  });
}

// Shapes of upsample2d: small (N,C,H,W), big (N,C,H*sh,W*sw).
void upsample_args(const DeviceArray& small, const DeviceArray& big, int64_t sh, int64_t sw, const char* op,
                   const char* small_name, const char* big_name) {
  require_ndim(small, 4, op, small_name, "(N, C, H, W)");
  require_ndim(big, 4, op, big_name, "(N, C, H*sh, W*sw)");
  FASTANN_CHECK(sh > 0 && sw > 0, op, ": scale_factor must be positive, got (", sh, ", ", sw, ")");
  FASTANN_CHECK(small.size > 0, op, ": ", small_name, " is empty (shape ", shape_str(small), ")");
  const int64_t H = small.shape[2], W = small.shape[3];
  FASTANN_CHECK(H < (int64_t(1) << 31) / sh && W < (int64_t(1) << 31) / sw, op, ": output too large");
  FASTANN_CHECK(small.size <= INT64_MAX / (sh * sw), op, ": output too large");
  require_shape(big, {small.shape[0], small.shape[1], H * sh, W * sw}, op, big_name);
}

bool upsample_mode(const std::string& mode, bool align_corners, const char* op) {
  FASTANN_CHECK(mode == "nearest" || mode == "bilinear", op, ": mode must be 'nearest' or 'bilinear', got '", mode,
                "'");
  FASTANN_CHECK(mode == "bilinear" || !align_corners, op, ": align_corners only applies to mode='bilinear'");
  return mode == "bilinear";
}

void upsample2d_forward_binding(py::object out_, py::object input_, int64_t sh, int64_t sw, const std::string& mode,
                                bool align_corners) {
  const char* op = "upsample2d_forward";
  DeviceArray input = parse_array(input_, op, "input");
  const DType dt = float_dtype(input, op, "input");
  DeviceArray out = out_array(out_, dt, op, "out");
  upsample_args(input, out, sh, sw, op, "input", "out");
  const bool bilinear = upsample_mode(mode, align_corners, op);
  const int64_t N = input.shape[0], C = input.shape[1], H = input.shape[2], W = input.shape[3];
  cudaStream_t stream = current_stream(out_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::upsample2d_forward<T>(out.ptr<T>(), input.ptr<T>(), N, C, H, W, sh, sw, bilinear, align_corners, stream);
  });
}

void upsample2d_backward_binding(py::object dinput_, py::object grad_output_, int64_t sh, int64_t sw,
                                 const std::string& mode, bool align_corners) {
  const char* op = "upsample2d_backward";
  DeviceArray dout = parse_array(grad_output_, op, "grad_output");
  const DType dt = float_dtype(dout, op, "grad_output");
  DeviceArray dinput = out_array(dinput_, dt, op, "dinput");
  upsample_args(dinput, dout, sh, sw, op, "dinput", "grad_output");
  const bool bilinear = upsample_mode(mode, align_corners, op);
  const int64_t N = dinput.shape[0], C = dinput.shape[1], H = dinput.shape[2], W = dinput.shape[3];
  cudaStream_t stream = current_stream(dinput_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::upsample2d_backward<T>(dinput.ptr<T>(), dout.ptr<T>(), N, C, H, W, sh, sw, bilinear, align_corners,
                                 stream);
  });
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward_binding, py::arg("out"), py::arg("input"), py::arg("weight"),
        py::arg("bias"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"),
        py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"), py::arg("groups"),
        py::arg("padding_mode"), py::arg("kernel"),
        "out (N,OC,OH,OW) = conv2d(input (N,C,H,W), weight (OC,C/groups,KH,KW)) + bias (OC or None), on the GPU.\n"
        "kernel: 0 auto, 1 direct, 2 im2col + fastann GEMM, 3 implicit GEMM. Raises TypeError (not CuPy arrays,\n"
        "dtype), ValueError (shapes, channels, stride/dilation/padding/groups, contiguity, kernel).");
  m.def("conv2d_backward_input", &conv2d_backward_input_binding, py::arg("dinput"), py::arg("grad_output"),
        py::arg("weight"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"),
        py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"), py::arg("groups"),
        py::arg("padding_mode"), py::arg("kernel"),
        "dinput (N,C,H,W) = gradient of conv2d w.r.t. its input, from grad_output (N,OC,OH,OW) and weight.\n"
        "Also conv_transpose2d's forward.");
  m.def("conv2d_backward_weight", &conv2d_backward_weight_binding, py::arg("dweight"), py::arg("dbias"),
        py::arg("grad_output"), py::arg("input"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"),
        py::arg("dilation_w"), py::arg("groups"), py::arg("padding_mode"), py::arg("kernel"),
        "dweight (OC,C/groups,KH,KW) and dbias (OC, or None to skip) of conv2d from grad_output and input.");
  m.def(
      "conv2d_pick_kernel",
      [](std::vector<int64_t> input_shape, std::vector<int64_t> weight_shape, int64_t sh, int64_t sw, int64_t pt,
         int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw, int64_t groups, const std::string& mode,
         int direction, const std::string& dtype) {
        const char* op = "conv2d_pick_kernel";
        bindings::check_pick_kernel_args(op, input_shape, weight_shape, direction, dtype);
        Conv2dParams p = make_params(op, input_shape.data(), weight_shape.data(), sh, sw, pt, pb, pl, pr, dh, dw,
                                     groups, mode);
        return cuda::conv2d_pick_kernel(p, direction);  // the CUDA rungs' choice does not depend on the dtype
      },
      py::arg("input_shape"), py::arg("weight_shape"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
      py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"),
      py::arg("groups"), py::arg("padding_mode"), py::arg("direction"), py::arg("dtype") = "float32",
      "The rung kernel=None runs on the GPU for this geometry (direction 0 forward, 1 input grad, 2 weight grad) "
      "and dtype.");
  m.def("upsample2d_forward", &upsample2d_forward_binding, py::arg("out"), py::arg("input"), py::arg("scale_h"),
        py::arg("scale_w"), py::arg("mode"), py::arg("align_corners"),
        "out (N,C,H*sh,W*sw) = upsample of input (N,C,H,W), nearest or bilinear, on the GPU.");
  m.def("upsample2d_backward", &upsample2d_backward_binding, py::arg("dinput"), py::arg("grad_output"),
        py::arg("scale_h"), py::arg("scale_w"), py::arg("mode"), py::arg("align_corners"),
        "dinput (N,C,H,W) = gradient of upsample2d from grad_output (N,C,H*sh,W*sw), on the GPU.");
  m.attr("CONV2D_NUM_KERNELS") = cuda::kConvNumKernels;
}

}  // namespace fastann::cudabind
