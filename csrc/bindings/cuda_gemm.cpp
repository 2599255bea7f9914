// cuda_gemm.cpp: the gemm family of fastann._cuda (gemm, gemm_batched, linear_forward, linear_backward);
// signatures and checks in args/gemm.hpp, launchers in csrc/cuda/gemm.cu.
#include "args/gemm.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/gemm.hpp"

namespace fastann::bindings {

void bind_gemm(py::module_& m) {
  auto run_gemm = [](const GemmCall& g) {
    cudaStream_t stream = current_stream(g.c.obj);
    nogil release;
    dispatch_float(g.ft, [&](auto tag) {
      using T = decltype(tag);
      if (g.batch == 1 && g.c.ndim() == 2)
        cuda::gemm<T>(g.c.ptr<T>(), g.a.ptr<const T>(), g.b.ptr<const T>(), g.m, g.n, g.k, g.trans_a, g.trans_b,
                      static_cast<T>(g.alpha), static_cast<T>(g.beta), g.rung, stream);
      else
        cuda::gemm_strided_batched<T>(g.c.ptr<T>(), g.a.ptr<const T>(), g.b.ptr<const T>(), g.m, g.n, g.k, g.trans_a,
                                      g.trans_b, static_cast<T>(g.alpha), static_cast<T>(g.beta), g.batch, g.m * g.k,
                                      g.k * g.n, g.m * g.n, g.rung, stream);
    });
  };
  def_gemm(m, Device::cuda, false,
           "c (M,N) = alpha * op(a) @ op(b) + beta * c on the GPU, in place. a (M,K) or (K,M) if trans_a, b (K,N) "
           "or\n(N,K) if trans_b; float32 (rungs 1-7) or float64 (rungs 1-5); rung 0/None = auto.\n"
           "beta == 0 never reads c. Raises TypeError (not CuPy arrays, dtype), ValueError (shapes, overlap, rung).",
           run_gemm);
  def_gemm(m, Device::cuda, true,
           "CUDA only: c[z] = alpha * op(a[z]) @ op(b[z]) + beta * c[z] for every z, one launch (grid z). a "
           "(B,M,K)\nor (B,K,M), b (B,K,N) or (B,N,K), c (B,M,N); B <= 65535; same kernels and checks as gemm.",
           run_gemm);
  def_linear_forward(m, Device::cuda,
                     "out (N,out) = input (N,in) @ weight (out,in).T + bias (out,) [then relu], one GEMM with a fused "
                     "epilogue.",
                     [](const LinearForwardCall& l) {
                       cudaStream_t stream = current_stream(l.out.obj);
                       nogil release;
                       dispatch_float(l.ft, [&](auto tag) {
                         using T = decltype(tag);
                         cuda::linear_forward<T>(l.out.ptr<T>(), l.input.ptr<const T>(), l.weight.ptr<const T>(),
                                                 ptr_or_null<const T>(l.bias), l.n, l.in_f, l.out_f, l.relu, stream);
                       });
                     });
  def_linear_backward(m, Device::cuda,
                      "Gradients of linear_forward: dinput (N,in) (skipped when None), dweight (out,in), dbias (out,) "
                      "(skipped\nwhen None). With activation='relu' grad_output is first masked by output > 0 (output "
                      "required).",
                      [](const LinearBackwardCall& l) {
                        cudaStream_t stream = current_stream(l.dweight.obj);
                        nogil release;
                        dispatch_float(l.ft, [&](auto tag) {
                          using T = decltype(tag);
                          cuda::linear_backward<T>(ptr_or_null<T>(l.dinput), l.dweight.ptr<T>(),
                                                   ptr_or_null<T>(l.dbias), l.grad_output.ptr<const T>(),
                                                   l.input.ptr<const T>(), l.weight.ptr<const T>(),
                                                   l.relu ? ptr_or_null<const T>(l.output) : nullptr, l.n, l.in_f,
                                                   l.out_f, l.relu, stream);
                        });
                      });
  m.attr("GEMM_NUM_RUNGS") = cuda::kGemmNumRungs;
}

}  // namespace fastann::bindings
