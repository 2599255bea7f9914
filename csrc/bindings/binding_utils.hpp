// binding_utils.hpp: argument checks at the C++ boundary of fastann._cpu.
//
// Every bound function takes NumPy arrays (outputs first, as the kernels do) and checks them here before
// any pointer is read: dtype (TypeError), ndim / shape / contiguity / writeability (ValueError), each
// message naming the op, the argument and the value received. Nothing is copied or cast silently: a
// non-contiguous or negative-stride view is refused with a message that says to pass a C-contiguous array.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastann/common.hpp"

namespace fastann::bind {

namespace py = pybind11;

enum class DType { f32, f64 };

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// float32 or float64, else TypeError.
inline DType float_dtype(const py::array& a, const char* op, const char* name) {
  if (a.dtype().is(py::dtype::of<float>())) return DType::f32;
  if (a.dtype().is(py::dtype::of<double>())) return DType::f64;
  throw py::type_error(std::string(op) + ": " + name + " must be float32 or float64, got dtype " + dtype_str(a));
}

inline void require_dtype(const py::array& a, DType dt, const char* op, const char* name) {
  if (float_dtype(a, op, name) != dt)
    throw py::type_error(std::string(op) + ": " + name + " has dtype " + dtype_str(a) +
                         " but the other arrays are " + (dt == DType::f32 ? "float32" : "float64"));
}

template <class T>
inline void require_dtype_of(const py::array& a, const char* op, const char* name, const char* tname) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(op) + ": " + name + " must be " + tname + ", got dtype " + dtype_str(a));
}

inline void require_ndim(const py::array& a, py::ssize_t nd, const char* op, const char* name, const char* layout) {
  if (a.ndim() != nd)
    fail(op, ": ", name, " must be ", nd, "-D ", layout, ", got ndim=", a.ndim(), " shape ", shape_str(a));
}

inline void require_contiguous(const py::array& a, const char* op, const char* name) {
  if (!(a.flags() & py::array::c_style))
    fail(op, ": ", name, " must be C-contiguous (got a strided or negative-stride view of shape ",
         shape_str(a), "); pass numpy.ascontiguousarray(", name, ")");
}

inline void require_writeable(const py::array& a, const char* op, const char* name) {
  if (!a.writeable()) fail(op, ": output ", name, " is read-only");
}

inline void require_shape(const py::array& a, const std::vector<int64_t>& shape, const char* op, const char* name) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    std::string want = "(";
    for (size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    fail(op, ": ", name, " must have shape ", want, (shape.size() == 1 ? ",)" : ")"), ", got ", shape_str(a));
  }
}

// Input: contiguous float array of the given dtype.
inline void check_in(const py::array& a, DType dt, const char* op, const char* name) {
  require_dtype(a, dt, op, name);
  require_contiguous(a, op, name);
}
// Output: the same, and writeable.
inline void check_out(const py::array& a, DType dt, const char* op, const char* name) {
  check_in(a, dt, op, name);
  require_writeable(a, op, name);
}

template <class T>
inline const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }
template <class T>
inline T* mptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }
// An optional array's data, or nullptr when it is None.
template <class T>
inline T* opt_ptr(std::optional<py::array>& a) { return a ? mptr<T>(*a) : nullptr; }

// Run `body` templated on the element type:  dispatch_float(dt, [&](auto tag) { using T = decltype(tag); ... });
template <class F>
inline void dispatch_float(DType dt, F&& body) {
  if (dt == DType::f32) body(float{});
  else body(double{});
}

// Release the GIL while a kernel runs.
using nogil = py::gil_scoped_release;

}  // namespace fastann::bind
