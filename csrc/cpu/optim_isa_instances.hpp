// optim_isa_instances.hpp: explicit float/double instantiations of the optimizer loops of the ISA
// namespace FASTANN_ISA (included at the end of optim.cpp / optim_avx2.cpp / optim_avx512.cpp).
namespace fastann::cpu::FASTANN_ISA {
#define FASTANN_OPTIM_INSTANCES(T)                                                                       \
  template void sgd<T>(T*, T*, const T*, int64_t, T, T, T, bool, T);                                    \
  template void adam<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T, T, T, T, T);                      \
  template void rmsprop<T>(T*, T*, T*, T*, const T*, int64_t, T, T, T, T, T, T);                        \
  template void adagrad<T>(T*, T*, const T*, int64_t, T, T, T);                                         \
  template void adadelta<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T);                              \
  template void adamax<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T, T);                             \
  template void nadam<T>(T*, T*, T*, const T*, int64_t, T, T, T, T, T, T, T, T, T);
FASTANN_OPTIM_INSTANCES(float)
FASTANN_OPTIM_INSTANCES(double)
#undef FASTANN_OPTIM_INSTANCES
}  // namespace fastann::cpu::FASTANN_ISA
