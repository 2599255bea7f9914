// cpu_gemm.cpp: the gemm family of fastann._cpu (gemm, linear_forward, linear_backward, fma_peak_gflops);
// signatures and checks in args/gemm.hpp, kernels in csrc/cpu/gemm*.cpp.
#include "args/gemm.hpp"
#include "families.hpp"
#include "fastann/cpu/gemm.hpp"

namespace fastann::bindings {

void bind_gemm(py::module_& m) {
  def_gemm(m, Device::cpu, false,
           "c = alpha*op(a)*op(b) + beta*c in place. a (M,K) or (K,M) if trans_a, b (K,N) or (N,K) if trans_b,\n"
           "c (M,N); float32/float64, C-contiguous, c disjoint from a and b. beta == 0: c is not read. rung: 0 "
           "auto,\n1 naive, 2 cache-blocked, 3 packed SIMD, 4 packed SIMD threaded.",
           [](const GemmCall& g) {
             FASTANN_CHECK(g.rung <= cpu::kGemmRungs, "gemm: rung must be 0 (auto) or 1..", cpu::kGemmRungs,
                           ", got ", g.rung);
             dispatch_float(g.ft, [&](auto tag) {
               using T = decltype(tag);
               cpu::GemmArgs<T> a;
               a.m = g.m, a.n = g.n, a.k = g.k;
               a.a = g.a.ptr<const T>(), a.lda = g.a.shape[1], a.trans_a = g.trans_a;
               a.b = g.b.ptr<const T>(), a.ldb = g.b.shape[1], a.trans_b = g.trans_b;
               a.c = g.c.ptr<T>(), a.ldc = g.n;
               a.alpha = static_cast<T>(g.alpha), a.beta = static_cast<T>(g.beta);
               nogil release;
               cpu::gemm(a, g.rung);
             });
           });
  def_linear_forward(m, Device::cpu,
                     "out (N,out) = act(input (N,in) @ weight (out,in)^T + bias (out,)); activation None or 'relu'.",
                     [](const LinearForwardCall& l) {
                       dispatch_float(l.ft, [&](auto tag) {
                         using T = decltype(tag);
                         nogil release;
                         cpu::linear_forward<T>(l.out.ptr<T>(), l.input.ptr<const T>(), l.weight.ptr<const T>(),
                                                ptr_or_null<const T>(l.bias), l.n, l.in_f, l.out_f, l.relu ? 1 : 0);
                       });
                     });
  def_linear_backward(m, Device::cpu,
                      "Gradients of linear_forward: dinput (N,in) or None, dweight (out,in), dbias (out,) or None, "
                      "written\nin place. activation='relu' masks grad_output where output <= 0 (output (N,out) "
                      "required).",
                      [](const LinearBackwardCall& l) {
                        dispatch_float(l.ft, [&](auto tag) {
                          using T = decltype(tag);
                          nogil release;
                          cpu::linear_backward<T>(ptr_or_null<T>(l.dinput), l.dweight.ptr<T>(), ptr_or_null<T>(l.dbias),
                                                  l.grad_output.ptr<const T>(), l.input.ptr<const T>(),
                                                  l.weight.ptr<const T>(), ptr_or_null<const T>(l.output), l.n, l.in_f,
                                                  l.out_f, l.relu ? 1 : 0);
                        });
                      });
  m.def(
      "fma_peak_gflops",
      [](double seconds) {
        FASTANN_CHECK(seconds > 0 && seconds <= 60, "fma_peak_gflops: seconds must be in (0, 60], got ", seconds);
        nogil release;
        return cpu::fma_peak_gflops(seconds);
      },
      py::arg("seconds") = 0.2,
      "Measured single-core fp32 FMA peak (GFLOP/s) of the SIMD path in use (independent FMA chains).");
}

}  // namespace fastann::bindings
