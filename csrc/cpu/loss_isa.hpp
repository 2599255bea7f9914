// loss_isa.hpp: the entry points of the elementwise loss loops in each ISA namespace (csrc/cpu/README.md),
// defined by loss_loops.hpp in loss_scalar.cpp / loss_avx2.cpp / loss_avx512.cpp; loss.cpp calls the ones
// simd_level() names.
#pragma once

#include <cstdint>

namespace fastann::cpu {

// The elementwise losses whose loops are compiled per ISA (terms in loss_loops.hpp and fastann/loss_terms.hpp).
enum class ElementwiseLoss { mse, l1, binary_cross_entropy, binary_cross_entropy_with_logits, huber, kl_divergence,
                             hinge, squared_hinge, log_cosh, poisson };

}  // namespace fastann::cpu

// terms_sum: sum_i term(inp_i, y_i) over inp, tgt (n,), in double (y_i: tgt_i, or the hinge label
// 2 tgt_i - 1 when `binary`); param: Huber's delta, the eps of BCE, kl_divergence and poisson.
// terms_grad: dinp_i = T(scale * grad(inp_i, y_i)) for the losses of fastann/loss_terms.hpp.
#define FASTANN_LOSS_ENTRY_POINTS                                                                            \
  template <class T>                                                                                         \
  double terms_sum(fastann::cpu::ElementwiseLoss kind, const T* inp, const T* tgt, int64_t n, double param,   \
                   bool binary);                                                                             \
  template <class T>                                                                                         \
  void terms_grad(fastann::cpu::ElementwiseLoss kind, T* dinp, const T* inp, const T* tgt, int64_t n,         \
                  double param, double scale, bool binary);
namespace fastann::cpu::scalar { FASTANN_LOSS_ENTRY_POINTS }
namespace fastann::cpu::avx2 { FASTANN_LOSS_ENTRY_POINTS }
namespace fastann::cpu::avx512 { FASTANN_LOSS_ENTRY_POINTS }
#undef FASTANN_LOSS_ENTRY_POINTS
