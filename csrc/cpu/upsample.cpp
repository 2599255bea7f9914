// upsample.cpp: upsample2d by integer factors on the CPU, nearest and bilinear, forward and backward
// (declared in fastann/cpu/conv.hpp). Docs: docs/conv.md.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fastann/common.hpp"
#include "fastann/cpu/conv.hpp"

namespace fastann::cpu {

namespace {

// Bilinear source coordinate of output index j (torch's area_pixel_compute_source_index, integer scale).
struct LinearTap {
  int64_t i0, i1;
  double lambda;  // weight of i1
};
std::vector<LinearTap> linear_taps(int64_t n_in, int64_t scale, bool align_corners) {
  const int64_t n_out = n_in * scale;
  std::vector<LinearTap> taps(n_out);
  for (int64_t j = 0; j < n_out; ++j) {
    double src;
    if (align_corners)
      src = n_out > 1 ? double(j) * double(n_in - 1) / double(n_out - 1) : 0.0;
    else
      src = std::max((double(j) + 0.5) / double(scale) - 0.5, 0.0);
    int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), n_in - 1);
    taps[j] = {i0, std::min(i0 + 1, n_in - 1), src - double(i0)};
  }
  return taps;
}

}  // namespace

// inp (N,C,H,W), out (N,C,H*sh,W*sw)
template <class T>
void upsample2d_nearest_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw;
  // Each input row is widened once (sw copies of each value; a division ow / sw per output value, as this
  // loop was first written, cost ~2 ns per value) and the widened row copied to the sh output rows.
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t ih = 0; ih < H; ++ih) {
        const T* src = inp + (plane * H + ih) * W;
        T* first = out + (plane * OH + ih * sh) * OW;
        if (sw == 2) {
          for (int64_t iw = 0; iw < W; ++iw) first[2 * iw] = first[2 * iw + 1] = src[iw];
        } else {
          for (int64_t iw = 0; iw < W; ++iw)
            for (int64_t q = 0; q < sw; ++q) first[iw * sw + q] = src[iw];
        }
        for (int64_t r = 1; r < sh; ++r) std::copy(first, first + OW, first + r * OW);
      }
  });
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W): each input pixel sums its sh x sw block.
template <class T>
void upsample2d_nearest_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw) {
  const int64_t OH = H * sh, OW = W * sw;
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t ih = 0; ih < H; ++ih) {
        T* dst = dinp + (plane * H + ih) * W;
        for (int64_t iw = 0; iw < W; ++iw) dst[iw] = T(0);
        for (int64_t r = 0; r < sh; ++r) {  // rows in order, then the sw columns of each block in order
          const T* src = dout + (plane * OH + ih * sh + r) * OW;
          for (int64_t iw = 0; iw < W; ++iw)
            for (int64_t q = 0; q < sw; ++q) dst[iw] += src[iw * sw + q];
        }
      }
  });
}

// inp (N,C,H,W), out (N,C,H*sh,W*sw)
template <class T>
void upsample2d_bilinear_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw, bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw;
  const auto th = linear_taps(H, sh, align_corners), tw = linear_taps(W, sw, align_corners);
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* r0 = inp + (plane * H + th[oh].i0) * W;
        const T* r1 = inp + (plane * H + th[oh].i1) * W;
        const T lh = T(th[oh].lambda);
        T* dst = out + (plane * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const LinearTap& t = tw[ow];
          const T lw = T(t.lambda);
          // a + l*(b - a): exact where a == b (a constant image stays constant), NaN still propagates
          const T top = r0[t.i0] + lw * (r0[t.i1] - r0[t.i0]);
          const T bot = r1[t.i0] + lw * (r1[t.i1] - r1[t.i0]);
          dst[ow] = top + lh * (bot - top);
        }
      }
  });
}

// dout (N,C,H*sh,W*sw), dinp (N,C,H,W): the transpose of the forward's interpolation weights.
template <class T>
void upsample2d_bilinear_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                  int64_t sw, bool align_corners) {
  const int64_t OH = H * sh, OW = W * sw;
  const auto th = linear_taps(H, sh, align_corners), tw = linear_taps(W, sw, align_corners);
  parallel_for(N * C, 4, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      T* d = dinp + plane * H * W;
      std::fill(d, d + H * W, T(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        T* r0 = d + th[oh].i0 * W;
        T* r1 = d + th[oh].i1 * W;
        const T lh = T(th[oh].lambda);
        const T* src = dout + (plane * OH + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const LinearTap& t = tw[ow];
          const T lw = T(t.lambda), g = src[ow];
          r0[t.i0] += (T(1) - lh) * (T(1) - lw) * g;
          r0[t.i1] += (T(1) - lh) * lw * g;
          r1[t.i0] += lh * (T(1) - lw) * g;
          r1[t.i1] += lh * lw * g;
        }
      }
    }
  });
}

#define FASTANN_UPSAMPLE_INSTANTIATE(T)                                                                        \
  template void upsample2d_nearest_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,      \
                                              int64_t);                                                        \
  template void upsample2d_nearest_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,     \
                                               int64_t);                                                       \
  template void upsample2d_bilinear_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,     \
                                               int64_t, bool);                                                 \
  template void upsample2d_bilinear_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t,    \
                                                int64_t, bool);
FASTANN_UPSAMPLE_INSTANTIATE(float)
FASTANN_UPSAMPLE_INSTANTIATE(double)
#undef FASTANN_UPSAMPLE_INSTANTIATE

}  // namespace fastann::cpu
