// fastann/cpu/norm.hpp: batch normalization kernels (float32 and float64).
//
// Layout: input (N,C) or (N,C,H,W), seen here as (N, C, HW) with HW = 1 for (N,C). Per channel c the
// statistics run over the M = N*HW values x[n, c, :]. Math (Ioffe & Szegedy 2015, PyTorch's conventions):
//   training:  mean = sum(x)/M,  var = sum((x-mean)^2)/M (biased),  invstd = 1/sqrt(var + eps)
//              y = (x - mean) * invstd * gamma + beta
//              running_mean = (1-momentum)*running_mean + momentum*mean
//              running_var  = (1-momentum)*running_var  + momentum*var*M/(M-1)   (unbiased variance)
//   inference: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta
//   backward (training statistics), xhat = (x-mean)*invstd:
//              dbeta = sum(dy),  dgamma = sum(dy*xhat)
//              dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat))
//
// Passes over the data: the forward reads x twice (statistics, then normalize) and the backward reads x
// and dy twice (the two sums, then dx). Threads split the channels (a thread owns a channel's statistics
// outright: no cross-thread reduction); within its channels [c0, c1) a thread walks n outer, c inner, so
// it reads one contiguous run of (c1-c0)*H*W values per n, which the hardware prefetcher follows (walking
// channel by channel would read N short runs of H*W values spaced C*H*W apart: docs/batchnorm.md).
// The statistics are summed in double around a shift (the channel's first value): s1 = sum(x-K),
// s2 = sum((x-K)^2), var = s2/M - (s1/M)^2, which keeps the one-pass formula accurate when |mean| >> std.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// inp/out (N,C,HW); save_mean, save_invstd (C,); running_mean, running_var (C,) updated in place (both may
// be null: no update); weight, bias (C,) or null (gamma = 1, beta = 0). Requires N*HW >= 2.
template <class T>
void batch_norm_forward_training(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                 const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                                 int64_t HW, double momentum, double eps);

// inp/out (N,C,HW); running_mean, running_var (C,); weight, bias (C,) or null.
template <class T>
void batch_norm_forward_inference(T* out, const T* inp, const T* running_mean, const T* running_var,
                                  const T* weight, const T* bias, int64_t N, int64_t C, int64_t HW, double eps);

// dout, inp, dinp (N,C,HW); weight (C,) or null (gamma = 1); save_mean, save_invstd (C,) from the training
// forward; dweight = sum(dy*xhat), dbias = sum(dy) (C,), always written.
template <class T>
void batch_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t N, int64_t C, int64_t HW);

// ---- fused batch norm + ReLU (+ 2x2/stride-2 max pool), NCHW --------------------------------------
// The Conv-BN-ReLU-MaxPool block's elementwise tail in two sweeps instead of five or six: the statistics
// sweep, then one sweep that normalizes, applies the ReLU and pools, writing only the (pooled) output and,
// with pooling, a byte per output naming the winning tap (window_index = 2*row + column, 0..3).
// The backward needs no stored ReLU mask: output > 0 is the mask (as relu's backward uses the result).
//   forward:  z = (x - mean) * invstd * gamma + beta;  y = relu(z)  or  y = max_pool2x2(relu(z))
//   backward: dz = dy routed to the winner (pool) and masked by y > 0, then batch norm's backward on dz.
// pool = 1 (no pool) or 2 (2x2 windows, stride 2, floor mode: an odd last row/column is in no window).
// training: batch statistics as batch_norm_forward_training (save_mean/save_invstd written, running stats
// updated unless null); else running_mean/running_var are read and save_* are ignored (may be null).
// inp (N,C,H,W); out (N,C,H/pool,W/pool); window_index like out (pool = 2) or null.
template <class T>
void batch_norm_relu_forward(T* out, uint8_t* window_index, T* save_mean, T* save_invstd, T* running_mean,
                             T* running_var, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                             int64_t H, int64_t W, int pool, bool training, double momentum, double eps);

// dout, out, window_index (N,C,H/pool,W/pool); inp, dinp (N,C,H,W); weight, bias (C,) or null, as given to
// the forward; save_mean, save_invstd (C,) from the training forward; dweight = sum(dz*xhat), dbias = sum(dz)
// (C,), always written. `out` must be that forward's output: besides the ReLU mask, it supplies the sums
// over the live values (see the kernel).
template <class T>
void batch_norm_relu_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* out,
                              const uint8_t* window_index, const T* inp, const T* weight, const T* bias,
                              const T* save_mean, const T* save_invstd, int64_t N, int64_t C, int64_t H, int64_t W,
                              int pool);

// ---- ReLU + 2x2/stride-2 max pool of a convolution's output (no normalization), NCHW ----------------
// The Conv(bias)-ReLU-MaxPool block's tail in one sweep: the same loops as batch_norm_relu with the identity
// normalization (mean 0, scale 1, beta 0: z = x exactly, -0 read as +0), so the same window rule (a tap
// wins when greater or NaN) and the same byte per output (window_index = 2*row + column).
//   forward:  y = max_pool2x2(relu(x)),  window_index = the winner
//   backward: dx = (0 + dy) * relu'(y) at the winner (relu'(NaN) = NaN), zero elsewhere: the separate ops'
//             bits, except that a NaN input at a tap that lost (or outside every window) gets 0, not NaN
// inp, dinp (N,C,H,W), H, W >= 2; out, dout, window_index (N,C,H/2,W/2) (floor mode).
template <class T>
void relu_max_pool2_forward(T* out, uint8_t* window_index, const T* inp, int64_t N, int64_t C, int64_t H,
                            int64_t W);
template <class T>
void relu_max_pool2_backward(T* dinp, const T* dout, const T* out, const uint8_t* window_index, int64_t N,
                             int64_t C, int64_t H, int64_t W);

}  // namespace fastann::cpu
