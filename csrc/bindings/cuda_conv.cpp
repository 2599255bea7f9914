// cuda_conv.cpp: the conv family of fastann._cuda; signatures and checks in args/conv.hpp, launchers in
// csrc/cuda/conv_dispatch.cu.
#include "args/conv.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/conv.hpp"

namespace fastann::bindings {

namespace {
void check_conv_rung(int rung, const char* op) {
  FASTANN_CHECK(rung >= 0 && rung <= cuda::kConvNumRungs, op, ": rung must be 0 (auto), 1, 2 or 3, got ",
                rung);
}
}  // namespace

void bind_conv(py::module_& m) {
  def_conv2d(
      m, Device::cuda,
      "out (N,OC,OH,OW) = conv2d(input (N,C,H,W), weight (OC,C/groups,KH,KW)) + bias (OC or None), on the GPU.\n"
      "rung: 0 auto, 1 direct, 2 im2col + fastann GEMM, 3 implicit GEMM. Raises TypeError (not CuPy arrays,\n"
      "dtype), ValueError (shapes, channels, stride/dilation/padding/groups, contiguity, overlap, rung).",
      "dinput (N,C,H,W) = gradient of conv2d w.r.t. its input, from grad_output (N,OC,OH,OW) and weight.\n"
      "Also conv_transpose2d's forward.",
      "dweight (OC,C/groups,KH,KW) and dbias (OC, or None to skip) of conv2d from grad_output and input.",
      [](const ConvCall& c) {
        check_conv_rung(c.rung, "conv2d_forward");
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::conv2d_forward<T>(c.out.ptr<T>(), c.a.ptr<const T>(), c.b.ptr<const T>(), ptr_or_null<const T>(c.bias),
                                  c.p, c.rung, s);
        });
      },
      [](const ConvCall& c) {
        check_conv_rung(c.rung, "conv2d_backward_input");
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::conv2d_backward_input<T>(c.out.ptr<T>(), c.a.ptr<const T>(), c.b.ptr<const T>(), c.p, c.rung, s);
        });
      },
      [](const ConvCall& c) {
        check_conv_rung(c.rung, "conv2d_backward_weight");
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::conv2d_backward_weight<T>(c.out.ptr<T>(), ptr_or_null<T>(c.bias), c.a.ptr<const T>(),
                                          c.b.ptr<const T>(), c.p, c.rung, s);
        });
      });
  def_conv2d_pick_rung(
      m,
      "The rung that rung=None runs on the GPU for this geometry (direction 0 forward, 1 input grad, 2 weight grad) "
      "and dtype.",
      // the CUDA rungs' choice does not depend on the dtype
      [](const Conv2dParams& p, int direction, bool) { return cuda::conv2d_pick_rung(p, direction); });
  def_upsample2d(
      m, Device::cuda,
      [](const UpsampleCall& u) {
        cudaStream_t s = current_stream(u.big.obj);
        nogil release;
        dispatch_float(u.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::upsample2d_forward<T>(u.big.ptr<T>(), u.small.ptr<const T>(), u.N, u.C, u.H, u.W, u.sh, u.sw,
                                      u.bilinear, u.align_corners, s);
        });
      },
      [](const UpsampleCall& u) {
        cudaStream_t s = current_stream(u.small.obj);
        nogil release;
        dispatch_float(u.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::upsample2d_backward<T>(u.small.ptr<T>(), u.big.ptr<const T>(), u.N, u.C, u.H, u.W, u.sh, u.sw,
                                       u.bilinear, u.align_corners, s);
        });
      });
  m.attr("CONV2D_NUM_KERNELS") = cuda::kConvNumRungs;
}

}  // namespace fastann::bindings
