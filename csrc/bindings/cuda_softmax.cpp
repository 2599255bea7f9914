// cuda_softmax.cpp: the softmax family of fastann._cuda; signatures and checks in args/softmax.hpp, launchers
// in csrc/cuda/softmax.cu.
#include "args/softmax.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/softmax.hpp"

namespace fastann::bindings {

void bind_softmax(py::module_& m) {
  auto run = [](const SoftmaxCall& s) {
    cudaStream_t stream = current_stream(s.x.obj);
    nogil release;
    dispatch_float(s.ft, [&](auto tag) {
      using T = decltype(tag);
      if (s.backward)
        cuda::softmax_backward<T>(s.out.ptr<T>(), s.grad_output.ptr<const T>(), s.x.ptr<const T>(), s.outer, s.axis,
                                  s.inner, s.log, stream);
      else
        cuda::softmax_forward<T>(s.out.ptr<T>(), s.x.ptr<const T>(), s.outer, s.axis, s.inner, s.log, stream);
    });
  };
  def_softmax(m, Device::cuda, false,
              "out = softmax(input) along `dim` on the GPU (max-subtracted; a NaN makes its row NaN). "
              "float32/float64 CuPy arrays of one shape, any ndim.",
              "dinput = y * (g - sum(g * y)) along `dim`, y = softmax's output, g = grad_output.", run);
  def_softmax(m, Device::cuda, true, "out = log_softmax(input) = x - max - log(sum(exp(x - max))) along `dim` on the GPU.",
              "dinput = g - exp(y) * sum(g) along `dim`, y = log_softmax's output.", run);
}

}  // namespace fastann::bindings
