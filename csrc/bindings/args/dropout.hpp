// args/dropout.hpp: signatures and argument parsing of dropout_forward / dropout_backward / dropout_bits,
// shared by fastann._cpu and fastann._cuda.
#pragma once

#include "checks.hpp"

namespace fastann::bindings {

struct DropoutCall {
  FloatType ft;
  ArrayView dst, src;  // forward: out, input; backward: dinput, grad_output
  double p;
  uint64_t seed;
  bool backward;
};

// bits(seed, i): the backend's 64 mask bits of element i.
template <class Run, class Bits>
void def_dropout(py::module_& m, Device dev, const char* forward_doc, const char* backward_doc,
                 const char* bits_doc, Run run, Bits bits) {
  auto call = [dev, run](py::handle dst, py::handle src, const RealArg& p_, const IntArg& seed, bool backward) {
    const char* op = backward ? "dropout_backward" : "dropout";
    const char* src_name = backward ? "grad_output" : "input";
    const char* dst_name = backward ? "dinput" : "out";
    DropoutCall d;
    d.backward = backward;
    const double p = to_double(p_, op, "p");
    FASTANN_CHECK(p >= 0.0 && p < 1.0, op, ": p must be in [0, 1), got ", p);
    d.p = p;
    d.seed = to_uint64(seed, op, "seed");
    d.src = leading(src, dev, &d.ft, op, src_name);
    d.dst = output(dst, dev, d.ft, op, dst_name);
    require_same_shape(d.dst, d.src, op, dst_name, src_name);
    require_disjoint(op, {{d.dst, dst_name}}, {{d.src, src_name}});
    run(d);
  };
  m.def("dropout_forward", [call](py::object out, py::object input, RealArg p, IntArg seed) {
    call(out, input, p, seed, false);
  }, py::arg("out"), py::arg("input"), py::arg("p"), py::arg("seed"), forward_doc);
  m.def("dropout_backward", [call](py::object dinput, py::object grad_output, RealArg p, IntArg seed) {
    call(dinput, grad_output, p, seed, true);
  }, py::arg("dinput"), py::arg("grad_output"), py::arg("p"), py::arg("seed"), backward_doc);
  m.def("dropout_bits", [bits](IntArg seed, IntArg i) {
    return bits(to_uint64(seed, "dropout_bits", "seed"), to_uint64(i, "dropout_bits", "i"));
  }, py::arg("seed"), py::arg("i"), bits_doc);
}

}  // namespace fastann::bindings
