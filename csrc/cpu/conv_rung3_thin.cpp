// conv_rung3_thin.cpp: rung 3's paths for thin layers (float32, AVX-512), where one side has so few channels
// that rung 3's general register tiles (12 or 8 channels x 32 positions, conv_rung3_direct.cpp) would stay
// mostly empty: a one-channel output layer (an autoencoder's last layer), a grayscale first layer and the
// transposed convolutions that run these as their adjoints. The vector lanes hold output positions instead.
//   forward, stride 1, < 8 output channels per group: output rows in the lanes (thin_rows_forward_avx512);
//   forward, stride > 1, <= 3 input or < 8 output channels per group: the same on the input's stride phases,
//   or (<= 3 input channels, a kernel that does not divide into the phases) taps x broadcast output channels;
//   input gradient, < 8 input or <= 3 output channels per group, any stride: one such forward per stride
//   phase of the input;
//   weight gradient, < 8 output channels per group, or <= 3 input channels with a stride > 1: dot products
//   along the output rows.
// Rung 3 calls these first; each returns false (doing nothing) where it does not apply. Docs: docs/conv.md.
#include <algorithm>
#include <vector>

#include "internal/aligned_scratch.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_thin.hpp"
#include "internal/run_sums.hpp"
#include "internal/work_queue.hpp"

namespace fastann::cpu::conv_detail {

namespace {

// The padded copy of one work item's C channels the kernels read: (C, Hp, Wp), the image at (top, left), zeros
// around it, rows rounded up to whole vectors (Wp a multiple of 16, so that thin_pad_avx512's stores never
// overlap), then `slack` more floats (zeroed once).
struct PaddedItem {
  int64_t C, H, W, top, left, Hp, Wp, slack;
  int64_t plane() const { return Hp * Wp; }
  int64_t size() const { return C * Hp * Wp + slack; }
  void allocate(AlignedScratch<float>& b) const {
    b.resize(size());
    std::fill(b.data() + C * Hp * Wp, b.data() + size(), 0.0f);
  }
  void fill(float* xpad, const float* img) const { thin_pad_avx512(xpad, img, C, H, W, top, left, Hp, Wp); }
};
PaddedItem padded_item(int64_t C, int64_t H, int64_t W, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  PaddedItem q{C, H, W, top, left, H + top + bottom, (W + left + right + 15) / 16 * 16, 0};
  q.slack = thin_rows_slack(q.Wp);
  return q;
}

// The padded image split by column stride phase, as thin_dw_avx512 and thin_taps_forward_avx512 read it: for a
// stride sw > 1, padded row r holds its columns sw*m + ph at r*sw*Wm + ph*Wm + m (sw = 1: the padded image
// itself), so that every tap reads consecutive floats along an output row. off[t] is tap t = (c, kh, kw)'s
// first element, rs the distance between output rows.
struct ColumnSplit {
  PaddedItem x;
  int64_t sw, Wm, rs;
  std::vector<int64_t> off;
  // xpad: x's padded copy of the item; xs: Cg*Hp*sw*Wm floats (unused for sw = 1). Returns the split image.
  const float* build(float* xs, const float* xpad) const {
    if (sw == 1) return xpad;
    for (int64_t r = 0; r < x.C * x.Hp; ++r) {
      const float* row = xpad + r * x.Wp;
      float* dst = xs + r * sw * Wm;
      if (sw == 2) {
        split_columns2_avx512(dst, dst + Wm, row, Wm);  // reads 2*Wm + 32 <= Wp + 33 floats of the row
        continue;
      }
      for (int64_t ph = 0; ph < sw; ++ph)
        for (int64_t m = 0; m < Wm; ++m) dst[ph * Wm + m] = m * sw + ph < x.Wp ? row[m * sw + ph] : 0.0f;
    }
    return xs;
  }
};
ColumnSplit column_split(const Conv2dParams& p, int64_t Cg) {
  ColumnSplit s{padded_item(Cg, p.H, p.W, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right), p.stride_w, 0, 0, {}};
  s.Wm = (s.x.Wp + s.sw - 1) / s.sw, s.rs = p.stride_h * s.sw * s.Wm;
  s.off.resize(Cg * p.KH * p.KW);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const int64_t col = kw * p.dilation_w;
        s.off[(c * p.KH + kh) * p.KW + kw] = (c * s.x.Hp + kh * p.dilation_h) * s.sw * s.Wm + col % s.sw * s.Wm +
                                             col / s.sw;
      }
  return s;
}

// The stride-1 forward with output rows in the lanes, for few output channels: each thread pads whole
// (image, group) pairs and runs thin_rows_forward_avx512 on them.
void forward_rows(float* out, const float* inp, const float* weight, const float* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW;
  const PaddedItem x = padded_item(Cg, p.H, p.W, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right);
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    AlignedScratch<float> xpad;
    x.allocate(xpad);
    // The next item is claimed one ahead, so its image can be prefetched while this one computes.
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      x.fill(xpad.data(), group_input(inp, ng, p));
      SpreadPrefetch prefetch(thin_rows_steps(Cg, OCg, p.OH, p.OW));
      prefetch_item(prefetch, inp, out, next, p);
      thin_rows_forward_avx512(group_output(out, ng, p), xpad.data(), x.plane(), x.Wp, weight + g * OCg * K, Cg,
                               OCg, p.KH, p.KW, p.dilation_w, p.OH, p.OW, bias ? bias + g * OCg : nullptr, prefetch);
    }
  });
}

// The forward with a stride > 1: the padded input split into its sh*sw stride phases, plane (c, ph, pw)
// holding xpad[c, m*sh + ph, n*sw + pw], turns the convolution into a stride-1 one over Cg*sh*sw planes with
// ceil(KH/sh) x ceil(KW/sw) kernels (w[o, c, ph + sh*u, pw + sw*v], zero past the kernel), which
// thin_rows_forward_avx512 computes. Requires no dilation and a finite input where such zero taps exist
// (0 * inf would be NaN).
void forward_phases(float* out, const float* inp, const float* weight, const float* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, sh = p.stride_h, sw = p.stride_w;
  const int64_t KHs = (p.KH + sh - 1) / sh, KWs = (p.KW + sw - 1) / sw, Cs = Cg * sh * sw, Ks = Cs * KHs * KWs;
  std::vector<float> ws(G * OCg * Ks, 0.0f);
  for (int64_t o = 0; o < G * OCg; ++o)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t plane = (c * sh + kh % sh) * sw + kw % sw;
          ws[((o * Cs + plane) * KHs + kh / sh) * KWs + kw / sw] = weight[((o * Cg + c) * p.KH + kh) * p.KW + kw];
        }
  const PaddedItem x = padded_item(Cg, p.H, p.W, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right);
  const int64_t Hm = std::max((x.Hp + sh - 1) / sh, p.OH + KHs - 1);
  const int64_t Wn = (std::max((x.Wp + sw - 1) / sw, p.OW + KWs - 1) + 15) / 16 * 16;
  const int64_t planes = Cs * Hm * Wn, slack = thin_rows_slack(Wn);
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    AlignedScratch<float> xpad, xs(planes + slack);
    x.allocate(xpad);
    std::fill(xs.data(), xs.data() + planes + slack, 0.0f);  // rows and columns past the padded image stay 0
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      x.fill(xpad.data(), group_input(inp, ng, p));
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t ph = 0; ph < sh; ++ph)
          for (int64_t m = 0; m * sh + ph < x.Hp; ++m) {
            const float* row = xpad.data() + (c * x.Hp + m * sh + ph) * x.Wp;
            float* dst = xs.data() + ((c * sh + ph) * sw * Hm + m) * Wn;  // plane (c, ph, 0), row m
            if (sw == 2 && 2 * Wn <= x.Wp + 32) {
              split_columns2_avx512(dst, dst + Hm * Wn, row, std::min(Wn, (x.Wp + 1) / 2));
              continue;
            }
            for (int64_t pw = 0; pw < sw; ++pw)
              for (int64_t n = 0; n * sw + pw < x.Wp && n < Wn; ++n) dst[pw * Hm * Wn + n] = row[n * sw + pw];
          }
      SpreadPrefetch prefetch(thin_rows_steps(Cs, OCg, p.OH, p.OW));
      prefetch_item(prefetch, inp, out, next, p);
      thin_rows_forward_avx512(group_output(out, ng, p), xs.data(), Hm * Wn, Wn, ws.data() + g * OCg * Ks, Cs, OCg,
                               KHs, KWs, 1, p.OH, p.OW, bias ? bias + g * OCg : nullptr, prefetch);
    }
  });
}

// The forward with a stride > 1 and few input channels whose kernel does not divide into the stride phases
// (3x3 with stride 2 would leave 7 of 16 phase taps zero): taps read from the column-split image, output
// channels broadcast (thin_taps_forward_avx512).
void forward_taps(float* out, const float* inp, const float* weight, const float* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW;
  ColumnSplit split = column_split(p, Cg);
  split.x.slack = std::max(split.x.slack, thin_taps_slack(split.rs));  // read in place when sw = 1
  const int64_t xs_size = Cg * split.x.Hp * split.sw * split.Wm + thin_taps_slack(split.rs);
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    AlignedScratch<float> xpad, xs(xs_size);
    split.x.allocate(xpad);
    std::fill(xs.data(), xs.data() + xs_size, 0.0f);
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      split.x.fill(xpad.data(), group_input(inp, ng, p));
      const float* src = split.build(xs.data(), xpad.data());
      SpreadPrefetch prefetch(thin_taps_steps(OCg, p.OH, p.OW));
      prefetch_item(prefetch, inp, out, next, p);
      thin_taps_forward_avx512(group_output(out, ng, p), src, split.off.data(), split.rs, weight + g * OCg * K, K, OCg,
                               p.OH, p.OW, bias ? bias + g * OCg : nullptr, prefetch);
    }
  });
}

// One stride phase (ph, pw) of the input gradient. Input rows h with h + pad_top = a*sh + ph receive only the
// kernel rows kh = ph + sh*u (u < KHp), from dout rows i = a - u; likewise for columns. So that phase of dinp
// is a stride-1 correlation of dout (zero-padded) with the kernel's rows ph, ph+sh, ... flipped and its
// channel axes swapped: dinp[c, a*sh + ph - pad_top, b*sw + pw - pad_left] for a in [a0, a0+An), b in
// [b0, b0+Bn).
struct Phase {
  int64_t ph, pw, KHp, KWp, a0, An, b0, Bn;
  std::vector<float> weight;  // (groups*Cg, OCg, KHp, KWp)
};

}  // namespace

bool conv2d_forward_thin(float* out, const float* inp, const float* weight, const float* bias, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, sh = p.stride_h, sw = p.stride_w;
  if (!have_avx512()) return false;
  if (sh == 1 && sw == 1) {
    if (p.dilation_h != 1 || p.KH > 7 || OCg >= 8) return false;
    forward_rows(out, inp, weight, bias, p);
    return true;
  }
  if (Cg <= 3 && OCg >= 8 && (p.KH % sh || p.KW % sw)) {
    forward_taps(out, inp, weight, bias, p);
    return true;
  }
  if (p.dilation_h != 1 || p.dilation_w != 1 || (p.KH + sh - 1) / sh > 7 || !(Cg <= 3 || OCg < 8)) return false;
  if ((p.KH % sh || p.KW % sw) && any_non_finite(inp, p.N * p.C * p.H * p.W)) return false;
  forward_phases(out, inp, weight, bias, p);
  return true;
}

// dout (N,OC,OH,OW), weight (OC,Cg,KH,KW), dinp (N,C,H,W): per stride phase, forward_rows' kernel on dout
// padded once per (image, group); phases of a stride > 1 are scattered into dinp, stride 1 writes it directly.
bool conv2d_backward_input_thin(float* dinp, const float* dout, const float* weight, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, sh = p.stride_h, sw = p.stride_w;
  if (!have_avx512() || (Cg >= 8 && OCg > 3) || p.dilation_h != 1 || p.dilation_w != 1) return false;
  if ((p.KH + sh - 1) / sh > 7) return false;
  // The phases multiply dout's zero padding by the weights: with an infinity or a NaN among them that would
  // put NaN where the formula has none, so such calls keep the general path (which multiplies no padding).
  if (any_non_finite(weight, p.OC * Cg * p.KH * p.KW)) return false;
  // Phases, and the padding of dout they share: Pt rows above (the most kernel rows a phase has, less one),
  // enough rows below for every phase's last output row; the same for columns.
  std::vector<Phase> phases;
  int64_t largest = 0, steps = 0;  // the largest phase's output (Cg*An*Bn), scratch for stride > 1
  bool complete = true;  // every input element is in a phase with at least one kernel tap
  int64_t a_end = p.OH, b_end = p.OW;
  for (int64_t ph = 0; ph < sh; ++ph)
    for (int64_t pw = 0; pw < sw; ++pw) {
      Phase f;
      f.ph = ph, f.pw = pw;
      f.KHp = ph < p.KH ? (p.KH - ph + sh - 1) / sh : 0, f.KWp = pw < p.KW ? (p.KW - pw + sw - 1) / sw : 0;
      // a0 = ceil((pad_top - ph) / sh) >= 0; a < a_hi <=> a*sh + ph - pad_top <= H - 1
      f.a0 = p.pad_top > ph ? (p.pad_top - ph + sh - 1) / sh : 0;
      f.b0 = p.pad_left > pw ? (p.pad_left - pw + sw - 1) / sw : 0;
      const int64_t a_hi = p.H - 1 + p.pad_top - ph >= 0 ? (p.H - 1 + p.pad_top - ph) / sh + 1 : 0;
      const int64_t b_hi = p.W - 1 + p.pad_left - pw >= 0 ? (p.W - 1 + p.pad_left - pw) / sw + 1 : 0;
      f.An = std::max<int64_t>(0, a_hi - f.a0), f.Bn = std::max<int64_t>(0, b_hi - f.b0);
      if (f.An == 0 || f.Bn == 0) continue;
      if (f.KHp == 0 || f.KWp == 0) {
        complete = false;
        continue;
      }
      a_end = std::max(a_end, a_hi), b_end = std::max(b_end, b_hi);
      largest = std::max(largest, Cg * f.An * f.Bn);
      steps += thin_rows_steps(OCg, Cg, f.An, f.Bn);
      f.weight.resize(G * Cg * OCg * f.KHp * f.KWp);
      for (int64_t g = 0; g < G; ++g)
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t o = 0; o < OCg; ++o)
            for (int64_t u = 0; u < f.KHp; ++u)
              for (int64_t v = 0; v < f.KWp; ++v) {
                const int64_t kh = ph + sh * (f.KHp - 1 - u), kw = pw + sw * (f.KWp - 1 - v);
                f.weight[((((g * Cg + c) * OCg + o) * f.KHp + u) * f.KWp) + v] =
                    weight[(((g * OCg + o) * Cg + c) * p.KH + kh) * p.KW + kw];
              }
      phases.push_back(std::move(f));
    }
  const int64_t Pt = (p.KH + sh - 1) / sh - 1, Pl = (p.KW + sw - 1) / sw - 1;
  const PaddedItem d = padded_item(OCg, p.OH, p.OW, Pt, a_end - p.OH, Pl, b_end - p.OW);
  const bool direct = sh == 1 && sw == 1;  // one phase, covering dinp exactly
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    AlignedScratch<float> dpad, tmp(direct ? 0 : largest);
    d.allocate(dpad);
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      d.fill(dpad.data(), group_output(dout, ng, p));
      SpreadPrefetch prefetch(steps);
      prefetch_item(prefetch, dinp, dout, next, p);
      float* img = group_input(dinp, ng, p);
      if (!complete) std::fill(img, img + Cg * p.H * p.W, 0.0f);
      for (const Phase& f : phases) {
        const float* x = dpad.data() + (f.a0 + Pt - f.KHp + 1) * d.Wp + (f.b0 + Pl - f.KWp + 1);
        const float* w = f.weight.data() + g * Cg * OCg * f.KHp * f.KWp;
        if (direct) {
          thin_rows_forward_avx512(img, x, d.plane(), d.Wp, w, OCg, Cg, f.KHp, f.KWp, 1, f.An, f.Bn, nullptr,
                                   prefetch);
          continue;
        }
        thin_rows_forward_avx512(tmp.data(), x, d.plane(), d.Wp, w, OCg, Cg, f.KHp, f.KWp, 1, f.An, f.Bn,
                                 nullptr, prefetch);
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t a = 0; a < f.An; ++a) {
            const float* src = tmp.data() + (c * f.An + a) * f.Bn;
            float* dst = img + (c * p.H + (f.a0 + a) * sh + f.ph - p.pad_top) * p.W + f.b0 * sw + f.pw - p.pad_left;
            for (int64_t b = 0; b < f.Bn; ++b) dst[b * sw] = src[b];
          }
      }
    }
  });
  return true;
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,Cg,KH,KW), dbias (OC) or nullptr. The padded image is split by
// column stride phase (for a stride sw > 1: row r holds its columns sw*m + ph at ph*Wm + m), so that every tap
// reads consecutive floats along an output row; thin_dw_avx512 sums the products in 16-lane partial sums per
// (output channel, tap), per run of images (RunSums: the same bits in every call at a given thread count);
// the lanes are added at the end.
bool conv2d_backward_weight_thin(float* dweight, float* dbias, const float* dout, const float* inp,
                                 const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW;
  const int64_t sh = p.stride_h, sw = p.stride_w;
  // Few input channels with >= 8 output channels at stride 1 stay on rung 3's dw_dot (as fast there: an RGB
  // 3 -> 16 layer on 32x32 took 0.7-0.8 ms there, 0.9-1.3 ms here).
  const bool thin = OCg < 8 || (Cg <= 3 && (sh > 1 || sw > 1));
  if (!have_avx512() || !thin || G * OCg * K * 16 > (int64_t(1) << 20)) return false;
  const ColumnSplit split = column_split(p, Cg);
  const PaddedItem& x = split.x;
  // Stride 1, few output channels, 2x2 / 3x3 / 4x4: the row form (each input vector loaded once for every
  // kernel row; thin_dw_rows_avx512), else the general dot products over the column-split image.
  const bool rows_form = sh == 1 && sw == 1 && p.dilation_h == 1 && p.dilation_w == 1 && OCg < 4 &&
                         p.KH == p.KW && p.KH >= 2 && p.KH <= 4;
  const int64_t size = G * OCg * K * 16;
  RunSums<float> sums(p.N * G, size);
  sums.parallel([&](RunCursor& queue) {
    AlignedScratch<float> xpad, xs(sw > 1 ? Cg * x.Hp * sw * split.Wm : 0);
    x.allocate(xpad);
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      x.fill(xpad.data(), group_input(inp, ng, p));
      float* acc = sums.buffer(ng) + g * OCg * K * 16;
      if (rows_form) {
        SpreadPrefetch prefetch(thin_dw_rows_steps(Cg, OCg, p.KH, p.OH));
        prefetch_item(prefetch, inp, dout, next, p);
        if (thin_dw_rows_avx512(acc, group_output(dout, ng, p), xpad.data(), x.plane(), x.Wp, Cg, OCg, p.KH, p.KW,
                                p.OH, p.OW, prefetch))
          continue;
      }
      SpreadPrefetch prefetch(thin_dw_steps(OCg, K, p.OH));
      prefetch_item(prefetch, inp, dout, next, p);
      const float* src = split.build(xs.data(), xpad.data());
      thin_dw_avx512(acc, group_output(dout, ng, p), src, split.off.data(), split.rs, OCg, K, p.OH, p.OW, prefetch);
    }
  });
  const float* total = sums.total();
  parallel_for(p.OC * K, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* lanes = total + i * 16;
      float s = 0.0f;
      for (int l = 0; l < 16; ++l) s += lanes[l];
      dweight[i] = s;
    }
  });
  if (dbias) bias_grad(dbias, dout, p);
  return true;
}

}  // namespace fastann::cpu::conv_detail
