// array_view.hpp: the one array type of both extension modules. An ArrayView (pointer, shape, byte
// strides, dtype, device, read-only flag) is built from a NumPy array (fastann._cpu) or from any object with
// a __cuda_array_interface__ v2/v3 (fastann._cuda, e.g. a CuPy array), so that every check in checks.hpp and
// every argument parser in args/ is written once for both. Building a view only reads the object's
// metadata: no copy, no cast, no device call.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fastann/common.hpp"

namespace fastann::bindings {

namespace py = pybind11;

// Which module is asking: host arrays (NumPy) or device arrays (__cuda_array_interface__).
enum class Device { cpu, cuda };

// The element types the kernels take; everything else is `other` (its name kept for messages).
enum class DType { f32, f64, i32, i64, u8, other };

struct ArrayView {
  void* data = nullptr;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in bytes
  DType dtype = DType::other;
  std::string typestr;           // the __cuda_array_interface__ typestr ("<f4"); empty for NumPy arrays
  int64_t itemsize = 0;
  int64_t size = 0;              // number of elements
  Device device = Device::cpu;
  bool readonly = false;
  py::handle obj;                // the Python object (borrowed: valid during the call)

  int ndim() const { return static_cast<int>(shape.size()); }
  // NumPy's name of the dtype on both devices ("float32", "int64", "float16", ...), for messages only: it is
  // computed when asked (NumPy's dtype.__str__ runs Python code, too dear for every call).
  std::string dtype_name() const;
  int64_t nbytes() const { return size * itemsize; }
  template <class T>
  T* ptr() const { return static_cast<T*>(data); }
};

// "(2, 3)", "(4,)", "()".
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}
inline std::string shape_str(const ArrayView& a) { return shape_str(a.shape); }

// "numpy.ndarray", "builtins.list", ...
inline std::string type_name(py::handle obj) {
  py::handle t = reinterpret_cast<PyObject*>(Py_TYPE(obj.ptr()));
  return py::str(t.attr("__module__")).cast<std::string>() + "." + py::str(t.attr("__name__")).cast<std::string>();
}

namespace detail {

// The kernels' dtype for a (kind, itemsize) pair of native byte order.
inline DType dtype_of(char kind, int64_t itemsize) {
  if (kind == 'f' && itemsize == 4) return DType::f32;
  if (kind == 'f' && itemsize == 8) return DType::f64;
  if (kind == 'i' && itemsize == 4) return DType::i32;
  if (kind == 'i' && itemsize == 8) return DType::i64;
  if (kind == 'u' && itemsize == 1) return DType::u8;
  return DType::other;
}

// NumPy's name of a little-endian (or byte-order-free) array-interface typestr such as "<f4" or "|u1";
// other typestrs keep their text.
inline std::string typestr_name(const std::string& ts) {
  if (ts.size() >= 3 && (ts[0] == '<' || ts[0] == '|')) {
    const std::string bits = std::to_string(8 * std::stoll(ts.substr(2)));
    switch (ts[1]) {
      case 'f': return "float" + bits;
      case 'i': return "int" + bits;
      case 'u': return "uint" + bits;
      case 'c': return "complex" + bits;
      case 'b': return "bool";
      default: break;
    }
  }
  return "typestr '" + ts + "'";
}

// size = prod(shape), refused when a negative extent or an int64 overflow makes the metadata unusable.
inline void finish_shape(ArrayView& a, const char* op, const char* name) {
  a.size = 1;
  for (int64_t e : a.shape) {
    FASTANN_CHECK(e >= 0, op, ": ", name, " has a negative extent ", e);
    FASTANN_CHECK(e == 0 || a.size <= INT64_MAX / e, op, ": ", name, " has more elements than int64 can index");
    a.size *= e;
  }
  FASTANN_CHECK(a.itemsize == 0 || a.size <= INT64_MAX / a.itemsize, op, ": ", name,
                " has more bytes than int64 can index");
}

inline ArrayView from_numpy(py::handle obj, const char* op, const char* name) {
  if (!py::isinstance<py::array>(obj)) {
    std::string hint = py::hasattr(obj, "__cuda_array_interface__") ? " (device arrays go to fastann._cuda)" : "";
    throw py::type_error(std::string(op) + ": " + name + " must be a numpy.ndarray, got " +
                         (obj.is_none() ? std::string("None") : type_name(obj)) + hint);
  }
  auto arr = py::reinterpret_borrow<py::array>(obj);
  ArrayView a;
  a.device = Device::cpu;
  a.data = const_cast<void*>(arr.data());
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    a.shape.push_back(arr.shape(i));
    a.strides.push_back(arr.strides(i));
  }
  const py::dtype dt = arr.dtype();
  a.itemsize = dt.itemsize();
  const char bo = dt.byteorder();
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  const bool native = bo == '=' || bo == '|' || bo == '>';
#else
  const bool native = bo == '=' || bo == '|' || bo == '<';
#endif
  a.dtype = native ? dtype_of(dt.kind(), a.itemsize) : DType::other;
  a.readonly = !arr.writeable();
  finish_shape(a, op, name);
  return a;
}

inline ArrayView from_cuda_array_interface(py::handle obj, const char* op, const char* name) {
  if (obj.is_none() || !py::hasattr(obj, "__cuda_array_interface__"))
    throw py::type_error(std::string(op) + ": " + name + " must be a cupy ndarray (an object with "
                         "__cuda_array_interface__) on the CUDA backend, got " +
                         (obj.is_none() ? std::string("None") : type_name(obj)) +
                         (obj.is_none() ? "" : " (host arrays go to fastann._cpu)"));
  py::dict cai = obj.attr("__cuda_array_interface__");
  ArrayView a;
  a.device = Device::cuda;
  for (py::handle e : py::tuple(cai["shape"])) a.shape.push_back(e.cast<int64_t>());
  const std::string ts = cai["typestr"].cast<std::string>();
  a.typestr = ts;
  a.itemsize = ts.size() >= 3 ? std::stoll(ts.substr(2)) : 0;
  a.dtype = (ts.size() >= 3 && (ts[0] == '<' || ts[0] == '|')) ? dtype_of(ts[1], a.itemsize) : DType::other;
  finish_shape(a, op, name);
  if (cai.contains("mask") && !cai["mask"].is_none())
    fail(op, ": ", name, " is a masked array; fastann does not take masks");
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    py::tuple st = cai["strides"];
    FASTANN_CHECK(static_cast<int>(st.size()) == a.ndim(), op, ": ", name, " has ", st.size(), " strides for ",
                  a.ndim(), " dimensions");
    for (py::handle e : st) a.strides.push_back(e.cast<int64_t>());
  } else {  // None: C-contiguous
    a.strides.assign(a.shape.size(), 0);
    int64_t s = a.itemsize;
    for (int i = a.ndim() - 1; i >= 0; --i) a.strides[i] = s, s *= a.shape[i];
  }
  py::tuple data = cai["data"];
  a.data = reinterpret_cast<void*>(static_cast<uintptr_t>(data[0].cast<uint64_t>()));
  a.readonly = data[1].cast<bool>();
  FASTANN_CHECK(a.data != nullptr || a.size == 0, op, ": ", name, " has a null device pointer");
  return a;
}

}  // namespace detail

inline std::string ArrayView::dtype_name() const {
  if (device == Device::cuda) return detail::typestr_name(typestr);
  return py::str(py::reinterpret_borrow<py::array>(obj).dtype()).cast<std::string>();
}

// The view of argument `name` of `op`: a NumPy array for Device::cpu, a __cuda_array_interface__ object for
// Device::cuda; TypeError (naming op and name) for anything else, None included.
inline ArrayView view_of(py::handle obj, Device dev, const char* op, const char* name) {
  ArrayView a = dev == Device::cpu ? detail::from_numpy(obj, op, name)
                                   : detail::from_cuda_array_interface(obj, op, name);
  a.obj = obj;
  return a;
}

}  // namespace fastann::bindings
