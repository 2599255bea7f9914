// conv_rung4_winograd.cpp: rung 4 of conv2d's CPU ladder, for 3x3 kernels with stride 1 and dilation 1. Over
// rung 3 it adds Winograd's minimal filtering algorithms (Lavin & Gray 2016): F(2x2, 3x3) for the forward and
// (as the forward of the flipped kernel) the input gradient, F(3x3, 2x2) for the weight gradient, 2.25x fewer
// multiplications as 16 GEMMs in a transformed domain. The AVX-512 float path is in
// conv_rung4_winograd_avx512.cpp; float64 and CPUs without AVX-512 run the portable loops here.
// Infinities and NaNs: the transforms mix up to 4 inputs, so an infinity meets an opposite one (inf - inf) or a
// zero coefficient where the direct sum has none and comes out NaN. Rung 4 therefore scans each work item's
// input (and the weights once) and hands an item that holds a non-finite value to rung 3, which then gives
// exactly rung 3's values for it. Docs: docs/conv.md.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "internal/aligned_scratch.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_pack.hpp"
#include "internal/conv_rungs.hpp"
#include "internal/run_sums.hpp"
#include "internal/work_queue.hpp"

namespace fastann::cpu::conv_detail {

namespace {

// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), after Winograd's minimal
// filtering algorithms. A 3x3, stride-1 correlation gives each 2x2 block of outputs (a "tile") from the 4x4
// input patch d under it as
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          ((.) = elementwise product)
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// 16 multiplications per tile and channel pair instead of 36: 2.25x fewer. Summed over the input channels,
// the 16 elementwise products become 16 independent GEMMs, one per point xi = (u, w) of the 4x4 transformed
// domain: M[xi] (tiles x OCg) = V[xi] (tiles x Cg) * U[xi] (Cg x OCg), with U = G g G^T, V = B^T d B. The
// transforms are additions only (and halvings in G), so they cost little next to the GEMMs. Mixing up to 4
// inputs before the product can cost precision; measured, the float32 error is the size of rung 3's (its
// sums are shorter: Cg terms, not 9*Cg), see docs/conv.md.

// U[((g*16 + xi)*Cg + c)*OCg + oc] = (G w[g*OCg + oc, c] G^T)[u][w], xi = u*4 + w.
template <class T>
std::vector<T> winograd_weights(const T* weight, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G;
  std::vector<T> U(G * 16 * Cg * OCg);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t oc = 0; oc < OCg; ++oc)
      for (int64_t c = 0; c < Cg; ++c) {
        const T* k = weight + ((g * OCg + oc) * Cg + c) * 9;  // k[r*3 + s]
        T gk[4][3];                                            // G g
        for (int64_t s = 0; s < 3; ++s) {
          gk[0][s] = k[s];
          gk[1][s] = (k[s] + k[3 + s] + k[6 + s]) / 2;
          gk[2][s] = (k[s] - k[3 + s] + k[6 + s]) / 2;
          gk[3][s] = k[6 + s];
        }
        for (int64_t u = 0; u < 4; ++u) {  // (G g) G^T
          const T row[4] = {gk[u][0], (gk[u][0] + gk[u][1] + gk[u][2]) / 2, (gk[u][0] - gk[u][1] + gk[u][2]) / 2,
                            gk[u][2]};
          for (int64_t w = 0; w < 4; ++w) U[((g * 16 + u * 4 + w) * Cg + c) * OCg + oc] = row[w];
        }
      }
  return U;
}

// v[u*4 + w] = (B^T d B)[u][w] for the 4x4 patch d[i*ld + j].
template <class T>
void winograd_input_tile(T v[16], const T* d, int64_t ld) {
  T bd[4][4];  // B^T d
  for (int64_t j = 0; j < 4; ++j) {
    const T d0 = d[j], d1 = d[ld + j], d2 = d[2 * ld + j], d3 = d[3 * ld + j];
    bd[0][j] = d0 - d2, bd[1][j] = d1 + d2, bd[2][j] = d2 - d1, bd[3][j] = d1 - d3;
  }
  for (int64_t u = 0; u < 4; ++u) {
    v[u * 4 + 0] = bd[u][0] - bd[u][2];
    v[u * 4 + 1] = bd[u][1] + bd[u][2];
    v[u * 4 + 2] = bd[u][2] - bd[u][1];
    v[u * 4 + 3] = bd[u][1] - bd[u][3];
  }
}

// The padded image of rung 4: it covers every tile's 4x4 patch.
Conv2dParams winograd_padded(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.pad_bottom = 2 * ((p.OH + 1) / 2) + 2 - p.H - p.pad_top;
  q.pad_right = 2 * ((p.OW + 1) / 2) + 2 - p.W - p.pad_left;
  return q;
}


// Work item ng = (image, group) of p as its own convolution: one image, one group (rung 3 on it computes
// exactly what rung 3 on the whole call computes for that item).
Conv2dParams single_item(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.N = 1, q.groups = 1, q.C = p.C / p.groups, q.OC = p.OC / p.groups;
  return q;
}

// The items whose flag is set, in order.
std::vector<int64_t> skipped_items(const std::vector<char>& flags) {
  std::vector<int64_t> items;
  for (int64_t i = 0; i < int64_t(flags.size()); ++i)
    if (flags[i]) items.push_back(i);
  return items;
}

// Runs item(i) for every i in items, on the threads (each item's rung-3 call then runs on one thread).
template <class F>
void for_each_item(const std::vector<int64_t>& items, F&& item) {
  parallel_dynamic(int64_t(items.size()), [&](int, WorkQueue& queue) {
    for (int64_t i; (i = queue.next()) >= 0;) item(items[i]);
  });
}

// The forward on every work item whose input holds only finite values. Returns the items it skipped, those
// with an infinity or a NaN in their input, for the caller to compute with rung 3.
// Requires winograd_fits(p) for a 3x3 kernel. The padded image (winograd_padded) has 2*ceil(OH/2) + 2 rows and 2*ceil(OW/2) + 2
// columns: one zero row (column) more than the padding asks for when OH (OW) is odd.
template <class T>
std::vector<int64_t> winograd_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, P = p.OH * p.OW;
  std::vector<char> skipped(p.N * G, 0);  // one byte per item: each written by the thread that took the item
  const int64_t th = (p.OH + 1) / 2, tw = (p.OW + 1) / 2, tiles = th * tw;
  const Conv2dParams q = winograd_padded(p);
  const ShiftedGeometry sg = shifted_geometry(q, Cg);  // its slack (>= 64 elements) covers the vector reads
  const std::vector<T> U = winograd_weights(weight, p);
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx512()) {
      // U[g][xi] packed as the B operand of a (Cg x OCg) GEMM: 32-channel blocks, zeros past OCg.
      const int64_t usz = packed_b_size<T>(Cg, OCg);
      AlignedScratch<T> upack(G * 16 * usz);
      for (int64_t gx = 0; gx < G * 16; ++gx) pack_b(upack.data() + gx * usz, U.data() + gx * Cg * OCg, Cg, OCg, OCg);
      parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
        AlignedScratch<T> xpad(sg.plane + sg.slack), vbuf(16 * winograd_v_stride(Cg)),
            mbuf(16 * kWinogradMStride);
        // The next item is claimed one ahead, so its image can be prefetched while this one computes.
        for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
          next = queue.next();
          const int64_t g = ng % G;
          if (any_non_finite(group_input(inp, ng, p), Cg * p.H * p.W)) {
            skipped[ng] = 1;
            continue;
          }
          pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
          SpreadPrefetch prefetch(winograd_step_count(OCg, p.OH, p.OW));
          prefetch_item(prefetch, inp, out, next, p);
          winograd_f23_forward_avx512(group_output(out, ng, p), xpad.data(), upack.data() + g * 16 * usz,
                                                   Cg, OCg, p.OH, p.OW, sg.Hp, sg.Wp, bias ? bias + g * OCg : nullptr,
                                                   vbuf.data(), mbuf.data(), prefetch);
        }
      });
      return skipped_items(skipped);
    }
  }
  // Portable form (float64, or no AVX-512): the same three steps, written out, on blocks of TB tiles.
  constexpr int64_t TB = 32;
  parallel_dynamic(p.N * G, [&](int, WorkQueue& queue) {
    std::vector<T> xpad(sg.plane + sg.slack), V(16 * Cg * TB), M(16 * OCg * TB);  // V[xi][c][t], M[xi][oc][t]
    for (int64_t ng; (ng = queue.next()) >= 0;) {
      const int64_t g = ng % G;
      if (any_non_finite(group_input(inp, ng, p), Cg * p.H * p.W)) {
        skipped[ng] = 1;
        continue;
      }
      const T* Ug = U.data() + g * 16 * Cg * OCg;
      T* o = group_output(out, ng, p);
      pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
      for (int64_t t0 = 0; t0 < tiles; t0 += TB) {
        const int64_t nt = std::min(TB, tiles - t0);
        for (int64_t c = 0; c < Cg; ++c)  // V = B^T d B
          for (int64_t t = 0; t < nt; ++t) {
            const int64_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
            T v[16];
            winograd_input_tile(v, xpad.data() + c * sg.Hp * sg.Wp + 2 * ty * sg.Wp + 2 * tx, sg.Wp);
            for (int64_t xi = 0; xi < 16; ++xi) V[(xi * Cg + c) * TB + t] = v[xi];
          }
        std::fill(M.begin(), M.end(), T(0));  // M[xi] = U[xi]^T V[xi]
        for (int64_t xi = 0; xi < 16; ++xi)
          for (int64_t c = 0; c < Cg; ++c) {
            const T* v = V.data() + (xi * Cg + c) * TB;
            for (int64_t oc = 0; oc < OCg; ++oc) {
              const T u = Ug[(xi * Cg + c) * OCg + oc];
              T* m = M.data() + (xi * OCg + oc) * TB;
              for (int64_t t = 0; t < nt; ++t) m[t] += u * v[t];
            }
          }
        for (int64_t oc = 0; oc < OCg; ++oc)  // Y = A^T M A (+ bias)
          for (int64_t t = 0; t < nt; ++t) {
            auto m = [&](int64_t u, int64_t w) { return M[((u * 4 + w) * OCg + oc) * TB + t]; };
            T s[2][4];  // A^T M
            for (int64_t w = 0; w < 4; ++w) {
              s[0][w] = m(0, w) + m(1, w) + m(2, w);
              s[1][w] = m(1, w) - m(2, w) - m(3, w);
            }
            const int64_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
            const T b = bias ? bias[g * OCg + oc] : T(0);
            for (int64_t a = 0; a < 2; ++a) {
              const T y[2] = {s[a][0] + s[a][1] + s[a][2], s[a][1] - s[a][2] - s[a][3]};
              for (int64_t e = 0; e < 2; ++e) {
                const int64_t oh = 2 * ty + a, ow = 2 * tx + e;
                if (oh < p.OH && ow < p.OW) o[oc * P + oh * p.OW + ow] = y[e] + b;
              }
            }
          }
      }
    }
  });
  return skipped_items(skipped);
}

// The weight gradient by F(3x3, 2x2): per tile, the 3x3 taps dW[kh][kw] += sum_{a,b} dt[a][b] d[a+kh][b+kw]
// are a 3x3 correlation of the 4x4 patch d with the 2x2 dout tile dt, so
//   dW = A'^T [ (G' dt G'^T) (.) (B^T d B) ] A'
//   A'^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]   G' = [1 0; 1/2 1/2; 1/2 -1/2; 0 -1] = diag(1, 1/2, 1/2, -1) G4,
// with the forward's B (G' carries the sign of B'^T's last row [0 -1 0 1] in Lavin & Gray's F(3, 2)).
// Summed over tiles and images, M[xi] (Cg x OCg) = V[xi] (Cg x tiles) * D[xi] (tiles x OCg): 16 GEMMs whose
// reduction runs over every tile of the batch. The kernels use G4 (no halvings, no sign) and the scale
// s_u s_w, s = (1, 1/2, 1/2, -1), is applied once to the sums (exact: powers of two).
// M4[((g*16 + xi)*Cg + c)*OCg + oc] summed over the batch -> dweight (OC, Cg, 3, 3).
template <class T>
void winograd_weight_output(T* dweight, const T* M4, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G;
  const T s[4] = {T(1), T(0.5), T(0.5), T(-1)};
  const T At[3][4] = {{1, 1, 1, 0}, {0, 1, -1, 0}, {0, 1, 1, 1}};
  parallel_for(G * OCg, 8, [&](int64_t b, int64_t e) {
    for (int64_t go = b; go < e; ++go) {
      const int64_t g = go / OCg, oc = go % OCg;
      for (int64_t c = 0; c < Cg; ++c) {
        T m[4][4];
        for (int64_t xi = 0; xi < 16; ++xi)
          m[xi / 4][xi % 4] = s[xi / 4] * s[xi % 4] * M4[((g * 16 + xi) * Cg + c) * OCg + oc];
        T* dw = dweight + (go * Cg + c) * 9;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            T acc = 0;  // the zero coefficients are skipped, not multiplied: 0 * NaN would leak a NaN
            for (int64_t u = 0; u < 4; ++u)
              for (int64_t w = 0; w < 4; ++w)
                if (At[kh][u] != 0 && At[kw][w] != 0) acc += At[kh][u] * m[u][w] * At[kw][w];
            dw[kh * 3 + kw] = acc;
          }
      }
    }
  });
}
}  // namespace

// Items with an infinity or a NaN in their input, and every item when the weights hold one, are rung 3's.
template <class T>
void conv2d_forward_rung4_winograd(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p) {
  if (winograd_phases_fits(p)) return conv2d_forward_rung4_phases(out, inp, weight, bias, p);
  const int64_t G = p.groups, OCg = p.OC / G, K = p.C / G * 9;
  if (any_non_finite(weight, p.OC * K)) return conv2d_forward_rung3_direct(out, inp, weight, bias, p);
  const Conv2dParams one = single_item(p);
  for_each_item(winograd_forward(out, inp, weight, bias, p), [&](int64_t ng) {
    const int64_t g = ng % G;
    conv2d_forward_rung3_direct(group_output(out, ng, p), group_input(inp, ng, p), weight + g * OCg * K,
                                bias ? bias + g * OCg : nullptr, one);
  });
}

// Items with an infinity or a NaN in their input or their dout are left out of the Winograd sums and added,
// as rung 3 computes them, to the result.
template <class T>
void conv2d_backward_weight_rung4_winograd(T* dweight, T* dbias, const T* dout, const T* inp,
                                             const Conv2dParams& p) {
  if (winograd_phases_fits(p)) return conv2d_backward_weight_rung4_phases(dweight, dbias, dout, inp, p);
  const int64_t G = p.groups, Cg = p.C / G, OCg = p.OC / G, P = p.OH * p.OW;
  const int64_t th = (p.OH + 1) / 2, tw = (p.OW + 1) / 2, tiles = th * tw, msz = 16 * Cg * OCg;
  const Conv2dParams q = winograd_padded(p);
  const ShiftedGeometry sg = shifted_geometry(q, Cg);
  // Deterministic sum over images, as rung 3's weight gradient: M4 of item ng's group in its run's buffer.
  RunSums<T> sums(p.N * G, G * msz);
  auto acc_of = [&](int64_t ng) { return sums.buffer(ng) + ng % G * msz; };
  std::vector<char> skipped(p.N * G, 0);  // one byte per item: each written by the thread that took the item
  auto non_finite_item = [&](int64_t ng) {
    const bool bad = any_non_finite(group_input(inp, ng, p), Cg * p.H * p.W) ||
                     any_non_finite(group_output(dout, ng, p), OCg * P);
    if (bad) skipped[ng] = 1;
    return bad;
  };
  bool done = false;
  if constexpr (std::is_same_v<T, float>) {
    if (have_avx512()) {
      const int64_t ldv = tiles + 16, vs = Cg * ldv + 16;               // V[xi][c][t]
      const int64_t Wp2 = 2 * tw, blocks = (OCg + 31) / 32, ds = blocks * tiles * 32 + 16;  // D[xi][blk][t][32]
      std::vector<int64_t> a_off(Cg);
      for (int64_t c = 0; c < Cg; ++c) a_off[c] = c * ldv;
      sums.parallel([&](RunCursor& queue) {
        AlignedScratch<T> xpad(sg.plane + sg.slack), v(16 * vs), dpack(blocks * p.OH * Wp2 * 32), d(16 * ds);
        // The next item is claimed one ahead: its image and gradient are prefetched while this one computes.
        for (int64_t ng = queue.next(), next; ng >= 0; ng = next) {
          next = queue.next();
          SpreadPrefetch prefetch(16);
          prefetch_item(prefetch, inp, dout, next, p);
          T* acc = acc_of(ng);  // zeroes the run's buffer when ng starts the run, so even for a skipped item
          if (non_finite_item(ng)) continue;
          pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
          winograd_input_avx512(v.data(), ldv, vs, xpad.data(), Cg, p.OH, p.OW, sg.Hp, sg.Wp);
          pack_dout_t_avx512(dpack.data(), group_output(dout, ng, p), OCg, p.OH, p.OW, Wp2);
          winograd_dout_avx512(d.data(), ds, dpack.data(), OCg, p.OH, p.OW, Wp2);
          for (int64_t xi = 0; xi < 16; ++xi) {  // M4[xi] (Cg x OCg) += V[xi] (Cg x tiles) * D4[xi] (tiles x OCg)
            prefetch.step();
            gemm_rows_a(Cg, OCg, tiles, tiles, 0, v.data() + xi * vs, a_off.data(), d.data() + xi * ds,
                        acc + xi * Cg * OCg, OCg, true, true);
          }
        }
      });
      done = true;
    }
  }
  if (!done) {  // portable form: the same sums, tile by tile
    sums.parallel([&](RunCursor& queue) {
      std::vector<T> xpad(sg.plane + sg.slack), V(16 * Cg), D(16 * OCg);  // V[xi][c], D[xi][oc] of one tile
      for (int64_t ng; (ng = queue.next()) >= 0;) {
        T* acc = acc_of(ng);
        if (non_finite_item(ng)) continue;
        const T* dn = group_output(dout, ng, p);
        pad_image(xpad.data(), group_input(inp, ng, p), q, Cg, sg);
        for (int64_t t = 0; t < tiles; ++t) {
          const int64_t ty = t / tw, tx = t % tw;
          for (int64_t c = 0; c < Cg; ++c) {
            T vt[16];
            winograd_input_tile(vt, xpad.data() + c * sg.Hp * sg.Wp + 2 * ty * sg.Wp + 2 * tx, sg.Wp);
            for (int64_t xi = 0; xi < 16; ++xi) V[xi * Cg + c] = vt[xi];
          }
          for (int64_t oc = 0; oc < OCg; ++oc) {  // D4 = G4 dt G4^T, dout outside the output read as 0
            auto at = [&](int64_t a, int64_t b) {
              const int64_t oh = 2 * ty + a, ow = 2 * tx + b;
              return oh < p.OH && ow < p.OW ? dn[oc * P + oh * p.OW + ow] : T(0);
            };
            T e[4][2];
            for (int64_t b = 0; b < 2; ++b) {
              const T x0 = at(0, b), x1 = at(1, b);
              e[0][b] = x0, e[1][b] = x0 + x1, e[2][b] = x0 - x1, e[3][b] = x1;
            }
            for (int64_t u = 0; u < 4; ++u) {
              D[(u * 4 + 0) * OCg + oc] = e[u][0];
              D[(u * 4 + 1) * OCg + oc] = e[u][0] + e[u][1];
              D[(u * 4 + 2) * OCg + oc] = e[u][0] - e[u][1];
              D[(u * 4 + 3) * OCg + oc] = e[u][1];
            }
          }
          for (int64_t xi = 0; xi < 16; ++xi)
            for (int64_t c = 0; c < Cg; ++c) {
              const T vc = V[xi * Cg + c];
              T* m = acc + (xi * Cg + c) * OCg;
              for (int64_t oc = 0; oc < OCg; ++oc) m[oc] += vc * D[xi * OCg + oc];
            }
        }
      }
    });
  }
  winograd_weight_output(dweight, sums.total(), p);
  // The skipped items' rung-3 gradients, one after another (each runs on one thread), added in item order.
  const Conv2dParams one = single_item(p);
  std::vector<T> dw_item(OCg * Cg * 9);
  for (const int64_t ng : skipped_items(skipped)) {
    const int64_t g = ng % G;
    conv2d_backward_weight_rung3_direct(dw_item.data(), static_cast<T*>(nullptr), group_output(dout, ng, p),
                                        group_input(inp, ng, p), one);
    T* dw = dweight + g * OCg * Cg * 9;
    for (int64_t i = 0; i < OCg * Cg * 9; ++i) dw[i] += dw_item[i];
  }
  if (dbias) bias_grad(dbias, dout, p);
}

// The input gradient as the Winograd forward of the flipped kernel; rung 3 where that needs a negative
// padding (padding > 2), for items with an infinity or a NaN in their dout, and for every item when the
// weights hold one.
template <class T>
void conv2d_backward_input_rung4_winograd(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  if (winograd_phases_fits(p)) return conv2d_backward_input_rung4_phases(dinp, dout, weight, p);
  const int64_t G = p.groups, OCg = p.OC / G, K = p.C / G * 9;
  if (!input_grad_is_forward(p) || any_non_finite(weight, p.OC * K))
    return conv2d_backward_input_rung3_direct(dinp, dout, weight, p);
  const FlippedConv<T> f = flipped_conv(weight, p);
  const Conv2dParams one = single_item(p);
  // Item ng of the flipped convolution is item ng of p: its output is ng's input gradient, its input ng's dout.
  for_each_item(winograd_forward(dinp, dout, f.weight.data(), static_cast<const T*>(nullptr), f.q), [&](int64_t ng) {
    conv2d_backward_input_rung3_direct(group_input(dinp, ng, p), group_output(dout, ng, p),
                                       weight + ng % G * OCg * K, one);
  });
}

FASTANN_CONV_INSTANTIATE_RUNG(rung4_winograd, float)
FASTANN_CONV_INSTANTIATE_RUNG(rung4_winograd, double)

}  // namespace fastann::cpu::conv_detail
