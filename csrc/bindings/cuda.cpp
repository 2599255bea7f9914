// cuda.cpp: the fastann._cuda extension module: device queries and the CudaError exception; each kernel
// family registers its functions from csrc/bindings/cuda_<family>.cpp.
//
// Importing this module never needs a GPU: the CUDA runtime is linked statically and only loads the driver
// (libcuda) on the first runtime call. device_count() turns ANY error of that first call (no driver, driver
// too old, no device, ...) into 0 and keeps the reason for device_count_error().
#include <mutex>

#include <pybind11/pybind11.h>

#include <string>

#include "families.hpp"
#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"

#ifndef FASTANN_VERSION
#define FASTANN_VERSION "0.0.0"
#endif
#ifndef FASTANN_CUDA_ARCHS
#define FASTANN_CUDA_ARCHS "unknown"
#endif

namespace py = pybind11;
using namespace fastann;

namespace {

std::mutex g_count_mutex;
int g_device_count = -1;         // -1: not asked yet
std::string g_device_count_error;  // why g_device_count is 0, when the runtime said why

// The device count, asked once. Any error means "no usable GPU" (never an exception).
int device_count() {
  std::lock_guard<std::mutex> lock(g_count_mutex);
  if (g_device_count < 0) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      g_device_count_error = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(err) + ": " +
                             cudaGetErrorString(err);
      (void)cudaGetLastError();  // clear it
      n = 0;
    } else if (n == 0) {
      g_device_count_error = "cudaGetDeviceCount returned 0 devices";
    }
    g_device_count = n;
  }
  return g_device_count;
}

int checked_device(int device) {
  int n = device_count();
  FASTANN_CHECK(n > 0, "fastann._cuda: no CUDA device is usable (", g_device_count_error, ")");
  FASTANN_CHECK(device >= 0 && device < n, "fastann._cuda: device must be in [0, ", n, "), got ", device);
  return device;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "fastann CUDA kernels (hand-written CUDA; CuPy arrays in and out, launched on CuPy's current stream)";

  // fastann.CudaError: every failed CUDA runtime call raises it, naming the call and the CUDA error.
  py::register_exception<CudaError>(m, "CudaError", PyExc_RuntimeError);

  m.def("device_count", &device_count,
        "Number of visible CUDA devices; 0 (never an error) when there is no driver or device.");
  m.def("device_count_error", [] {
    device_count();
    std::lock_guard<std::mutex> lock(g_count_mutex);
    return g_device_count_error;
  }, "Why device_count() is 0: the CUDA runtime's error, or '' when devices were found.");
  m.def("get_device_name", [](int device) {
    checked_device(device);
    cudaDeviceProp prop;
    FASTANN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    return std::string(prop.name);
  }, py::arg("device") = 0, "Name of CUDA device `device` (ValueError when out of range or no GPU).");
  m.def("get_device_properties", [](int device) {
    checked_device(device);
    cudaDeviceProp prop;
    FASTANN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int clock_khz = 0;  // cudaDeviceProp.clockRate was removed in CUDA 13: ask the attribute instead
    FASTANN_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
    py::dict d;
    d["name"] = std::string(prop.name);
    d["compute_capability"] = py::make_tuple(prop.major, prop.minor);
    d["multiprocessor_count"] = prop.multiProcessorCount;
    d["total_memory"] = static_cast<uint64_t>(prop.totalGlobalMem);
    d["shared_memory_per_block_optin"] = static_cast<uint64_t>(prop.sharedMemPerBlockOptin);
    d["clock_khz"] = clock_khz;
    return d;
  }, py::arg("device") = 0,
     "Properties of CUDA device `device`: name, compute_capability, multiprocessor_count, total_memory "
     "(bytes), shared_memory_per_block_optin (bytes), clock_khz (SM clock; for peak-FLOP/s estimates).");
  m.def("synchronize", [] {
    cudaError_t err;
    {
      py::gil_scoped_release nogil;
      err = cudaDeviceSynchronize();
    }
    if (err != cudaSuccess) cuda_detail::throw_cuda_error(err, "cudaDeviceSynchronize()", __FILE__, __LINE__);
  }, "Wait for all work on the current device (raises CudaError for an error of an earlier kernel).");
  m.def("compile_info", [] {
    py::dict d;
    d["version"] = FASTANN_VERSION;
    d["cuda_runtime"] = CUDART_VERSION;  // e.g. 13000 = 13.0, the runtime linked statically
    d["architectures"] = FASTANN_CUDA_ARCHS;
    return d;
  }, "How fastann._cuda was built: version, CUDA runtime version (CUDART_VERSION), architectures.");

  bindings::bind_families(m);
}
