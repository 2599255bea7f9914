// conv_rung3_direct.cpp: rung 3 of conv2d's CPU ladder. Over rung 2 it adds conv-specific operands for
// register-blocked AVX-512 micro-kernels (conv_rung3_direct_avx512.cpp), whole images per thread from a work
// queue: for stride 1 the output is computed on the padded input's grid, where each row of the column matrix
// is the padded image shifted by a fixed offset, so the kernels read it in place (no im2col buffer); the
// input gradient is the forward of dout with the flipped kernel; the weight gradient is summed per run of
// images (the same bits in every call). Stride > 1: im2col straight into the packed layouts. Without AVX-512
// the same operands go through the portable micro-kernel of conv_pack.hpp. Docs: docs/conv.md.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "internal/aligned_scratch.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_pack.hpp"
#include "internal/conv_phases.hpp"
#include "internal/conv_rungs.hpp"
#include "internal/conv_thin.hpp"
#include "internal/run_sums.hpp"
#include "internal/work_queue.hpp"

namespace fastann::cpu::conv_detail {

namespace {

// Each thread takes whole (image, group) pairs from a work queue, so its outputs never overlap another
// thread's. The operands it builds for one image (tens to hundreds of KB) stay in its L1/L2 cache.
// Stride-1 forward on the padded image (see ShiftedGeometry). float with enough channels: channels in the
// vector lanes, 14-position row tiles (conv_forward_rowtiles_avx512). Otherwise: the padded grid, B's shifted
// rows read in place, valid columns packed in registers and stored (+ bias); without AVX-512 the same
// through packed B, a tile buffer and a compaction pass.
// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_rung3_stride1(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512();
  const ShiftedGeometry sg = shifted_geometry(p, Cg);
  if constexpr (std::is_same_v<T, float>) {
    // Channels in the vector lanes, tiles of 14 positions of one output row: no thrown-away grid columns.
    // Chosen when it computes fewer padded positions than the 32-wide tiles of the grid (e.g. 14x14: 196 vs
    // 224), K is long enough to amortize the in-register transpose of each tile, and there are enough
    // output channels to fill the lanes.
    const int64_t rowtile_cols = (p.OW + 13) / 14 * 14 * p.OH, grid_cols = (sg.Q + NR<T> - 1) / NR<T> * NR<T>;
    if (simd && K >= 32 && OCg >= 16 && rowtile_cols < grid_cols) {
      const int64_t wsz = packed_b_size<T>(K, OCg);
      AlignedScratch<T> wt(G * wsz);
      for (int64_t g = 0; g < G; ++g) pack_b_transposed(wt.data() + g * wsz, weight + g * OCg * K, K, OCg);
      parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
        AlignedScratch<T> xpad(sg.plane + sg.slack);
        // The next item is claimed one ahead, so its image can be prefetched while this one computes.
        for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
          next = queue.next();
          const int64_t g = ng % G;
          pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
          SpreadPrefetch prefetch(rowtile_count(OCg, p.OH, p.OW));
          prefetch_item(prefetch, inp, out, next, p);
          conv_forward_rowtiles_avx512(group_output(out, ng, p), xpad.data(), sg.off.data(),
                                                    wt.data() + g * wsz, K, OCg, p.OH, p.OW, sg.Wp,
                                                    bias ? bias + g * OCg : nullptr, prefetch);
        }
      });
      return;
    }
  }
  const int64_t R = simd ? tile_rows(OCg) : MR;
  const int64_t wsz = packed_size<T>(OCg, K, R);
  AlignedScratch<T> wpack(G * wsz);
  for (int64_t g = 0; g < G; ++g) pack_a(wpack.data() + g * wsz, weight + g * OCg * K, OCg, K, K, 1, R);
  // Per tile of NR grid columns from q0: which columns are real outputs (ow < OW), and the output index of
  // its first one; the same for every image, so computed once (a division per column, ~as long as a
  // first-layer tile's FMAs).
  const int64_t tiles = (sg.Q + NR<T> - 1) / NR<T>;
  std::vector<uint64_t> tile_valid(tiles, 0);
  std::vector<int64_t> tile_first(tiles);
  for (int64_t tq = 0; tq < tiles; ++tq) {
    const int64_t q0 = tq * NR<T>;
    for (int64_t j = 0; j < NR<T> && q0 + j < sg.Q; ++j)
      if ((q0 + j) % sg.Wp < p.OW) tile_valid[tq] |= uint64_t(1) << j;
    tile_first[tq] = (q0 / sg.Wp) * p.OW + std::min(q0 % sg.Wp, p.OW);
  }
  parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
    AlignedScratch<T> xpad(sg.plane + sg.slack), bpack(simd ? 0 : packed_b_size<T>(K, sg.Q)),
        tile(simd ? 0 : OCg * sg.Q);
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
      const T* wg = wpack.data() + g * wsz;
      T* o = group_output(out, ng, p);
      const T* bg = bias ? bias + g * OCg : nullptr;
      if (simd) {
        // B's rows read in place from the padded image (L1/L2 resident); each tile's valid columns are
        // packed in registers and stored straight into the output, so no tile buffer and no compaction pass.
        for (int64_t tq = 0; tq < tiles; ++tq) {
          const int64_t q0 = tq * NR<T>, first = tile_first[tq];
          const uint64_t valid = tile_valid[tq];
          for (int64_t m0 = 0; m0 < OCg; m0 += R)
            microkernel_boff_avx512(R, K, wg + (m0 / R) * K * R, xpad.data() + q0, sg.off.data(),
                                                 o + m0 * P + first, P, P - first, std::min(R, OCg - m0), valid,
                                                 bg ? bg + m0 : nullptr);
        }
        continue;
      }
      pack_b_shifted(bpack.data(), xpad.data(), sg);
      gemm_packed_ab(OCg, sg.Q, K, wg, bpack.data(), tile.data(), sg.Q, false, simd);
      for (int64_t oc = 0; oc < OCg; ++oc) {
        const T bv = bg ? bg[oc] : T(0);
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const T* src = tile.data() + oc * sg.Q + oh * sg.Wp;
          T* dst = o + oc * P + oh * p.OW;
          for (int64_t ow = 0; ow < p.OW; ++ow) dst[ow] = src[ow] + bv;
        }
      }
    }
  });
}

// Stride > 1: im2col straight into packed B per image, the packed micro-kernel, + bias.

}  // namespace

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_rung3_direct(T* out, const T* inp, const T* weight, const T* bias,
                                       const Conv2dParams& p) {
  if constexpr (std::is_same_v<T, float>) {  // thin layers: conv_rung3_thin.cpp
    if (conv2d_forward_thin(out, inp, weight, bias, p)) return;
  }
  if (p.stride_h == 1 && p.stride_w == 1) return conv2d_forward_rung3_stride1(out, inp, weight, bias, p);
  if constexpr (std::is_same_v<T, float>) {  // float32 AVX-512 with enough channels: the stride phases
    if (conv2d_forward_stride_phases(out, inp, weight, bias, p)) return;
  }
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512(), direct = col_is_input(p);
  // Weights packed once for all images (read-only, shared by the threads).
  const int64_t wsz = packed_size<T>(OCg, K);
  AlignedScratch<T> wpack(G * wsz);
  for (int64_t g = 0; g < G; ++g) pack_a(wpack.data() + g * wsz, weight + g * OCg * K, OCg, K, K, 1);
  parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
    AlignedScratch<T> col(packed_b_size<T>(K, P));  // this thread's column matrix, packed B layout
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      const T* img = group_input(inp, ng, p);
      if (direct)
        pack_b(col.data(), img, K, P, P);
      else
        im2col_packed_b(col.data(), img, p, Cg);
      T* o = group_output(out, ng, p);
      gemm_packed_ab(OCg, P, K, wpack.data() + g * wsz, col.data(), o, P, false, simd);
      if (bias)
        for (int64_t oc = 0; oc < OCg; ++oc) {
          const T bv = bias[g * OCg + oc];
          for (int64_t i = 0; i < P; ++i) o[oc * P + i] += bv;
        }
    }
  });
}


// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input_rung3_direct(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  if constexpr (std::is_same_v<T, float>) {  // thin layers: conv_rung3_thin.cpp
    if (conv2d_backward_input_thin(dinp, dout, weight, p)) return;
  }
  // The forward of the flipped kernel (only with >= 8 input channels per group: they are the flipped
  // convolution's output channels, i.e. the micro-kernel's rows; with fewer, e.g. an RGB or grayscale first
  // layer, W^T*dout + col2im wastes less). It multiplies the weights by dout's zero border, so a non-finite
  // weight would give NaN where the products that reach an input element sum to +-inf or a finite value:
  // such calls take W^T*dout + col2im, which sums exactly those products.
  if (input_grad_is_forward(p) && p.C / p.groups >= 8 &&
      !any_non_finite(weight, p.OC * (p.C / p.groups) * p.KH * p.KW)) {
    const FlippedConv<T> f = flipped_conv(weight, p);
    return conv2d_forward_rung3_stride1(dinp, dout, f.weight.data(), static_cast<const T*>(nullptr), f.q);
  }
  if constexpr (std::is_same_v<T, float>) {  // stride > 1, float32 AVX-512, >= 16 channels: per phase
    if (conv2d_backward_input_stride_phases(dinp, dout, weight, p)) return;
  }
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512(), direct = col_is_input(p);
  // W[g]^T (K x OCg) packed once: element (k, oc) = W[g][oc*K + k].
  const int64_t wsz = packed_size<T>(K, OCg);
  AlignedScratch<T> wpack(G * wsz);
  for (int64_t g = 0; g < G; ++g) pack_a(wpack.data() + g * wsz, weight + g * OCg * K, K, OCg, 1, K);
  parallel_dynamic(p.N * G, [&](int t, WorkQueue& queue) {
    AlignedScratch<T> dcol(direct ? 0 : K * P), dpack(packed_b_size<T>(OCg, P));
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      T* img = group_input(dinp, ng, p);
      pack_b(dpack.data(), group_output(dout, ng, p), OCg, P, P);
      if (direct) {  // dcol is the input gradient itself
        gemm_packed_ab(K, P, OCg, wpack.data() + g * wsz, dpack.data(), img, P, false, simd);
        continue;
      }
      gemm_packed_ab(K, P, OCg, wpack.data() + g * wsz, dpack.data(), dcol.data(), P, false, simd);
      std::fill(img, img + Cg * p.H * p.W, T(0));
      col2im(img, dcol.data(), p, Cg);
    }
  });
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
// Computed transposed, dW[g]^T (K x OCg) = col (K x P) * dout[n,g]^T (P x OCg): the long K side becomes the
// micro-kernel's row panels and the OCg side its vector columns (full 32-wide vectors for OC=32 or 64 even
// when K is as small as 9). The images are summed in runs (RunCursor): each run of consecutive images
// accumulates into its own dW^T, and the runs are added in order at the end, so the gradient is the same in
// every call (for a given thread count) however the threads share the work.
template <class T>
void conv2d_backward_weight_rung3_direct(T* dweight, T* dbias, const T* dout, const T* inp,
                                               const Conv2dParams& p) {
  if constexpr (std::is_same_v<T, float>) {  // thin layers: conv_rung3_thin.cpp
    if (conv2d_backward_weight_thin(dweight, dbias, dout, inp, p)) return;
  }
  if constexpr (std::is_same_v<T, float>) {  // stride > 1, float32 AVX-512, enough channels: the stride phases
    if (conv2d_backward_weight_stride_phases(dweight, dbias, dout, inp, p)) return;
  }
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  const bool simd = have_avx512(), direct = col_is_input(p);
  RunSums<T> sums(p.N * G, G * K * OCg);
  const bool stride1 = p.stride_h == 1 && p.stride_w == 1;
  const ShiftedGeometry sg = shifted_geometry(p, Cg);
  sums.parallel([&](RunCursor& queue) {
    auto acc = [&](int64_t ng) { return sums.buffer(ng) + ng % G * K * OCg; };  // dW^T of ng's group
    // The general form for one (image, group): im2col straight into packed A, dout^T packed as B.
    AlignedScratch<T> cpack, dpack;
    auto general = [&](int64_t ng) {
      if (!cpack.data()) {
        cpack.resize(packed_size<T>(K, P));
        dpack.resize(packed_b_size<T>(P, OCg));
      }
      const T* img = group_input(inp, ng, p);
      if (direct)
        pack_a(cpack.data(), img, K, P, P, 1);
      else
        im2col_packed_a(cpack.data(), img, p, Cg);
      pack_b_transposed(dpack.data(), group_output(dout, ng, p), P, OCg);  // dout[n,g]^T (P x OCg)
      gemm_packed_ab(K, OCg, P, cpack.data(), dpack.data(), acc(ng), OCg, true, simd);
    };
    // Many output rows per image: dot products along ow (no transposed copy of dout, one horizontal sum
    // per (oc, k) per image); few: the GEMM form below, whose packing of dout^T is the cheaper overhead.
    const int64_t lanes = 64 / sizeof(T);
    const bool dot = simd && stride1 && K < 64 && p.OH * ((p.OW + lanes - 1) / lanes) >= 16;
    if (dot) {
      AlignedScratch<T> xpad(sg.plane + sg.slack);
      for (int64_t ng; (ng = queue.next()) >= 0;) {
        pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
        dw_dot_avx512(acc(ng), 1, OCg, group_output(dout, ng, p), xpad.data(),
                                   sg.off.data(), OCg, K, p.OH, p.OW, sg.Wp);
      }
      return;
    }
    if (stride1) {
      // dW^T (K x OCg) += shifted rows (K x P) * dout^T (P x OCg): A read in place from the padded image
      // one output row (OW real positions, row stride Wp) at a time, so no discarded grid column is ever
      // multiplied; B = dout^T packed (P x OCg).
      AlignedScratch<T> xpad(sg.plane + sg.slack), bpack(packed_b_size<T>(P, OCg));
      // The next item is claimed one ahead: its image and gradient are prefetched while this one computes.
      for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
        next = queue.next();
        SpreadPrefetch prefetch((K + MR - 1) / MR * ((OCg + NR<T> - 1) / NR<T>));
        prefetch_item(prefetch, inp, dout, next, p);
        pad_image(xpad.data(), group_input(inp, ng, p), p, Cg, sg);
        const T* dn = group_output(dout, ng, p);
        bool packed = false;
        if constexpr (std::is_same_v<T, float>) {
          if (simd) {
            pack_dout_t_avx512(bpack.data(), dn, OCg, p.OH, p.OW, p.OW);
            packed = true;
          }
        }
        if (!packed) pack_b_transposed(bpack.data(), dn, P, OCg);
        gemm_rows_a(K, OCg, P, p.OW, sg.Wp, xpad.data(), sg.off.data(), bpack.data(), acc(ng), OCg, true, simd,
                    &prefetch);
      }
      return;
    }
    for (int64_t ng; (ng = queue.next()) >= 0;) general(ng);
  });
  // The runs' dW^T added in run order, then transposed back to (OC, Cg*KH*KW).
  const T* total = sums.total();
  parallel_for(p.OC, 8, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t g = o / OCg, oc = o % OCg;
      for (int64_t k = 0; k < K; ++k) {
        dweight[o * K + k] = total[(g * K + k) * OCg + oc];
      }
    }
  });
  if (dbias) bias_grad(dbias, dout, p);
}

FASTANN_CONV_INSTANTIATE_RUNG(rung3_direct, float)
FASTANN_CONV_INSTANTIATE_RUNG(rung3_direct, double)

}  // namespace fastann::cpu::conv_detail
