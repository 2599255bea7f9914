// dense_utils.hpp: boundary checks shared by the elementwise / softmax / loss / dropout / optim bindings,
// on top of binding_utils.hpp.
#pragma once

#include <vector>

#include "binding_utils.hpp"

namespace fastann::bind {

// The shape of `a` as a vector (for require_shape).
inline std::vector<int64_t> shape_of(const py::array& a) {
  std::vector<int64_t> s(static_cast<size_t>(a.ndim()));
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s[static_cast<size_t>(i)] = a.shape(i);
  return s;
}

// `a` has the shape of `like` (ValueError naming both otherwise).
inline void require_same_shape(const py::array& a, const py::array& like, const char* op, const char* name,
                               const char* like_name) {
  bool ok = a.ndim() == like.ndim();
  for (py::ssize_t i = 0; ok && i < a.ndim(); ++i) ok = a.shape(i) == like.shape(i);
  if (!ok) fail(op, ": ", name, " must have the shape of ", like_name, " ", shape_str(like), ", got ", shape_str(a));
}

inline void require_nonempty(const py::array& a, const char* op, const char* name) {
  if (a.size() == 0) fail(op, ": ", name, " is empty (shape ", shape_str(a), ")");
}

}  // namespace fastann::bind
