// cpu.cpp: the fastann._cpu extension module: runtime queries (threads, SIMD path, build info, malloc
// tuning); each kernel family registers its functions from csrc/bindings/cpu_<family>.cpp.
#include <pybind11/pybind11.h>

#include <string>

#include "checks.hpp"
#include "families.hpp"
#include "fastann/common.hpp"
#include "fastann/cpu/cpu_info.hpp"
#include "fastann/cpu/gemm.hpp"

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

namespace {

template <class T>
py::dict blocking_dict() {
  const cpu::GemmBlocking& b = cpu::gemm_blocking<T>();
  py::dict d;
  d["mr"] = b.mr;
  d["nr"] = b.nr;
  d["kc"] = b.kc;
  d["mc"] = b.mc;
  d["nc"] = b.nc;
  d["rule"] = b.rule;
  return d;
}

// Keep freed activation-sized blocks in the heap instead of returning them to the kernel.
//
// A training step allocates and frees the same few-megabyte arrays (layer outputs, gradients, scratch)
// every step. glibc serves blocks above its mmap threshold with fresh mmap()s and gives freed heap tops
// back to the kernel above its trim threshold, so each step pays a page fault per 4 KiB page of them
// again: ~570 faults and ~3.5 ms of system time per step of the default CNN (10% of the step). With the
// thresholds raised (32 MiB, glibc's maximum for mmap, and 256 MiB for trimming) the memory is reused
// and the faults drop to ~40 per step. Skipped when the user set MALLOC_MMAP_THRESHOLD_ /
// MALLOC_TRIM_THRESHOLD_ or FASTANN_MALLOC_TUNING=0, and on non-glibc systems. Returns whether it ran.
bool tune_malloc() {
#if defined(__GLIBC__)
  const char* opt_out = std::getenv("FASTANN_MALLOC_TUNING");
  if (opt_out && std::strcmp(opt_out, "0") == 0) return false;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return false;
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "fastann CPU kernels (hand-written C++, OpenMP, run-time selected SIMD path)";
  static const bool malloc_tuned = tune_malloc();

  m.def("get_num_threads", &fastann::num_threads, "Threads fastann's CPU kernels use.");
  m.def("set_num_threads", [](bindings::IntArg n) {
    // a bool is a ValueError here, as in fastann.set_num_threads (an int subclass, but not a thread count)
    if (PyBool_Check(n.obj.ptr()))
      fail("set_num_threads: n must be an int in [1, 2**31 - 1], got ", py::repr(n.obj).cast<std::string>());
    const int64_t v = bindings::to_int64(n, "set_num_threads", "n");
    FASTANN_CHECK(v >= 1 && v <= INT32_MAX, "set_num_threads: n must be an int in [1, 2**31 - 1], got ", v);
    fastann::set_num_threads(static_cast<int>(v));
  }, py::arg("n"),
  "Set the threads fastann's CPU kernels use: an int (not bool) in [1, 2**31 - 1]; TypeError for a non-int, "
  "ValueError otherwise (a bool included).");
  m.def("simd_level", [] { return std::string(simd_level_name(simd_level())); },
        "SIMD path in use: 'avx512', 'avx2' or 'scalar' (picked at run time from the CPU; "
        "FASTANN_SIMD can force a lower one).");
  // Derive the GEMM blocking now: a bad FASTANN_GEMM_BLOCKING fails the import with its message instead of
  // failing later inside a kernel.
  cpu::gemm_blocking<float>();
  cpu::gemm_blocking<double>();
  m.def("cpu_info", [] {
    const cpu::CpuInfo& c = cpu::cpu_info();
    py::dict d;
    d["vendor"] = c.vendor;
    d["model_name"] = c.model_name;
    d["family"] = c.family;
    d["model"] = c.model;
    d["stepping"] = c.stepping;
    d["l1d_bytes"] = c.l1d_bytes;
    d["l2_bytes"] = c.l2_bytes;
    d["l3_bytes"] = c.l3_bytes;
    d["l2_shared_cpus"] = c.l2_shared_cpus;
    d["l3_shared_cpus"] = c.l3_shared_cpus;
    d["cache_source"] = c.cache_source;
    py::dict blocking;
    blocking["float32"] = blocking_dict<float>();
    blocking["float64"] = blocking_dict<double>();
    d["gemm_blocking"] = blocking;
    return d;
  },
  "The CPU (CPUID vendor, family, model, stepping, brand string), its data cache sizes in bytes (sysfs, else "
  "CPUID; cache_source says which) and the GEMM blocking derived from them per dtype (mr, nr, kc, mc, nc, rule).");
  m.def("gemm_thread_stats", [] {
    const cpu::GemmThreadStats s = cpu::gemm_thread_stats();
    py::dict d;
    d["threaded"] = s.threaded;
    d["late"] = s.late;
    d["waited"] = s.waited;
    d["backed_off"] = s.backed_off;
    return d;
  },
  "Counts since import of the threaded GEMM (rung 4): calls that used helper threads ('threaded'), calls in "
  "which a helper started over 1 ms late ('late': another process held its core; the call does not wait for "
  "it), calls that waited over 1 ms for a tile a helper held ('waited': each starts a 50 ms back-off) and "
  "mid-sized calls run on one thread during a back-off ('backed_off'). For benchmarks and diagnosis.");
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
    d["malloc_tuned"] = malloc_tuned;
    return d;
  });

  bindings::bind_families(m);
}
