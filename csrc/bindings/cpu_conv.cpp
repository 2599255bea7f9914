// cpu_conv.cpp: the conv family of fastann._cpu; signatures and checks in args/conv.hpp, kernels in
// csrc/cpu/conv*.cpp.
#include "args/conv.hpp"
#include "families.hpp"
#include "fastann/cpu/conv.hpp"

namespace fastann::bindings {

namespace {
void check_conv_rung(int rung, const char* op) {
  FASTANN_CHECK(rung >= 0 && rung <= 4, op, ": rung must be 0 (auto), 1, 2, 3 or 4, got ", rung);
}
}  // namespace

void bind_conv(py::module_& m) {
  def_conv2d(
      m, Device::cpu,
      "out (N,OC,OH,OW) = conv2d(input (N,C,H,W), weight (OC,C/groups,KH,KW)) + bias (OC or None). "
      "rung: 0 auto, 1 naive, 2 im2col+GEMM, 3 fused SIMD.",
      "dinput (N,C,H,W) = gradient of conv2d w.r.t. its input, from grad_output (N,OC,OH,OW) and weight.",
      "dweight (OC,C/groups,KH,KW) and dbias (OC, or None to skip) of conv2d from grad_output and input.",
      [](const ConvCall& c) {
        check_conv_rung(c.rung, "conv2d_forward");
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::conv2d_forward<T>(c.out.ptr<T>(), c.a.ptr<const T>(), c.b.ptr<const T>(), ptr_or_null<const T>(c.bias),
                                 c.p, c.rung);
        });
      },
      [](const ConvCall& c) {
        check_conv_rung(c.rung, "conv2d_backward_input");
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::conv2d_backward_input<T>(c.out.ptr<T>(), c.a.ptr<const T>(), c.b.ptr<const T>(), c.p, c.rung);
        });
      },
      [](const ConvCall& c) {
        check_conv_rung(c.rung, "conv2d_backward_weight");
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::conv2d_backward_weight<T>(c.out.ptr<T>(), ptr_or_null<T>(c.bias), c.a.ptr<const T>(),
                                         c.b.ptr<const T>(), c.p, c.rung);
        });
      });
  def_conv2d_pick_rung(
      m, "The rung that rung=None runs for this geometry (direction 0 forward, 1 input grad, 2 weight grad) and dtype.",
      [](const Conv2dParams& p, int direction, bool f32) { return cpu::conv2d_pick_rung(p, direction, f32); });
  def_upsample2d(
      m, Device::cpu,
      [](const UpsampleCall& u) {
        dispatch_float(u.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          if (u.bilinear)
            cpu::upsample2d_bilinear_forward<T>(u.big.ptr<T>(), u.small.ptr<const T>(), u.N, u.C, u.H, u.W, u.sh,
                                                u.sw, u.align_corners);
          else
            cpu::upsample2d_nearest_forward<T>(u.big.ptr<T>(), u.small.ptr<const T>(), u.N, u.C, u.H, u.W, u.sh,
                                               u.sw);
        });
      },
      [](const UpsampleCall& u) {
        dispatch_float(u.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          if (u.bilinear)
            cpu::upsample2d_bilinear_backward<T>(u.small.ptr<T>(), u.big.ptr<const T>(), u.N, u.C, u.H, u.W, u.sh,
                                                 u.sw, u.align_corners);
          else
            cpu::upsample2d_nearest_backward<T>(u.small.ptr<T>(), u.big.ptr<const T>(), u.N, u.C, u.H, u.W, u.sh,
                                                u.sw);
        });
      });
}

}  // namespace fastann::bindings
