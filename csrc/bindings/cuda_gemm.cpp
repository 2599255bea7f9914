// Bindings of the gemm family (csrc/cuda/gemm.cu) into fastann._cuda: the same names and signatures as the
// fastann._cpu functions, with CuPy arrays.
#include "cuda_bindings.hpp"
#include "cuda_utils.hpp"
#include "fastann/cuda/gemm.hpp"

namespace fastann::cudabind {

namespace {

// None / "none" / "linear" / "" -> no activation; "relu" -> relu; anything else ValueError.
bool parse_linear_activation(py::handle act, const char* op) {
  if (act.is_none()) return false;
  if (!py::isinstance<py::str>(act))
    throw py::type_error(std::string(op) + ": activation must be None or a str, got " +
                         py::str(py::type::of(act)).cast<std::string>());
  std::string s = act.cast<std::string>();
  if (s.empty() || s == "none" || s == "linear") return false;
  if (s == "relu") return true;
  fail(op, ": activation must be None or 'relu', got '", s, "'");
}

// True when two device arrays' bytes overlap (an output must not alias an input the kernel still reads).
bool overlaps(const DeviceArray& x, const DeviceArray& y) {
  const char* x0 = static_cast<const char*>(x.data);
  const char* y0 = static_cast<const char*>(y.data);
  const int64_t xn = x.size * cuda::itemsize(x.dtype), yn = y.size * cuda::itemsize(y.dtype);
  return xn > 0 && yn > 0 && x0 < y0 + yn && y0 < x0 + xn;
}

int parse_kernel(py::handle kernel, const char* op) {
  if (kernel.is_none()) return 0;
  if (py::isinstance<py::bool_>(kernel) || !py::isinstance<py::int_>(kernel))
    fail(op, ": kernel must be an int or None, got ", py::repr(kernel).cast<std::string>());
  return kernel.cast<int>();
}

void gemm_binding(py::object c_, py::object a_, py::object b_, bool trans_a, bool trans_b, double alpha,
                  double beta, py::object kernel_) {
  const char* op = "gemm";
  DType dt;
  DeviceArray c = first_array(c_, &dt, op, "c", /*output=*/true);
  DeviceArray a = in_array(a_, dt, op, "a");
  DeviceArray b = in_array(b_, dt, op, "b");
  require_ndim(a, 2, op, "a", trans_a ? "(K, M)" : "(M, K)");
  require_ndim(b, 2, op, "b", trans_b ? "(N, K)" : "(K, N)");
  require_ndim(c, 2, op, "c", "(M, N)");
  const int64_t M = trans_a ? a.shape[1] : a.shape[0], K = trans_a ? a.shape[0] : a.shape[1];
  const int64_t Kb = trans_b ? b.shape[1] : b.shape[0], N = trans_b ? b.shape[0] : b.shape[1];
  FASTANN_CHECK(K == Kb, op, ": inner dimensions differ: op(a) is (", M, ", ", K, ") and op(b) is (", Kb, ", ", N,
                ") (trans_a=", trans_a, ", trans_b=", trans_b, ")");
  require_shape(c, {M, N}, op, "c");
  FASTANN_CHECK(!overlaps(c, a) && !overlaps(c, b), op, ": c must not share memory with a or b");
  const int kernel = parse_kernel(kernel_, op);
  cudaStream_t stream = current_stream(c_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::gemm<T>(c.ptr<T>(), a.ptr<T>(), b.ptr<T>(), M, N, K, trans_a, trans_b, static_cast<T>(alpha),
                  static_cast<T>(beta), kernel, stream);
  });
}

// c (B,M,N) = alpha * op(a[z]) @ op(b[z]) + beta * c[z] for each z < B; a (B,M,K)|(B,K,M), b (B,K,N)|(B,N,K).
void gemm_batched_binding(py::object c_, py::object a_, py::object b_, bool trans_a, bool trans_b, double alpha,
                          double beta, py::object kernel_) {
  const char* op = "gemm_batched";
  DType dt;
  DeviceArray c = first_array(c_, &dt, op, "c", /*output=*/true);
  DeviceArray a = in_array(a_, dt, op, "a");
  DeviceArray b = in_array(b_, dt, op, "b");
  require_ndim(a, 3, op, "a", trans_a ? "(B, K, M)" : "(B, M, K)");
  require_ndim(b, 3, op, "b", trans_b ? "(B, N, K)" : "(B, K, N)");
  require_ndim(c, 3, op, "c", "(B, M, N)");
  const int64_t B = a.shape[0];
  const int64_t M = trans_a ? a.shape[2] : a.shape[1], K = trans_a ? a.shape[1] : a.shape[2];
  const int64_t Kb = trans_b ? b.shape[2] : b.shape[1], N = trans_b ? b.shape[1] : b.shape[2];
  FASTANN_CHECK(b.shape[0] == B, op, ": a holds ", B, " matrices but b holds ", b.shape[0]);
  FASTANN_CHECK(K == Kb, op, ": inner dimensions differ: op(a) is (", M, ", ", K, ") and op(b) is (", Kb, ", ", N,
                ") (trans_a=", trans_a, ", trans_b=", trans_b, ")");
  require_shape(c, {B, M, N}, op, "c");
  FASTANN_CHECK(!overlaps(c, a) && !overlaps(c, b), op, ": c must not share memory with a or b");
  const int kernel = parse_kernel(kernel_, op);
  cudaStream_t stream = current_stream(c_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::gemm_strided_batched<T>(c.ptr<T>(), a.ptr<T>(), b.ptr<T>(), M, N, K, trans_a, trans_b,
                                  static_cast<T>(alpha), static_cast<T>(beta), B, M * K, K * N, M * N, kernel, stream);
  });
}

void linear_forward_binding(py::object out_, py::object inp_, py::object weight_, py::object bias_,
                            py::object activation) {
  const char* op = "linear_forward";
  DType dt;
  DeviceArray out = first_array(out_, &dt, op, "out", true);
  DeviceArray inp = in_array(inp_, dt, op, "input");
  DeviceArray w = in_array(weight_, dt, op, "weight");
  require_ndim(inp, 2, op, "input", "(N, in_features)");
  require_ndim(w, 2, op, "weight", "(out_features, in_features)");
  const int64_t N = inp.shape[0], IN = inp.shape[1], OUT = w.shape[0];
  FASTANN_CHECK(w.shape[1] == IN, op, ": weight has in_features=", w.shape[1], " but input has ", IN,
                " (input ", shape_str(inp), ", weight ", shape_str(w), ")");
  require_shape(out, {N, OUT}, op, "out");
  const void* bias = nullptr;
  if (!bias_.is_none()) {
    DeviceArray b = in_array(bias_, dt, op, "bias");
    require_shape(b, {OUT}, op, "bias");
    bias = b.data;
  }
  const bool relu = parse_linear_activation(activation, op);
  cudaStream_t stream = current_stream(out_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::linear_forward<T>(out.ptr<T>(), inp.ptr<T>(), w.ptr<T>(), static_cast<const T*>(bias), N, IN, OUT, relu,
                            stream);
  });
}

void linear_backward_binding(py::object dinp_, py::object dweight_, py::object dbias_, py::object dout_,
                             py::object inp_, py::object weight_, py::object out_, py::object activation) {
  const char* op = "linear_backward";
  DType dt;
  DeviceArray dw = first_array(dweight_, &dt, op, "dweight", true);
  DeviceArray dout = in_array(dout_, dt, op, "grad_output");
  DeviceArray inp = in_array(inp_, dt, op, "input");
  DeviceArray w = in_array(weight_, dt, op, "weight");
  require_ndim(inp, 2, op, "input", "(N, in_features)");
  require_ndim(w, 2, op, "weight", "(out_features, in_features)");
  const int64_t N = inp.shape[0], IN = inp.shape[1], OUT = w.shape[0];
  FASTANN_CHECK(w.shape[1] == IN, op, ": weight has in_features=", w.shape[1], " but input has ", IN,
                " (input ", shape_str(inp), ", weight ", shape_str(w), ")");
  require_shape(dout, {N, OUT}, op, "grad_output");
  require_shape(dw, {OUT, IN}, op, "dweight");
  void* dinp = nullptr;
  if (!dinp_.is_none()) {
    DeviceArray d = out_array(dinp_, dt, op, "dinput");
    require_shape(d, {N, IN}, op, "dinput");
    dinp = d.data;
  }
  void* dbias = nullptr;
  if (!dbias_.is_none()) {
    DeviceArray d = out_array(dbias_, dt, op, "dbias");
    require_shape(d, {OUT}, op, "dbias");
    dbias = d.data;
  }
  const bool relu = parse_linear_activation(activation, op);
  const void* outp = nullptr;
  if (relu) {
    FASTANN_CHECK(!out_.is_none(), op, ": activation='relu' needs the forward output (output=None given)");
    DeviceArray o = in_array(out_, dt, op, "output");
    require_shape(o, {N, OUT}, op, "output");
    outp = o.data;
  }
  cudaStream_t stream = current_stream(dweight_);
  nogil g;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    cuda::linear_backward<T>(static_cast<T*>(dinp), dw.ptr<T>(), static_cast<T*>(dbias), dout.ptr<T>(), inp.ptr<T>(),
                             w.ptr<T>(), static_cast<const T*>(outp), N, IN, OUT, relu, stream);
  });
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_binding, py::arg("c"), py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("kernel") = 0,
        "c (M,N) = alpha * op(a) @ op(b) + beta * c on the GPU, in place. a (M,K) or (K,M) if trans_a, b (K,N) or\n"
        "(N,K) if trans_b; float32 (kernels 1-7) or float64 (kernels 1-5); kernel 0/None = auto.\n"
        "beta == 0 never reads c. Raises TypeError (not CuPy arrays, dtype), ValueError (shapes, kernel).");
  m.def("gemm_batched", &gemm_batched_binding, py::arg("c"), py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("kernel") = 0,
        "CUDA only: c[z] = alpha * op(a[z]) @ op(b[z]) + beta * c[z] for every z, one launch (grid z). a (B,M,K)\n"
        "or (B,K,M), b (B,K,N) or (B,N,K), c (B,M,N); B <= 65535; same kernels and checks as gemm.");
  m.def("linear_forward", &linear_forward_binding, py::arg("out"), py::arg("input"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("activation") = py::none(),
        "out (N,out) = input (N,in) @ weight (out,in).T + bias (out,) [then relu], one GEMM with a fused epilogue.");
  m.def("linear_backward", &linear_backward_binding, py::arg("dinput"), py::arg("dweight"), py::arg("dbias"),
        py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("output") = py::none(),
        py::arg("activation") = py::none(),
        "Gradients of linear_forward: dinput (N,in) (skipped when None), dweight (out,in), dbias (out,) (skipped\n"
        "when None). With activation='relu' grad_output is first masked by output > 0 (output required).");
  m.attr("GEMM_NUM_KERNELS") = cuda::kGemmNumKernels;
}

}  // namespace fastann::cudabind
