// cuda_utils.hpp: argument checks at the C++ boundary of fastann._cuda (the CUDA twin of binding_utils.hpp).
//
// Bound functions take CuPy arrays (any object exposing __cuda_array_interface__, CAI v2/v3), OUTPUTS FIRST,
// and check them here before a kernel sees a pointer:
//   - no __cuda_array_interface__ (e.g. a NumPy array)                         -> TypeError
//   - dtype not the expected one (typestr '<f4' '<f8' '<i4' '<i8' '|u1' known) -> TypeError
//   - ndim / shape / contiguity (strides must be None or C-contiguous) / mask  -> ValueError
//   - an output that is read-only                                              -> ValueError
// Every message names the op, the argument and the value received, as on the CPU side.
//
// Stream: kernels are launched on CuPy's *current* stream, read with cupy.cuda.get_current_stream().ptr
// (the function is looked up once and cached). That is the stream CuPy itself enqueues on, so a fastann
// kernel runs after the CuPy work that produced its inputs and before CuPy work that reads its outputs,
// without any synchronisation. (The CAI v3 "stream" entry carries the same pointer, but CuPy omits it when
// CUPY_CUDA_ARRAY_INTERFACE_SYNC=0, so it is only the fallback when CuPy itself cannot be imported, e.g.
// for arrays from another CAI producer; without either, the legacy default stream is used.)
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fastann/common.hpp"
#include "fastann/cuda/common.cuh"

namespace fastann::cudabind {

namespace py = pybind11;
using cuda::DevDType;
using cuda::DeviceArray;

enum class DType { f32, f64 };

inline std::string shape_str(const DeviceArray& a) {
  std::string s = "(";
  for (int i = 0; i < a.ndim; ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape[i]);
  }
  if (a.ndim == 1) s += ",";
  return s + ")";
}

inline std::string type_name(py::handle obj) {
  py::handle t = reinterpret_cast<PyObject*>(Py_TYPE(obj.ptr()));
  return py::str(t.attr("__module__")).cast<std::string>() + "." +
         py::str(t.attr("__name__")).cast<std::string>();
}

// Parse obj.__cuda_array_interface__ into a DeviceArray (no dtype expectation yet).
inline DeviceArray parse_array(py::handle obj, const char* op, const char* name) {
  if (obj.is_none()) throw py::type_error(std::string(op) + ": " + name + " must be a cupy ndarray, got None");
  if (!py::hasattr(obj, "__cuda_array_interface__"))
    throw py::type_error(std::string(op) + ": " + name + " must be a cupy ndarray (an object with "
                         "__cuda_array_interface__) on the CUDA backend, got " + type_name(obj) +
                         " (host arrays go to fastann._cpu)");
  py::dict cai = obj.attr("__cuda_array_interface__");
  DeviceArray a;

  py::tuple shape = cai["shape"];
  FASTANN_CHECK(shape.size() <= static_cast<size_t>(cuda::kMaxDims), op, ": ", name, " has ndim=", shape.size(),
                ", more than the supported ", cuda::kMaxDims);
  a.ndim = static_cast<int>(shape.size());
  a.size = 1;
  for (int i = 0; i < a.ndim; ++i) {
    a.shape[i] = shape[i].cast<int64_t>();
    FASTANN_CHECK(a.shape[i] >= 0, op, ": ", name, " has a negative extent ", a.shape[i]);
    // Overflow guard: the element count must fit in int64 (kernels index with int64).
    FASTANN_CHECK(a.shape[i] == 0 || a.size <= INT64_MAX / a.shape[i], op, ": ", name,
                  " has more elements than int64 can index");
    a.size *= a.shape[i];
  }

  std::string ts = cai["typestr"].cast<std::string>();
  int64_t itemsize;
  if (ts == "<f4") a.dtype = DevDType::f32, itemsize = 4;
  else if (ts == "<f8") a.dtype = DevDType::f64, itemsize = 8;
  else if (ts == "<i4") a.dtype = DevDType::i32, itemsize = 4;
  else if (ts == "<i8") a.dtype = DevDType::i64, itemsize = 8;
  else if (ts == "|u1") a.dtype = DevDType::u8, itemsize = 1;
  else
    throw py::type_error(std::string(op) + ": " + name + " has an unsupported dtype (typestr '" + ts +
                         "'); fastann's CUDA kernels take float32, float64, int32, int64 or uint8");

  if (cai.contains("mask") && !cai["mask"].is_none())
    fail(op, ": ", name, " is a masked array; fastann does not take masks");

  // strides: None means C-contiguous. Otherwise they must equal the C-contiguous strides, ignoring
  // extents of 1 (any stride is fine there) and empty arrays (nothing is read).
  if (cai.contains("strides") && !cai["strides"].is_none() && a.size > 0) {
    py::tuple strides = cai["strides"];
    int64_t expect = itemsize;
    bool ok = static_cast<int>(strides.size()) == a.ndim;
    for (int i = a.ndim - 1; ok && i >= 0; --i) {
      if (a.shape[i] != 1 && strides[i].cast<int64_t>() != expect) ok = false;
      expect *= a.shape[i];
    }
    if (!ok) {
      std::string st = py::str(cai["strides"]).cast<std::string>();
      fail(op, ": ", name, " must be C-contiguous (got a strided or negative-stride view of shape ",
           shape_str(a), ", strides ", st, "); pass cupy.ascontiguousarray(", name, ")");
    }
  }

  py::tuple data = cai["data"];
  a.data = reinterpret_cast<void*>(static_cast<uintptr_t>(data[0].cast<uint64_t>()));
  a.readonly = data[1].cast<bool>();
  FASTANN_CHECK(a.data != nullptr || a.size == 0, op, ": ", name, " has a null device pointer");
  return a;
}

// ---- checks (same names and messages as binding_utils.hpp) ----------------------------------------
inline DType float_dtype(const DeviceArray& a, const char* op, const char* name) {
  if (a.dtype == DevDType::f32) return DType::f32;
  if (a.dtype == DevDType::f64) return DType::f64;
  throw py::type_error(std::string(op) + ": " + name + " must be float32 or float64, got dtype " +
                       cuda::dtype_name(a.dtype));
}

inline const char* dtype_str(DType dt) { return dt == DType::f32 ? "float32" : "float64"; }

inline void require_dtype(const DeviceArray& a, DType dt, const char* op, const char* name) {
  if (float_dtype(a, op, name) != dt)
    throw py::type_error(std::string(op) + ": " + name + " has dtype " + cuda::dtype_name(a.dtype) +
                         " but the other arrays are " + dtype_str(dt));
}

inline void require_ndim(const DeviceArray& a, int nd, const char* op, const char* name, const char* layout) {
  if (a.ndim != nd) fail(op, ": ", name, " must be ", nd, "-D ", layout, ", got ndim=", a.ndim, " shape ", shape_str(a));
}

inline void require_writeable(const DeviceArray& a, const char* op, const char* name) {
  if (a.readonly) fail(op, ": output ", name, " is read-only");
}

inline void require_shape(const DeviceArray& a, const std::vector<int64_t>& shape, const char* op, const char* name) {
  bool ok = a.ndim == static_cast<int>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape[i] == shape[i];
  if (!ok) {
    std::string want = "(";
    for (size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    fail(op, ": ", name, " must have shape ", want, (shape.size() == 1 ? ",)" : ")"), ", got ", shape_str(a));
  }
}

inline void require_same_shape(const DeviceArray& a, const DeviceArray& ref, const char* op, const char* name,
                               const char* ref_name) {
  bool ok = a.ndim == ref.ndim;
  for (int i = 0; ok && i < a.ndim; ++i) ok = a.shape[i] == ref.shape[i];
  if (!ok) fail(op, ": ", name, " has shape ", shape_str(a), " but ", ref_name, " has shape ", shape_str(ref));
}

// Parse + check an input float array of dtype dt.
inline DeviceArray in_array(py::handle obj, DType dt, const char* op, const char* name) {
  DeviceArray a = parse_array(obj, op, name);
  require_dtype(a, dt, op, name);
  return a;
}
// Parse + check an output float array of dtype dt (writeable).
inline DeviceArray out_array(py::handle obj, DType dt, const char* op, const char* name) {
  DeviceArray a = in_array(obj, dt, op, name);
  require_writeable(a, op, name);
  return a;
}
// The first array fixes the dtype of the call: parse it and return its float dtype.
inline DeviceArray first_array(py::handle obj, DType* dt, const char* op, const char* name, bool output) {
  DeviceArray a = parse_array(obj, op, name);
  *dt = float_dtype(a, op, name);
  if (output) require_writeable(a, op, name);
  return a;
}

template <class F>
inline void dispatch_float(DType dt, F&& body) {
  if (dt == DType::f32) body(float{});
  else body(double{});
}

// ---- stream ---------------------------------------------------------------------------------------
// CuPy's current stream (see the header comment). Call with the GIL held, before releasing it.
inline cudaStream_t current_stream(py::handle any_array = py::handle()) {
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

// Release the GIL while a launch is enqueued (the launchers may block on the CUDA driver).
using nogil = py::gil_scoped_release;

}  // namespace fastann::cudabind
