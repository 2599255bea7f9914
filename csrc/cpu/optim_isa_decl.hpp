// optim_isa_decl.hpp: declarations of the optimizer loops of one ISA namespace (FASTANN_ISA), defined in
// optim_impl.hpp and instantiated for float and double by optim_isa_instances.hpp in that ISA's file.
// Included once per ISA by optim.cpp (hence no include guard).
#include <cstdint>

namespace fastann::cpu::FASTANN_ISA {
template <class T>
void sgd(T* param, T* buf, const T* grad, int64_t n, T lr, T momentum, T one_minus_dampening, bool nesterov,
         T wd);
template <class T>
void adam(T* param, T* m, T* v, T* vmax, const T* grad, int64_t n, T step_size, T inv_sqrt_bc2, T beta1, T c1,
          T beta2, T c2, T eps, T wd, T decay);
template <class T>
void rmsprop(T* param, T* sq, T* buf, T* gavg, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps, T momentum,
             T wd);
template <class T>
void adagrad(T* param, T* acc, const T* grad, int64_t n, T lr, T eps, T wd);
template <class T>
void adadelta(T* param, T* sq, T* acc_delta, const T* grad, int64_t n, T lr, T rho, T c_rho, T eps, T wd);
template <class T>
void adamax(T* param, T* m, T* u, const T* grad, int64_t n, T step_size, T beta1, T c1, T beta2, T eps, T wd);
template <class T>
void nadam(T* param, T* m, T* v, const T* grad, int64_t n, T cg, T cm, T inv_sqrt_bc2, T beta1, T c1, T beta2,
           T c2, T eps, T wd);
}  // namespace fastann::cpu::FASTANN_ISA
