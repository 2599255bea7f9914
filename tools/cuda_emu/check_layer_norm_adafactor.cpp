// Emulator check: CUDA layer norm (forward, backward), the Adafactor step and prelu (forward, backward) against
// the CPU kernels (see README.md).
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>
#include "fastann/cpu/layer_norm.hpp"
#include "fastann/cpu/optim.hpp"
#include "fastann/cpu/prelu.hpp"
#include "fastann/cuda/layer_norm.hpp"
#include "fastann/cuda/optim.hpp"
#include "fastann/cuda/prelu.hpp"
#include "check_common.hpp"
namespace C = fastann::cpu;
namespace G = fastann::cuda;
template <class T> void layer_norm(int64_t M, int64_t N, bool affine, double tol) {
  const std::string tag = "layer_norm M=" + std::to_string(M) + " N=" + std::to_string(N) + (affine ? " affine" : "");
  auto x = randv<T>(M * N, -2, 4), dy = randv<T>(M * N, -1, 1), w = randv<T>(N, 0.5, 1.5), b = randv<T>(N, -1, 1);
  const T* W = affine ? w.data() : nullptr;
  const T* B = affine ? b.data() : nullptr;
  std::vector<T> yg(M * N, NAN), yc(M * N, NAN), mg(M, NAN), mc(M, NAN), sg(M, NAN), sc(M, NAN);
  G::layer_norm_forward<T>(yg.data(), mg.data(), sg.data(), x.data(), W, B, M, N, 1e-5, nullptr);
  C::layer_norm_forward<T>(yc.data(), mc.data(), sc.data(), x.data(), W, B, M, N, 1e-5);
  cmp(tag + " out", yg, yc, tol);
  cmp(tag + " mean", mg, mc, tol);
  cmp(tag + " invstd", sg, sc, tol);
  std::vector<T> dxg(M * N, NAN), dxc(M * N, NAN), dwg(N, NAN), dwc(N, NAN), dbg(N, NAN), dbc(N, NAN);
  G::layer_norm_backward<T>(dxg.data(), dwg.data(), dbg.data(), dy.data(), x.data(), W, mc.data(), sc.data(), M, N,
                            nullptr);
  C::layer_norm_backward<T>(dxc.data(), dwc.data(), dbc.data(), dy.data(), x.data(), W, mc.data(), sc.data(), M, N);
  cmp(tag + " dx", dxg, dxc, 10 * tol);
  cmp(tag + " dw", dwg, dwc, 10 * tol);
  cmp(tag + " db", dbg, dbc, 10 * tol);
}
template <class T> void adafactor(int64_t batch, int64_t rows, int64_t cols, bool factored, double tol) {
  const std::string tag = "adafactor " + std::to_string(batch) + "x" + std::to_string(rows) + "x" + std::to_string(cols);
  const int64_t n = batch * rows * cols;
  auto p = randv<T>(n, -1, 1);
  std::vector<T> pg(p), pc(p), rg(batch * rows, 0), rc(rg), cg(batch * cols, 0), cc(cg), vg(n, 0), vc(vg);
  for (int step = 1; step <= 3; ++step) {
    auto g = randv<T>(n, -1, 1);
    G::adafactor_step<T>(pg.data(), rg.data(), cg.data(), vg.data(), g.data(), batch, rows, cols, factored, step, 0.05,
                         -0.8, 1e-30, 1e-3, 1.0, nullptr);
    C::adafactor_step<T>(pc.data(), rc.data(), cc.data(), vc.data(), g.data(), batch, rows, cols, factored, step, 0.05,
                         -0.8, 1e-30, 1e-3, 1.0);
  }
  cmp(tag + " param", pg, pc, tol);
  if (factored) {
    cmp(tag + " row_var", rg, rc, tol);
    cmp(tag + " col_var", cg, cc, tol);
  } else {
    cmp(tag + " variance", vg, vc, tol);
  }
}
template <class T> void prelu(int64_t N, int64_t ch, int64_t S, bool shared, double tol) {
  const std::string tag = "prelu " + std::to_string(N) + "x" + std::to_string(ch) + "x" + std::to_string(S);
  const int64_t n = N * ch * S, k = shared ? 1 : ch;
  auto x = randv<T>(n, -1, 1), dy = randv<T>(n, -1, 1), w = randv<T>(k, 0, 0.5);
  std::vector<T> yg(n, NAN), yc(n, NAN), dwg(k, NAN), dwc(k, NAN);
  G::prelu_forward<T>(yg.data(), x.data(), w.data(), N, ch, S, shared, nullptr);
  C::prelu_forward<T>(yc.data(), x.data(), w.data(), N, ch, S, shared);
  cmp(tag + " out", yg, yc, tol);
  G::prelu_backward<T>(yg.data(), dwg.data(), dy.data(), x.data(), w.data(), N, ch, S, shared, nullptr);
  C::prelu_backward<T>(yc.data(), dwc.data(), dy.data(), x.data(), w.data(), N, ch, S, shared);
  cmp(tag + " dx", yg, yc, tol);
  cmp(tag + " dw", dwg, dwc, 10 * tol);
}
template <class T> void run(double tol) {
  prelu<T>(3, 4, 5, false, tol);
  prelu<T>(3, 4, 5, true, tol);
  prelu<T>(1, 1, 700, true, tol);
  prelu<T>(7, 300, 1, false, tol);
  for (auto [M, N] : std::vector<std::pair<int64_t, int64_t>>{{3, 7}, {5, 300}, {70, 33}, {2, 1}, {1, 1025}})
    for (bool affine : {true, false}) layer_norm<T>(M, N, affine, tol);
  adafactor<T>(1, 5, 3, true, tol);
  adafactor<T>(2, 7, 300, true, tol);
  adafactor<T>(3, 1, 9, true, tol);
  adafactor<T>(1, 1, 1000, false, tol);
  adafactor<T>(1, 1, 70000, false, tol);
}
int main() {
  run<float>(1e-5);
  run<double>(1e-12);
  printf("%s: %d failure(s)\n", fails ? "FAILED" : "ok", fails);
  return fails ? 1 : 0;
}
