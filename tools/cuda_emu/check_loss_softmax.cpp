#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "fastann/cuda/loss.hpp"
#include "fastann/cuda/softmax.hpp"
#include "fastann/cpu/loss.hpp"
#include "fastann/cpu/softmax.hpp"
namespace C = fastann::cpu;
namespace G = fastann::cuda;
static std::mt19937_64 rng(7);
int fails = 0;
template <class T> std::vector<T> randv(size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi); std::vector<T> v(n); for (auto& x : v) x = T(d(rng)); return v;
}
template <class T> void cmp(const char* what, const std::vector<T>& g, const std::vector<T>& c, double tol) {
  double num = 0, den = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (std::isnan(double(g[i])) != std::isnan(double(c[i]))) { ++fails; printf("FAIL %s NaN mismatch at %zu\n", what, i); return; }
    if (std::isnan(double(c[i]))) continue;
    double d = double(g[i]) - double(c[i]); num += d * d; den += double(c[i]) * double(c[i]);
  }
  double e = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (!(e <= tol)) { ++fails; printf("FAIL %s err %g\n", what, e); }
}
template <class T> void run(double tol) {
  for (int64_t n : {1, 37, 9000, 100003}) {
    auto x = randv<T>(n, 0.001, 0.999), t = randv<T>(n, 0, 1);
    std::vector<T> lg(1, NAN), lc(1, NAN), dg(n, NAN), dc(n, NAN);
    G::mse_loss_forward<T>(lg.data(), x.data(), t.data(), n, nullptr); C::mse_loss_forward<T>(lc.data(), x.data(), t.data(), n); cmp("mse", lg, lc, tol);
    G::l1_loss_forward<T>(lg.data(), x.data(), t.data(), n, nullptr); C::l1_loss_forward<T>(lc.data(), x.data(), t.data(), n); cmp("l1", lg, lc, tol);
    G::binary_cross_entropy_forward<T>(lg.data(), x.data(), t.data(), n, 1e-7, nullptr); C::binary_cross_entropy_forward<T>(lc.data(), x.data(), t.data(), n, 1e-7); cmp("bce", lg, lc, tol);
    G::binary_cross_entropy_with_logits_forward<T>(lg.data(), x.data(), t.data(), n, nullptr); C::binary_cross_entropy_with_logits_forward<T>(lc.data(), x.data(), t.data(), n); cmp("bcel", lg, lc, tol);
    G::mse_loss_backward<T>(dg.data(), x.data(), t.data(), n, 0.7, nullptr); C::mse_loss_backward<T>(dc.data(), x.data(), t.data(), n, 0.7); cmp("mse b", dg, dc, tol);
    G::l1_loss_backward<T>(dg.data(), x.data(), t.data(), n, 0.7, nullptr); C::l1_loss_backward<T>(dc.data(), x.data(), t.data(), n, 0.7); cmp("l1 b", dg, dc, tol);
    G::binary_cross_entropy_backward<T>(dg.data(), x.data(), t.data(), n, 1e-7, 0.7, nullptr); C::binary_cross_entropy_backward<T>(dc.data(), x.data(), t.data(), n, 1e-7, 0.7); cmp("bce b", dg, dc, tol);
    G::binary_cross_entropy_with_logits_backward<T>(dg.data(), x.data(), t.data(), n, 0.7, nullptr); C::binary_cross_entropy_with_logits_backward<T>(dc.data(), x.data(), t.data(), n, 0.7); cmp("bcel b", dg, dc, tol);
  }
  const int64_t NC[][2] = {{1, 1}, {5, 3}, {128, 10}, {33, 1000}, {3000, 7}};
  for (auto& s : NC) {
    int64_t N = s[0], Cc = s[1];
    auto x = randv<T>(N * Cc, -4, 4), p = randv<T>(N * Cc, 0, 1), td = randv<T>(N * Cc, 0, 1);
    std::vector<int64_t> lab(N); for (auto& l : lab) l = rng() % Cc;
    lab[N / 2] = (N > 2) ? -1 : lab[N / 2];  // an invalid label in the middle (GPU: NaN; CPU: UB, so skip compare)
    std::vector<T> lg(1, NAN), lc(1, NAN), dg(N * Cc, NAN), dc(N * Cc, NAN);
    if (N > 2) {
      G::cross_entropy_sparse<T, int64_t>(lg.data(), dg.data(), x.data(), lab.data(), N, Cc, 1.0, nullptr);
      if (!std::isnan(double(lg[0])) || !std::isnan(double(dg[(N / 2) * Cc]))) { ++fails; printf("FAIL bad label not NaN\n"); }
      int64_t bad = 0; int64_t idx = G::find_bad_label<int64_t>(lab.data(), N, Cc, &bad, nullptr);
      if (idx != N / 2 || bad != -1) { ++fails; printf("FAIL find_bad_label %ld %ld\n", idx, bad); }
      lab[N / 2] = 0;
    }
    if (G::find_bad_label<int64_t>(lab.data(), N, Cc, nullptr, nullptr) != -1) { ++fails; printf("FAIL find_bad_label valid\n"); }
    G::cross_entropy_sparse<T, int64_t>(lg.data(), dg.data(), x.data(), lab.data(), N, Cc, 0.5, nullptr);
    C::cross_entropy_sparse<T, int64_t>(lc.data(), dc.data(), x.data(), lab.data(), N, Cc, 0.5);
    cmp("ce sparse loss", lg, lc, tol); cmp("ce sparse grad", dg, dc, tol);
    G::cross_entropy_sparse<T, int64_t>(nullptr, dg.data(), x.data(), lab.data(), N, Cc, 0.5, nullptr); cmp("ce sparse grad only", dg, dc, tol);
    G::cross_entropy_sparse<T, int64_t>(lg.data(), nullptr, x.data(), lab.data(), N, Cc, 0.5, nullptr); cmp("ce sparse loss only", lg, lc, tol);
    G::cross_entropy_dense<T>(lg.data(), dg.data(), x.data(), td.data(), N, Cc, 1.0, nullptr);
    C::cross_entropy_dense<T>(lc.data(), dc.data(), x.data(), td.data(), N, Cc, 1.0);
    cmp("ce dense loss", lg, lc, tol); cmp("ce dense grad", dg, dc, tol);
    G::categorical_crossentropy_sparse_forward<T, int64_t>(lg.data(), p.data(), lab.data(), N, Cc, 1e-7, nullptr);
    C::categorical_crossentropy_sparse_forward<T, int64_t>(lc.data(), p.data(), lab.data(), N, Cc, 1e-7); cmp("cce sparse", lg, lc, tol);
    G::categorical_crossentropy_dense_forward<T>(lg.data(), p.data(), td.data(), N, Cc, 1e-7, nullptr);
    C::categorical_crossentropy_dense_forward<T>(lc.data(), p.data(), td.data(), N, Cc, 1e-7); cmp("cce dense", lg, lc, tol);
    G::categorical_crossentropy_sparse_backward<T, int64_t>(dg.data(), p.data(), lab.data(), N, Cc, 1e-7, 0.3, nullptr);
    C::categorical_crossentropy_sparse_backward<T, int64_t>(dc.data(), p.data(), lab.data(), N, Cc, 1e-7, 0.3); cmp("cce sparse b", dg, dc, tol);
    G::categorical_crossentropy_dense_backward<T>(dg.data(), p.data(), td.data(), N, Cc, 1e-7, 0.3, nullptr);
    C::categorical_crossentropy_dense_backward<T>(dc.data(), p.data(), td.data(), N, Cc, 1e-7, 0.3); cmp("cce dense b", dg, dc, tol);
  }
  // softmax: (outer, L, inner)
  const int64_t S[][3] = {{5, 10, 1}, {3, 1000, 1}, {1, 7, 1}, {2, 3, 20}, {4, 6, 5}, {1, 1, 1}};
  for (auto& s : S) {
    int64_t o = s[0], L = s[1], in = s[2], n = o * L * in;
    auto x = randv<T>(n, -5, 5), g = randv<T>(n, -1, 1);
    x[n / 2] = NAN;
    for (int lg = 0; lg < 2; ++lg) {
      std::vector<T> yg(n, NAN), yc(n, NAN), dg(n, NAN), dc(n, NAN);
      G::softmax_forward<T>(yg.data(), x.data(), o, L, in, lg, nullptr);
      if (lg) C::log_softmax_forward<T>(yc.data(), x.data(), o, L, in); else C::softmax_forward<T>(yc.data(), x.data(), o, L, in);
      cmp(lg ? "log_softmax" : "softmax", yg, yc, tol);
      G::softmax_backward<T>(dg.data(), g.data(), yc.data(), o, L, in, lg, nullptr);
      if (lg) C::log_softmax_backward<T>(dc.data(), yc.data(), g.data(), o, L, in); else C::softmax_backward<T>(dc.data(), yc.data(), g.data(), o, L, in);
      cmp(lg ? "log_softmax b" : "softmax b", dg, dc, tol);
    }
  }
  // log_softmax far from 0: (x - max) - log sum keeps log sum (x - (max + log sum) gave 0 for [1e8, 1e8])
  for (const double off : {1e5, 1e8, 1e16}) {
    if (sizeof(T) == 4 && off > 1e8) continue;
    const T two[2] = {T(off), T(off)};
    T y2[2] = {NAN, NAN};
    G::softmax_forward<T>(y2, two, 1, 2, 1, true, nullptr);
    if (!(std::fabs(double(y2[0]) + std::log(2.0)) < 1e-6)) { ++fails; printf("FAIL log_softmax offset %g\n", off); }
    for (int64_t in : {int64_t(1), int64_t(3)}) {
      const int64_t o = 4, L = 33, n = o * L * in;
      auto x = randv<T>(n, -5, 5);
      for (auto& v : x) v = T(off + std::round(double(v)) * off * 1e-6);
      std::vector<T> yg(n, NAN), yc(n, NAN);
      G::softmax_forward<T>(yg.data(), x.data(), o, L, in, true, nullptr);
      C::log_softmax_forward<T>(yc.data(), x.data(), o, L, in);
      cmp("log_softmax offset", yg, yc, tol);
    }
  }
  // cross_entropy_backward with grad_output = +-inf: g times the gradient for 1, on both sides
  for (const double g : {double(INFINITY), -double(INFINITY)}) {
    const int64_t N = 5, Cc = 4;
    auto x = randv<T>(N * Cc, -3, 3), td = randv<T>(N * Cc, 0, 1);
    x[1] = T(-200);  // a softmax entry that underflows in float
    std::vector<int64_t> lab = {0, 1, 2, 3, 0};
    for (int dense = 0; dense < 2; ++dense) {
      std::vector<T> dg(N * Cc, NAN), dc(N * Cc, NAN), d1(N * Cc, NAN);
      if (dense) {
        G::cross_entropy_dense<T>(nullptr, dg.data(), x.data(), td.data(), N, Cc, g, nullptr);
        C::cross_entropy_dense<T>(nullptr, d1.data(), x.data(), td.data(), N, Cc, 1.0);
      } else {
        G::cross_entropy_sparse<T, int64_t>(nullptr, dg.data(), x.data(), lab.data(), N, Cc, g, nullptr);
        C::cross_entropy_sparse<T, int64_t>(nullptr, d1.data(), x.data(), lab.data(), N, Cc, 1.0);
      }
      for (int64_t i = 0; i < N * Cc; ++i) {
        const T want = T(g) * d1[i];
        const bool ok = std::isnan(double(want)) ? std::isnan(double(dg[i])) : dg[i] == want;
        if (!ok) { ++fails; printf("FAIL ce inf grad_output (dense=%d) at %ld\n", dense, long(i)); break; }
      }
    }
  }
}
int main() { run<float>(1e-5); printf("float fails=%d\n", fails); run<double>(1e-12); printf("double fails=%d\n", fails); return fails != 0; }
