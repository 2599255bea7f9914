// pool.cpp: 2-D max / average / global-average pooling, NCHW, float32 and float64.
// See fastann/cpu/pool.hpp for the semantics and the max_pool2d ladder; docs/pooling.md for the why.
// The 2x2 / stride-2 loops (max_pool2d's rung 2, avg_pool2d's shortcut) run on the ISA simd_level() names:
// pool_scalar.cpp or pool_avx512.cpp (csrc/cpu/README.md).
//
// Every kernel works one (H,W) plane at a time and parallelises over the N*C planes: planes are
// independent (no write conflicts, even in the backward scatters) and each is contiguous in memory.
#include "fastann/cpu/pool.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "fastann/common.hpp"
#include "pool_isa.hpp"

namespace fastann::cpu {

// ---- helpers ----------------------------------------------------------------------------------------
namespace {

// Planes per thread chunk below which a kernel stays on one thread (~32k elements of work).
int64_t plane_grain(int64_t plane_elems) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, plane_elems)); }

// The max-pool update rule of PyTorch's CPU kernel: take v if it is larger or if it is NaN. NaN then
// wins against everything that follows, because nothing compares greater than NaN (the 2x2 loops of
// pool_scalar.cpp and pool_avx512.cpp apply the same rule).
// Written with `|` (not `||`): both compares always run, which leaves the compiler free to pick
// flag-setting code over a second branch.
template <class T>
inline bool takes_over(T v, T best) {
  return (v > best) | (v != v);  // v != v: v is NaN
}

// The taps k in [begin, end) of one window dimension that land inside the input: start + k*D in [0, I).
// Looping over these instead of testing every tap keeps a huge window (kernel 2^20 with padding 2^19 on a
// 1x1 input is legal) from running 2^40 empty iterations.
struct TapRange {
  int64_t begin, end;
};
inline TapRange taps_inside(int64_t start, int64_t K, int64_t D, int64_t I) {
  if (D == 1)  // every pooling layer of Keras: no divisions (two 64-bit divisions per output cost ~10 ns)
    return {std::max<int64_t>(0, -start), std::max(std::max<int64_t>(0, -start), std::min(K, I - start))};
  const int64_t begin = start >= 0 ? 0 : (-start + D - 1) / D;
  const int64_t end = start > I - 1 ? 0 : std::min(K, (I - 1 - start) / D + 1);
  return {begin, std::max(begin, end)};
}

// One dimension of one avg window, PyTorch's rule: [start, end) clipped to the padded input gives the
// count_include_pad divisor, then clipped to the real input gives the elements summed.
struct AvgSpan {
  int64_t begin, end, padded_len;
};
inline AvgSpan avg_span(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  int64_t start = o * stride - pad;
  int64_t end = std::min(start + kernel, in + pad);
  AvgSpan s{std::max<int64_t>(start, 0), std::min(end, in), end - start};
  return s;
}

}  // namespace

bool max_pool2d_is_2x2_stride2(const Pool2dGeometry& g) {
  return g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 &&
         g.DW == 1 && g.OH == g.H / 2 && g.OW == g.W / 2;
}

// ---- kernels ----------------------------------------------------------------------------------------

// Rung 1, any window. inp (H,W), out (OH,OW), indices (OH,OW).
template <class T>
void max_pool2d_rung1_direct(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const int64_t h0 = oh * g.SH - g.PH;
    const TapRange kh_in = taps_inside(h0, g.KH, g.DH, g.H);  // -inf padding never wins: skip those taps
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t w0 = ow * g.SW - g.PW;
      const TapRange kw_in = taps_inside(w0, g.KW, g.DW, g.W);
      T best = -std::numeric_limits<T>::infinity();
      // The first tap inside the input: the argmax when every tap is -inf (PyTorch's starting index).
      int64_t best_index = (h0 + kh_in.begin * g.DH) * g.W + (w0 + kw_in.begin * g.DW);
      for (int64_t kh = kh_in.begin; kh < kh_in.end; ++kh) {
        const int64_t ih = h0 + kh * g.DH;
        for (int64_t kw = kw_in.begin; kw < kw_in.end; ++kw) {
          const int64_t iw = w0 + kw * g.DW;
          const T v = inp[ih * g.W + iw];
          if (takes_over(v, best)) {
            best = v;
            best_index = ih * g.W + iw;
          }
        }
      }
      out[oh * g.OW + ow] = best;
      indices[oh * g.OW + ow] = best_index;
    }
  }
}

// Rung 2: 2x2 window, stride 2, every window fully inside the plane. inp (2*OH.., W), out/indices (OH,OW).
// The same update rule in the same tap order (r0c0, r0c1, r1c0, r1c1), without clipping or bounds tests,
// on the ISA simd_level() names.
template <class T>
void max_pool2d_rung2_2x2(T* out, int64_t* indices, const T* inp, int64_t W, int64_t OH, int64_t OW) {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512::max_pool2d_2x2(out, indices, inp, W, OH, OW);
    default: return scalar::max_pool2d_2x2(out, indices, inp, W, OH, OW);
  }
}

// inp (N,C,H,W), out/indices (N,C,OH,OW).
template <class T>
void max_pool2d_forward(T* out, int64_t* indices, const T* inp, const Pool2dGeometry& g, int rung) {
  const bool fits_2x2 = max_pool2d_is_2x2_stride2(g);
  FASTANN_CHECK(rung >= 0 && rung <= kMaxPool2dRungs, "max_pool2d: rung must be None (0), 1 or 2, got ",
                rung);
  if (rung == 0) rung = fits_2x2 ? 2 : 1;
  FASTANN_CHECK(rung == 1 || fits_2x2, "max_pool2d: rung=", rung,
                " handles only 2x2 windows with stride 2, no padding or dilation and no partial edge window; got "
                "kernel_size (", g.KH, ", ", g.KW, "), stride (", g.SH, ", ", g.SW, "), padding (", g.PH, ", ",
                g.PW, "), dilation (", g.DH, ", ", g.DW, "), input (", g.H, ", ", g.W, ") -> output (", g.OH,
                ", ", g.OW, ")");
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  parallel_for(g.N * g.C, plane_grain(in_plane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* o = out + p * out_plane;
      int64_t* ix = indices + p * out_plane;
      const T* x = inp + p * in_plane;
      if (rung == 1) max_pool2d_rung1_direct(o, ix, x, g);
      else max_pool2d_rung2_2x2(o, ix, x, g.W, g.OH, g.OW);
    }
  });
}

// dout/indices (N,C,OH,OW), dinp (N,C,H,W).
template <class T>
void max_pool2d_backward(T* dinp, const T* dout, const int64_t* indices, const Pool2dGeometry& g) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  bool bad_index = false;
  int64_t bad_value = 0;
  std::mutex bad_mu;  // guards bad_index / bad_value, written by whichever chunk finds one
  parallel_for(g.N * g.C, plane_grain(in_plane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dx = dinp + p * in_plane;
      const T* dy = dout + p * out_plane;
      const int64_t* ix = indices + p * out_plane;
      std::fill(dx, dx + in_plane, T(0));
      for (int64_t i = 0; i < out_plane; ++i) {
        const int64_t k = ix[i];
        // Indices come from the caller: an out-of-range one would write outside dinp.
        if (k < 0 || k >= in_plane) {
          std::lock_guard<std::mutex> lock(bad_mu);
          bad_index = true;
          bad_value = k;
          return;
        }
        dx[k] += dy[i];
      }
    }
  });
  FASTANN_CHECK(!bad_index, "max_pool2d_backward: indices must lie in [0, H*W) = [0, ", in_plane, "), got ",
                bad_value);
}

// inp (H,W), out (OH,OW) with 2x2 windows at stride 2 and no padding: the mean of four values, on the ISA
// simd_level() names.
template <class T>
void avg_pool2d_2x2(T* out, const T* inp, int64_t W, int64_t OH, int64_t OW) {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512::avg_pool2d_2x2(out, inp, W, OH, OW);
    default: return scalar::avg_pool2d_2x2(out, inp, W, OH, OW);
  }
}

template <class T>
void avg_pool2d_forward(T* out, const T* inp, const Pool2dGeometry& g, bool count_include_pad) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  // 2x2 / stride 2 without padding or partial windows (the usual CNN downsampling): divisor 4 either way.
  const bool fits_2x2 = max_pool2d_is_2x2_stride2(g);
  parallel_for(g.N * g.C, plane_grain(in_plane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* x = inp + p * in_plane;
      T* y = out + p * out_plane;
      if (fits_2x2) {
        avg_pool2d_2x2(y, x, g.W, g.OH, g.OW);
        continue;
      }
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const AvgSpan sh = avg_span(oh, g.SH, g.PH, g.KH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgSpan sw = avg_span(ow, g.SW, g.PW, g.KW, g.W);
          T sum = 0;
          for (int64_t ih = sh.begin; ih < sh.end; ++ih)
            for (int64_t iw = sw.begin; iw < sw.end; ++iw) sum += x[ih * g.W + iw];
          const int64_t divisor = count_include_pad ? sh.padded_len * sw.padded_len
                                                    : (sh.end - sh.begin) * (sw.end - sw.begin);
          y[oh * g.OW + ow] = sum / T(divisor);
        }
      }
    }
  });
}

template <class T>
void avg_pool2d_backward(T* dinp, const T* dout, const Pool2dGeometry& g, bool count_include_pad) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
  const bool fits_2x2 = max_pool2d_is_2x2_stride2(g);
  parallel_for(g.N * g.C, plane_grain(in_plane), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dx = dinp + p * in_plane;
      const T* dy = dout + p * out_plane;
      if (fits_2x2) {
        // Windows tile the plane: write each input once (no zero fill, no +=); an odd last row or
        // column belongs to no window and gets 0.
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* row0 = dx + 2 * oh * g.W;
          T* row1 = row0 + g.W;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const T share = dy[oh * g.OW + ow] * T(0.25);
            row0[2 * ow] = row0[2 * ow + 1] = row1[2 * ow] = row1[2 * ow + 1] = share;
          }
          if (g.W % 2) row0[g.W - 1] = row1[g.W - 1] = T(0);
        }
        if (g.H % 2) std::fill(dx + (g.H - 1) * g.W, dx + in_plane, T(0));
        continue;
      }
      std::fill(dx, dx + in_plane, T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const AvgSpan sh = avg_span(oh, g.SH, g.PH, g.KH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgSpan sw = avg_span(ow, g.SW, g.PW, g.KW, g.W);
          const int64_t divisor = count_include_pad ? sh.padded_len * sw.padded_len
                                                    : (sh.end - sh.begin) * (sw.end - sw.begin);
          const T share = dy[oh * g.OW + ow] / T(divisor);
          for (int64_t ih = sh.begin; ih < sh.end; ++ih)
            for (int64_t iw = sw.begin; iw < sw.end; ++iw) dx[ih * g.W + iw] += share;
        }
      }
    }
  });
}

template <class T>
void global_avg_pool2d_forward(T* out, const T* inp, int64_t planes, int64_t HW) {
  parallel_for(planes, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* x = inp + p * HW;
      double sum = 0;  // double: a plane can hold many elements
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < HW; ++i) sum += double(x[i]);
      out[p] = T(sum / double(HW));
    }
  });
}

template <class T>
void global_avg_pool2d_backward(T* dinp, const T* dout, int64_t planes, int64_t HW) {
  parallel_for(planes, plane_grain(HW), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) std::fill(dinp + p * HW, dinp + (p + 1) * HW, T(dout[p] / T(HW)));
  });
}

// ---- dispatch (explicit instantiations for the bindings) ---------------------------------------------
#define FASTANN_POOL_INSTANTIATE(T)                                                                        \
  template void max_pool2d_forward<T>(T*, int64_t*, const T*, const Pool2dGeometry&, int);                 \
  template void max_pool2d_rung1_direct<T>(T*, int64_t*, const T*, const Pool2dGeometry&);                 \
  template void max_pool2d_rung2_2x2<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t);                \
  template void max_pool2d_backward<T>(T*, const T*, const int64_t*, const Pool2dGeometry&);               \
  template void avg_pool2d_forward<T>(T*, const T*, const Pool2dGeometry&, bool);                          \
  template void avg_pool2d_backward<T>(T*, const T*, const Pool2dGeometry&, bool);                         \
  template void avg_pool2d_2x2<T>(T*, const T*, int64_t, int64_t, int64_t);                                \
  template void global_avg_pool2d_forward<T>(T*, const T*, int64_t, int64_t);                              \
  template void global_avg_pool2d_backward<T>(T*, const T*, int64_t, int64_t);
FASTANN_POOL_INSTANTIATE(float)
FASTANN_POOL_INSTANTIATE(double)
#undef FASTANN_POOL_INSTANTIATE

}  // namespace fastann::cpu
