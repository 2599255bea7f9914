// conv_rungs.hpp: the rungs of conv2d's CPU ladder, each direction on zero-padding geometry (conv_dispatch.cpp
// handles the other padding modes and picks the rung). One file per rung, each instantiated for float and
// double; docs/conv.md describes them.
//   conv_rung1_naive.cpp        the formula as loops
//   conv_rung2_im2col_gemm.cpp  im2col, then fastann's GEMM
//   conv_rung3_direct.cpp       conv-specific operands for register-blocked micro-kernels on the padded image
//                               (+ conv_rung3_direct_avx512.cpp)
//   conv_rung4_winograd.cpp     Winograd F(2x2, 3x3) forward / input gradient, F(3x3, 2x2) weight gradient
//                               (+ conv_rung4_winograd_avx512.cpp)
// Arguments of every rung: inp / dinp (N,C,H,W), weight / dweight (OC,C/groups,KH,KW), bias / dbias (OC) or
// nullptr, out / dout (N,OC,OH,OW).
#pragma once

#include "fastann/cpu/conv.hpp"

namespace fastann::cpu::conv_detail {

template <class T>
void conv2d_forward_rung1_naive(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p);
template <class T>
void conv2d_backward_input_rung1_naive(T* dinp, const T* dout, const T* weight, const Conv2dParams& p);
template <class T>
void conv2d_backward_weight_rung1_naive(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p);

template <class T>
void conv2d_forward_rung2_im2col_gemm(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p);
template <class T>
void conv2d_backward_input_rung2_im2col_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p);
template <class T>
void conv2d_backward_weight_rung2_im2col_gemm(T* dweight, T* dbias, const T* dout, const T* inp,
                                              const Conv2dParams& p);

template <class T>
void conv2d_forward_rung3_direct(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p);
template <class T>
void conv2d_backward_input_rung3_direct(T* dinp, const T* dout, const T* weight, const Conv2dParams& p);
template <class T>
void conv2d_backward_weight_rung3_direct(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p);

// Requires winograd_fits(p) (conv_common.hpp).
template <class T>
void conv2d_forward_rung4_winograd(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p);
template <class T>
void conv2d_backward_input_rung4_winograd(T* dinp, const T* dout, const T* weight, const Conv2dParams& p);
template <class T>
void conv2d_backward_weight_rung4_winograd(T* dweight, T* dbias, const T* dout, const T* inp,
                                           const Conv2dParams& p);

// Requires winograd_phases_fits(p) (conv_common.hpp); the rung-4 entry points above hand such calls here.
template <class T>
void conv2d_forward_rung4_phases(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p);
template <class T>
void conv2d_backward_input_rung4_phases(T* dinp, const T* dout, const T* weight, const Conv2dParams& p);
template <class T>
void conv2d_backward_weight_rung4_phases(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p);

// Explicit instantiation of one rung's three directions for one dtype, e.g. (rung1_naive, float).
#define FASTANN_CONV_INSTANTIATE_RUNG(NAME, T)                                                               \
  template void conv2d_forward_##NAME<T>(T*, const T*, const T*, const T*, const Conv2dParams&);             \
  template void conv2d_backward_input_##NAME<T>(T*, const T*, const T*, const Conv2dParams&);                \
  template void conv2d_backward_weight_##NAME<T>(T*, T*, const T*, const T*, const Conv2dParams&);

}  // namespace fastann::cpu::conv_detail
