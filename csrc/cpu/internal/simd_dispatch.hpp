// simd_dispatch.hpp: the dispatch from a family's entry point to the loops of the ISA simd_level() names
// (csrc/cpu/README.md: each ISA file defines its entry points in namespace avx512, avx2 or scalar).
#pragma once

#include "fastann/common.hpp"

// FASTANN_SIMD_DISPATCH(f<T>(args)): returns avx512::f<T>(args), avx2::f<T>(args) or scalar::f<T>(args), as
// simd_level() says; written inside namespace fastann::cpu, as the last statement of the calling function (a
// void call is returned too). For families with loops for all three ISAs; the others switch themselves.
#define FASTANN_SIMD_DISPATCH(...)                                     \
  switch (::fastann::simd_level()) {                                   \
    case ::fastann::SimdLevel::avx512: return avx512::__VA_ARGS__;     \
    case ::fastann::SimdLevel::avx2: return avx2::__VA_ARGS__;         \
    default: return scalar::__VA_ARGS__;                               \
  }
