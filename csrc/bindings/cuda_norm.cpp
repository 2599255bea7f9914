// cuda_norm.cpp: batch norm of fastann._cuda; signatures and checks in args/norm.hpp, launchers in
// csrc/cuda/norm.cu.
#include "args/norm.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/norm.hpp"

namespace fastann::bindings {

void bind_norm(py::module_& m) {
  def_batch_norm(
      m, Device::cuda,
      [](const BatchNormCall& b) {
        cudaStream_t s = current_stream(b.out.obj);
        nogil release;
        dispatch_float(b.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::batch_norm_forward_training<T>(b.out.ptr<T>(), b.save_mean->ptr<T>(), b.save_invstd->ptr<T>(),
                                               ptr_or_null<T>(b.running_mean), ptr_or_null<T>(b.running_var),
                                               b.input.ptr<const T>(), ptr_or_null<const T>(b.weight),
                                               ptr_or_null<const T>(b.bias), b.l.N, b.l.C, b.l.HW, b.momentum, b.eps, s);
        });
      },
      [](const BatchNormCall& b) {
        cudaStream_t s = current_stream(b.out.obj);
        nogil release;
        dispatch_float(b.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::batch_norm_forward_inference<T>(b.out.ptr<T>(), b.input.ptr<const T>(), b.running_mean->ptr<const T>(),
                                                b.running_var->ptr<const T>(), ptr_or_null<const T>(b.weight),
                                                ptr_or_null<const T>(b.bias), b.l.N, b.l.C, b.l.HW, b.eps, s);
        });
      },
      [](const BatchNormCall& b) {
        cudaStream_t s = current_stream(b.out.obj);
        nogil release;
        dispatch_float(b.ft, [&](auto tag) {
          using T = decltype(tag);
          cuda::batch_norm_backward<T>(b.out.ptr<T>(), b.dweight->ptr<T>(), b.dbias->ptr<T>(),
                                       b.grad_output->ptr<const T>(), b.input.ptr<const T>(),
                                       ptr_or_null<const T>(b.weight), b.save_mean->ptr<const T>(),
                                       b.save_invstd->ptr<const T>(), b.l.N, b.l.C, b.l.HW, s);
        });
      });
}

}  // namespace fastann::bindings
