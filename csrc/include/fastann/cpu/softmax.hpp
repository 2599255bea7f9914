// fastann/cpu/softmax.hpp: softmax and log-softmax over one axis, forward and backward (csrc/cpu/softmax.cpp).
//
// A tensor of any ndim is seen as (outer, axis, inner): the reduction runs along `axis` (length A) for each
// of the outer * inner positions; element (o, a, i) is at o*A*inner + a*inner + i. Numerically stable: the
// maximum along the axis is subtracted before exp. NaN anywhere on a line makes that whole line NaN.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// inp, out (outer, A, inner): out = exp(x - max) / sum exp(x - max)
template <class T>
void softmax_forward(T* out, const T* inp, int64_t outer, int64_t A, int64_t inner);

// inp, out (outer, A, inner): out = x - max - log sum exp(x - max)
template <class T>
void log_softmax_forward(T* out, const T* inp, int64_t outer, int64_t A, int64_t inner);

// out = softmax output y, dout, dinp (outer, A, inner): dinp = y * (dout - sum_a dout_a y_a)
template <class T>
void softmax_backward(T* dinp, const T* out, const T* dout, int64_t outer, int64_t A, int64_t inner);

// out = log-softmax output y, dout, dinp (outer, A, inner): dinp = dout - exp(y) * sum_a dout_a
template <class T>
void log_softmax_backward(T* dinp, const T* out, const T* dout, int64_t outer, int64_t A, int64_t inner);

}  // namespace fastann::cpu
