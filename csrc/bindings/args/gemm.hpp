// args/gemm.hpp: signatures and argument parsing of the gemm family (gemm, gemm_batched, linear_forward,
// linear_backward), shared by fastann._cpu and fastann._cuda. Each def_* registers one function under its one
// signature and hands the checked arguments to the backend's `run`.
#pragma once

#include <string>

#include "checks.hpp"

namespace fastann::bindings {

// "relu" -> true; None / "" / "linear" / "none" -> false; anything else ValueError (TypeError if not a str).
inline bool linear_activation_arg(py::handle act, const char* op) {
  if (act.is_none()) return false;
  if (!py::isinstance<py::str>(act))
    type_fail(std::string(op) + ": activation must be None or a str, got " + type_name(act));
  const std::string s = act.cast<std::string>();
  if (s.empty() || s == "none" || s == "linear") return false;
  if (s == "relu") return true;
  fail(op, ": activation must be None or 'relu', got '", s, "'");
}

struct GemmCall {
  FloatType ft;
  ArrayView c, a, b;
  int64_t batch = 1, m, n, k;
  bool trans_a, trans_b;
  double alpha, beta;
  int rung;
};

// gemm (batched = false): c (M,N), a (M,K)|(K,M), b (K,N)|(N,K); gemm_batched: the same with a leading B.
inline GemmCall parse_gemm(Device dev, bool batched, py::handle c, py::handle a, py::handle b, bool trans_a,
                           bool trans_b, const RealArg& alpha_, const RealArg& beta_, const IntArg& rung) {
  const char* op = batched ? "gemm_batched" : "gemm";
  const double alpha = to_double(alpha_, op, "alpha"), beta = to_double(beta_, op, "beta");
  GemmCall g;
  g.a = leading(a, dev, &g.ft, op, "a");
  g.b = input(b, dev, g.ft, op, "b");
  g.c = output(c, dev, g.ft, op, "c");
  const int nd = batched ? 3 : 2, o = batched ? 1 : 0;
  require_ndim(g.a, nd, op, "a", batched ? (trans_a ? "(B,K,M)" : "(B,M,K)") : (trans_a ? "(K,M)" : "(M,K)"));
  require_ndim(g.b, nd, op, "b", batched ? (trans_b ? "(B,N,K)" : "(B,K,N)") : (trans_b ? "(N,K)" : "(K,N)"));
  require_ndim(g.c, nd, op, "c", batched ? "(B,M,N)" : "(M,N)");
  g.m = g.a.shape[o + (trans_a ? 1 : 0)];
  g.k = g.a.shape[o + (trans_a ? 0 : 1)];
  const int64_t kb = g.b.shape[o + (trans_b ? 1 : 0)];
  g.n = g.b.shape[o + (trans_b ? 0 : 1)];
  if (batched) {
    g.batch = g.a.shape[0];
    FASTANN_CHECK(g.b.shape[0] == g.batch, op, ": a holds ", g.batch, " matrices but b holds ", g.b.shape[0]);
  }
  FASTANN_CHECK(g.k == kb, op, ": inner dimensions differ: op(a) is (", g.m, ", ", g.k, ") and op(b) is (", kb,
                ", ", g.n, ") (trans_a=", trans_a, ", trans_b=", trans_b, ")");
  if (batched) require_shape(g.c, {g.batch, g.m, g.n}, op, "c");
  else require_shape(g.c, {g.m, g.n}, op, "c");
  require_disjoint(op, {{g.c, "c"}}, {{g.a, "a"}, {g.b, "b"}});
  g.trans_a = trans_a, g.trans_b = trans_b, g.alpha = alpha, g.beta = beta;
  g.rung = rung_arg(rung, op);
  return g;
}

template <class Run>
void def_gemm(py::module_& m, Device dev, bool batched, const char* doc, Run run) {
  m.def(batched ? "gemm_batched" : "gemm",
        [dev, batched, run](py::object c, py::object a, py::object b, bool trans_a, bool trans_b, RealArg alpha,
                            RealArg beta, IntArg rung) {
          run(parse_gemm(dev, batched, c, a, b, trans_a, trans_b, alpha, beta, rung));
        },
        py::arg("c"), py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("rung") = 0, doc);
}

struct LinearForwardCall {
  FloatType ft;
  ArrayView out, input, weight;
  std::optional<ArrayView> bias;
  int64_t n, in_f, out_f;
  bool relu;
};

template <class Run>
void def_linear_forward(py::module_& m, Device dev, const char* doc, Run run) {
  m.def("linear_forward",
        [dev, run](py::object out, py::object input_, py::object weight, py::object bias, py::object activation) {
          const char* op = "linear_forward";
          LinearForwardCall l;
          l.relu = linear_activation_arg(activation, op);
          l.input = leading(input_, dev, &l.ft, op, "input");
          l.weight = input(weight, dev, l.ft, op, "weight");
          l.out = output(out, dev, l.ft, op, "out");
          require_ndim(l.input, 2, op, "input", "(N,in_features)");
          require_ndim(l.weight, 2, op, "weight", "(out_features,in_features)");
          l.n = l.input.shape[0], l.in_f = l.input.shape[1], l.out_f = l.weight.shape[0];
          FASTANN_CHECK(l.weight.shape[1] == l.in_f, op, ": weight must have shape (out_features, ", l.in_f,
                        ") to match input ", shape_str(l.input), ", got ", shape_str(l.weight));
          require_shape(l.out, {l.n, l.out_f}, op, "out");
          l.bias = opt_input(bias, dev, l.ft, op, "bias");
          if (l.bias) require_shape(*l.bias, {l.out_f}, op, "bias");
          require_disjoint(op, {{l.out, "out"}}, {{l.input, "input"}, {l.weight, "weight"}, {l.bias, "bias"}});
          run(l);
        },
        py::arg("out"), py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("activation") = py::none(), doc);
}

struct LinearBackwardCall {
  FloatType ft;
  std::optional<ArrayView> dinput, dbias, output;
  ArrayView dweight, grad_output, input, weight;
  int64_t n, in_f, out_f;
  bool relu;
};

template <class Run>
void def_linear_backward(py::module_& m, Device dev, const char* doc, Run run) {
  m.def("linear_backward",
        [dev, run](py::object dinput, py::object dweight, py::object dbias, py::object grad_output, py::object input_,
                   py::object weight, py::object output_, py::object activation) {
          const char* op = "linear_backward";
          LinearBackwardCall l;
          l.relu = linear_activation_arg(activation, op);
          l.grad_output = leading(grad_output, dev, &l.ft, op, "grad_output");
          l.input = input(input_, dev, l.ft, op, "input");
          l.weight = input(weight, dev, l.ft, op, "weight");
          l.dweight = output(dweight, dev, l.ft, op, "dweight");
          require_ndim(l.grad_output, 2, op, "grad_output", "(N,out_features)");
          require_ndim(l.input, 2, op, "input", "(N,in_features)");
          require_ndim(l.weight, 2, op, "weight", "(out_features,in_features)");
          l.n = l.input.shape[0], l.in_f = l.input.shape[1], l.out_f = l.weight.shape[0];
          FASTANN_CHECK(l.weight.shape[1] == l.in_f, op, ": weight must have shape (out_features, ", l.in_f,
                        ") to match input ", shape_str(l.input), ", got ", shape_str(l.weight));
          require_shape(l.grad_output, {l.n, l.out_f}, op, "grad_output");
          require_shape(l.dweight, {l.out_f, l.in_f}, op, "dweight");
          l.dinput = opt_output(dinput, dev, l.ft, op, "dinput");
          if (l.dinput) require_shape(*l.dinput, {l.n, l.in_f}, op, "dinput");
          l.dbias = opt_output(dbias, dev, l.ft, op, "dbias");
          if (l.dbias) require_shape(*l.dbias, {l.out_f}, op, "dbias");
          FASTANN_CHECK(!l.relu || !output_.is_none(), op,
                        ": activation='relu' needs the forward output (output=None given)");
          l.output = opt_input(output_, dev, l.ft, op, "output");
          if (l.output) require_shape(*l.output, {l.n, l.out_f}, op, "output");
          require_disjoint(op, {{l.dinput, "dinput"}, {l.dweight, "dweight"}, {l.dbias, "dbias"}},
                           {{l.grad_output, "grad_output"}, {l.input, "input"}, {l.weight, "weight"},
                            {l.output, "output"}});
          run(l);
        },
        py::arg("dinput"), py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("input"),
        py::arg("weight"), py::arg("output") = py::none(), py::arg("activation") = py::none(), doc);
}

}  // namespace fastann::bindings
