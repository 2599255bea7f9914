// cpu_layer_norm.cpp: layer norm of fastann._cpu; signatures and checks in args/layer_norm.hpp, kernels in
// csrc/cpu/layer_norm*.cpp.
#include "args/layer_norm.hpp"
#include "families.hpp"
#include "fastann/cpu/layer_norm.hpp"

namespace fastann::bindings {

void bind_layer_norm(py::module_& m) {
  def_layer_norm(
      m, Device::cpu,
      [](const LayerNormCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::layer_norm_forward<T>(c.out.ptr<T>(), c.save_mean->ptr<T>(), c.save_invstd->ptr<T>(),
                                     c.input.ptr<const T>(), ptr_or_null<const T>(c.weight),
                                     ptr_or_null<const T>(c.bias), c.M, c.N, c.eps);
        });
      },
      [](const LayerNormCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::layer_norm_backward<T>(c.out.ptr<T>(), ptr_or_null<T>(c.dweight), ptr_or_null<T>(c.dbias),
                                      c.grad_output->ptr<const T>(), c.input.ptr<const T>(),
                                      ptr_or_null<const T>(c.weight), c.save_mean->ptr<const T>(),
                                      c.save_invstd->ptr<const T>(), c.M, c.N);
        });
      });
}

}  // namespace fastann::bindings
