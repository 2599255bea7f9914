// dropout.cpp: inverted dropout (Srivastava et al. 2014, "Dropout: a simple way to prevent neural networks
// from overfitting"; the inverted form scales kept units by 1/(1-p) at training time so inference is the
// identity). The mask comes from dropout_bits(seed, i) (fastann/cpu/dropout.hpp), so nothing is stored
// between forward and backward and the result does not depend on the thread count.
#include "fastann/cpu/dropout.hpp"

#include "fastann/common.hpp"

namespace fastann::cpu {

// ---- helpers: the three compilations of the mask loop (dropout_impl.hpp) ----------------------------
}  // namespace fastann::cpu

#define FASTANN_ISA baseline
#include "dropout_impl.hpp"
#undef FASTANN_ISA

namespace fastann::cpu {
namespace avx2 {
template <class T> void dropout_apply(T*, const T*, int64_t, uint64_t, uint64_t, T);
}
namespace avx512 {
template <class T> void dropout_apply(T*, const T*, int64_t, uint64_t, uint64_t, T);
}

namespace {

// dst_i = src_i * (keep_i ? 1/(1-p) : 0), on the best ISA the CPU has.
template <class T>
void apply_mask(T* dst, const T* src, int64_t n, double p, uint64_t seed) {
  const uint64_t key = splitmix64_mix(seed + kSplitmixGamma);
  const uint64_t threshold = dropout_threshold(p);
  const T scale = T(1.0 / (1.0 - p));
  switch (simd_level()) {
    case SimdLevel::avx512: avx512::dropout_apply<T>(dst, src, n, key, threshold, scale); break;
    case SimdLevel::avx2: avx2::dropout_apply<T>(dst, src, n, key, threshold, scale); break;
    default: baseline::dropout_apply<T>(dst, src, n, key, threshold, scale); break;
  }
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
