// rnn_rung3_fused_loops.hpp: rung 3 of the RNN ladder, compiled once per ISA (csrc/cpu/README.md). Included by
// rnn_rung3_fused_avx512.cpp and rnn_rung3_fused_scalar.cpp after each defines, in namespace
// fastann::cpu::FASTANN_ISA, the micro-kernel of its ISA:
//
//   template <class T> struct Rnn3Kernel {
//     static constexpr int W;   // lanes of one vector
//     // tile[i*NV*W + c] = sum_{p < kc} a[i*lda + p] * bp[p*NV*W + c]   (i < MR, c < NV*W)
//     template <int MR, int NV> static void gemm_tile(int64_t kc, const T* a, int64_t lda, const T* bp, T* tile);
//   };
//
// What rung 3 does beyond rung 2 (Appleyard, Kocisky & Blunsom 2016; the layout of oneDNN's and cuDNN's
// fused RNN kernels):
// * W_hh is packed once per call into panels of NV vectors, kept hot in L2 across the T steps. In the forward
//   a panel of a gated cell interleaves the gates of the same W units (LSTM: i, f, g, o of units u..u+W), so
//   one micro-tile of the recurrent GEMM holds every gate of its units.
// * The gate element-wise work is the GEMM's epilogue: while a micro-tile is still in L1 its rows are
//   turned into the cell's new state (sigmoid and tanh written as vectorisable arithmetic on vexp.hpp), so
//   there is no separate pass over the gates and no libm call per element.
// * Backward: the recurrent GEMM of step s, dh_{s-1} = dG_s W_hh, runs the cell's element-wise backward
//   of step s-1 as its epilogue, so the sequential part is one GEMM per step; dX, dW_ih, dW_hh and the
//   bias sums are single GEMMs (fastann's own, csrc/cpu/gemm.cpp) over all N*T rows after the loop.
// * Threads: the steps are stages of micro-tile items handed out from one atomic counter; an item waits
//   only until every item of the previous stage is done (no fork/join or barrier per step, and a thread
//   whose core is taken by another process just takes fewer items). Each output element is computed by
//   one item in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include "fastann/common.hpp"
#include "fastann/cpu/gemm.hpp"
#include "fastann/cpu/rnn.hpp"
#include "internal/aligned_scratch.hpp"
#include "rnn_rung3_fused_isa.hpp"
#include "vexp.hpp"

namespace fastann::cpu::FASTANN_ISA {
namespace {

// ---- the cells' functions, as arithmetic the compiler vectorises -----------------------------------
template <class T>
FASTANN_ALWAYS_INLINE T sigmoid3(T x) { return T(1) / (T(1) + vexp(-x)); }

template <class T>
FASTANN_ALWAYS_INLINE T relu3(T x) { return x < T(0) ? T(0) : x; }  // NaN stays NaN

template <class T> using K3 = Rnn3Kernel<T>;

// Micro-tile rows for NV vectors per row: about 24 accumulators.
constexpr int rows_for(int nv) { return nv == 2 ? 12 : nv == 3 ? 8 : 6; }
// Rows per work item: a multiple of every rows_for().
constexpr int64_t kChunkRows = 48;
// Flops per stage below which a call stays on one thread.
constexpr double kThreadMinFlops = 2e5;

// ---- packed W_hh -----------------------------------------------------------------------------------
// Panels of L = NV*W lanes over kc steps: panel q, step p, lane c at data[(q*kc + p)*L + c]; the recurrent
// bias of each lane at bias[q*L + c] (0 where none or past H).
template <class T>
struct Panels {
  AlignedScratch<T> data, bias;
  int64_t count = 0, kc = 0;
  int nv = 0;
  int64_t lanes() const { return int64_t(nv) * K3<T>::W; }
  const T* panel(int64_t q) const { return data.data() + q * kc * lanes(); }
};

// Forward panels: lane c of panel q is the weight row row_of(q, c) (or -1: zero), read transposed
// (P(q, p, c) = w[row * H + p]), kc = H.
template <class T, class RowOf>
void pack_rows(Panels<T>& P, int nv, int64_t count, const T* w, const T* bias, int64_t H, RowOf row_of) {
  P.nv = nv, P.count = count, P.kc = H;
  const int64_t L = P.lanes();
  P.data.resize(count * H * L);
  P.bias.resize(count * L);
  for (int64_t q = 0; q < count; ++q)
    for (int64_t c = 0; c < L; ++c) {
      const int64_t row = row_of(q, c);
      T* dst = P.data.data() + q * H * L + c;
      for (int64_t p = 0; p < H; ++p) dst[p * L] = row >= 0 ? w[row * H + p] : T(0);
      P.bias.data()[q * L + c] = row >= 0 && bias ? bias[row] : T(0);
    }
}

// Backward panels: lane c of panel q is unit q*L + c of the rows k0 .. k0+kc of w (G*H, H), not transposed.
template <class T>
void pack_cols(Panels<T>& P, const T* w, int64_t H, int64_t k0, int64_t kc) {
  P.nv = 4, P.kc = kc;
  const int64_t L = P.lanes();
  P.count = (H + L - 1) / L;
  P.data.resize(P.count * kc * L);
  P.bias.resize(P.count * L);
  std::fill_n(P.bias.data(), P.count * L, T(0));
  for (int64_t q = 0; q < P.count; ++q)
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t c = 0; c < L; ++c) {
        const int64_t j = q * L + c;
        P.data.data()[(q * kc + p) * L + c] = j < H ? w[(k0 + p) * H + j] : T(0);
      }
}

// Units covered by panel q: [u0, u0 + uw). Gated panels hold W units (one vector per gate), the others L.
struct UnitRange {
  int64_t u0, uw;
};
template <class T>
UnitRange units_of(const Panels<T>& P, int64_t q, bool gated, int64_t H) {
  const int64_t per = gated ? K3<T>::W : P.lanes();
  const int64_t u0 = q * per;
  return {u0, std::min(per, H - u0)};
}

// ---- one micro-tile --------------------------------------------------------------------------------
// tile (MR x L) = rows [0, mr) of A (row i at a + i*lda, kc values) x panel q. Rows past mr come from a
// zero-padded copy in pad (MR*kc), so the micro-kernel never reads past the matrix.
template <class T, int MR, int NV>
void tile_of(T* tile, const Panels<T>& P, int64_t q, const T* a, int64_t lda, int mr, T* pad) {
  const int64_t kc = P.kc;
  if (kc == 0) {
    std::fill_n(tile, MR * NV * K3<T>::W, T(0));
    return;
  }
  if (mr < MR) {
    for (int i = 0; i < MR; ++i)
      for (int64_t p = 0; p < kc; ++p) pad[i * kc + p] = i < mr ? a[i * lda + p] : T(0);
    a = pad, lda = kc;
  }
  K3<T>::template gemm_tile<MR, NV>(kc, a, lda, P.panel(q), tile);
}

// Runs the item of `stage` covering rows [n0, n1) and panel q: micro-tiles of rows_for(P.nv) rows, each
// followed by epi(n, tile row, i.e. L values) for its rows. a(n): pointer to row n of A; rows evenly spaced
// by lda.
template <class T, class Epi>
void run_item(const Panels<T>& P, int64_t q, int64_t n0, int64_t n1, const T* a0, int64_t lda, T* pad, Epi&& epi) {
  alignas(64) T tile[12 * 2 * K3<T>::W];  // the largest MR * NV * W of rows_for()
  auto body = [&](auto mr_tag, auto nv_tag) {
    constexpr int MR = decltype(mr_tag)::value, NV = decltype(nv_tag)::value;
    constexpr int64_t L = int64_t(NV) * K3<T>::W;
    for (int64_t n = n0; n < n1; n += MR) {
      const int mr = static_cast<int>(std::min<int64_t>(MR, n1 - n));
      tile_of<T, MR, NV>(tile, P, q, a0 ? a0 + n * lda : nullptr, lda, mr, pad);
      for (int i = 0; i < mr; ++i) epi(n + i, tile + i * L);
    }
  };
  switch (P.nv) {
    case 2: body(std::integral_constant<int, 12>{}, std::integral_constant<int, 2>{}); break;
    case 3: body(std::integral_constant<int, 8>{}, std::integral_constant<int, 3>{}); break;
    default: body(std::integral_constant<int, 6>{}, std::integral_constant<int, 4>{}); break;
  }
}

// ---- the stage runner ------------------------------------------------------------------------------
// Runs f(stage, item, thread) for stage in [0, stages), item in [0, items), every item of a stage after every
// item of the stage before has finished. thread < threads_for(...) indexes per-thread scratch.
inline int threads_for(int64_t items, double flops_per_stage) {
  if (flops_per_stage < kThreadMinFlops) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), items)));
}

template <class F>
void run_stages(int64_t stages, int64_t items, int nt, F&& f) {
  if (nt <= 1) {
    for (int64_t s = 0; s < stages; ++s)
      for (int64_t i = 0; i < items; ++i) f(s, i, 0);
    return;
  }
  struct Stages {
    F* f;
    int64_t items, total;
    std::atomic<int64_t> next{0}, done{0};
    // One team member (tid = its item of run_on_team): takes items in order until none are left.
    static void run(void* ctx, int64_t member) {
      Stages& st = *static_cast<Stages*>(ctx);
      const int tid = static_cast<int>(member);
      for (;;) {
        const int64_t k = st.next.fetch_add(1, std::memory_order_relaxed);
        if (k >= st.total) break;
        const int64_t s = k / st.items;
        // Items are taken in order, so every item this one waits for is already held by a running thread.
        for (int spins = 0; st.done.load(std::memory_order_acquire) < s * st.items; ++spins) {
          if (spins > 2000) std::this_thread::yield();
        }
        (*st.f)(s, k % st.items, tid);
        st.done.fetch_add(1, std::memory_order_release);
      }
    }
  } st{&f, items, stages * items};
  run_on_team(nt, nt - 1, &Stages::run, &st);
}

// ---- big GEMMs (fastann's own, csrc/cpu/gemm.cpp) ----------------------------------------------------
template <class T>
void mm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, bool ta, const T* b, int64_t ldb, bool tb, T* c,
        int64_t ldc, const T* bias = nullptr) {
  GemmArgs<T> g;
  g.m = m, g.n = n, g.k = k;
  g.a = a, g.lda = lda, g.trans_a = ta;
  g.b = b, g.ldb = ldb, g.trans_b = tb;
  g.c = c, g.ldc = ldc, g.beta = T(0), g.bias = bias;
  gemm(g, 0);
}

template <class T>
void column_sums(T* out, const T* m, int64_t rows, int64_t cols) {
  std::fill_n(out, cols, T(0));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c] += m[r * cols + c];
}

// ---- the cells' element-wise work on one row's units [u0, u0+uw) -----------------------------------
// Each array gets its own __restrict pointer (a gate's block of saved is one pointer), so the compiler
// vectorises the loops without run-time overlap checks. pre, pb: the micro-tile row and the packed
// recurrent bias, gate g at offset g*W. Forward formulas and saved layout as rnn_cells.hpp.
template <class T, int W>
void lstm_fwd(int64_t uw, const T* __restrict pre, const T* __restrict pb, T* __restrict si, T* __restrict sf,
              T* __restrict sg, T* __restrict so, T* __restrict sc, const T* __restrict cp, T* __restrict out) {
  for (int64_t j = 0; j < uw; ++j) {
    const T i = sigmoid3(si[j] + (pre[j] + pb[j]));
    const T f = sigmoid3(sf[j] + (pre[W + j] + pb[W + j]));
    const T g = vtanh(sg[j] + (pre[2 * W + j] + pb[2 * W + j]));
    const T o = sigmoid3(so[j] + (pre[3 * W + j] + pb[3 * W + j]));
    const T c = f * cp[j] + i * g;
    si[j] = i, sf[j] = f, sg[j] = g, so[j] = o, sc[j] = c;
    out[j] = o * vtanh(c);
  }
}

template <class T, int W>
void gru_fwd(int64_t uw, const T* __restrict pre, const T* __restrict pb, T* __restrict sr, T* __restrict sz,
             T* __restrict sn, T* __restrict shn, const T* __restrict hp, T* __restrict out) {
  for (int64_t j = 0; j < uw; ++j) {
    const T r = sigmoid3(sr[j] + (pre[j] + pb[j]));
    const T z = sigmoid3(sz[j] + (pre[W + j] + pb[W + j]));
    const T hn = pre[2 * W + j] + pb[2 * W + j];
    const T nn = vtanh(sn[j] + r * hn);
    sr[j] = r, sz[j] = z, sn[j] = nn, shn[j] = hn;
    out[j] = (T(1) - z) * nn + z * hp[j];
  }
}

// gru_rb, first stage: r and z, and r * h_prev for the n gate's product.
template <class T, int W>
void gru_rb_fwd_rz(int64_t uw, const T* __restrict pre, const T* __restrict pb, T* __restrict sr,
                   T* __restrict sz, const T* __restrict hp, T* __restrict rh) {
  for (int64_t j = 0; j < uw; ++j) {
    const T r = sigmoid3(sr[j] + (pre[j] + pb[j]));
    sr[j] = r;
    sz[j] = sigmoid3(sz[j] + (pre[W + j] + pb[W + j]));
    rh[j] = r * hp[j];
  }
}

// gru_rb, second stage: pre = (r * h_prev) W_hn^T of 4W units.
template <class T>
void gru_rb_fwd_n(int64_t uw, const T* __restrict pre, const T* __restrict pb, const T* __restrict sz,
                  T* __restrict sn, T* __restrict shn, const T* __restrict hp, T* __restrict out) {
  for (int64_t j = 0; j < uw; ++j) {
    const T hn = pre[j] + pb[j];
    const T nn = vtanh(sn[j] + hn);
    const T z = sz[j];
    sn[j] = nn, shn[j] = hn;
    out[j] = (T(1) - z) * nn + z * hp[j];
  }
}

template <class T>
void elman_fwd(int64_t uw, bool relu, const T* __restrict pre, const T* __restrict pb, T* __restrict sh,
               T* __restrict out) {
  if (relu) {
    for (int64_t j = 0; j < uw; ++j) out[j] = sh[j] = relu3(sh[j] + (pre[j] + pb[j]));
  } else {
    for (int64_t j = 0; j < uw; ++j) out[j] = sh[j] = vtanh(sh[j] + (pre[j] + pb[j]));
  }
}

// Backward: dh = acc + e + go (the recurrent product, the element-wise share carried from the later step,
// grad_output); e is replaced by this step's element-wise share of d h_prev (0, or dh * z for the GRU).
template <class T>
void elman_bwd(int64_t uw, bool relu, const T* __restrict acc, T* __restrict e, const T* __restrict go,
               const T* __restrict sh, T* __restrict dg) {
  for (int64_t j = 0; j < uw; ++j) {
    const T dh = acc[j] + e[j] + go[j];
    const T h = sh[j];
    dg[j] = relu ? (h > T(0) ? dh : T(0)) : dh * (T(1) - h * h);
    e[j] = T(0);
  }
}

template <class T>
void lstm_bwd(int64_t uw, int64_t H, const T* __restrict acc, T* __restrict e, const T* __restrict go,
              const T* __restrict sv, const T* __restrict cp, T* __restrict dc, T* __restrict dg) {
  const T* __restrict si = sv;
  const T* __restrict sf = sv + H;
  const T* __restrict sg = sv + 2 * H;
  const T* __restrict so = sv + 3 * H;
  const T* __restrict sc = sv + 4 * H;
  T* __restrict di = dg;
  T* __restrict df = dg + H;
  T* __restrict dgg = dg + 2 * H;
  T* __restrict d_o = dg + 3 * H;
  for (int64_t j = 0; j < uw; ++j) {
    const T dh = acc[j] + e[j] + go[j];
    const T i = si[j], f = sf[j], g = sg[j], o = so[j];
    const T tc = vtanh(sc[j]);
    const T dct = dc[j] + dh * o * (T(1) - tc * tc);
    di[j] = dct * g * i * (T(1) - i);
    df[j] = dct * cp[j] * f * (T(1) - f);
    dgg[j] = dct * i * (T(1) - g * g);
    d_o[j] = dh * tc * o * (T(1) - o);
    dc[j] = dct * f;
    e[j] = T(0);
  }
}

// GRU (both forms): dz and dn; with reset_after also dr and the recurrent side's n gradient dn * r (dgr).
template <class T>
void gru_bwd(int64_t uw, int64_t H, bool reset_after, const T* __restrict acc, T* __restrict e,
             const T* __restrict go, const T* __restrict sv, const T* __restrict hp, T* __restrict dg,
             T* __restrict dgr) {
  const T* __restrict sr = sv;
  const T* __restrict sz = sv + H;
  const T* __restrict sn = sv + 2 * H;
  const T* __restrict shn = sv + 3 * H;
  T* __restrict dr_ = dg;
  T* __restrict dz_ = dg + H;
  T* __restrict dn_ = dg + 2 * H;
  if (reset_after) {
    T* __restrict hr = dgr;
    T* __restrict hz = dgr + H;
    T* __restrict hnn = dgr + 2 * H;
    for (int64_t j = 0; j < uw; ++j) {
      const T dh = acc[j] + e[j] + go[j];
      const T r = sr[j], z = sz[j], nn = sn[j];
      const T dn = dh * (T(1) - z) * (T(1) - nn * nn);
      const T dz = dh * (hp[j] - nn) * z * (T(1) - z);
      const T dr = dn * shn[j] * r * (T(1) - r);
      dr_[j] = dr, dz_[j] = dz, dn_[j] = dn;
      hr[j] = dr, hz[j] = dz, hnn[j] = dn * r;
      e[j] = dh * z;
    }
  } else {
    for (int64_t j = 0; j < uw; ++j) {
      const T dh = acc[j] + e[j] + go[j];
      const T z = sz[j], nn = sn[j];
      dz_[j] = dh * (hp[j] - nn) * z * (T(1) - z);
      dn_[j] = dh * (T(1) - z) * (T(1) - nn * nn);
      e[j] = dh * z;
    }
  }
}

// gru_rb: dr and its share of d h_prev from drh = d loss / d (r * h_prev).
template <class T>
void gru_rb_bwd_r(int64_t uw, const T* __restrict drh, const T* __restrict sr, const T* __restrict hp,
                  T* __restrict dr, T* __restrict e) {
  for (int64_t j = 0; j < uw; ++j) {
    const T r = sr[j];
    dr[j] = drh[j] * hp[j] * r * (T(1) - r);
    e[j] += drh[j] * r;
  }
}

// ---- forward ---------------------------------------------------------------------------------------
// output (N,T,H), h_n (N,H), c_n (N,H) or nullptr, saved (N,T,S*H)
template <class T>
void forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a) {
  constexpr int W = K3<T>::W;
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = rnn_gates(a.cell);
  const int64_t GH = G * H, SH = rnn_saved(a.cell) * H;
  const bool rb = a.cell == RnnCell::gru_rb, elman = G == 1;
  const bool relu = a.cell == RnnCell::rnn_relu;
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // 1. the input projection of every (n, t) row into saved's gate columns
  mm<T>(N * T_, GH, F, a.input, F, false, a.weight_ih, F, true, saved, SH, a.bias_ih);
  // 2. W_hh packed once: gated cells interleave the gates of W units per panel (gru_rb: r and z; its n gate,
  // which multiplies r * h_prev, gets panels of its own); Elman panels hold 4W units.
  Panels<T> P1, P2;
  const int64_t ub = (H + W - 1) / W;  // W-unit blocks
  if (elman) {
    pack_rows(P1, 4, (H + 4 * W - 1) / (4 * W), a.weight_hh, a.bias_hh, H,
              [&](int64_t q, int64_t c) { return q * 4 * W + c < H ? q * 4 * W + c : -1; });
  } else {
    pack_rows(P1, rb ? 2 : G, ub, a.weight_hh, a.bias_hh, H, [&](int64_t q, int64_t c) -> int64_t {
      const int64_t gate = c / W, j = q * W + c % W;
      return j < H ? gate * H + j : -1;
    });
  }
  if (rb)
    pack_rows(P2, 4, (H + 4 * W - 1) / (4 * W), a.weight_hh, a.bias_hh, H,
              [&](int64_t q, int64_t c) { return q * 4 * W + c < H ? 2 * H + q * 4 * W + c : -1; });
  AlignedScratch<T> zeros(N * H), rh(rb ? N * H : 0);
  std::fill_n(zeros.data(), N * H, T(0));
  const int64_t chunks = (N + kChunkRows - 1) / kChunkRows;
  const int64_t items = chunks * std::max(P1.count, P2.count);
  const int nt = threads_for(items, 2.0 * double(N) * double(GH) * double(H) / (rb ? 2 : 1));
  AlignedScratch<T> pads(int64_t(nt) * 12 * H);
  const int64_t stages_per_step = rb ? 2 : 1;

  run_stages(T_ * stages_per_step, items, nt, [&](int64_t stage, int64_t item, int tid) {
    const int64_t s = stage / stages_per_step;
    const bool second = rb && stage % 2 == 1;
    const Panels<T>& P = second ? P2 : P1;
    const int64_t q = item % std::max(P1.count, P2.count), chunk = item / std::max(P1.count, P2.count);
    if (q >= P.count) return;
    const int64_t n0 = chunk * kChunkRows, n1 = std::min(N, n0 + kChunkRows);
    const int64_t t = tx(s);
    // h_prev of row n at hp + n * ldh
    const T* hp = s == 0 ? (a.h0 ? a.h0 : zeros.data()) : output + (s - 1) * H;
    const int64_t ldh = s == 0 ? H : T_ * H;
    const UnitRange ur = units_of(P, q, !elman && !second, H);
    const int64_t u0 = ur.u0, uw = ur.uw;
    const T* pb = P.bias.data() + q * P.lanes();
    T* pad = pads.data() + int64_t(tid) * 12 * H;
    const T* A = second ? rh.data() : hp;
    const int64_t lda = second ? H : ldh;
    run_item(P, q, n0, n1, A, lda, pad, [&](int64_t n, const T* pre) {
      T* sv = saved + (n * T_ + t) * SH + u0;
      T* out = output + (n * T_ + s) * H + u0;
      const T* hpn = hp + n * ldh + u0;
      if (elman) {
        elman_fwd<T>(uw, relu, pre, pb, sv, out);
      } else if (a.cell == RnnCell::lstm) {
        const T* cp = s == 0 ? (a.c0 ? a.c0 + n * H : zeros.data()) + u0
                             : saved + (n * T_ + tx(s - 1)) * SH + 4 * H + u0;
        lstm_fwd<T, W>(uw, pre, pb, sv, sv + H, sv + 2 * H, sv + 3 * H, sv + 4 * H, cp, out);
      } else if (!rb) {
        gru_fwd<T, W>(uw, pre, pb, sv, sv + H, sv + 2 * H, sv + 3 * H, hpn, out);
      } else if (!second) {
        gru_rb_fwd_rz<T, W>(uw, pre, pb, sv, sv + H, hpn, rh.data() + n * H + u0);
      } else {
        gru_rb_fwd_n<T>(uw, pre, pb, sv + H, sv + 2 * H, sv + 3 * H, hpn, out);
      }
    });
  });
  const int64_t t_last = tx(T_ - 1);
  for (int64_t n = 0; n < N; ++n) {
    std::copy_n(output + (n * T_ + T_ - 1) * H, H, h_n + n * H);
    if (c_n) std::copy_n(saved + (n * T_ + t_last) * SH + 4 * H, H, c_n + n * H);
  }
}

// ---- backward --------------------------------------------------------------------------------------
template <class T>
void backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih, T* dbias_hh,
              const T* grad_output, const T* grad_h_n, const T* grad_c_n, const T* output, const T* saved,
              const RnnArgs<T>& a) {
  const int64_t N = a.n, T_ = a.t, F = a.f, H = a.h;
  const int G = rnn_gates(a.cell);
  const int64_t GH = G * H, SH = rnn_saved(a.cell) * H, NT = N * T_;
  const bool rb = a.cell == RnnCell::gru_rb, lstm = a.cell == RnnCell::lstm, gru = a.cell == RnnCell::gru;
  const bool relu = a.cell == RnnCell::rnn_relu;
  auto tx = [&](int64_t s) { return a.go_backwards ? T_ - 1 - s : s; };
  // dgx (N,T,GH): the gates' pre-activation gradients by input time; dgh the recurrent side's (gru only)
  AlignedScratch<T> dgx(NT * GH), dgh_buf(gru ? NT * GH : 0);
  T* dgh = gru ? dgh_buf.data() : dgx.data();
  // xh (N,T,F+H): row (n,t) = [input[n,t] | the h_prev of the step that read input time t] (zeros for a
  // missing h0), so that [dW_ih | dW_hh]^T = xh^T dG is one GEMM after the loop.
  const int64_t FH = F + H;
  AlignedScratch<T> xh(NT * FH);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < T_; ++s) {
      T* dst = xh.data() + (n * T_ + tx(s)) * FH;
      std::copy_n(a.input + (n * T_ + tx(s)) * F, F, dst);
      dst += F;
      if (s > 0) std::copy_n(output + (n * T_ + s - 1) * H, H, dst);
      else if (a.h0) std::copy_n(a.h0 + n * H, H, dst);
      else std::fill_n(dst, H, T(0));
    }
  const T* hprev = xh.data() + F;  // row (n,t) at hprev + (n*T + t) * FH
  // e (N,H): the element-wise share of d h_prev carried to the next (earlier) step's dh, starting as
  // grad_h_n; dc (N,H): the LSTM's d c, starting as grad_c_n.
  AlignedScratch<T> e(N * H), dc(lstm ? N * H : 0), zeros(H);
  std::fill_n(zeros.data(), H, T(0));
  for (int64_t i = 0; i < N * H; ++i) e.data()[i] = grad_h_n ? grad_h_n[i] : T(0);
  for (int64_t i = 0; i < (lstm ? N * H : 0); ++i) dc.data()[i] = grad_c_n ? grad_c_n[i] : T(0);
  // W_hh packed by columns (units): PB for dh_prev = dG W_hh (gru_rb: the r and z rows), PA for gru_rb's
  // d(r * h_prev) = dn W_hn.
  Panels<T> PA, PB;
  pack_cols(PB, a.weight_hh, H, 0, rb ? 2 * H : GH);
  if (rb) pack_cols(PA, a.weight_hh, H, 2 * H, H);
  const int64_t chunks = (N + kChunkRows - 1) / kChunkRows;
  const int64_t items = chunks * PB.count;
  const int nt = threads_for(items, 2.0 * double(N) * double(GH) * double(H) / (rb ? 2 : 1));
  AlignedScratch<T> pads(int64_t(nt) * 12 * GH);

  // The cell's element-wise backward at step s for row n, units [u0, u0+uw), given the recurrent part of
  // dh (acc, from the GEMM of step s+1; zeros at the last step). s = -1: dh0.
  auto cell_backward = [&](int64_t s, int64_t n, int64_t u0, int64_t uw, const T* acc) {
    T* en = e.data() + n * H + u0;
    if (s < 0) {
      T* d0 = dh0 + n * H + u0;
      for (int64_t j = 0; j < uw; ++j) d0[j] = acc[j] + en[j];
      return;
    }
    const int64_t t = tx(s);
    const T* go = grad_output ? grad_output + (n * T_ + s) * H + u0 : zeros.data();
    const T* sv = saved + (n * T_ + t) * SH + u0;
    T* dg = dgx.data() + (n * T_ + t) * GH + u0;
    if (a.cell == RnnCell::rnn_tanh || relu) {
      elman_bwd<T>(uw, relu, acc, en, go, sv, dg);
    } else if (lstm) {
      const T* cp = s == 0 ? (a.c0 ? a.c0 + n * H + u0 : zeros.data())
                           : saved + (n * T_ + tx(s - 1)) * SH + 4 * H + u0;
      lstm_bwd<T>(uw, H, acc, en, go, sv, cp, dc.data() + n * H + u0, dg);
    } else {
      gru_bwd<T>(uw, H, gru, acc, en, go, sv, hprev + (n * T_ + t) * FH + u0, dg,
                 dgh + (n * T_ + t) * GH + u0);
    }
  };
  // gru_rb at step s: dr and its share of d h_prev from drh = d loss / d (r * h_prev) (acc).
  auto reset_backward = [&](int64_t s, int64_t n, int64_t u0, int64_t uw, const T* drh) {
    const int64_t t = tx(s);
    gru_rb_bwd_r<T>(uw, drh, saved + (n * T_ + t) * SH + u0, hprev + (n * T_ + t) * FH + u0,
                    dgx.data() + (n * T_ + t) * GH + u0, e.data() + n * H + u0);
  };

  // Stages: 0 runs the element-wise backward of the last step (no product); then per step s = T-1 .. 0 the
  // product with dG_s gives dh_{s-1} and, in its epilogue, the backward of step s-1 (or dh0). gru_rb has two
  // stages per step: first dn W_hn (-> dr), then [dr dz] W_hr,hz.
  const int64_t per_step = rb ? 2 : 1;
  run_stages(1 + per_step * T_, items, nt, [&](int64_t stage, int64_t item, int tid) {
    const int64_t q = item % PB.count, chunk = item / PB.count;
    const int64_t n0 = chunk * kChunkRows, n1 = std::min(N, n0 + kChunkRows);
    const int64_t L = PB.lanes();
    const int64_t u0 = q * L, uw = std::min(L, H - u0);
    T* pad = pads.data() + int64_t(tid) * 12 * GH;
    if (stage == 0) {
      for (int64_t n = n0; n < n1; ++n) cell_backward(T_ - 1, n, u0, uw, zeros.data());
      return;
    }
    const int64_t s = T_ - 1 - (stage - 1) / per_step;
    const bool reset_stage = rb && (stage - 1) % 2 == 0;
    const int64_t t = tx(s);
    if (reset_stage) {
      if (q >= PA.count) return;
      run_item(PA, q, n0, n1, dgx.data() + t * GH + 2 * H, T_ * GH, pad,
               [&](int64_t n, const T* acc) { reset_backward(s, n, u0, uw, acc); });
    } else {
      run_item(PB, q, n0, n1, dgh + t * GH, T_ * GH, pad,
               [&](int64_t n, const T* acc) { cell_backward(s - 1, n, u0, uw, acc); });
    }
  });
  if (dc0) std::copy_n(dc.data(), N * H, dc0);
  // the weight, bias and input gradients over all N*T rows at once. The weight gradients are formed
  // transposed, [dW_ih | dW_hh]^T = xh^T dG (F+H, G*H): a wide GEMM (G*H columns) instead of a narrow one
  // (F = 28 columns for dW_ih), then transposed into place.
  if (dinput) mm<T>(NT, F, GH, dgx.data(), GH, false, a.weight_ih, F, false, dinput, F);
  AlignedScratch<T> wt(FH * GH);
  if (!gru && !rb) {
    mm<T>(FH, GH, NT, xh.data(), FH, true, dgx.data(), GH, false, wt.data(), GH);
  } else {
    mm<T>(F, GH, NT, xh.data(), FH, true, dgx.data(), GH, false, wt.data(), GH);
    if (gru) {
      mm<T>(H, GH, NT, hprev, FH, true, dgh, GH, false, wt.data() + F * GH, GH);
    } else {
      // gru_rb: the n rows of W_hh multiply r * h_prev
      AlignedScratch<T> rh(NT * H);
      for (int64_t r = 0; r < NT; ++r)
        for (int64_t j = 0; j < H; ++j) rh.data()[r * H + j] = saved[r * SH + j] * hprev[r * FH + j];
      mm<T>(H, 2 * H, NT, hprev, FH, true, dgx.data(), GH, false, wt.data() + F * GH, GH);
      mm<T>(H, H, NT, rh.data(), H, true, dgx.data() + 2 * H, GH, false, wt.data() + F * GH + 2 * H, GH);
    }
  }
  for (int64_t g = 0; g < GH; ++g) {
    for (int64_t f = 0; f < F; ++f) dweight_ih[g * F + f] = wt.data()[f * GH + g];
    for (int64_t j = 0; j < H; ++j) dweight_hh[g * H + j] = wt.data()[(F + j) * GH + g];
  }
  // the biases: one column sum each (the same one where the recurrent side sees the input side's dG)
  if (dbias_ih) column_sums(dbias_ih, dgx.data(), NT, GH);
  if (dbias_hh) {
    if (gru || !dbias_ih) column_sums(dbias_hh, dgh, NT, GH);
    else std::copy_n(dbias_ih, GH, dbias_hh);
  }
}

}  // namespace

// ---- entry points ----------------------------------------------------------------------------------
#define FASTANN_RNN3_DEFINE(T)                                                                              \
  void rnn_rung3_fused_forward(T* output, T* h_n, T* c_n, T* saved, const RnnArgs<T>& a) {                \
    forward<T>(output, h_n, c_n, saved, a);                                                                 \
  }                                                                                                         \
  void rnn_rung3_fused_backward(T* dinput, T* dh0, T* dc0, T* dweight_ih, T* dweight_hh, T* dbias_ih,       \
                                T* dbias_hh, const T* grad_output, const T* grad_h_n, const T* grad_c_n,    \
                                const T* output, const T* saved, const RnnArgs<T>& a) {                     \
    backward<T>(dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output, grad_h_n,        \
                grad_c_n, output, saved, a);                                                                \
  }
FASTANN_RNN3_DEFINE(float)
FASTANN_RNN3_DEFINE(double)
#undef FASTANN_RNN3_DEFINE

}  // namespace fastann::cpu::FASTANN_ISA
