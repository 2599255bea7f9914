// conv_rung3_phases.cpp: rung 3's float32 AVX-512 path for strides > 1, by phase decomposition
// (internal/conv_phases.hpp; kernels in conv_rung3_phases_avx512.cpp). Over rung 3's stride > 1 im2col path it
// adds: the forward and the weight gradient read the image's stride phases in place through one offset per tap
// (no im2col buffer, reduction over real positions only), and the input gradient is computed per phase as a
// stride-1 correlation of dout with that phase's taps, then interleaved into dx (no col2im scatter). Outputs
// of up to 7 columns use 7-position x 64-channel or 2x7-position x 32-channel register tiles, so a 7x7 output
// fills its tiles. Docs: docs/conv.md.
#include <algorithm>
#include <vector>

#include "internal/aligned_scratch.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_pack.hpp"
#include "internal/conv_phases.hpp"
#include "internal/run_sums.hpp"
#include "internal/work_queue.hpp"

namespace fastann::cpu::conv_detail {

namespace {

// The phase planes of one image and group for the forward and the weight gradient: Cg*sh*sw planes of
// Hph x Wph (enough rows and columns for every output position's largest tap shift), and off[k] for
// k = (c, kh, kw) the offset of tap (kh, kw) of channel c from output position (0, 0).
struct PhaseGeometry {
  int64_t sh, sw, Hph, Wph, size, slack;
  std::vector<int64_t> off;
};

PhaseGeometry phase_geometry(const Conv2dParams& p, int64_t Cg) {
  PhaseGeometry g;
  g.sh = p.stride_h, g.sw = p.stride_w;
  g.Hph = p.OH + (p.KH - 1) * p.dilation_h / g.sh;
  g.Wph = p.OW + (p.KW - 1) * p.dilation_w / g.sw;
  g.size = Cg * g.sh * g.sw * g.Hph * g.Wph;
  g.slack = 2 * g.Wph + 64;  // tiles read up to one row and 13 columns past the last plane
  g.off.resize(Cg * p.KH * p.KW);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh)
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const int64_t th = kh * p.dilation_h, tw = kw * p.dilation_w;
        const int64_t plane = (c * g.sh + th % g.sh) * g.sw + tw % g.sw;
        g.off[(c * p.KH + kh) * p.KW + kw] = plane * g.Hph * g.Wph + th / g.sh * g.Wph + tw / g.sw;
      }
  return g;
}

// A scratch buffer of n floats followed by `slack` zeros (never read into a stored result).
struct Scratch {
  AlignedScratch<float> buf;
  Scratch(int64_t n, int64_t slack) : buf(n + slack) { std::fill(buf.data() + n, buf.data() + n + slack, 0.0f); }
  float* data() { return buf.data(); }
};

// Strides > 1 with AVX-512 and >= 8 channels per group on both sides (layers with fewer channels on one side
// have their own paths).
bool strided(const Conv2dParams& p) {
  return (p.stride_h > 1 || p.stride_w > 1) && have_avx512() && std::min(p.C, p.OC) / p.groups >= 8;
}

void split(float* xph, const float* img, const Conv2dParams& p, int64_t Cg, const PhaseGeometry& g) {
  split_phases_avx512(xph, img, Cg, p.H, p.W, p.pad_top, p.pad_left, g.sh, g.sw, g.Hph, g.Wph);
}

}  // namespace

bool conv2d_forward_stride_phases(float* out, const float* inp, const float* weight, const float* bias,
                                  const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  if (!strided(p) || OCg < 16 || K < 32) return false;
  const PhaseGeometry pg = phase_geometry(p, Cg);
  const int64_t wsz = packed_b_size<float>(K, OCg);
  AlignedScratch<float> wt(G * wsz);  // W[g]^T (K x OCg) in 32-channel blocks
  for (int64_t g = 0; g < G; ++g) pack_b_transposed(wt.data() + g * wsz, weight + g * OCg * K, K, OCg);
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    Scratch xph(pg.size, pg.slack);
    // The next item is claimed one ahead, so its image can be prefetched while this one computes.
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      SpreadPrefetch prefetch(phase_tile_count(p.OH, p.OW, OCg));
      prefetch_item(prefetch, inp, out, next, p);
      split(xph.data(), group_input(inp, ng, p), p, Cg, pg);
      phase_tiles_avx512(group_output(out, ng, p), P, p.OW, p.OH, p.OW, xph.data(), pg.Wph, pg.off.data(), K,
                         wt.data() + g * wsz, OCg, bias ? bias + g * OCg : nullptr, prefetch);
    }
  });
  return true;
}

bool conv2d_backward_input_stride_phases(float* dinp, const float* dout, const float* weight, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, KK = p.KH * p.KW;
  // The phases multiply dout's zero border with the weights (an input element's phase may hold taps that reach
  // no output), so a non-finite weight would give NaN where the sum of the products that reach the element is
  // finite or +-inf: such calls take the im2col / col2im path, which sums exactly those products.
  if (!strided(p) || Cg < 16 || any_non_finite(weight, p.OC * Cg * KK)) return false;
  const int64_t sh = p.stride_h, sw = p.stride_w, S = sh * sw;
  const int64_t mh = (p.KH - 1) * p.dilation_h / sh, mw = (p.KW - 1) * p.dilation_w / sw;
  // Phase (a, b): the input elements at padded rows s_h*i + a, columns s_w*j + b, i in [ilo[a], ilo[a] + nI[a]).
  std::vector<int64_t> ilo(sh), nI(sh), jlo(sw), nJ(sw);
  auto range = [](int64_t n, int64_t pad, int64_t s, int64_t a, int64_t& lo, int64_t& cnt) {
    lo = pad > a ? (pad - a + s - 1) / s : 0;
    const int64_t hi = n - 1 + pad - a >= 0 ? (n - 1 + pad - a) / s + 1 : 0;
    cnt = std::max<int64_t>(hi - lo, 0);
  };
  int64_t imax = 0, jmax = 0;
  for (int64_t a = 0; a < sh; ++a) range(p.H, p.pad_top, sh, a, ilo[a], nI[a]), imax = std::max(imax, ilo[a] + nI[a]);
  for (int64_t b = 0; b < sw; ++b) range(p.W, p.pad_left, sw, b, jlo[b], nJ[b]), jmax = std::max(jmax, jlo[b] + nJ[b]);
  // dout padded by (mh, mw) before (the largest tap shift) and zeros after, enough for every phase's rows.
  const int64_t Hq = mh + std::max(p.OH, imax), Wq = mw + std::max(p.OW, jmax), dq_size = OCg * Hq * Wq;
  // Per phase: its taps (oc, kh, kw) as offsets into the padded dout, and W^T restricted to them, packed as B
  // (K_ab x Cg, 32-channel blocks) for every group.
  std::vector<std::vector<int64_t>> off(S);
  std::vector<int64_t> wsz(S), woff(S + 1, 0), phoff(S + 1, 0);
  for (int64_t a = 0; a < sh; ++a)
    for (int64_t b = 0; b < sw; ++b) {
      std::vector<int64_t>& o = off[a * sw + b];
      for (int64_t oc = 0; oc < OCg; ++oc)
        for (int64_t kh = 0; kh < p.KH; ++kh)
          for (int64_t kw = 0; kw < p.KW; ++kw) {
            const int64_t th = kh * p.dilation_h, tw = kw * p.dilation_w;
            if (th % sh != a || tw % sw != b) continue;
            o.push_back(oc * Hq * Wq + (mh - th / sh) * Wq + (mw - tw / sw));
          }
      wsz[a * sw + b] = packed_b_size<float>(int64_t(o.size()), Cg);
      woff[a * sw + b + 1] = woff[a * sw + b] + G * wsz[a * sw + b];
      phoff[a * sw + b + 1] = phoff[a * sw + b] + Cg * nI[a] * nJ[b] + 16;  // + 16: the merge's loads run past
    }
  AlignedScratch<float> wt(std::max<int64_t>(woff[S], 1));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b) {
        const int64_t ab = a * sw + b, Kab = int64_t(off[ab].size());
        float* dst = wt.data() + woff[ab] + g * wsz[ab];
        std::fill(dst, dst + wsz[ab], 0.0f);
        int64_t k = 0;
        for (int64_t oc = 0; oc < OCg; ++oc)
          for (int64_t kh = 0; kh < p.KH; ++kh)
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              if (kh * p.dilation_h % sh != a || kw * p.dilation_w % sw != b) continue;
              const float* src = weight + ((g * OCg + oc) * Cg) * KK + kh * p.KW + kw;  // w[g*OCg+oc][c][kh][kw]
              for (int64_t c = 0; c < Cg; ++c) dst[(c / 32) * Kab * 32 + k * 32 + c % 32] = src[c * KK];
              ++k;
            }
      }
  int64_t steps = 0;
  for (int64_t a = 0; a < sh; ++a)
    for (int64_t b = 0; b < sw; ++b) steps += phase_tile_count(nI[a], nJ[b], Cg);
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    Scratch dq(dq_size, 2 * Wq + 64), ph(phoff[S], 16);
    std::vector<const float*> phases(S);
    for (int64_t ab = 0; ab < S; ++ab) phases[ab] = ph.data() + phoff[ab];
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      const int64_t g = ng % G;
      SpreadPrefetch prefetch(steps);
      prefetch_item(prefetch, dinp, dout, next, p);
      pad_image_avx512(dq.data(), group_output(dout, ng, p), OCg, p.OH, p.OW, mh, mw, Hq, Wq);
      for (int64_t a = 0; a < sh; ++a)
        for (int64_t b = 0; b < sw; ++b) {
          const int64_t ab = a * sw + b;
          if (nI[a] == 0 || nJ[b] == 0) continue;
          phase_tiles_avx512(ph.data() + phoff[ab], nI[a] * nJ[b], nJ[b], nI[a], nJ[b],
                             dq.data() + ilo[a] * Wq + jlo[b], Wq, off[ab].data(), int64_t(off[ab].size()),
                             wt.data() + woff[ab] + g * wsz[ab], Cg, nullptr, prefetch);
        }
      float* dx = group_input(dinp, ng, p);
      if (sw == 2) {
        merge_phases_w2_avx512(dx, phases.data(), ilo.data(), nI.data(), nJ.data(), Cg, p.H, p.W, p.pad_top,
                               p.pad_left, sh);
        continue;
      }
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t ih = 0; ih < p.H; ++ih) {
          const int64_t a = (ih + p.pad_top) % sh, ii = (ih + p.pad_top) / sh - ilo[a];
          for (int64_t iw = 0; iw < p.W; ++iw) {
            const int64_t b = (iw + p.pad_left) % sw, jj = (iw + p.pad_left) / sw - jlo[b];
            dx[(c * p.H + ih) * p.W + iw] = phases[a * sw + b][(c * nI[a] + ii) * nJ[b] + jj];
          }
        }
    }
  });
  return true;
}

// dW[g]^T (K x OCg) += phase rows (K x P, read in place one output row at a time) * dout[n,g]^T (P x OCg),
// summed per run of images (RunSums: the same bits in every call at a given thread count).
bool conv2d_backward_weight_stride_phases(float* dweight, float* dbias, const float* dout, const float* inp,
                                          const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  if (!strided(p) || OCg < 16 || K < 32) return false;
  const PhaseGeometry pg = phase_geometry(p, Cg);
  RunSums<float> sums(p.N * G, G * K * OCg);
  sums.parallel([&](RunCursor& queue) {
    Scratch xph(pg.size, pg.slack);
    AlignedScratch<float> bpack(packed_b_size<float>(P, OCg));
    for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
      next = queue.next();
      SpreadPrefetch prefetch((K + MR - 1) / MR * ((OCg + NR<float> - 1) / NR<float>));
      prefetch_item(prefetch, inp, dout, next, p);
      split(xph.data(), group_input(inp, ng, p), p, Cg, pg);
      pack_dout_t_avx512(bpack.data(), group_output(dout, ng, p), OCg, p.OH, p.OW, p.OW);
      gemm_rows_a(K, OCg, P, p.OW, pg.Wph, xph.data(), pg.off.data(), bpack.data(),
                  sums.buffer(ng) + ng % G * K * OCg, OCg, true, true, &prefetch);
    }
  });
  const float* total = sums.total();
  parallel_for(p.OC, 8, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t g = o / OCg, oc = o % OCg;
      for (int64_t k = 0; k < K; ++k) dweight[o * K + k] = total[(g * K + k) * OCg + oc];
    }
  });
  if (dbias) bias_grad(dbias, dout, p);
  return true;
}

}  // namespace fastann::cpu::conv_detail
