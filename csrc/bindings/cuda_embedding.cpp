// cuda_embedding.cpp: the embedding family of fastann._cuda; signatures and checks in args/embedding.hpp,
// launchers in csrc/cuda/embedding.cu.
#include "args/embedding.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/embedding.hpp"

namespace fastann::bindings {

void bind_embedding(py::module_& m) {
  def_embedding(
      m, Device::cuda,
      "Embedding lookup on the GPU (torch.nn.functional.embedding): out[..., :] = weight[indices[...], :]. weight "
      "(V, D) float32/float64; indices int32/int64 of any shape, every index in [0, V) (ValueError otherwise, "
      "nothing written; the check synchronises the stream); out indices.shape + (D,), of weight's dtype.",
      "Scatter-add of embedding_forward's gradient on the GPU: dweight (V, D) = sum over the positions p with "
      "indices[p] = v of grad_output[p], in increasing p (the CPU's order and bits); rows no index names and row "
      "padding_idx (None or an int in [0, V)) are zero.",
      [](const EmbeddingCall& c) {
        cudaStream_t stream = current_stream(c.dst.obj);
        nogil release;
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          auto go = [&](auto* idx) {
            if (c.backward)
              cuda::embedding_backward<T>(c.dst.ptr<T>(), c.table_or_grad.ptr<const T>(), idx, c.L, c.V, c.D,
                                          c.padding_idx, stream);
            else
              cuda::embedding_forward<T>(c.dst.ptr<T>(), c.table_or_grad.ptr<const T>(), idx, c.L, c.V, c.D, stream);
          };
          if (c.idx64) go(c.indices.ptr<const int64_t>());
          else go(c.indices.ptr<const int32_t>());
        });
      });
}

}  // namespace fastann::bindings
