// dropout.cpp: inverted dropout (Srivastava et al. 2014, "Dropout: a simple way to prevent neural networks
// from overfitting"; the inverted form scales kept units by 1/(1-p) at training time so inference is the
// identity). The mask comes from dropout_bits(seed, i) (fastann/cpu/dropout.hpp), so nothing is stored
// between forward and backward and the result does not depend on the thread count.
#include "fastann/cpu/dropout.hpp"

#include "fastann/common.hpp"

namespace fastann::cpu {

// ---- helpers --------------------------------------------------------------------------------------
namespace {

constexpr int64_t kGrain = 32768;  // elements per thread below which the loop stays on one thread

// dst_i = src_i * (keep_i ? scale : 0). Multiplying (instead of selecting 0) keeps NaN as NaN.
template <class T>
void apply_mask(T* dst, const T* src, int64_t n, double p, uint64_t seed) {
  const uint64_t threshold = dropout_threshold(p);
  const T scale = T(1.0 / (1.0 - p));
  const uint64_t key = splitmix64_mix(seed + kSplitmixGamma);
  parallel_for(n, kGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint64_t bits = splitmix64_mix(key + (uint64_t(i) + 1) * kSplitmixGamma);  // = dropout_bits(seed, i)
      const T m = (bits >> 32) >= threshold ? scale : T(0);
      dst[i] = src[i] * m;
    }
  });
}

}  // namespace

// ---- kernels --------------------------------------------------------------------------------------
// inp, out (n,)
template <class T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed) {
  apply_mask(out, inp, n, p, seed);
}

// dout, dinp (n,)
template <class T>
void dropout_backward(T* dinp, const T* dout, int64_t n, double p, uint64_t seed) {
  apply_mask(dinp, dout, n, p, seed);
}

// ---- dispatch: explicit instantiations ------------------------------------------------------------
template void dropout_forward<float>(float*, const float*, int64_t, double, uint64_t);
template void dropout_forward<double>(double*, const double*, int64_t, double, uint64_t);
template void dropout_backward<float>(float*, const float*, int64_t, double, uint64_t);
template void dropout_backward<double>(double*, const double*, int64_t, double, uint64_t);

}  // namespace fastann::cpu
