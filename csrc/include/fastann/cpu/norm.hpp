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
// it reads one contiguous run of (c1-c0)*H*W values per n. Walking channel by channel instead (128 runs
// of H*W values, 100 KB apart) halved the speed: short strided runs defeat the hardware prefetcher.
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

// ---- the inner loops over one contiguous run of a channel's values ----------------------------------
// Compiled twice from csrc/cpu/norm_loops.inl: for baseline x86-64 (norm.cpp) and with AVX-512 flags
// (norm_avx512.cpp); the kernels pick one table at run time from fastann::simd_level().
template <class T>
struct BatchNormLoops {
  // s1 += sum(x - shift), s2 += sum((x - shift)^2) over x[0..n), in double.
  void (*shifted_sums)(const T* x, int64_t n, double shift, double* s1, double* s2);
  // y = (x - mean) * scale + beta.
  void (*normalize)(T* y, const T* x, int64_t n, T mean, T scale, T beta);
  // sum_dy += sum(dy), sum_dy_xmu += sum(dy * (x - mean)), in double.
  void (*grad_sums)(const T* dy, const T* x, int64_t n, T mean, double* sum_dy, double* sum_dy_xmu);
  // dx = a*dy + b*(x - mean) + c.
  void (*grad_input)(T* dx, const T* dy, const T* x, int64_t n, T mean, T a, T b, T c);
};
BatchNormLoops<float> batch_norm_loops_avx512(float);  // the argument only selects the overload
BatchNormLoops<double> batch_norm_loops_avx512(double);

}  // namespace fastann::cpu
