// fastann/cpu/layer_norm.hpp: layer normalization kernels (float32 and float64), csrc/cpu/layer_norm.cpp.
//
// Layout: input (..., *normalized_shape) seen as (M, N): M rows (the product of the leading dimensions),
// N values per row (the product of normalized_shape). Math (Ba, Kiros & Hinton 2016, "Layer
// Normalization"; torch.nn.functional.layer_norm's conventions), per row:
//   mean = sum(x)/N,  var = sum((x-mean)^2)/N (biased),  invstd = 1/sqrt(var + eps)
//   y = (x - mean) * invstd * gamma + beta          gamma, beta (N,): one value per position in the row
//   backward, xhat = (x-mean)*invstd, g = dy*gamma:
//     dx = invstd * (g - mean(g) - xhat * mean(g*xhat))         (means over the row)
//     dgamma = sum over rows of dy*xhat,  dbeta = sum over rows of dy
// The statistics are summed in double around a shift (the row's first finite value), as batch norm's
// (fastann/cpu/norm.hpp). Threads split the rows for the forward and for dx (a thread owns its rows), and
// the columns for dgamma and dbeta (a thread owns its columns and walks every row in order), so every
// result is the same at any thread count.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// inp/out (M,N); save_mean, save_invstd (M,); weight, bias (N,) or null (gamma = 1, beta = 0).
template <class T>
void layer_norm_forward(T* out, T* save_mean, T* save_invstd, const T* inp, const T* weight, const T* bias,
                        int64_t M, int64_t N, double eps);

// dout, inp, dinp (M,N); weight (N,) or null (gamma = 1); save_mean, save_invstd (M,) from the forward;
// dweight = sum(dy*xhat), dbias = sum(dy) (N,), each skipped when null.
template <class T>
void layer_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t M, int64_t N);

}  // namespace fastann::cpu
