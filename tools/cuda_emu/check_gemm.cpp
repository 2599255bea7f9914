#include <cmath>
#include <cstdio>
#include <random>
#include <span>
#include <string>
#include <vector>
#include "fastann/cuda/gemm.hpp"
using namespace fastann::cuda;

static std::mt19937_64 rng(42);
template <class T> std::vector<T> randv(size_t n) {
  std::normal_distribution<double> d; std::vector<T> v(n); for (auto& x : v) x = T(d(rng)); return v;
}
// reference: c = alpha op(a) op(b) + beta c0 (+bias, relu)
template <class T>
std::vector<double> ref_gemm(const std::vector<T>& a, const std::vector<T>& b, const std::vector<T>& c0, int64_t M,
                             int64_t N, int64_t K, bool ta, bool tb, double alpha, double beta, const T* bias = nullptr,
                             bool relu = false) {
  std::vector<double> c(M * N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(ta ? a[k * M + i] : a[i * K + k]) * double(tb ? b[j * K + k] : b[k * N + j]);
      double v = alpha * s + (beta != 0 ? beta * c0[i * N + j] : 0.0);
      if (bias) v += bias[j];
      if (relu) v = v < 0 ? 0 : v;
      c[i * N + j] = v;
    }
  return c;
}
template <class T> double relerr(const std::vector<T>& x, const std::vector<double>& r) {
  double num = 0, den = 0;
  for (size_t i = 0; i < r.size(); ++i) { double d = double(x[i]) - r[i]; if (std::isnan(double(x[i]))) return 1e30; num += d * d; den += r[i] * r[i]; }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}
int fails = 0;
template <class T>
void check_gemm(int rung, int64_t M, int64_t N, int64_t K, bool ta, bool tb, double alpha, double beta, int offset) {
  std::vector<T> abuf = randv<T>(M * K + offset), b = randv<T>(K * N), c0 = randv<T>(M * N);
  std::vector<T> a(abuf.begin() + offset, abuf.end());  // copy: an unaligned view needs the raw buffer below
  const T* ap = abuf.data() + offset;
  std::vector<T> c(c0);
  if (beta == 0) for (auto& x : c) x = NAN;
  gemm<T>(c.data(), ap, b.data(), M, N, K, ta, tb, T(alpha), T(beta), rung, nullptr);
  auto r = ref_gemm(a, b, c0, M, N, K, ta, tb, alpha, beta);
  double e = relerr(c, r);
  double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  if (!(e <= tol)) { ++fails; printf("FAIL kernel %d %s M=%ld N=%ld K=%ld ta=%d tb=%d a=%g b=%g off=%d err=%g\n", kernel,
                                     sizeof(T) == 4 ? "f32" : "f64", M, N, K, ta, tb, alpha, beta, offset, e); }
}
int main(int argc, char** argv) {
  // --quick: every rung and transpose on the three smallest shapes only (seconds, for checking the tool itself)
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {128, 128, 16}, {129, 131, 33}, {257, 140, 36}, {5, 300, 2}, {64, 8, 0}};
  const int nshapes = quick ? 3 : 8;
  for (int rung = 0; rung <= 7; ++kernel)
    for (auto& s : std::span(shapes, nshapes))
      for (int t = 0; t < 4; ++t) {
        check_gemm<float>(kernel, s[0], s[1], s[2], t & 1, t & 2, 1.0, 0.0, 0);
        check_gemm<float>(kernel, s[0], s[1], s[2], t & 1, t & 2, 0.5, -2.0, (rung >= 6 ? 1 : 0));
      }
  if (quick) { printf("quick done, fails=%d\n", fails); return fails != 0; }
  // split-K (kernel 0 on small outputs with a long K: 128x300x784 is the MLP's first layer)
  const int64_t split_shapes[][3] = {{128, 300, 784}, {100, 30, 1000}, {33, 7, 513}};
  for (auto& s : split_shapes)
    for (int t = 0; t < 4; ++t) {
      check_gemm<float>(0, s[0], s[1], s[2], t & 1, t & 2, 1.0, 0.0, 0);
      check_gemm<float>(0, s[0], s[1], s[2], t & 1, t & 2, 0.5, -2.0, 1);
    }
  printf("float done, fails=%d\n", fails);
  for (int rung = 0; rung <= 5; ++kernel)
    for (auto& s : shapes) for (int t = 0; t < 4; ++t) check_gemm<double>(kernel, s[0], s[1], s[2], t & 1, t & 2, 0.7, 0.3, 0);
  printf("double done, fails=%d\n", fails);
  // batched
  for (int rung : {0, 1, 3, 5, 6, 7}) {
    const int64_t B = 3, M = 45, N = 130, K = 37;
    auto a = randv<float>(B * M * K), b = randv<float>(B * K * N);
    std::vector<float> c(B * M * N, NAN);
    gemm_strided_batched<float>(c.data(), a.data(), b.data(), M, N, K, false, true, 2.f, 0.f, B, M * K, K * N, M * N, rung, nullptr);
    for (int z = 0; z < B; ++z) {
      std::vector<float> az(a.begin() + z * M * K, a.begin() + (z + 1) * M * K), bz(b.begin() + z * K * N, b.begin() + (z + 1) * K * N), cz(c.begin() + z * M * N, c.begin() + (z + 1) * M * N), c0(M * N);
      double e = relerr(cz, ref_gemm(az, bz, c0, M, N, K, false, true, 2.0, 0.0));
      if (!(e < 1e-5)) { ++fails; printf("FAIL batched kernel %d z=%d err %g\n", rung, z, e); }
    }
  }
  // linear forward/backward (relu)
  for (int relu = 0; relu < 4; ++relu) {
    const int64_t N = relu < 2 ? 33 : 128, IN = relu < 2 ? 70 : 784, OUT = relu < 2 ? 19 : 300;  // 2, 3: split-K
    auto x = randv<float>(N * IN), w = randv<float>(OUT * IN), bias = randv<float>(OUT), g = randv<float>(N * OUT);
    std::vector<float> y(N * OUT, NAN), dx(N * IN, NAN), dw(OUT * IN, NAN), db(OUT, NAN), zero(N * OUT);
    linear_forward<float>(y.data(), x.data(), w.data(), bias.data(), N, IN, OUT, relu & 1, nullptr);
    auto ry = ref_gemm(x, w, zero, N, OUT, IN, false, true, 1.0, 0.0, bias.data(), relu & 1);
    if (!(relerr(y, ry) < 1e-5)) { ++fails; printf("FAIL linear fwd relu=%d\n", relu); }
    linear_backward<float>(dx.data(), dw.data(), db.data(), g.data(), x.data(), w.data(), y.data(), N, IN, OUT, relu & 1, nullptr);
    std::vector<float> gm(g);
    if (relu & 1) for (int64_t i = 0; i < N * OUT; ++i) gm[i] = y[i] <= 0 ? 0.f : g[i];
    std::vector<float> z1(N * IN), z2(OUT * IN);
    if (!(relerr(dx, ref_gemm(gm, w, z1, N, IN, OUT, false, false, 1, 0)) < 1e-5)) { ++fails; printf("FAIL dx relu=%d\n", relu); }
    if (!(relerr(dw, ref_gemm(gm, x, z2, OUT, IN, N, true, false, 1, 0)) < 1e-5)) { ++fails; printf("FAIL dw relu=%d\n", relu); }
    std::vector<double> rb(OUT, 0.0);
    for (int64_t i = 0; i < N; ++i) for (int64_t j = 0; j < OUT; ++j) rb[j] += gm[i * OUT + j];
    if (!(relerr(db, rb) < 1e-5)) { ++fails; printf("FAIL db relu=%d\n", relu); }
  }
  printf("all done, fails=%d\n", fails);
  return fails != 0;
}
