// cuda_stream.hpp: the stream fastann._cuda launches on (CUDA module only).
//
// Kernels are launched on CuPy's *current* stream, read with cupy.cuda.get_current_stream().ptr (the
// function is looked up once and cached). That is the stream CuPy itself enqueues on, so a fastann kernel
// runs after the CuPy work that produced its inputs and before CuPy work that reads its outputs, without any
// synchronisation. (The CAI v3 "stream" entry carries the same pointer, but CuPy omits it when
// CUPY_CUDA_ARRAY_INTERFACE_SYNC=0, so it is only the fallback when CuPy itself cannot be imported, e.g. for
// arrays from another CAI producer; without either, the legacy default stream is used.)
#pragma once

#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <cstdint>

namespace fastann::bindings {

// CuPy's current stream. Call with the GIL held, before releasing it.
inline cudaStream_t current_stream(pybind11::handle any_array = pybind11::handle()) {
  namespace py = pybind11;
  // cupy.cuda.get_current_stream, looked up once (None when CuPy cannot be imported). Deliberately leaked:
  // a static py::object would be destroyed after the interpreter is gone.
  static py::object* get_current_stream = nullptr;
  if (get_current_stream == nullptr) {
    try {
      get_current_stream = new py::object(py::module_::import("cupy.cuda").attr("get_current_stream"));
    } catch (py::error_already_set&) {
      get_current_stream = new py::object(py::none());
    }
  }
  if (!get_current_stream->is_none()) {
    uint64_t ptr = (*get_current_stream)().attr("ptr").cast<uint64_t>();
    return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(ptr));
  }
  if (any_array && py::hasattr(any_array, "__cuda_array_interface__")) {
    py::dict cai = any_array.attr("__cuda_array_interface__");
    if (cai.contains("stream") && !cai["stream"].is_none())
      return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(cai["stream"].cast<uint64_t>()));
  }
  return nullptr;  // legacy default stream
}

}  // namespace fastann::bindings
