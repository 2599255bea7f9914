// checks.hpp: the one set of argument checks (and their messages) of both extension modules, on
// ArrayViews and on Python scalars. Every message names the op, the argument and what it got:
//   - not an array of the module's kind, a dtype the op does not take           -> TypeError
//   - ndim / shape / emptiness / contiguity / read-only output / overlapping buffers -> ValueError
//   - an integer argument that is not an int                                      -> TypeError
//   - an integer argument outside int64 (or uint64 for seeds)                     -> ValueError
//   - a real argument that is not a number (a bool, a string, None, complex)      -> TypeError
//   - a real argument given as an int beyond the double range (10**400)           -> ValueError
// Dtypes are compared by kind and item size (never by object identity), so an equal dtype from pickle or
// spelled 'q' instead of 'l' is the same dtype. Nothing is copied or cast silently.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "array_view.hpp"

namespace fastann::bindings {

// ---- float dtype of a call ----------------------------------------------------------------------------
enum class FloatType { f32, f64 };

inline const char* float_name(FloatType ft) { return ft == FloatType::f32 ? "float32" : "float64"; }

[[noreturn]] inline void type_fail(const std::string& msg) { throw py::type_error(msg); }

// float32 or float64, else TypeError.
inline FloatType float_dtype(const ArrayView& a, const char* op, const char* name) {
  if (a.dtype == DType::f32) return FloatType::f32;
  if (a.dtype == DType::f64) return FloatType::f64;
  type_fail(std::string(op) + ": " + name + " must be float32 or float64, got dtype " + a.dtype_name());
}

inline void require_dtype(const ArrayView& a, FloatType ft, const char* op, const char* name) {
  if (float_dtype(a, op, name) != ft)
    type_fail(std::string(op) + ": " + name + " has dtype " + a.dtype_name() + " but the other arrays are " +
              float_name(ft));
}

// An integer array of exactly this dtype (int64 pooling indices, uint8 window indices).
inline void require_int_dtype(const ArrayView& a, DType dt, const char* op, const char* name) {
  if (a.dtype != dt) {
    const char* want = dt == DType::i64 ? "int64" : dt == DType::i32 ? "int32" : "uint8";
    type_fail(std::string(op) + ": " + name + " must be " + want + ", got dtype " + a.dtype_name());
  }
}

// ---- layout and shape ---------------------------------------------------------------------------------
// C order, ignoring the strides of extent-1 dimensions (NumPy's and CuPy's own rule); empty arrays qualify.
inline bool is_c_contiguous(const ArrayView& a) {
  if (a.size == 0) return true;
  int64_t expect = a.itemsize;
  for (int i = a.ndim() - 1; i >= 0; --i) {
    if (a.shape[i] != 1 && a.strides[i] != expect) return false;
    expect *= a.shape[i];
  }
  return true;
}

inline void require_contiguous(const ArrayView& a, const char* op, const char* name) {
  if (!is_c_contiguous(a))
    fail(op, ": ", name, " must be C-contiguous (got a strided or negative-stride view of shape ", shape_str(a),
         ", strides ", shape_str(a.strides), "); pass a C-contiguous copy, e.g. ascontiguousarray(", name, ")");
}

inline void require_writeable(const ArrayView& a, const char* op, const char* name) {
  if (a.readonly) fail(op, ": output ", name, " is read-only");
}

inline void require_ndim(const ArrayView& a, int nd, const char* op, const char* name, const char* layout) {
  if (a.ndim() != nd) fail(op, ": ", name, " must be ", nd, "-D ", layout, ", got ndim=", a.ndim(), " shape ", shape_str(a));
}

inline void require_shape(const ArrayView& a, const std::vector<int64_t>& shape, const char* op, const char* name) {
  if (a.shape != shape) fail(op, ": ", name, " must have shape ", shape_str(shape), ", got ", shape_str(a));
}

inline void require_same_shape(const ArrayView& a, const ArrayView& like, const char* op, const char* name,
                               const char* like_name) {
  if (a.shape != like.shape)
    fail(op, ": ", name, " must have the shape of ", like_name, " ", shape_str(like), ", got ", shape_str(a));
}

inline void require_nonempty(const ArrayView& a, const char* op, const char* name) {
  if (a.size == 0) fail(op, ": ", name, " is empty (shape ", shape_str(a), ")");
}

// ---- parsing array arguments --------------------------------------------------------------------------
// An input: a C-contiguous array of the call's float type.
inline ArrayView input(py::handle obj, Device dev, FloatType ft, const char* op, const char* name) {
  ArrayView a = view_of(obj, dev, op, name);
  require_dtype(a, ft, op, name);
  require_contiguous(a, op, name);
  return a;
}
// An output: the same, and writeable.
inline ArrayView output(py::handle obj, Device dev, FloatType ft, const char* op, const char* name) {
  ArrayView a = input(obj, dev, ft, op, name);
  require_writeable(a, op, name);
  return a;
}
// The array that fixes the call's float type (float32 or float64): C-contiguous; writeable when `out`.
inline ArrayView leading(py::handle obj, Device dev, FloatType* ft, const char* op, const char* name,
                         bool out = false) {
  ArrayView a = view_of(obj, dev, op, name);
  *ft = float_dtype(a, op, name);
  require_contiguous(a, op, name);
  if (out) require_writeable(a, op, name);
  return a;
}
// An integer array of dtype dt: C-contiguous; writeable when `out`.
inline ArrayView int_array(py::handle obj, Device dev, DType dt, const char* op, const char* name,
                           bool out = false) {
  ArrayView a = view_of(obj, dev, op, name);
  require_int_dtype(a, dt, op, name);
  require_contiguous(a, op, name);
  if (out) require_writeable(a, op, name);
  return a;
}
// Optional arrays: None gives an empty optional.
inline std::optional<ArrayView> opt_input(py::handle obj, Device dev, FloatType ft, const char* op,
                                          const char* name) {
  if (obj.is_none()) return std::nullopt;
  return input(obj, dev, ft, op, name);
}
inline std::optional<ArrayView> opt_output(py::handle obj, Device dev, FloatType ft, const char* op,
                                           const char* name) {
  if (obj.is_none()) return std::nullopt;
  return output(obj, dev, ft, op, name);
}
template <class T>
T* ptr_or_null(const std::optional<ArrayView>& a) { return a ? a->ptr<T>() : nullptr; }

// ---- overlapping buffers ------------------------------------------------------------------------------
// An argument for the overlap check: its view (or none) and its name.
struct Named {
  const ArrayView* view;
  const char* name;
  Named(const ArrayView& v, const char* n) : view(&v), name(n) {}
  Named(const std::optional<ArrayView>& v, const char* n) : view(v ? &*v : nullptr), name(n) {}
};

// True when the byte ranges [data, data + nbytes) of two (C-contiguous) arrays intersect: the bounds test
// of numpy.may_share_memory.
inline bool overlaps(const ArrayView& x, const ArrayView& y) {
  if (x.nbytes() == 0 || y.nbytes() == 0) return false;
  const auto x0 = reinterpret_cast<uintptr_t>(x.data), y0 = reinterpret_cast<uintptr_t>(y.data);
  return x0 < y0 + static_cast<uintptr_t>(y.nbytes()) && y0 < x0 + static_cast<uintptr_t>(x.nbytes());
}
// The same array in both places (same pointer, shape and dtype): the in-place case an elementwise kernel
// may document.
inline bool same_buffer(const ArrayView& x, const ArrayView& y) {
  return x.data == y.data && x.shape == y.shape && x.dtype == y.dtype;
}

// ValueError naming both arguments when an output overlaps another output or any input. A kernel reads its
// inputs while writing its outputs (and some outputs more than once), so any overlap gives wrong values.
inline void require_disjoint(const char* op, std::initializer_list<Named> outputs, std::initializer_list<Named> inputs) {
  auto check = [op](const Named& o, const Named& x) {
    if (o.view && x.view && overlaps(*o.view, *x.view))
      fail(op, ": ", o.name, " and ", x.name, " share memory; pass separate arrays (an output must not overlap "
           "another argument)");
  };
  for (auto o = outputs.begin(); o != outputs.end(); ++o) {
    for (auto o2 = o + 1; o2 != outputs.end(); ++o2) check(*o, *o2);
    for (const Named& x : inputs) check(*o, x);
  }
}

// ---- scalar arguments ---------------------------------------------------------------------------------
// An integer argument as Python passed it. Bound functions take integers as IntArg (shown as `int` in the
// signature) and convert them with to_int64 / to_uint64, so that a value outside the C++ type is a
// ValueError naming the argument instead of pybind11's anonymous "incompatible function arguments".
struct IntArg {
  py::object obj;
};
// A pair of integers ((h, w) window arguments), shown as `tuple[int, int]`.
struct IntPairArg {
  py::object obj;
};
// A list of integers (shapes), shown as `list[int]`.
struct IntListArg {
  py::object obj;
};

namespace detail {
// The Python int behind `obj` (anything with __index__ except bool), TypeError otherwise.
inline py::int_ as_int(py::handle obj, const char* op, const std::string& name) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    type_fail(std::string(op) + ": " + name + " must be an int, got " +
              (obj.is_none() ? std::string("None") : type_name(obj)));
  return py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
}
}  // namespace detail

inline int64_t to_int64(py::handle obj, const char* op, const std::string& name) {
  py::int_ v = detail::as_int(obj, op, name);
  int overflow = 0;
  const long long r = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
  if (overflow != 0)
    fail(op, ": ", name, " must be in [-2**63, 2**63), got ", py::str(v).cast<std::string>());
  return static_cast<int64_t>(r);
}
inline int64_t to_int64(const IntArg& a, const char* op, const char* name) { return to_int64(a.obj, op, name); }

inline uint64_t to_uint64(const IntArg& a, const char* op, const char* name) {
  py::int_ v = detail::as_int(a.obj, op, name);
  const unsigned long long r = PyLong_AsUnsignedLongLong(v.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    fail(op, ": ", name, " must be in [0, 2**64), got ", py::str(v).cast<std::string>());
  }
  return static_cast<uint64_t>(r);
}

inline std::pair<int64_t, int64_t> to_int_pair(const IntPairArg& a, const char* op, const char* name) {
  const std::string n(name);
  if (!py::isinstance<py::sequence>(a.obj) || py::isinstance<py::str>(a.obj) || py::len(a.obj) != 2)
    type_fail(std::string(op) + ": " + name + " must be a pair of ints (h, w), got " +
              py::repr(a.obj).cast<std::string>());
  py::sequence s = py::reinterpret_borrow<py::sequence>(a.obj);
  return {to_int64(s[0], op, n + "[0]"), to_int64(s[1], op, n + "[1]")};
}

inline std::vector<int64_t> to_int_list(const IntListArg& a, const char* op, const char* name) {
  if (!py::isinstance<py::sequence>(a.obj) || py::isinstance<py::str>(a.obj))
    type_fail(std::string(op) + ": " + name + " must be a list of ints, got " + py::repr(a.obj).cast<std::string>());
  py::sequence s = py::reinterpret_borrow<py::sequence>(a.obj);
  std::vector<int64_t> v;
  for (size_t i = 0; i < s.size(); ++i) v.push_back(to_int64(s[i], op, std::string(name) + "[" + std::to_string(i) + "]"));
  return v;
}

// A real-number argument as Python passed it (shown as `float`). Bound functions take reals as RealArg and
// convert them with to_double: pybind11's own double conversion accepts a bool as 1.0 and answers an int
// beyond the double range with its anonymous "incompatible function arguments".
struct RealArg {
  py::object obj;
  RealArg() = default;
  RealArg(double v) : obj(py::float_(v)) {}  // NOLINT(google-explicit-constructor): a constant argument
};

// A Python or NumPy float or int (anything with __index__ or __float__ except bool, NumPy bool and complex)
// as a double: TypeError naming the argument otherwise; ValueError for an int beyond the double range.
inline double to_double(const RealArg& a, const char* op, const char* name) {
  PyObject* o = a.obj.ptr();
  if (PyFloat_Check(o)) return PyFloat_AS_DOUBLE(o);
  const bool is_int = PyIndex_Check(o) && !PyBool_Check(o);
  if (is_int && PyLong_Check(o)) {  // the common case first: a Python int
    const double d = PyLong_AsDouble(o);
    if (!(d == -1.0 && PyErr_Occurred())) return d;
    PyErr_Clear();
  }
  const std::string tname = a.obj.is_none() ? std::string("None") : type_name(a.obj);
  const bool is_bool = PyBool_Check(o) || tname == "numpy.bool" || tname == "numpy.bool_";
  const bool has_float = Py_TYPE(o)->tp_as_number && Py_TYPE(o)->tp_as_number->nb_float;
  if (is_bool || PyComplex_Check(o) || !(is_int || has_float))
    type_fail(std::string(op) + ": " + name + " must be a real number, got " + tname);
  if (is_int) {
    py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(o));
    if (!v) throw py::error_already_set();
    const double d = PyLong_AsDouble(v.ptr());
    if (d == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      fail(op, ": ", name, " is beyond the double range, got an int of ",
           v.attr("bit_length")().cast<long long>(), " bits");
    }
    return d;
  }
  const double d = PyFloat_AsDouble(o);
  if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return d;
}

// The `rung` argument (a step of a kernel ladder): an int, None meaning 0 (auto). The backend checks the range it has.
inline int rung_arg(const IntArg& k, const char* op) {
  if (k.obj.is_none()) return 0;
  const int64_t v = to_int64(k, op, "rung");
  FASTANN_CHECK(v >= 0 && v <= 1000, op, ": rung must be 0 (auto) or a rung number >= 1, got ", v);
  return static_cast<int>(v);
}

// Release the GIL while a kernel runs (or a launch is enqueued).
using nogil = py::gil_scoped_release;

// Run `body` on the element type:  dispatch_float(ft, [&](auto tag) { using T = decltype(tag); ... });
template <class F>
inline void dispatch_float(FloatType ft, F&& body) {
  if (ft == FloatType::f32) body(float{});
  else body(double{});
}

}  // namespace fastann::bindings

// pybind11 casters of the scalar argument wrappers: they accept any object (the checks above then name the
// argument) and show the intended Python type in the signature.
namespace pybind11::detail {
#define FASTANN_ANY_OBJECT_CASTER(Type, py_name)                                          \
  template <>                                                                             \
  struct type_caster<Type> {                                                              \
    PYBIND11_TYPE_CASTER(Type, const_name(py_name));                                      \
    bool load(handle src, bool) {                                                         \
      value.obj = reinterpret_borrow<object>(src);                                        \
      return true;                                                                        \
    }                                                                                     \
    static handle cast(const Type& v, return_value_policy, handle) { return v.obj.inc_ref(); } \
  };
FASTANN_ANY_OBJECT_CASTER(fastann::bindings::IntArg, "int")
FASTANN_ANY_OBJECT_CASTER(fastann::bindings::IntPairArg, "tuple[int, int]")
FASTANN_ANY_OBJECT_CASTER(fastann::bindings::IntListArg, "list[int]")
FASTANN_ANY_OBJECT_CASTER(fastann::bindings::RealArg, "float")
#undef FASTANN_ANY_OBJECT_CASTER
}  // namespace pybind11::detail
