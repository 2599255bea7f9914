// cuda_layer_norm.cpp: layer norm of fastann._cuda; signatures and checks in args/layer_norm.hpp, launchers in
// csrc/cuda/layer_norm.cu.
#include "args/layer_norm.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/layer_norm.hpp"

namespace fastann::bindings {

void bind_layer_norm(py::module_& m) {
  def_layer_norm(
      m, Device::cuda,
      [](const LayerNormCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::layer_norm_forward<T>(c.out.ptr<T>(), c.save_mean->ptr<T>(), c.save_invstd->ptr<T>(),
                                      c.input.ptr<const T>(), ptr_or_null<const T>(c.weight),
                                      ptr_or_null<const T>(c.bias), c.M, c.N, c.eps, s);
        });
      },
      [](const LayerNormCall& c) {
        cudaStream_t s = current_stream(c.out.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::layer_norm_backward<T>(c.out.ptr<T>(), ptr_or_null<T>(c.dweight), ptr_or_null<T>(c.dbias),
                                       c.grad_output->ptr<const T>(), c.input.ptr<const T>(),
                                       ptr_or_null<const T>(c.weight), c.save_mean->ptr<const T>(),
                                       c.save_invstd->ptr<const T>(), c.M, c.N, s);
        });
      });
}

}  // namespace fastann::bindings
