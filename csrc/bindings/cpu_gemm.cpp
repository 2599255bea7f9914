// Bindings of the gemm family (csrc/cpu/gemm.cpp) into fastann._cpu.
#include <string>

#include "binding_utils.hpp"
#include "cpu_bindings.hpp"
#include "fastann/cpu/gemm.hpp"

namespace fastann::bind {

namespace {

// "relu" -> 1, None / "" / "linear" / "none" -> 0; anything else is a ValueError.
int parse_activation(const py::object& act, const char* op) {
  if (act.is_none()) return 0;
  if (!py::isinstance<py::str>(act))
    throw py::type_error(std::string(op) + ": activation must be None or a str, got " +
                         py::str(py::type::of(act)).cast<std::string>());
  const std::string s = act.cast<std::string>();
  if (s.empty() || s == "none" || s == "linear") return 0;
  if (s == "relu") return 1;
  fail(op, ": activation must be None or 'relu', got '", s, "'");
}

// True when the memory of two arrays overlaps (an output must not alias an input the kernel still reads).
bool overlaps(const py::array& x, const py::array& y) {
  const char* x0 = static_cast<const char*>(x.data());
  const char* y0 = static_cast<const char*>(y.data());
  return x.nbytes() > 0 && y.nbytes() > 0 && x0 < y0 + y.nbytes() && y0 < x0 + x.nbytes();
}

// An optional array argument: None or a py::array (anything else is a TypeError).
bool optional_array(const py::object& o, py::array& out, const char* op, const char* name) {
  if (o.is_none()) return false;
  if (!py::isinstance<py::array>(o))
    throw py::type_error(std::string(op) + ": " + name + " must be a numpy.ndarray or None, got " +
                         py::str(py::type::of(o)).cast<std::string>());
  out = py::reinterpret_borrow<py::array>(o);
  return true;
}

void gemm_binding(py::array c, py::array a, py::array b, bool trans_a, bool trans_b, double alpha, double beta,
                  int kernel) {
  const char* op = "gemm";
  FASTANN_CHECK(kernel >= 0 && kernel <= cpu::kGemmKernels, op, ": kernel must be 0 (auto) or 1..",
                cpu::kGemmKernels, ", got ", kernel);
  const DType dt = float_dtype(a, op, "a");
  check_in(a, dt, op, "a");
  check_in(b, dt, op, "b");
  check_out(c, dt, op, "c");
  require_ndim(a, 2, op, "a", trans_a ? "(K,M)" : "(M,K)");
  require_ndim(b, 2, op, "b", trans_b ? "(N,K)" : "(K,N)");
  require_ndim(c, 2, op, "c", "(M,N)");
  const int64_t m = trans_a ? a.shape(1) : a.shape(0), ka = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  FASTANN_CHECK(ka == kb, op, ": inner dimensions differ: op(a) is (", m, ", ", ka, ") and op(b) is (", kb,
                ", ", n, ") (trans_a=", trans_a, ", trans_b=", trans_b, ")");
  require_shape(c, {m, n}, op, "c");
  FASTANN_CHECK(!overlaps(c, a) && !overlaps(c, b), op, ": c must not share memory with a or b");
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cpu::GemmArgs<T> g;
    g.m = m;
    g.n = n;
    g.k = ka;
    g.a = cptr<T>(a);
    g.lda = a.shape(1);
    g.trans_a = trans_a;
    g.b = cptr<T>(b);
    g.ldb = b.shape(1);
    g.trans_b = trans_b;
    g.c = mptr<T>(c);
    g.ldc = n;
    g.alpha = static_cast<T>(alpha);
    g.beta = static_cast<T>(beta);
    nogil release;
    cpu::gemm(g, kernel);
  });
}

void linear_forward_binding(py::array out, py::array input, py::array weight, py::object bias_obj,
                            py::object activation) {
  const char* op = "linear_forward";
  const int act = parse_activation(activation, op);
  const DType dt = float_dtype(input, op, "input");
  check_in(input, dt, op, "input");
  check_in(weight, dt, op, "weight");
  check_out(out, dt, op, "out");
  require_ndim(input, 2, op, "input", "(N,in_features)");
  require_ndim(weight, 2, op, "weight", "(out_features,in_features)");
  const int64_t n = input.shape(0), in_f = input.shape(1), out_f = weight.shape(0);
  FASTANN_CHECK(weight.shape(1) == in_f, op, ": weight must have shape (out_features, ", in_f,
                ") to match input ", shape_str(input), ", got ", shape_str(weight));
  require_shape(out, {n, out_f}, op, "out");
  py::array bias;
  const bool has_bias = optional_array(bias_obj, bias, op, "bias");
  if (has_bias) {
    check_in(bias, dt, op, "bias");
    require_shape(bias, {out_f}, op, "bias");
  }
  FASTANN_CHECK(!overlaps(out, input) && !overlaps(out, weight) && !(has_bias && overlaps(out, bias)), op,
                ": out must not share memory with input, weight or bias");
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    nogil release;
    cpu::linear_forward<T>(mptr<T>(out), cptr<T>(input), cptr<T>(weight), has_bias ? cptr<T>(bias) : nullptr, n,
                           in_f, out_f, act);
  });
}

void linear_backward_binding(py::object dinput_obj, py::array dweight, py::object dbias_obj,
                             py::array grad_output, py::array input, py::array weight, py::object output_obj,
                             py::object activation) {
  const char* op = "linear_backward";
  const int act = parse_activation(activation, op);
  const DType dt = float_dtype(grad_output, op, "grad_output");
  check_in(grad_output, dt, op, "grad_output");
  check_in(input, dt, op, "input");
  check_in(weight, dt, op, "weight");
  check_out(dweight, dt, op, "dweight");
  require_ndim(grad_output, 2, op, "grad_output", "(N,out_features)");
  require_ndim(input, 2, op, "input", "(N,in_features)");
  require_ndim(weight, 2, op, "weight", "(out_features,in_features)");
  const int64_t n = input.shape(0), in_f = input.shape(1), out_f = weight.shape(0);
  FASTANN_CHECK(weight.shape(1) == in_f, op, ": weight must have shape (out_features, ", in_f,
                ") to match input ", shape_str(input), ", got ", shape_str(weight));
  require_shape(grad_output, {n, out_f}, op, "grad_output");
  require_shape(dweight, {out_f, in_f}, op, "dweight");
  py::array dinput, dbias, output;
  const bool has_dinput = optional_array(dinput_obj, dinput, op, "dinput");
  const bool has_dbias = optional_array(dbias_obj, dbias, op, "dbias");
  const bool has_output = optional_array(output_obj, output, op, "output");
  if (has_dinput) {
    check_out(dinput, dt, op, "dinput");
    require_shape(dinput, {n, in_f}, op, "dinput");
  }
  if (has_dbias) {
    check_out(dbias, dt, op, "dbias");
    require_shape(dbias, {out_f}, op, "dbias");
  }
  FASTANN_CHECK(act == 0 || has_output, op, ": activation='relu' needs the forward output (output=None given)");
  if (has_output) {
    check_in(output, dt, op, "output");
    require_shape(output, {n, out_f}, op, "output");
  }
  for (const py::array* in : {&grad_output, &input, &weight}) {
    FASTANN_CHECK(!overlaps(dweight, *in) && !(has_dinput && overlaps(dinput, *in)) &&
                      !(has_dbias && overlaps(dbias, *in)),
                  op, ": the gradients must not share memory with grad_output, input or weight");
  }
  FASTANN_CHECK(!(has_dinput && overlaps(dinput, dweight)), op, ": dinput and dweight share memory");
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    nogil release;
    cpu::linear_backward<T>(has_dinput ? mptr<T>(dinput) : nullptr, mptr<T>(dweight),
                            has_dbias ? mptr<T>(dbias) : nullptr, cptr<T>(grad_output), cptr<T>(input),
                            cptr<T>(weight), has_output ? cptr<T>(output) : nullptr, n, in_f, out_f, act);
  });
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_binding, py::arg("c"), py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("kernel") = 0,
        "c = alpha*op(a)*op(b) + beta*c in place. a (M,K) or (K,M) if trans_a, b (K,N) or (N,K) if trans_b,\n"
        "c (M,N); float32/float64, C-contiguous. beta == 0: c is not read. kernel: 0 auto, 1 naive,\n"
        "2 cache-blocked, 3 packed SIMD, 4 packed SIMD threaded.");
  m.def("linear_forward", &linear_forward_binding, py::arg("out"), py::arg("input"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("activation") = py::none(),
        "out (N,out) = act(input (N,in) @ weight (out,in)^T + bias (out,)); activation None or 'relu'.");
  m.def("linear_backward", &linear_backward_binding, py::arg("dinput"), py::arg("dweight"), py::arg("dbias"),
        py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("output") = py::none(),
        py::arg("activation") = py::none(),
        "Gradients of linear_forward: dinput (N,in) or None, dweight (out,in), dbias (out,) or None, written\n"
        "in place. activation='relu' masks grad_output where output <= 0 (output (N,out) required).");
  m.def(
      "fma_peak_gflops",
      [](double seconds) {
        FASTANN_CHECK(seconds > 0 && seconds <= 60, "fma_peak_gflops: seconds must be in (0, 60], got ", seconds);
        py::gil_scoped_release release;
        return cpu::fma_peak_gflops(seconds);
      },
      py::arg("seconds") = 0.2,
      "Measured single-core fp32 FMA peak (GFLOP/s) of the SIMD path in use (independent FMA chains).");
}

}  // namespace fastann::bind
