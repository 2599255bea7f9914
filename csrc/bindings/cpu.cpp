// cpu.cpp: the fastann._cpu extension module. Runtime queries live here; each kernel family registers its
// functions from csrc/bindings/cpu_<family>.cpp.
#include "binding_utils.hpp"
#include "cpu_bindings.hpp"

#ifndef FASTANN_VERSION
#define FASTANN_VERSION "0.0.0"
#endif
#ifndef FASTANN_COMPILER
#define FASTANN_COMPILER "unknown"
#endif
#ifndef FASTANN_CUDA_BUILT
#define FASTANN_CUDA_BUILT 0
#endif

namespace py = pybind11;
using namespace fastann;

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "fastann CPU kernels (hand-written C++, OpenMP, run-time selected SIMD path)";

  m.def("get_num_threads", &fastann::num_threads, "Threads fastann's CPU kernels use.");
  m.def("set_num_threads", &fastann::set_num_threads, py::arg("n"),
        "Set the threads fastann's CPU kernels use (n >= 1; ValueError otherwise).");
  m.def("simd_level", [] { return std::string(simd_level_name(simd_level())); },
        "SIMD path in use: 'avx512', 'avx2' or 'scalar' (picked at run time from the CPU; "
        "FASTANN_SIMD can force a lower one).");
  m.def("compile_info", [] {
    py::dict d;
    d["version"] = FASTANN_VERSION;
    d["compiler"] = FASTANN_COMPILER;
#ifdef _OPENMP
    d["openmp"] = _OPENMP;
#else
    d["openmp"] = 0;
#endif
    d["cuda_built"] = bool(FASTANN_CUDA_BUILT);
    return d;
  });

  bind::bind_gemm(m);
  bind::bind_activation(m);
  bind::bind_softmax(m);
  bind::bind_loss(m);
  bind::bind_dropout(m);
  bind::bind_optim(m);
  bind::bind_conv(m);
  bind::bind_pool(m);
  bind::bind_norm(m);
}
