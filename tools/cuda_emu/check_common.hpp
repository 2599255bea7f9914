// check_common.hpp: what the emulator checks share: a seeded generator, random vectors and the comparison of
// a CUDA result g with the CPU's c (relative L2 error, NaN where the CPU has NaN), counting failures.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

inline std::mt19937_64& check_rng() {
  static std::mt19937_64 rng(7);
  return rng;
}
inline int fails = 0;
template <class T> std::vector<T> randv(size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi); std::vector<T> v(n); for (auto& x : v) x = T(d(check_rng())); return v;
}
template <class T> void cmp(const std::string& what, const std::vector<T>& g, const std::vector<T>& c, double tol) {
  double num = 0, den = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (std::isnan(double(g[i])) != std::isnan(double(c[i]))) { ++fails; printf("FAIL %s NaN mismatch at %zu\n", what.c_str(), i); return; }
    if (std::isnan(double(c[i]))) continue;
    double d = double(g[i]) - double(c[i]); num += d * d; den += double(c[i]) * double(c[i]);
  }
  double e = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (!(e <= tol)) { ++fails; printf("FAIL %s err %g\n", what.c_str(), e); }
}
