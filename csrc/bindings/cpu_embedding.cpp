// cpu_embedding.cpp: the embedding family of fastann._cpu; signatures and checks in args/embedding.hpp, kernels
// in csrc/cpu/embedding.cpp.
#include "args/embedding.hpp"
#include "families.hpp"
#include "fastann/cpu/embedding.hpp"

namespace fastann::bindings {

void bind_embedding(py::module_& m) {
  def_embedding(
      m, Device::cpu,
      "Embedding lookup (torch.nn.functional.embedding): out[..., :] = weight[indices[...], :]. weight (V, D) "
      "float32/float64; indices int32/int64 of any shape, every index in [0, V) (ValueError otherwise, nothing "
      "written); out indices.shape + (D,), C-contiguous, of weight's dtype.",
      "Scatter-add of embedding_forward's gradient: dweight (V, D) = sum over the positions p with indices[p] = v "
      "of grad_output[p] (grad_output indices.shape + (D,)); rows no index names and row padding_idx (None or an "
      "int in [0, V)) are zero. Deterministic at any thread count.",
      [](const EmbeddingCall& c) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          auto go = [&](auto* idx) {
            nogil release;
            if (c.backward)
              cpu::embedding_backward<T>(c.dst.ptr<T>(), c.table_or_grad.ptr<const T>(), idx, c.L, c.V, c.D,
                                         c.padding_idx);
            else
              cpu::embedding_forward<T>(c.dst.ptr<T>(), c.table_or_grad.ptr<const T>(), idx, c.L, c.V, c.D);
          };
          if (c.idx64) go(c.indices.ptr<const int64_t>());
          else go(c.indices.ptr<const int32_t>());
        });
      });
}

}  // namespace fastann::bindings
