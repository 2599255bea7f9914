// conv_args.hpp: argument checks that the CPU and CUDA conv bindings share (shape lists given as Python lists).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fastann/common.hpp"

namespace fastann::bindings {

// A shape list of 4 positive sizes (N, C, H, W) or (OC, C/groups, KH, KW).
inline void check_shape4(const std::vector<int64_t>& s, const char* op, const char* name) {
  FASTANN_CHECK(s.size() == 4, op, ": ", name, " must have 4 entries (N, C, H, W), got ", s.size());
  for (int64_t v : s) FASTANN_CHECK(v > 0, op, ": ", name, " entries must be positive, got ", v);
}

// conv2d_pick_kernel(input_shape, weight_shape, ..., direction, dtype): the arguments that are not geometry.
inline void check_pick_kernel_args(const char* op, const std::vector<int64_t>& input_shape,
                                   const std::vector<int64_t>& weight_shape, int direction, const std::string& dtype) {
  check_shape4(input_shape, op, "input_shape");
  check_shape4(weight_shape, op, "weight_shape");
  FASTANN_CHECK(direction >= 0 && direction <= 2, op, ": direction must be 0, 1 or 2, got ", direction);
  FASTANN_CHECK(dtype == "float32" || dtype == "float64", op, ": dtype must be 'float32' or 'float64', got '", dtype,
                "'");
}

}  // namespace fastann::bindings
