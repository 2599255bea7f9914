// conv_rung1_naive.cpp: rung 1 of conv2d's CPU ladder, the formula as loops: one output (or gradient) element
// per iteration, bounds tested in the inner loop, threads over independent outputs. The reference point the
// other rungs are measured against. Docs: docs/conv.md.
//
// Zero padding as PyTorch (and the other rungs, and the reference) compute it: a tap on the padding
// multiplies a 0, so a +-inf or NaN weight (forward) or output gradient (weight gradient) there gives
// 0 * inf = NaN. The loops skip padded taps, which is the same for finite operands; a scan of the weight
// (forward) or of dout (weight gradient) for non-finite values picks, once per call, the loop that adds those
// zero products too (PadProducts = true). The input gradient sums only products that land on the input.
#include <type_traits>

#include "fastann/common.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_rungs.hpp"

namespace fastann::cpu::conv_detail {

namespace {

// body(std::bool_constant<pad_products>{}).
template <class F>
void with_pad_products(bool pad_products, F&& body) {
  if (pad_products) body(std::true_type{});
  else body(std::false_type{});
}

}  // namespace

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_rung1_naive(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  with_pad_products(any_non_finite(weight, p.OC * Cg * p.KH * p.KW), [&](auto pad_products) {
    constexpr bool kPad = decltype(pad_products)::value;
    parallel_for(p.N * p.OC, 1, [&](int64_t b, int64_t e) {
      for (int64_t no = b; no < e; ++no) {
        const int64_t n = no / p.OC, o = no % p.OC, g = o / OCg;
        for (int64_t oh = 0; oh < p.OH; ++oh)
          for (int64_t ow = 0; ow < p.OW; ++ow) {
            T sum = bias ? bias[o] : T(0);
            for (int64_t c = 0; c < Cg; ++c)
              for (int64_t kh = 0; kh < p.KH; ++kh) {
                const T* wrow = weight + ((o * Cg + c) * p.KH + kh) * p.KW;
                const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                if (ih < 0 || ih >= p.H) {
                  if constexpr (kPad)
                    for (int64_t kw = 0; kw < p.KW; ++kw) sum += wrow[kw] * T(0);
                  continue;
                }
                for (int64_t kw = 0; kw < p.KW; ++kw) {
                  const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                  if (iw < 0 || iw >= p.W) {
                    if constexpr (kPad) sum += wrow[kw] * T(0);
                    continue;
                  }
                  sum += wrow[kw] * inp[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
                }
              }
            out[(no * p.OH + oh) * p.OW + ow] = sum;
          }
      }
    });
  });
}

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
// Gather form: each input element sums the outputs it contributed to (ih = oh*s - pad + kh*d).
template <class T>
void conv2d_backward_input_rung1_naive(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t n = nc / p.C, ci = nc % p.C, g = ci / Cg, c = ci % Cg;
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw) {
          T sum = T(0);
          for (int64_t kh = 0; kh < p.KH; ++kh) {
            const int64_t th = ih + p.pad_top - kh * p.dilation_h;  // = oh * stride_h
            if (th < 0 || th % p.stride_h) continue;
            const int64_t oh = th / p.stride_h;
            if (oh >= p.OH) continue;
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              const int64_t tw = iw + p.pad_left - kw * p.dilation_w;
              if (tw < 0 || tw % p.stride_w) continue;
              const int64_t ow = tw / p.stride_w;
              if (ow >= p.OW) continue;
              for (int64_t o = g * OCg; o < (g + 1) * OCg; ++o)
                sum += weight[((o * Cg + c) * p.KH + kh) * p.KW + kw] *
                       dout[((n * p.OC + o) * p.OH + oh) * p.OW + ow];
            }
          }
          dinp[(nc * p.H + ih) * p.W + iw] = sum;
        }
    }
  });
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight_rung1_naive(T* dweight, T* dbias, const T* dout, const T* inp,
                                          const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups;
  with_pad_products(any_non_finite(dout, p.N * p.OC * p.OH * p.OW), [&](auto pad_products) {
    constexpr bool kPad = decltype(pad_products)::value;
    parallel_for(p.OC * Cg * p.KH * p.KW, 1, [&](int64_t b, int64_t e) {
      for (int64_t idx = b; idx < e; ++idx) {
        const int64_t kw = idx % p.KW, kh = idx / p.KW % p.KH, c = idx / (p.KW * p.KH) % Cg;
        const int64_t o = idx / (p.KW * p.KH * Cg), g = o / OCg;
        T sum = T(0);
        for (int64_t n = 0; n < p.N; ++n)
          for (int64_t oh = 0; oh < p.OH; ++oh) {
            const T* grow = dout + ((n * p.OC + o) * p.OH + oh) * p.OW;
            const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
            if (ih < 0 || ih >= p.H) {
              if constexpr (kPad)
                for (int64_t ow = 0; ow < p.OW; ++ow) sum += grow[ow] * T(0);
              continue;
            }
            for (int64_t ow = 0; ow < p.OW; ++ow) {
              const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
              if (iw < 0 || iw >= p.W) {
                if constexpr (kPad) sum += grow[ow] * T(0);
                continue;
              }
              sum += grow[ow] * inp[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
            }
          }
        dweight[idx] = sum;
      }
    });
  });
  if (dbias)
    for (int64_t o = 0; o < p.OC; ++o) {
      T sum = T(0);
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < p.OH * p.OW; ++i) sum += dout[(n * p.OC + o) * p.OH * p.OW + i];
      dbias[o] = sum;
    }
}

FASTANN_CONV_INSTANTIATE_RUNG(rung1_naive, float)
FASTANN_CONV_INSTANTIATE_RUNG(rung1_naive, double)

}  // namespace fastann::cpu::conv_detail
