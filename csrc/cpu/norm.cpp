// norm.cpp: batch normalization, forward (training and inference) and fused backward, float32 and float64.
// The math and the pass structure are in fastann/cpu/norm.hpp; docs/batchnorm.md explains the choices.
//
// Two layouts:
//   (N,C,H,W), HW > 1: parallel over channels. A channel's values are N runs of HW contiguous numbers; the
//                      inner loops (norm_loops.hpp, on the ISA simd_level() names) stream over one run,
//                      visited in memory order (n outer, the thread's channels inner).
//   (N,C), HW == 1:    a channel is a strided column, so instead each thread takes a block of columns and
//                      walks the rows, with the C-direction (contiguous) as the vector direction.
#include "fastann/cpu/norm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastann/common.hpp"
#include "norm_isa.hpp"

namespace fastann::cpu {

// ---- helpers ----------------------------------------------------------------------------------------
namespace {

// The inner loops of the ISA simd_level() names (csrc/cpu/README.md; no AVX2 file: avx2 runs scalar).
template <class T>
BatchNormLoops<T> loops() {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512::batch_norm_loops(T{});
    default: return scalar::batch_norm_loops(T{});
  }
}

template <class T>
BatchNormReluLoops<T> relu_loops() {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512::batch_norm_relu_loops(T{});
    default: return scalar::batch_norm_relu_loops(T{});
  }
}

// Channels per thread chunk below which a kernel stays on one thread (~32k values of work).
int64_t channel_grain(int64_t per_channel) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, per_channel));
}

// Columns per thread chunk in the (N,C) layout: multiples of 16 keep the vector loops aligned to lines.
int64_t column_grain(int64_t N) { return std::max<int64_t>(16, (32768 / std::max<int64_t>(1, N) + 15) / 16 * 16); }

// A channel's mean, biased variance and sd = sqrt(var + eps).
struct Moments {
  double mean, var, sd;
};

// The shift of a channel's sums: its first value, which makes the sums small for the usual channel whose
// values sit far from 0 relative to their spread; 0 when that value is +-inf or NaN, since x - inf would
// make every term NaN and a channel of finite values and +infs would get a NaN mean instead of +inf (the
// reference's and PyTorch's).
inline double channel_shift(double first) { return std::isfinite(first) ? first : 0.0; }

// From the shifted sums to the moments. var < 0 can only come from rounding; `if` (not std::max) keeps a
// NaN variance NaN.
inline Moments moments(double shift, double s1, double s2, double M, double eps) {
  const double d = s1 / M;
  double var = s2 / M - d * d;
  if (var < 0) var = 0;
  return {shift + d, var, std::sqrt(var + eps)};
}

// The moments of channel c of the (N,C,HW) input when its sum of squares overflowed: float64 values whose
// spread passes ~1e154 (d*d = inf; float32 values cannot get there in double). The channel is summed again
// with d scaled by 2^-600, exactly (a power of two), so sd = 2^600 sqrt(var' + eps 2^-1200) and invstd are
// finite where var itself may not be (var = var' 2^1200 is +inf past 1.8e308, and so is the running_var
// update). One scalar pass, taken only on overflow; an inf or NaN input still gives NaN statistics.
template <class T>
Moments rescaled_moments(const T* inp, int64_t N, int64_t C, int64_t HW, int64_t c, double shift, double M,
                         double eps) {
  const double down = std::ldexp(1.0, -600), up = std::ldexp(1.0, 600);
  double s1 = 0, s2 = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < HW; ++i) {
      const double d = (double(inp[(n * C + c) * HW + i]) - shift) * down;
      s1 += d;
      s2 += d * d;
    }
  const double d = s1 / M;
  double var = s2 / M - d * d;
  if (var < 0) var = 0;
  return {shift + d * up, var * up * up, std::sqrt(var + eps * down * down) * up};
}

// The moments of channel c from its shifted sums (the input is read again only when s2 overflowed).
template <class T>
inline Moments channel_moments(const T* inp, int64_t N, int64_t C, int64_t HW, int64_t c, double shift, double s1,
                               double s2, double eps) {
  const double M = double(N * HW);
  if (std::isinf(s2)) return rescaled_moments(inp, N, C, HW, c, shift, M, eps);
  return moments(shift, s1, s2, M, eps);
}

// Everything the training forward does with one channel's statistics: save them, update the running ones.
template <class T>
inline void finish_channel_stats(int64_t c, const Moments& mo, double M, T* save_mean, T* save_invstd,
                                 T* running_mean, T* running_var, double momentum) {
  save_mean[c] = T(mo.mean);
  save_invstd[c] = T(1.0 / mo.sd);
  if (running_mean) running_mean[c] = T((1 - momentum) * double(running_mean[c]) + momentum * mo.mean);
  if (running_var)
    running_var[c] = T((1 - momentum) * double(running_var[c]) + momentum * mo.var * M / (M - 1));
}

// Per-channel constants of the normalize sweep for a block of channels: y = (x - mean) * scale + beta.
template <class T>
struct ChannelConstants {
  std::vector<T> mean, scale, beta;
};

// Sweep 1 of a training forward over the (N,C,HW) input's channels [c0, c1), walked n outer / c inner
// (memory order): shifted sums, then each channel's statistics (saved, running ones updated) and constants.
template <class T>
ChannelConstants<T> block_statistics(const BatchNormLoops<T>& L, const T* inp, int64_t N, int64_t C, int64_t HW,
                                     int64_t c0, int64_t c1, const T* weight, const T* bias, T* save_mean,
                                     T* save_invstd, T* running_mean, T* running_var, double momentum, double eps) {
  const int64_t w = c1 - c0, M = N * HW;
  std::vector<double> shift(w), s1(w, 0.0), s2(w, 0.0);
  for (int64_t j = 0; j < w; ++j) shift[j] = channel_shift(double(inp[(c0 + j) * HW]));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < w; ++j) L.shifted_sums(inp + (n * C + c0 + j) * HW, HW, shift[j], &s1[j], &s2[j]);
  ChannelConstants<T> k{std::vector<T>(w), std::vector<T>(w), std::vector<T>(w)};
  for (int64_t j = 0; j < w; ++j) {
    const int64_t c = c0 + j;
    const Moments mo = channel_moments(inp, N, C, HW, c, shift[j], s1[j], s2[j], eps);
    finish_channel_stats(c, mo, double(M), save_mean, save_invstd, running_mean, running_var, momentum);
    k.mean[j] = T(mo.mean);
    k.scale[j] = T((weight ? double(weight[c]) : 1.0) / mo.sd);
    k.beta[j] = bias ? bias[c] : T(0);
  }
  return k;
}

// The same constants from the running statistics (inference), for all C channels.
template <class T>
ChannelConstants<T> running_constants(const T* running_mean, const T* running_var, const T* weight, const T* bias,
                                      int64_t C, double eps) {
  ChannelConstants<T> k{std::vector<T>(running_mean, running_mean + C), std::vector<T>(C), std::vector<T>(C)};
  for (int64_t c = 0; c < C; ++c) {
    k.scale[c] = T((weight ? double(weight[c]) : 1.0) / std::sqrt(double(running_var[c]) + eps));
    k.beta[c] = bias ? bias[c] : T(0);
  }
  return k;
}

// b = -ga invstd^2 sum_dy_xmu / M, multiplied left to right while ga invstd^2 = w invstd^3 stays well inside
// the normal range. For float64 channels of values past ~1e80 (invstd < ~1e-80) w invstd^3 underflows
// (subnormal or 0: dinput wrong by tens of percent, or missing the term), so b is then formed as
// -(ga (invstd sum_dy_xmu / M)) invstd, where invstd sum_dy_xmu / M = mean(dy xhat) is of the size of dy.
// float32 never takes that branch (any nonzero float32 w and invstd give |w invstd^3| > 1e-180), so its
// results are unchanged.
inline double grad_b(double ga, double invstd, double sum_dy_xmu, double M) {
  const double g2 = ga * invstd * invstd;
  if (std::fabs(g2) < 1e-250 && ga != 0.0) return -(ga * (invstd * sum_dy_xmu / M)) * invstd;
  return -g2 * sum_dy_xmu / M;
}

// The backward's per-channel constants, dx = a*dy + b*(x - mean) + c, from the two sums (and the
// parameter gradients dbias = sum(dy), dweight = sum(dy * xhat), written here). M values per channel.
template <class T>
struct GradConstants {
  T a, b, c;
};
template <class T>
GradConstants<T> grad_constants(int64_t ch, double sum_dy, double sum_dy_xmu, double M, const T* weight,
                                const T* save_invstd, T* dweight, T* dbias) {
  const double invstd = double(save_invstd[ch]);
  const double ga = (weight ? double(weight[ch]) : 1.0) * invstd;
  dbias[ch] = T(sum_dy);
  dweight[ch] = T(sum_dy_xmu * invstd);
  return {T(ga), T(grad_b(ga, invstd, sum_dy_xmu, M)), T(-ga * sum_dy / M)};
}

}  // namespace

// ---- kernels ----------------------------------------------------------------------------------------

// inp/out (N,C,HW); save_mean, save_invstd, running_mean, running_var, weight, bias (C,).
template <class T>
void batch_norm_forward_training(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                 const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                                 int64_t HW, double momentum, double eps) {
  const int64_t M = N * HW;
  FASTANN_CHECK(M >= 2, "batch_norm: training needs more than one value per channel, got N*H*W = ", M);
  if (HW > 1) {
    const BatchNormLoops<T> L = loops<T>();
    parallel_for(C, channel_grain(M), [&](int64_t c0, int64_t c1) {
      // This thread's channels [c0, c1) are, for each n, one contiguous run of (c1-c0)*HW values:
      // walking n outer, c inner reads memory in order (the hardware prefetcher's favourite pattern).
      const ChannelConstants<T> k = block_statistics(L, inp, N, C, HW, c0, c1, weight, bias, save_mean, save_invstd,
                                                     running_mean, running_var, momentum, eps);
      const int64_t w = c1 - c0;
      // Sweep 2: normalize, in the same order.
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < w; ++j) {
          const int64_t off = (n * C + c0 + j) * HW;
          L.normalize(out + off, inp + off, HW, k.mean[j], k.scale[j], k.beta[j]);
        }
    });
    return;
  }
  // (N,C): column blocks, rows walked in order.
  parallel_for(C, column_grain(N), [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> shift(w), s1(w, 0.0), s2(w, 0.0);
    for (int64_t j = 0; j < w; ++j) shift[j] = channel_shift(double(inp[c0 + j]));
    std::vector<T> mean(w), scale(w), beta(w);
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) {
        const double d = double(x[j]) - shift[j];
        s1[j] += d;
        s2[j] += d * d;
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = c0 + j;
      const Moments mo = channel_moments(inp, N, C, int64_t(1), c, shift[j], s1[j], s2[j], eps);
      finish_channel_stats(c, mo, double(M), save_mean, save_invstd, running_mean, running_var, momentum);
      mean[j] = T(mo.mean);
      scale[j] = T((weight ? double(weight[c]) : 1.0) / mo.sd);
      beta[j] = bias ? bias[c] : T(0);
    }
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C + c0;
      T* y = out + n * C + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) y[j] = (x[j] - mean[j]) * scale[j] + beta[j];
    }
  });
}

// inp/out (N,C,HW); running_mean, running_var, weight, bias (C,).
template <class T>
void batch_norm_forward_inference(T* out, const T* inp, const T* running_mean, const T* running_var,
                                  const T* weight, const T* bias, int64_t N, int64_t C, int64_t HW, double eps) {
  // Per channel: y = (x - mean) * scale + beta, the same normalize loop as training.
  const ChannelConstants<T> k = running_constants(running_mean, running_var, weight, bias, C, eps);
  const T *scale = k.scale.data(), *beta = k.beta.data();
  if (HW > 1) {
    const BatchNormLoops<T> L = loops<T>();
    parallel_for(N * C, channel_grain(HW), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {  // r = n*C + c: one run of HW values
        const int64_t c = r % C;
        L.normalize(out + r * HW, inp + r * HW, HW, running_mean[c], scale[c], beta[c]);
      }
    });
    return;
  }
  parallel_for(N, std::max<int64_t>(1, 32768 / C), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* x = inp + n * C;
      T* y = out + n * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - running_mean[c]) * scale[c] + beta[c];
    }
  });
}

// dout, inp, dinp (N,C,HW); weight, save_mean, save_invstd, dweight, dbias (C,).
template <class T>
void batch_norm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                         const T* save_mean, const T* save_invstd, int64_t N, int64_t C, int64_t HW) {
  const int64_t M = N * HW;
  // dx = a*dy + b*(x - mean) + c with the per-channel constants of the formula in norm.hpp.
  auto coefficients = [&](int64_t ch, double sum_dy, double sum_dy_xmu, T& a, T& b, T& c) {
    const GradConstants<T> k = grad_constants(ch, sum_dy, sum_dy_xmu, double(M), weight, save_invstd, dweight, dbias);
    a = k.a, b = k.b, c = k.c;
  };
  if (HW > 1) {
    const BatchNormLoops<T> L = loops<T>();
    parallel_for(C, channel_grain(M), [&](int64_t c0, int64_t c1) {
      // Channels [c0, c1), walked n outer / c inner as in the forward (memory order).
      const int64_t w = c1 - c0;
      std::vector<double> sdy(w, 0.0), sdyx(w, 0.0);
      for (int64_t n = 0; n < N; ++n)  // sweep 1: both sums in one pass over dy and x
        for (int64_t j = 0; j < w; ++j) {
          const int64_t off = (n * C + c0 + j) * HW;
          L.grad_sums(dout + off, inp + off, HW, save_mean[c0 + j], &sdy[j], &sdyx[j]);
        }
      std::vector<T> a(w), b(w), c(w);
      for (int64_t j = 0; j < w; ++j) coefficients(c0 + j, sdy[j], sdyx[j], a[j], b[j], c[j]);
      for (int64_t n = 0; n < N; ++n)  // sweep 2: dx
        for (int64_t j = 0; j < w; ++j) {
          const int64_t off = (n * C + c0 + j) * HW;
          L.grad_input(dinp + off, dout + off, inp + off, HW, save_mean[c0 + j], a[j], b[j], c[j]);
        }
    });
    return;
  }
  parallel_for(C, column_grain(N), [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> sdy(w, 0.0), sdyx(w, 0.0);
    const T* mean = save_mean + c0;
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C + c0;
      const T* dy = dout + n * C + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) {
        sdy[j] += double(dy[j]);
        sdyx[j] += double(dy[j]) * double(x[j] - mean[j]);
      }
    }
    std::vector<T> a(w), b(w), c(w);
    for (int64_t j = 0; j < w; ++j) coefficients(c0 + j, sdy[j], sdyx[j], a[j], b[j], c[j]);
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C + c0;
      const T* dy = dout + n * C + c0;
      T* dx = dinp + n * C + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) dx[j] = a[j] * dy[j] + b[j] * (x[j] - mean[j]) + c[j];
    }
  });
}

// ---- fused batch norm + ReLU (+ 2x2 max pool) -------------------------------------------------------
// Threads split the channels as above (a thread owns its channels' statistics); each sweep walks n outer,
// the thread's channels inner, one (n, c) plane per loop call.

// inp (N,C,H,W); out, window_index (N,C,H/pool,W/pool); per-channel arrays (C,). See norm.hpp.
template <class T>
void batch_norm_relu_forward(T* out, uint8_t* window_index, T* save_mean, T* save_invstd, T* running_mean,
                             T* running_var, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                             int64_t H, int64_t W, int pool, bool training, double momentum, double eps) {
  const int64_t HW = H * W, OHW = (H / pool) * (W / pool);
  FASTANN_CHECK(pool == 1 || pool == 2, "batch_norm_relu: pool must be 1 or 2, got ", pool);
  FASTANN_CHECK(!training || N * HW >= 2, "batch_norm_relu: training needs more than one value per channel, got "
                "N*H*W = ", N * HW);
  const BatchNormLoops<T> L = loops<T>();
  const BatchNormReluLoops<T> R = relu_loops<T>();
  // One plane: normalize + ReLU (+ pool) with the channel's constants.
  auto apply = [&](int64_t n, int64_t c, T mean, T scale, T beta) {
    const T* x = inp + (n * C + c) * HW;
    T* y = out + (n * C + c) * OHW;
    if (pool == 1)
      R.relu(y, x, HW, mean, scale, beta);
    else
      R.relu_pool2(y, window_index + (n * C + c) * OHW, x, H, W, mean, scale, beta);
  };
  if (!training) {
    const ChannelConstants<T> k = running_constants(running_mean, running_var, weight, bias, C, eps);
    parallel_for(N * C, channel_grain(HW), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) apply(r / C, r % C, k.mean[r % C], k.scale[r % C], k.beta[r % C]);
    });
    return;
  }
  parallel_for(C, channel_grain(N * HW), [&](int64_t c0, int64_t c1) {
    const ChannelConstants<T> k = block_statistics(L, inp, N, C, HW, c0, c1, weight, bias, save_mean, save_invstd,
                                                   running_mean, running_var, momentum, eps);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < c1 - c0; ++j) apply(n, c0 + j, k.mean[j], k.scale[j], k.beta[j]);
  });
}

// dout, out, window_index (N,C,H/pool,W/pool); inp, dinp (N,C,H,W); per-channel arrays (C,). See norm.hpp.
//
// Sweep 1 needs sum(dz) and sum(dz * (x - mean)) over the live outputs (out > 0), where dz = dout. There
// out = scale*(x_w - mean) + beta exactly, up to rounding (x_w: the window's winner, or x itself without a
// pool; scale = gamma*invstd), so sum(dz * (x_w - mean)) = sum(dz * (out - beta)) / scale. Read that way the
// sweep touches only dout and out, not the input: a quarter of the data with the pool (the input is 4x the
// output), two thirds without. Rounding: out - beta carries ~eps*(|scale*(x-mean)| + |beta|), i.e. an error of
// ~eps*|beta/scale| = eps*std*|beta/gamma| in x - mean, against ~eps*|mean| for the direct difference. So a
// channel uses the output only while |beta| <= kMaxBetaOverGamma*|gamma| (and scale is finite and nonzero),
// and reads the input otherwise (e.g. gamma = 0, or a NaN statistic).
template <class T>
void batch_norm_relu_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* out,
                              const uint8_t* window_index, const T* inp, const T* weight, const T* bias,
                              const T* save_mean, const T* save_invstd, int64_t N, int64_t C, int64_t H, int64_t W,
                              int pool) {
  FASTANN_CHECK(pool == 1 || pool == 2, "batch_norm_relu_backward: pool must be 1 or 2, got ", pool);
  constexpr double kMaxBetaOverGamma = 16.0;
  const int64_t HW = H * W, OHW = (H / pool) * (W / pool);
  const BatchNormReluLoops<T> R = relu_loops<T>();
  parallel_for(C, channel_grain(N * HW), [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> sdz(w, 0.0), sdzx(w, 0.0), scale(w, 0.0);  // scale 0: this channel reads the input
    for (int64_t j = 0; j < w; ++j) {
      const double gamma = weight ? double(weight[c0 + j]) : 1.0, beta = bias ? double(bias[c0 + j]) : 0.0;
      const double s = gamma * double(save_invstd[c0 + j]);
      if (std::isfinite(s) && s != 0.0 && std::abs(beta) <= kMaxBetaOverGamma * std::abs(gamma)) scale[j] = s;
    }
    for (int64_t n = 0; n < N; ++n)  // sweep 1: the two sums of dz (only the winners' dz with pooling)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t p = n * C + c0 + j;
        if (scale[j] != 0.0)  // sum(dz) and sum(dz * (out - beta)) over out alone (x = out, mean = beta)
          R.relu_grad_sums(dout + p * OHW, out + p * OHW, out + p * OHW, OHW, bias ? bias[c0 + j] : T(0), &sdz[j],
                           &sdzx[j]);
        else if (pool == 1)
          R.relu_grad_sums(dout + p * OHW, out + p * OHW, inp + p * HW, HW, save_mean[c0 + j], &sdz[j], &sdzx[j]);
        else
          R.relu_pool2_grad_sums(dout + p * OHW, out + p * OHW, window_index + p * OHW, inp + p * HW, H, W,
                                 save_mean[c0 + j], &sdz[j], &sdzx[j]);
      }
    std::vector<GradConstants<T>> k(w);
    for (int64_t j = 0; j < w; ++j) {
      if (scale[j] != 0.0) sdzx[j] /= scale[j];
      k[j] = grad_constants(c0 + j, sdz[j], sdzx[j], double(N * HW), weight, save_invstd, dweight, dbias);
    }
    for (int64_t n = 0; n < N; ++n)  // sweep 2: dx over every input value
      for (int64_t j = 0; j < w; ++j) {
        const int64_t p = n * C + c0 + j;
        const T mean = save_mean[c0 + j];
        if (pool == 1)
          R.relu_grad_input(dinp + p * HW, dout + p * OHW, out + p * OHW, inp + p * HW, HW, mean, k[j].a, k[j].b,
                            k[j].c);
        else
          R.relu_pool2_grad_input(dinp + p * HW, dout + p * OHW, out + p * OHW, window_index + p * OHW,
                                  inp + p * HW, H, W, mean, k[j].a, k[j].b, k[j].c);
      }
  });
}

// ---- ReLU + 2x2 max pool without normalization -------------------------------------------------------
// Planes are independent: threads take runs of (n, c) planes.

// inp (N,C,H,W); out, window_index (N,C,H/2,W/2). See norm.hpp.
template <class T>
void relu_max_pool2_forward(T* out, uint8_t* window_index, const T* inp, int64_t N, int64_t C, int64_t H,
                            int64_t W) {
  const int64_t HW = H * W, OHW = (H / 2) * (W / 2);
  const BatchNormReluLoops<T> R = relu_loops<T>();
  parallel_for(N * C, channel_grain(HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      R.relu_pool2(out + p * OHW, window_index + p * OHW, inp + p * HW, H, W, T(0), T(1), T(0));
  });
}

// dout, out, window_index (N,C,H/2,W/2); dinp (N,C,H,W). See norm.hpp.
template <class T>
void relu_max_pool2_backward(T* dinp, const T* dout, const T* out, const uint8_t* window_index, int64_t N,
                             int64_t C, int64_t H, int64_t W) {
  const int64_t HW = H * W, OHW = (H / 2) * (W / 2);
  const BatchNormReluLoops<T> R = relu_loops<T>();
  parallel_for(N * C, channel_grain(HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      R.relu_pool2_route(dinp + p * HW, dout + p * OHW, out + p * OHW, window_index + p * OHW, H, W);
  });
}

// ---- dispatch (explicit instantiations for the bindings) ---------------------------------------------
#define FASTANN_NORM_INSTANTIATE(T)                                                                        \
  template void batch_norm_forward_training<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, int64_t,  \
                                               int64_t, int64_t, double, double);                          \
  template void batch_norm_forward_inference<T>(T*, const T*, const T*, const T*, const T*, const T*,      \
                                                int64_t, int64_t, int64_t, double);                        \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*,       \
                                       int64_t, int64_t, int64_t);                                         \
  template void batch_norm_relu_forward<T>(T*, uint8_t*, T*, T*, T*, T*, const T*, const T*, const T*, int64_t, \
                                           int64_t, int64_t, int64_t, int, bool, double, double);              \
  template void batch_norm_relu_backward<T>(T*, T*, T*, const T*, const T*, const uint8_t*, const T*, const T*, \
                                            const T*, const T*, const T*, int64_t, int64_t, int64_t, int64_t, int); \
  template void relu_max_pool2_forward<T>(T*, uint8_t*, const T*, int64_t, int64_t, int64_t, int64_t);            \
  template void relu_max_pool2_backward<T>(T*, const T*, const T*, const uint8_t*, int64_t, int64_t, int64_t,      \
                                           int64_t);
FASTANN_NORM_INSTANTIATE(float)
FASTANN_NORM_INSTANTIATE(double)
#undef FASTANN_NORM_INSTANTIATE

}  // namespace fastann::cpu
