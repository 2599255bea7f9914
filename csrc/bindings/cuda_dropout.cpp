// cuda_dropout.cpp: the dropout family of fastann._cuda (the masks are the CPU's, bit for bit); signatures
// and checks in args/dropout.hpp, launchers in csrc/cuda/dropout.cu.
#include "args/dropout.hpp"
#include "cuda_stream.hpp"
#include "families.hpp"
#include "fastann/cuda/dropout.hpp"

namespace fastann::bindings {

void bind_dropout(py::module_& m) {
  def_dropout(
      m, Device::cuda,
      "Inverted dropout on the GPU: out[i] = input[i] * (keep[i] / (1 - p)), keep[i] = (splitmix64 bits of (seed, "
      "flat index i)) >> 32 >= ceil(p * 2^32): the same mask as fastann._cpu.dropout_forward. 0 <= p < 1.",
      "dinput = grad_output * (keep / (1 - p)) with the forward's mask (regenerated from p and seed).",
      "The 64 random bits dropout uses for flat element i under `seed` (host copy of the device function; "
      "must equal fastann._cpu.dropout_bits).",
      [](const DropoutCall& d) {
        cudaStream_t stream = current_stream(d.src.obj);
        nogil release;
        dispatch_float(d.ft, [&](auto tag) {
          using T = decltype(tag);
          if (d.backward) cuda::dropout_backward<T>(d.dst.ptr<T>(), d.src.ptr<const T>(), d.src.size, d.p, d.seed, stream);
          else cuda::dropout_forward<T>(d.dst.ptr<T>(), d.src.ptr<const T>(), d.src.size, d.p, d.seed, stream);
        });
      },
      [](uint64_t seed, uint64_t i) { return cuda::dropout_bits(seed, i); });
}

}  // namespace fastann::bindings
