// Emulator check: the CUDA embedding gather and scatter-add against the CPU kernels, bit for bit (the same
// summation order), with repeated indices, padding_idx, int32/int64 indices, and an index out of range.
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>
#include "fastann/cpu/embedding.hpp"
#include "fastann/cuda/embedding.hpp"
namespace C = fastann::cpu;
namespace G = fastann::cuda;
static std::mt19937_64 rng(5);
int fails = 0;
template <class T, class I> void run(int64_t L, int64_t V, int64_t D, int64_t pad) {
  std::uniform_int_distribution<int64_t> pick(0, V - 1);
  std::normal_distribution<double> nd;
  std::vector<I> idx(L);
  for (auto& i : idx) i = I(pick(rng) % (V > 3 ? 4 : V));  // few rows: many repeats per row
  for (int64_t l = 0; l < L; l += 7) idx[l] = I(pick(rng));
  std::vector<T> w(V * D), g(L * D);
  for (auto& x : w) x = T(nd(rng));
  for (auto& x : g) x = T(nd(rng));
  std::vector<T> oc(L * D, -1), og(L * D, -2), dc(V * D, -1), dg(V * D, -2);
  C::embedding_forward<T, I>(oc.data(), w.data(), idx.data(), L, V, D);
  G::embedding_forward<T, I>(og.data(), w.data(), idx.data(), L, V, D, nullptr);
  C::embedding_backward<T, I>(dc.data(), g.data(), idx.data(), L, V, D, pad);
  G::embedding_backward<T, I>(dg.data(), g.data(), idx.data(), L, V, D, pad, nullptr);
  if (oc != og) { ++fails; printf("FAIL forward L=%ld V=%ld D=%ld\n", (long)L, (long)V, (long)D); }
  if (dc != dg) { ++fails; printf("FAIL backward L=%ld V=%ld D=%ld pad=%ld\n", (long)L, (long)V, (long)D, (long)pad); }
  idx[L / 2] = I(V);  // out of range: both throw, the CUDA one before writing
  try {
    G::embedding_forward<T, I>(og.data(), w.data(), idx.data(), L, V, D, nullptr);
    ++fails; printf("FAIL no error for a bad index\n");
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find("out of range") == std::string::npos) { ++fails; printf("FAIL message %s\n", e.what()); }
  }
}
int main() {
  run<float, int64_t>(300, 11, 5, -1);
  run<float, int32_t>(257, 6, 3, 2);
  run<double, int64_t>(64, 1, 4, -1);
  run<double, int32_t>(1, 9, 7, 0);
  run<float, int64_t>(1000, 50, 2, 3);
  printf(fails ? "embedding: %d FAILED\n" : "embedding: all passed\n", fails);
  return fails != 0;
}
