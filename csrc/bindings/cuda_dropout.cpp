// Bindings of the dropout family (csrc/cuda/dropout.cu) into fastann._cuda: the same names, signatures and
// checks as fastann._cpu's, with CuPy arrays; the masks are the CPU's, bit for bit.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/dropout.hpp"

namespace fastann::cudabind {

namespace {

void dropout_call(py::object dst_, py::object src_, double p, uint64_t seed, bool backward) {
  const char* op = backward ? "dropout_backward" : "dropout";
  const char* src_name = backward ? "grad_output" : "input";
  const char* dst_name = backward ? "dinput" : "out";
  FASTANN_CHECK(p >= 0.0 && p < 1.0, op, ": p must be in [0, 1), got ", p);
  DType dt;
  DeviceArray src = first_array(src_, &dt, op, src_name, false);
  DeviceArray dst = out_array(dst_, dt, op, dst_name);
  require_same_shape(dst, src, op, dst_name, src_name);
  cudaStream_t stream = current_stream(src_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    if (backward) cuda::dropout_backward<T>(dst.ptr<T>(), src.ptr<T>(), src.size, p, seed, stream);
    else cuda::dropout_forward<T>(dst.ptr<T>(), src.ptr<T>(), src.size, p, seed, stream);
  });
}

}  // namespace

void bind_dropout(py::module_& m) {
  using py::arg;
  m.def("dropout_forward", [](py::object out, py::object input, double p, uint64_t seed) {
    dropout_call(out, input, p, seed, false);
  }, arg("out"), arg("input"), arg("p"), arg("seed"),
  "Inverted dropout on the GPU: out[i] = input[i] * (keep[i] / (1 - p)), keep[i] = (splitmix64 bits of (seed, "
  "flat index i)) >> 32 >= ceil(p * 2^32): the same mask as fastann._cpu.dropout_forward. 0 <= p < 1.");
  m.def("dropout_backward", [](py::object dinput, py::object grad_output, double p, uint64_t seed) {
    dropout_call(dinput, grad_output, p, seed, true);
  }, arg("dinput"), arg("grad_output"), arg("p"), arg("seed"),
  "dinput = grad_output * (keep / (1 - p)) with the forward's mask (regenerated from p and seed).");
  m.def("dropout_bits", [](uint64_t seed, uint64_t i) { return cuda::dropout_bits(seed, i); }, arg("seed"), arg("i"),
        "The 64 random bits dropout uses for flat element i under `seed` (host copy of the device function; "
        "must equal fastann._cpu.dropout_bits).");
}

}  // namespace fastann::cudabind
