// Emulator check: CUDA activations, optimizers and dropout against the CPU kernels (see README.md).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#include "fastann/cpu/activation.hpp"
#include "fastann/cpu/dropout.hpp"
#include "fastann/cpu/optim.hpp"
#include "fastann/cuda/activation.hpp"
#include "fastann/cuda/dropout.hpp"
#include "fastann/cuda/optim.hpp"
#include "check_common.hpp"
namespace C = fastann::cpu;
namespace G = fastann::cuda;
const char* kNames[] = {"linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
                        "softsign", "relu6", "silu", "hard_silu", "gelu", "gelu_tanh", "mish", "exponential"};
template <class T> void run(double tol) {
  const int64_t n = 3001;
  auto x = randv<T>(n, -6, 6), g = randv<T>(n, -1, 1);
  x[5] = NAN;
  for (const char* name : kNames) {
    std::vector<T> yg(n, NAN), yc(n, NAN);
    G::activation_forward<T>(yg.data(), x.data(), n, G::activation_from_name(name, "t"), 0.2, nullptr);
    C::activation_forward<T>(yc.data(), x.data(), n, C::activation_from_name(name, "t"), 0.2);
    cmp(std::string(name) + " fwd", yg, yc, tol);
    G::activation_backward<T>(yg.data(), x.data(), g.data(), n, G::activation_from_name(name, "t"), 0.2, nullptr);
    C::activation_backward<T>(yc.data(), x.data(), g.data(), n, C::activation_from_name(name, "t"), 0.2);
    cmp(std::string(name) + " bwd", yg, yc, tol);
  }
  for (double p : {0.0, 0.3, 0.9}) {
    std::vector<T> yg(n, NAN), yc(n, NAN);
    G::dropout_forward<T>(yg.data(), x.data(), n, p, 12345, nullptr);
    C::dropout_forward<T>(yc.data(), x.data(), n, p, 12345);
    for (int64_t i = 0; i < n; ++i)
      if (std::memcmp(&yg[i], &yc[i], sizeof(T)) != 0 && !(std::isnan(double(yg[i])) && std::isnan(double(yc[i])))) {
        ++fails; printf("FAIL dropout p=%g at %ld\n", p, i); break;
      }
  }
  // optimizers: 3 steps each, every state array compared
  auto p0 = randv<T>(n, -1, 1);
  for (int which = 0; which < 8; ++which) {
    std::vector<T> pg(p0), pc(p0);
    std::vector<std::vector<T>> sg(3, std::vector<T>(n, T(0))), sc(3, std::vector<T>(n, T(0)));
    double mu_product = 1.0;
    for (int step = 1; step <= 3; ++step) {
      auto gr = randv<T>(n, -1, 1);
      switch (which) {
        case 0: G::sgd_step<T>(pg.data(), sg[0].data(), gr.data(), n, 0.1, 0.9, 0.0, true, 0.01, nullptr);
                C::sgd_step<T>(pc.data(), sc[0].data(), gr.data(), n, 0.1, 0.9, 0.0, true, 0.01); break;
        case 1: G::adam_step<T>(pg.data(), sg[0].data(), sg[1].data(), sg[2].data(), gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.01, false, nullptr);
                C::adam_step<T>(pc.data(), sc[0].data(), sc[1].data(), sc[2].data(), gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.01, false); break;
        case 2: G::adam_step<T>(pg.data(), sg[0].data(), sg[1].data(), nullptr, gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.004, true, nullptr);
                C::adam_step<T>(pc.data(), sc[0].data(), sc[1].data(), nullptr, gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.004, true); break;
        case 3: G::rmsprop_step<T>(pg.data(), sg[0].data(), sg[1].data(), sg[2].data(), gr.data(), n, 1e-2, 0.9, 1e-7, 0.5, 0.0, nullptr);
                C::rmsprop_step<T>(pc.data(), sc[0].data(), sc[1].data(), sc[2].data(), gr.data(), n, 1e-2, 0.9, 1e-7, 0.5, 0.0); break;
        case 4: G::adagrad_step<T>(pg.data(), sg[0].data(), gr.data(), n, 1e-2, 1e-7, 0.0, nullptr);
                C::adagrad_step<T>(pc.data(), sc[0].data(), gr.data(), n, 1e-2, 1e-7, 0.0); break;
        case 5: G::adadelta_step<T>(pg.data(), sg[0].data(), sg[1].data(), gr.data(), n, 1.0, 0.95, 1e-7, 0.0, nullptr);
                C::adadelta_step<T>(pc.data(), sc[0].data(), sc[1].data(), gr.data(), n, 1.0, 0.95, 1e-7, 0.0); break;
        case 6: G::adamax_step<T>(pg.data(), sg[0].data(), sg[1].data(), gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.0, nullptr);
                C::adamax_step<T>(pc.data(), sc[0].data(), sc[1].data(), gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.0); break;
        case 7: mu_product *= C::nadam_mu(0.9, step);
                G::nadam_step<T>(pg.data(), sg[0].data(), sg[1].data(), gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.0, mu_product, nullptr);
                C::nadam_step<T>(pc.data(), sc[0].data(), sc[1].data(), gr.data(), n, step, 1e-2, 0.9, 0.999, 1e-7, 0.0, mu_product); break;
      }
    }
    cmp("optim " + std::to_string(which) + " param", pg, pc, tol);
    for (int s = 0; s < 3; ++s) cmp("optim " + std::to_string(which) + " state " + std::to_string(s), sg[s], sc[s], tol);
  }
}
int main() {
  check_rng().seed(11);  // this check's inputs
  run<float>(1e-5); printf("float fails=%d\n", fails); run<double>(1e-12); printf("double fails=%d\n", fails); return fails != 0; }
