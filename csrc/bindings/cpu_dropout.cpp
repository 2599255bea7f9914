// Bindings of the dropout family (csrc/cpu/dropout.cpp) into fastann._cpu.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "dense_utils.hpp"
#include "fastann/cpu/dropout.hpp"

namespace fastann::bind {

namespace {

void dropout_call(py::array dst, py::array src, double p, uint64_t seed, bool backward) {
  const char* op = backward ? "dropout_backward" : "dropout";
  const char* src_name = backward ? "grad_output" : "input";
  const char* dst_name = backward ? "dinput" : "out";
  FASTANN_CHECK(p >= 0.0 && p < 1.0, op, ": p must be in [0, 1), got ", p);
  const DType dt = float_dtype(src, op, src_name);
  check_in(src, dt, op, src_name);
  check_out(dst, dt, op, dst_name);
  require_same_shape(dst, src, op, dst_name, src_name);
  const int64_t n = src.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* s = cptr<T>(src);
    T* d = mptr<T>(dst);
    nogil g;
    if (backward) cpu::dropout_backward<T>(d, s, n, p, seed);
    else cpu::dropout_forward<T>(d, s, n, p, seed);
  });
}

}  // namespace

void bind_dropout(py::module_& m) {
  using py::arg;
  m.def("dropout_forward", [](py::array out, py::array input, double p, uint64_t seed) {
    dropout_call(out, input, p, seed, false);
  }, arg("out"), arg("input"), arg("p"), arg("seed"),
  "Inverted dropout: out[i] = input[i] * (keep[i] / (1 - p)), keep[i] = (splitmix64 bits of (seed, flat "
  "index i)) >> 32 >= ceil(p * 2^32). out, input: C-contiguous float32/float64 arrays of one shape; "
  "0 <= p < 1; seed: uint64. The same (p, seed) gives the same mask in dropout_backward.");
  m.def("dropout_backward", [](py::array dinput, py::array grad_output, double p, uint64_t seed) {
    dropout_call(dinput, grad_output, p, seed, true);
  }, arg("dinput"), arg("grad_output"), arg("p"), arg("seed"),
  "dinput = grad_output * (keep / (1 - p)) with the forward's mask (regenerated from p and seed).");
  m.def("dropout_bits", [](uint64_t seed, uint64_t i) { return cpu::dropout_bits(seed, i); }, arg("seed"),
        arg("i"), "The 64 random bits dropout uses for flat element i under `seed` (for tests and the CUDA "
        "port: both backends must produce the same numbers).");
}

}  // namespace fastann::bind
