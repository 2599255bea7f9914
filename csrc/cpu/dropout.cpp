// dropout.cpp: inverted dropout (Srivastava et al. 2014, "Dropout: a simple way to prevent neural networks
// from overfitting"; the inverted form scales kept units by 1/(1-p) at training time so inference is the
// identity). The mask comes from dropout_bits(seed, i) (fastann/cpu/dropout.hpp), so nothing is stored
// between forward and backward and the result does not depend on the thread count.
#include "fastann/cpu/dropout.hpp"

#include "dropout_isa.hpp"
#include "fastann/common.hpp"
#include "internal/simd_dispatch.hpp"

namespace fastann::cpu {

namespace {

// dst_i = src_i * (keep_i ? 1/(1-p) : 0), on the ISA simd_level() names (csrc/cpu/README.md).
template <class T>
void apply_mask(T* dst, const T* src, int64_t n, double p, uint64_t seed) {
  const uint64_t key = splitmix64_mix(seed + kSplitmixGamma);
  const uint64_t threshold = dropout_threshold(p);
  const T scale = T(1.0 / (1.0 - p));
  FASTANN_SIMD_DISPATCH(dropout_apply<T>(dst, src, n, key, threshold, scale));
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
