// vexp.hpp: exp(x) (and tanh, expm1, log1p, log, erfc on top of it) for float and double written as plain
// arithmetic, so loops that call it vectorize (a call to libm's exp/expf is opaque to the vectorizer and keeps
// the whole loop scalar).
//
// Method (Cephes, S. L. Moshier, "Methods and Programs for Mathematical Functions", 1989; the classic
// range reduction of Cody & Waite 1980): n = round(x / ln 2), r = x - n ln 2 in two parts (hi has few
// bits, so n * hi is exact), exp(r) on |r| <= ln2/2 by a minimax polynomial (float) or a Pade form
// (double), then scale by 2^n built from its exponent bits. Accuracy ~1 ulp in the normal range.
// Edges: exp(+inf or x > ln(max)) = +inf, exp(x < ln(min normal)) = 0 (no subnormal results), NaN -> NaN.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

// Forced inline: as an out-of-line call (GCC's choice for a function this size with many callers) it
// keeps every loop that uses it scalar, which is the whole point lost.
#define FASTANN_ALWAYS_INLINE inline __attribute__((always_inline))

namespace fastann::cpu {

FASTANN_ALWAYS_INLINE float vexp(float x) {
  constexpr float kMax = 88.72283905206835f;    // ln(FLT_MAX)
  constexpr float kMin = -87.33654475055310f;   // ln(FLT_MIN), the smallest normal
  const float xc = x < kMin ? kMin : (x > kMax ? kMax : x);  // NaN passes through (handled at the end)
  // n = round(x / ln 2) without a rounding instruction (baseline x86-64 has none for vectors): adding
  // 1.5 * 2^23 leaves n in the low mantissa bits, subtracting it again gives n as a float
  const float shifted = xc * 1.44269504088896341f + 12582912.0f;
  int32_t nbits;
  std::memcpy(&nbits, &shifted, sizeof nbits);
  const int32_t n = nbits - 0x4B400000;
  const float fn = shifted - 12582912.0f;
  float r = xc - fn * 0.693359375f;  // ln 2 = 0.693359375 - 2.12194440e-4 (hi exact in 10 bits)
  r = r + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n as 2^h * 2^(n-h), h = n/2: n runs over [-126, 128] and 2^128 or a subnormal 2^-127 cannot be
  // built from exponent bits, but both halves stay in the normal range
  const int32_t h = n >> 1;
  const int32_t b1 = (h + 127) << 23, b2 = (n - h + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, sizeof s1);
  std::memcpy(&s2, &b2, sizeof s2);
  float y = p * s1 * s2;
  y = x > kMax ? std::numeric_limits<float>::infinity() : y;
  y = x < kMin ? 0.0f : y;
  return x != x ? x : y;
}

FASTANN_ALWAYS_INLINE double vexp(double x) {
  constexpr double kMax = 709.782712893383973;   // ln(DBL_MAX)
  constexpr double kMin = -708.396418532264106;  // ln(DBL_MIN)
  const double xc = x < kMin ? kMin : (x > kMax ? kMax : x);
  const double shifted = xc * 1.4426950408889634074 + 6755399441055744.0;  // 1.5 * 2^52, as above
  int64_t nbits;
  std::memcpy(&nbits, &shifted, sizeof nbits);
  const int64_t n = nbits - 0x4338000000000000LL;
  const double fn = shifted - 6755399441055744.0;
  double r = xc - fn * 6.93145751953125e-1;  // ln 2 = hi + lo, hi exact in 17 bits
  r = r - fn * 1.42860682030941723212e-6;
  // exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2))  (Cephes exp.c)
  const double rr = r * r;
  const double px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr +
                         9.99999999999999999910e-1);
  const double qx = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr +
                     2.27265548208155028766e-1) * rr + 2.00000000000000000009e0;
  const double e = 1.0 + 2.0 * (px / (qx - px));
  const int64_t h = n >> 1;
  const int64_t b1 = (h + 1023) << 52, b2 = (n - h + 1023) << 52;
  double s1, s2;
  std::memcpy(&s1, &b1, sizeof s1);
  std::memcpy(&s2, &b2, sizeof s2);
  double y = e * s1 * s2;
  y = x > kMax ? std::numeric_limits<double>::infinity() : y;
  y = x < kMin ? 0.0 : y;
  return x != x ? x : y;
}

// tanh(x) as arithmetic the compiler vectorises (Cephes tanh.c / tanhf.c, S. L. Moshier): |x| < 0.625 an odd
// polynomial (float) or rational function (double) of x, else 1 - 2 / (exp(2|x|) + 1) with the sign of x
// (exp overflowing to +inf gives exactly +-1). NaN gives NaN, -0 gives -0 (the polynomial would give +0).
// Within 1.3 ulp of tanh in float, 2.3e-16 relative in double (checked over [-30, 30] and 1e-38..1).
template <class T>
FASTANN_ALWAYS_INLINE T vtanh(T x) {
  const T ax = x < T(0) ? -x : x;
  const T z = x * x;
  T small;
  if constexpr (sizeof(T) == 4) {
    small = ((((T(-5.70498872745e-3) * z + T(2.06390887954e-2)) * z - T(5.37397155531e-2)) * z +
              T(1.33314422036e-1)) * z - T(3.33332819422e-1)) * z * x + x;
  } else {
    const T p = (T(-9.64399179425052238628e-1) * z + T(-9.92877231001918586564e1)) * z +
                T(-1.61468768441708447952e3);
    const T q = ((z + T(1.12811678491632931402e2)) * z + T(2.23548839060100448583e3)) * z +
                T(4.84406305325125486048e3);
    small = x + x * z * (p / q);
  }
  const T big_abs = T(1) - T(2) / (vexp(ax + ax) + T(1));
  const T big = x < T(0) ? -big_abs : big_abs;
  return ax < T(0.625) ? (x == T(0) ? x : small) : big;
}

// expm1(x) = exp(x) - 1 as arithmetic the compiler vectorises: for |x| < 1/2 a form that keeps the digits
// exp(x) - 1 would cancel, x + x^2 (1/2 + x/6 + ... + x^7/9!) in float (the Taylor series, truncated where its
// remainder is below 0.3 ulp) and Cephes' Pade form 2r / (Q(x^2) - r), r = x P(x^2), in double (unity.c,
// S. L. Moshier); else vexp(x) - 1 (no cancellation: |exp(x) - 1| >= 0.39 there). -0 gives -0, -inf -1,
// +inf +inf, NaN NaN. Within 1.2 ulp in float, 6e-16 relative in double (checked over [-30, 30]).
template <class T>
FASTANN_ALWAYS_INLINE T vexpm1(T x) {
  const T z = x * x;
  T small;
  if constexpr (sizeof(T) == 4) {
    const T p = ((((((T(1.0 / 362880) * x + T(1.0 / 40320)) * x + T(1.0 / 5040)) * x + T(1.0 / 720)) * x +
                   T(1.0 / 120)) * x + T(1.0 / 24)) * x + T(1.0 / 6)) * x + T(0.5);
    small = z * p + x;
  } else {
    const T r = x * ((T(1.2617719307481059087798e-4) * z + T(3.0299440770744196129956e-2)) * z +
                     T(9.9999999999999999991025e-1));
    const T q = ((T(3.0019850513866445504159e-6) * z + T(2.5244834034968410419224e-3)) * z +
                 T(2.2726554820815502876593e-1)) * z + T(2.0000000000000000000897e0);
    const T h = r / (q - r);
    small = h + h;
  }
  const T ax = x < T(0) ? -x : x;
  return ax < T(0.5) ? (x == T(0) ? x : small) : vexp(x) - T(1);
}

// erfc(x) to 1.2e-7 relative everywhere (float precision), as arithmetic the compiler vectorises: Numerical
// Recipes' Chebyshev fit erfc(x) = t exp(-z^2 - 1.26551223 + t P(t)), z = |x|, t = 1 / (1 + z/2), P of degree 8
// (Press, Teukolsky, Vetterling & Flannery, "Numerical Recipes in C", 2nd ed., 6.2), and erfc(-z) = 2 - erfc(z).
// In double, so that z^2 is exact for a float z (exp(-z^2) would otherwise carry z^2 times float's rounding).
// +inf gives 0, -inf 2, NaN NaN.
FASTANN_ALWAYS_INLINE double verfc_float_precision(double x) {
  const double z = x < 0.0 ? -x : x;
  const double t = 1.0 / (1.0 + 0.5 * z);
  const double p = ((((((((0.17087277 * t - 0.82215223) * t + 1.48851587) * t - 1.13520398) * t + 0.27886807) * t -
                       0.18628806) * t + 0.09678418) * t + 0.37409196) * t + 1.00002368);
  const double e = t * vexp(-z * z - 1.26551223 + t * p);
  return x < 0.0 ? 2.0 - e : e;
}

// log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: f - f^2/2 + f^3 P(f) (float, Cephes logf.c) or
// f - f^2/2 + f^3 P(f)/Q(f) (double, Cephes log.c), plus k ln2 (k a small integer, as T) in two parts, hi
// exact in few bits, added last as Cephes does.
template <class T>
FASTANN_ALWAYS_INLINE T log1p_reduced(T f, T k) {
  const T z = f * f;
  T tail;  // f^3 P(f) (/ Q(f))
  if constexpr (sizeof(T) == 4) {
    tail = ((((((((T(7.0376836292e-2) * f - T(1.1514610310e-1)) * f + T(1.1676998740e-1)) * f -
                 T(1.2420140846e-1)) * f + T(1.4249322787e-1)) * f - T(1.6668057665e-1)) * f +
              T(2.0000714765e-1)) * f - T(2.4999993993e-1)) * f + T(3.3333331174e-1)) * f * z;
  } else {
    const T p = ((((T(1.01875663804580931796e-4) * f + T(4.97494994976747001425e-1)) * f +
                   T(4.70579119878881725854e0)) * f + T(1.44989225341610930846e1)) * f +
                 T(1.79368678507819816313e1)) * f + T(7.70838733755885391666e0);
    const T q = ((((f + T(1.12873587189167450590e1)) * f + T(4.52279145837532221105e1)) * f +
                  T(8.29875266912776603211e1)) * f + T(7.11544750618563894466e1)) * f +
                T(2.31251620126765340583e1);
    tail = f * z * (p / q);
  }
  return ((tail + k * T(-2.121944400546905827679e-4)) - T(0.5) * z + f) + k * T(0.693359375);
}

// log1p(t) for t in [0, 1] (and NaN), as arithmetic the compiler vectorises: the softplus term
// log1p(exp(-|x|)). u = 1 + t and u - 1 are exact for such t, and log1p(t) = log(u) * t / (u - 1) recovers
// what rounding 1 + t lost (Goldberg 1991, "What every computer scientist should know about floating-point
// arithmetic", Theorem 4); log(u) = k ln2 + log(1 + f) with u = 2^k (1 + f), k in {0, 1}, f in
// [sqrt(1/2) - 1, sqrt(2) - 1] exact (log1p_reduced). Outside [0, 1] the result is not log1p.
template <class T>
FASTANN_ALWAYS_INLINE T vlog1p_unit(T t) {
  const T u = T(1) + t;
  const bool halve = u > T(1.41421356237309504880);  // sqrt 2
  const T f = halve ? u * T(0.5) - T(1) : u - T(1);
  const T log_u = log1p_reduced(f, halve ? T(1) : T(0));
  const T d = u - T(1);
  return d == T(0) ? t : log_u * (t / d);
}

// log(x) as arithmetic the compiler vectorises: x = 2^k m with m in [sqrt(1/2), sqrt(2)) from the exponent
// bits (a subnormal x is first scaled by 2^25 in float, 2^54 in double), log(x) = k ln2 + log1p_reduced(m - 1).
// log(0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN gives NaN. In double within 1 ulp of numpy.log (checked
// through binary_cross_entropy on 45 000 values from 5e-324 to 1, subnormals included); the losses use only
// the double version (their terms are computed in double).
template <class T>
FASTANN_ALWAYS_INLINE T vlog(T x) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr int kMantissa = sizeof(T) == 4 ? 23 : 52, kBias = sizeof(T) == 4 ? 127 : 1023;
  constexpr U kMantissaMask = (U(1) << kMantissa) - 1;
  const bool subnormal = x < std::numeric_limits<T>::min();
  const T xs = subnormal ? x * (sizeof(T) == 4 ? T(33554432.0) : T(18014398509481984.0)) : x;  // 2^25, 2^54
  U bits;
  std::memcpy(&bits, &xs, sizeof bits);
  // m = the mantissa with the exponent of 1 (in [1, 2)); halved when above sqrt 2 so that m - 1 is small
  const U mbits = (bits & kMantissaMask) | (U(kBias) << kMantissa);
  T m;
  std::memcpy(&m, &mbits, sizeof m);
  const bool halve = m > T(1.41421356237309504880);
  m = halve ? m * T(0.5) : m;
  using I = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;  // lanes as wide as T's: no unpacking
  const T k = T(I((bits >> kMantissa) & U(2 * kBias + 1)) - I(kBias)) + (halve ? T(1) : T(0)) -
              (subnormal ? T(sizeof(T) == 4 ? 25 : 54) : T(0));
  T y = log1p_reduced(m - T(1), k);
  // the edges the bit arithmetic does not give, as one select each: nested selects or || make branches that
  // GCC may not turn back into masked operations, and the calling loop then stays scalar
  const T inf = std::numeric_limits<T>::infinity();
  y = x == inf ? inf : y;
  y = x == T(0) ? -inf : y;
  y = (x < T(0)) | (x != x) ? std::numeric_limits<T>::quiet_NaN() : y;
  return y;
}

}  // namespace fastann::cpu
