// cpu_dropout.cpp: the dropout family of fastann._cpu; signatures and checks in args/dropout.hpp, kernels in
// csrc/cpu/dropout*.cpp.
#include "args/dropout.hpp"
#include "families.hpp"
#include "fastann/cpu/dropout.hpp"

namespace fastann::bindings {

void bind_dropout(py::module_& m) {
  def_dropout(
      m, Device::cpu,
      "Inverted dropout: out[i] = input[i] * (keep[i] / (1 - p)), keep[i] = (splitmix64 bits of (seed, flat "
      "index i)) >> 32 >= ceil(p * 2^32). out, input: C-contiguous float32/float64 arrays of one shape; "
      "0 <= p < 1; seed: uint64. The same (p, seed) gives the same mask in dropout_backward.",
      "dinput = grad_output * (keep / (1 - p)) with the forward's mask (regenerated from p and seed).",
      "The 64 random bits dropout uses for flat element i under `seed` (for tests and the CUDA port: both "
      "backends must produce the same numbers).",
      [](const DropoutCall& d) {
        dispatch_float(d.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          if (d.backward) cpu::dropout_backward<T>(d.dst.ptr<T>(), d.src.ptr<const T>(), d.src.size, d.p, d.seed);
          else cpu::dropout_forward<T>(d.dst.ptr<T>(), d.src.ptr<const T>(), d.src.size, d.p, d.seed);
        });
      },
      [](uint64_t seed, uint64_t i) { return cpu::dropout_bits(seed, i); });
}

}  // namespace fastann::bindings
