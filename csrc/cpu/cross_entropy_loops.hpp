// cross_entropy_loops.hpp: the softmax cross-entropy from logits, loss and gradient in one pass, compiled once
// per ISA (csrc/cpu/README.md): included by cross_entropy_scalar.cpp, cross_entropy_avx2.cpp and
// cross_entropy_avx512.cpp, each with its own FASTANN_ISA namespace; loss.cpp calls the one simd_level() names.
//
// The softmax is fused into the loss: per row the kernel finds the max, writes exp(x - max) into dinput while
// summing it, then rescales that row in place while it is still in L1, so loss AND gradient come out of one
// pass over the logits (cross_entropy_with_grad in the training loop). docs/losses.md.
#include "cross_entropy_isa.hpp"

#include <cmath>

#include "fastann/common.hpp"
#include "internal/class_targets.hpp"
#include "parallel_sum.hpp"
#include "row_reduce.hpp"
#include "vexp.hpp"

namespace fastann::cpu::FASTANN_ISA {

namespace {

// inp (N,C), target t, dinp (N,C) or null, loss scalar or null
template <class T, class Target>
void cross_entropy_impl(T* loss, T* dinp, const T* inp, const Target& t, int64_t N, int64_t C, double g) {
  const double scale = g / double(N), unit = 1.0 / double(N);
  const bool finite_scale = std::isfinite(T(scale));
  const double total = detail::parallel_sum(N, row_grain(C), [&](int64_t b, int64_t e) {
    double acc = 0;
    for (int64_t i = b; i < e; ++i) {
      const T* x = inp + i * C;
      const T m = rows::max(x, C);
      // dinput holds exp(x - m) until the rescale below; without dinput the exps are summed directly
      double sumexp = 0;
      if (dinp) {
        sumexp = rows::exp_shift_sum(dinp + i * C, x, m, C);
      } else {
        sumexp = rows::lane_sum(0, C, [&](int64_t j) { return double(vexp(x[j] - m)); });
      }
      const double tsum = t.sum(i);
      // sum_j t_j (lse - x_j) with lse = m + log(sumexp), written so no large terms cancel
      if (loss) acc += tsum * std::log(sumexp) + t.dot_gap(i, x, m);
      if (dinp && finite_scale) {
        // d_j = scale (tsum softmax_j - t_j); the row is still in L1 from the loop above
        T* d = dinp + i * C;
        const T a = T(scale * tsum / sumexp);
        for (int64_t j = 0; j < C; ++j) d[j] = a * d[j] - T(scale) * t.at(i, j);
      } else if (dinp) {
        // grad_output infinite or NaN: d_j = g * (the gradient for grad_output = 1), so each entry is +-inf,
        // or NaN where that gradient is exactly 0 (inf * 0), as g (softmax - onehot) / N reads; the form
        // above would compute inf - inf or inf * 0 at every entry
        T* d = dinp + i * C;
        const T a = T(unit * tsum / sumexp);
        for (int64_t j = 0; j < C; ++j) d[j] = T(g) * (a * d[j] - T(unit) * t.at(i, j));
      }
    }
    return acc;
  });
  if (loss) *loss = T(total / double(N));
}

}  // namespace

template <class T, class L>
void cross_entropy_sparse_rows(T* loss, T* dinp, const T* inp, const L* labels, int64_t N, int64_t C, double g) {
  cross_entropy_impl(loss, dinp, inp, SparseTarget<T, L>{labels}, N, C, g);
}
template <class T>
void cross_entropy_dense_rows(T* loss, T* dinp, const T* inp, const T* tgt, int64_t N, int64_t C, double g) {
  cross_entropy_impl(loss, dinp, inp, DenseTarget<T>{tgt, C}, N, C, g);
}

template void cross_entropy_dense_rows<float>(float*, float*, const float*, const float*, int64_t, int64_t, double);
template void cross_entropy_dense_rows<double>(double*, double*, const double*, const double*, int64_t, int64_t,
                                               double);
template void cross_entropy_sparse_rows<float, int32_t>(float*, float*, const float*, const int32_t*, int64_t,
                                                        int64_t, double);
template void cross_entropy_sparse_rows<float, int64_t>(float*, float*, const float*, const int64_t*, int64_t,
                                                        int64_t, double);
template void cross_entropy_sparse_rows<double, int32_t>(double*, double*, const double*, const int32_t*, int64_t,
                                                         int64_t, double);
template void cross_entropy_sparse_rows<double, int64_t>(double*, double*, const double*, const int64_t*, int64_t,
                                                         int64_t, double);

}  // namespace fastann::cpu::FASTANN_ISA
