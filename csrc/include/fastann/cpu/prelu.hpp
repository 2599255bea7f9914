// fastann/cpu/prelu.hpp: the parametric ReLU (He et al. 2015, "Delving Deep into Rectifiers";
// torch.nn.functional.prelu), float32 and float64, csrc/cpu/prelu.cpp.
//
// Layout: input seen as (N, C, S): the channel axis 1 of an input of rank >= 2 (N = shape[0], S = the product
// of the axes after it), or one channel for a 1-D input (N = 1, C = 1, S = its length). weight has C values,
// or 1 shared by every channel (`shared`).
//   y = x if x > 0 else w_c x
//   dx = dy if x > 0 else w_c dy;   dw_c = sum over (n, s) of dy x where x <= 0   (shared: summed over c too)
// dw is summed in double per channel, rows in order, channels added in order: the same at any thread count.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// inp/out (N,C,S); weight (C,) or (1,) when shared.
template <class T>
void prelu_forward(T* out, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S, bool shared);

// dout, inp, dinp (N,C,S); weight, dweight (C,) or (1,) when shared.
template <class T>
void prelu_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, int64_t N, int64_t C, int64_t S,
                    bool shared);

}  // namespace fastann::cpu
