// softmax.cpp: softmax / log-softmax and their backwards (fastann/cpu/softmax.hpp), dispatched to the loops of
// the ISA simd_level() names (softmax_loops.hpp, compiled per ISA: csrc/cpu/README.md).
#include "fastann/cpu/softmax.hpp"

#include "fastann/common.hpp"
#include "softmax_isa.hpp"
#include "internal/simd_dispatch.hpp"

namespace fastann::cpu {

namespace {

template <class T>
void lines(SoftmaxOp op, T* dst, const T* x, const T* g, int64_t outer, int64_t A, int64_t inner) {
  FASTANN_SIMD_DISPATCH(softmax_lines<T>(op, dst, x, g, outer, A, inner));
}

}  // namespace

template <class T>
void softmax_forward(T* out, const T* inp, int64_t outer, int64_t A, int64_t inner) {
  lines<T>(SoftmaxOp::softmax, out, inp, nullptr, outer, A, inner);
}
template <class T>
void log_softmax_forward(T* out, const T* inp, int64_t outer, int64_t A, int64_t inner) {
  lines<T>(SoftmaxOp::log_softmax, out, inp, nullptr, outer, A, inner);
}
template <class T>
void softmax_backward(T* dinp, const T* out, const T* dout, int64_t outer, int64_t A, int64_t inner) {
  lines<T>(SoftmaxOp::softmax_backward, dinp, out, dout, outer, A, inner);
}
template <class T>
void log_softmax_backward(T* dinp, const T* out, const T* dout, int64_t outer, int64_t A, int64_t inner) {
  lines<T>(SoftmaxOp::log_softmax_backward, dinp, out, dout, outer, A, inner);
}

#define FASTANN_SOFTMAX_T(T)                                                                  \
  template void softmax_forward<T>(T*, const T*, int64_t, int64_t, int64_t);                 \
  template void log_softmax_forward<T>(T*, const T*, int64_t, int64_t, int64_t);             \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t);      \
  template void log_softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t);
FASTANN_SOFTMAX_T(float)
FASTANN_SOFTMAX_T(double)
#undef FASTANN_SOFTMAX_T

}  // namespace fastann::cpu
