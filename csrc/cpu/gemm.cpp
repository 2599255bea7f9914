// gemm.cpp: the GEMM ladder (rungs 1-4, see fastann/cpu/gemm.hpp) and the linear layer built on the GEMM.
// Compiled without ISA flags; rungs 3 and 4 run the packed driver of the ISA fastann::simd_level() names
// (gemm_scalar.cpp, gemm_avx2.cpp, gemm_avx512.cpp; csrc/cpu/README.md).
//
// Math: C = alpha*op(A)*op(B) + beta*C as in the BLAS xGEMM (Dongarra et al. 1990, "A set of level 3
// BLAS"); as there, beta == 0 means C is write-only (never read, so NaN in it does not leak through).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fastann/common.hpp"
#include "fastann/cpu/cpu_info.hpp"
#include "fastann/cpu/gemm.hpp"
#include "gemm_isa.hpp"
#include "internal/tile_team.hpp"
#include "internal/simd_dispatch.hpp"

namespace fastann::cpu {

// ---- helpers -------------------------------------------------------------------------------------
namespace {

// op(A)(i,p) and op(B)(p,j) read through the stored layout (used by the simple rungs).
template <class T>
inline T op_a(const GemmArgs<T>& g, int64_t i, int64_t p) {
  return g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
}
template <class T>
inline T op_b(const GemmArgs<T>& g, int64_t p, int64_t j) {
  return g.trans_b ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
}

// relu that keeps NaN: NaN < 0 is false, so NaN passes through (max-style idioms would drop it).
template <class T>
inline T relu_keep_nan(T x) { return x < T(0) ? T(0) : x; }

// The epilogue on an already computed value: v (= alpha*acc + beta*c) -> act(v + bias[j]).
template <class T>
inline T epilogue(const GemmArgs<T>& g, T v, int64_t j) {
  if (g.bias) v += g.bias[j];
  return g.relu ? relu_keep_nan(v) : v;
}

// K == 0: op(A)*op(B) is the zero matrix, so C = act(beta*C + bias) (C not read when beta == 0).
template <class T>
void scale_only(const GemmArgs<T>& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    T* c = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) c[j] = epilogue(g, g.beta == T(0) ? T(0) : g.beta * c[j], j);
  }
}

// Handles the cases with nothing to multiply; returns true when the caller has nothing left to do.
template <class T>
bool trivial(const GemmArgs<T>& g) {
  if (g.m <= 0 || g.n <= 0) return true;
  if (g.k <= 0) {
    scale_only(g);
    return true;
  }
  return false;
}

// The sub-problem computing the C tile rows [i0, i0+m), columns [j0, j0+n).
template <class T>
GemmArgs<T> tile(const GemmArgs<T>& g, int64_t i0, int64_t m, int64_t j0, int64_t n) {
  GemmArgs<T> t = g;
  t.m = m;
  t.n = n;
  t.a = g.trans_a ? g.a + i0 : g.a + i0 * g.lda;
  t.b = g.trans_b ? g.b + j0 * g.ldb : g.b + j0;
  t.c = g.c + i0 * g.ldc + j0;
  t.bias = g.bias ? g.bias + j0 : nullptr;
  return t;
}

template <class T>
GemmKernelShape kernel_shape_in_use() {
  FASTANN_SIMD_DISPATCH(kernel_shape(T{}));
}

int64_t round_down(int64_t x, int64_t m) { return std::max<int64_t>(m, x / m * m); }

// ---- cache blocking from the cache sizes ----------------------------------------------------------
//
// The loop nest (gemm_packed.hpp) and what each block must fit, following the analytical model of BLIS
// (Low, Igual, Smith, Quintana-Orti 2016, "Analytical modeling is enough for high-performance BLIS") with
// one level shifted: the micro-tile is 6 x 64 fp32, four times BLIS's usual NR, so the KC x NR B micro-panel
// that BLIS keeps in L1 is 256 KiB here and lives in the L2, and the micro-kernel streams both its panels
// from the L2 (per step p: 256 bytes of B and 24 of A for 24 FMAs, within an L2's 32-64 bytes per cycle).
//   KC: as long as the B micro-panel (KC x NR) fits a quarter of the L2, capped at the path's kc_max. Every
//       K block re-reads and re-writes all of C, so a long KC is what matters most (docs/gemm.md).
//   MC: the A block (MC x KC) in another quarter of the L2, a multiple of MR. The other half holds the next
//       B micro-panel as it streams in, the C tiles and the packing reads.
//   NC: the B panel (KC x NC) in an eighth of the (shared) L3, a share that survives the other cores'
//       traffic, and at most 4 MiB (a Zen 4/5 core's share of its CCD's L3; on Zen 5 a 16 MiB panel lost a
//       few percent to a 4 MiB one); a multiple of NR. No L3: half the L2.
// Measured configurations per microarchitecture override the derived one (kTable).
struct TableEntry {
  const char* vendor;
  int family;
  const char* name;
  SimdLevel simd;
  int elem_size;
  int64_t kc, mc, nc;
};
// Zen 5 (family 0x1A): the configuration tuned there (docs/gemm.md, Measured: MC = 72 and NC = 1024 at
// n = 1024-2048 on one core, thread CPU time); it keeps that configuration.
constexpr TableEntry kTable[] = {
    {"AuthenticAMD", 0x1A, "AMD Zen 5", SimdLevel::avx512, 4, 1024, 72, 1024},
    {"AuthenticAMD", 0x1A, "AMD Zen 5", SimdLevel::avx512, 8, 512, 72, 1024},
};

// FASTANN_GEMM_BLOCKING="KC,MC,NC" (positive integers; MC is rounded down to a multiple of MR, NC of NR).
bool blocking_from_env(GemmBlocking* b) {
  const char* env = std::getenv("FASTANN_GEMM_BLOCKING");
  if (!env || !*env) return false;
  long long kc = 0, mc = 0, nc = 0;
  char extra = 0;
  FASTANN_CHECK(std::sscanf(env, "%lld,%lld,%lld%c", &kc, &mc, &nc, &extra) == 3 && kc > 0 && mc > 0 && nc > 0,
                "FASTANN_GEMM_BLOCKING must be three positive integers \"KC,MC,NC\", got \"", env, "\"");
  b->kc = kc;
  b->mc = round_down(mc, b->mr);
  b->nc = round_down(nc, b->nr);
  b->rule = "FASTANN_GEMM_BLOCKING";
  return true;
}

template <class T>
GemmBlocking derive_blocking() {
  const CpuInfo& cpu = cpu_info();
  const GemmKernelShape shape = kernel_shape_in_use<T>();
  GemmBlocking b;
  b.mr = shape.mr;
  b.nr = shape.nr;
  if (blocking_from_env(&b)) return b;
  const int64_t size = sizeof(T), l2 = cpu.l2_bytes;
  b.kc = std::min<int64_t>(shape.kc_max, round_down(l2 / 4 / (shape.nr * size), 16));
  b.mc = round_down(l2 / 4 / (b.kc * size), shape.mr);
  const int64_t panel_bytes = cpu.l3_bytes > 0 ? std::min<int64_t>(cpu.l3_bytes / 8, int64_t(4) << 20) : l2 / 2;
  b.nc = round_down(panel_bytes / (b.kc * size), shape.nr);
  b.rule = "derived from the caches";
  for (const TableEntry& e : kTable) {
    if (cpu.vendor == e.vendor && cpu.family == e.family && simd_level() == e.simd && e.elem_size == int(size)) {
      b.kc = e.kc;
      b.mc = e.mc;
      b.nc = e.nc;
      b.rule = std::string("table: ") + e.name;
    }
  }
  return b;
}

// Below this many multiply-adds a GEMM stays on one thread: handing tiles to a helper thread costs a few
// microseconds (tens when it has gone to sleep), about what ~2M multiply-adds take on one core.
constexpr double kThreadMinMacs = 2.0e6;
// rung=None runs the naive loop up to this many multiply-adds (measured: it wins up to about 8x8x8).
constexpr double kNaiveMaxMacs = 512;
// From this many multiply-adds on, rung 4 wants at least 2 tiles per thread: if another process slows one
// core, the other thread takes over the remaining tiles (costs < 1% more packing at this size).
constexpr double kRobustMinMacs = 1.0e8;

// Busy-core back-off of rung 4 (see gemm_kernel4_packed_simd_threaded).
constexpr int64_t kBackoffNs = 50'000'000;  // 50 ms
constexpr int64_t kLateNs = 1'000'000;      // 1 ms
std::atomic<int64_t> g_single_thread_until_ns{0};
// Counts behind gemm_thread_stats().
std::atomic<int64_t> g_threaded_calls{0}, g_late_calls{0}, g_waited_calls{0}, g_backed_off_calls{0};
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The C tile size for rung 4: among grids of tm x tn tiles (sides rounded up to whole micro-tiles), the
// one with the least predicted time. Model, in cycles: the micro-kernel at `macs_per_cycle` multiply-adds
// on the padded tile (rows and columns rounded up to mr / nr), plus packing at ~1/4 cycle per packed value
// ((rows + cols) * k / 4); tiles go, in loop order, to the thread that frees up first.
struct TilePlan {
  int64_t tile_m, tile_n;
};
// contended: a helper was recently late (see the back-off below); then large products are cut into many
// more tiles (8 per thread), so the share a slowed helper holds at the end is small.
TilePlan plan_tiles(int64_t m, int64_t n, int64_t k, int mr, int nr, int nt, double macs_per_cycle,
                    bool contended) {
  const int64_t m_units = (m + mr - 1) / mr, n_units = (n + nr - 1) / nr;
  const int64_t min_tiles =
      double(m) * double(n) * double(k) >= kRobustMinMacs ? (contended ? 8 * nt : 2 * nt) : 1;
  const int64_t max_split = 4 * nt;
  const int64_t max_tiles = std::max(2 * max_split, min_tiles);
  TilePlan best{m_units * mr, n_units * nr};
  double best_time = 1e300;
  for (int64_t tm = 1; tm <= std::min(m_units, max_split); ++tm) {
    for (int64_t tn = 1; tn <= std::min(n_units, max_split); ++tn) {
      const int64_t tile_m = (m_units + tm - 1) / tm * mr, tile_n = (n_units + tn - 1) / tn * nr;
      const int64_t grid_m = (m + tile_m - 1) / tile_m, grid_n = (n + tile_n - 1) / tile_n;
      if (grid_m * grid_n < min_tiles || grid_m * grid_n > max_tiles) continue;
      // Greedy dynamic schedule: each tile (in loop order) goes to the least-loaded thread.
      double load[64] = {0};
      const int threads = std::min(nt, 64);
      for (int64_t t = 0; t < grid_m * grid_n; ++t) {
        const int64_t rows = std::min(tile_m, m - (t / grid_n) * tile_m);
        const int64_t cols = std::min(tile_n, n - (t % grid_n) * tile_n);
        const double rows_padded = double((rows + mr - 1) / mr * mr), cols_padded = double((cols + nr - 1) / nr * nr);
        const double cost = rows_padded * cols_padded * double(k) / macs_per_cycle + double(rows + cols) * double(k) / 4;
        int least = 0;
        for (int th = 1; th < threads; ++th)
          if (load[th] < load[least]) least = th;
        load[least] += cost;
      }
      const double makespan = *std::max_element(load, load + threads);
      if (makespan < best_time * 0.999) {
        best_time = makespan;
        best = {tile_m, tile_n};
      }
    }
  }
  return best;
}

}  // namespace

// ---- kernels -------------------------------------------------------------------------------------

// Rung 1: one dot product per element of C.  a op(A) (M,K), b op(B) (K,N), c (M,N)
template <class T>
void gemm_kernel1_naive(const GemmArgs<T>& g) {
  if (trivial(g)) return;
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      T sum = 0;
      for (int64_t p = 0; p < g.k; ++p) sum += op_a(g, i, p) * op_b(g, p, j);
      T* c = g.c + i * g.ldc + j;
      *c = epilogue(g, g.beta == T(0) ? g.alpha * sum : g.alpha * sum + g.beta * *c, j);
    }
  }
}

// Rung 2: the same arithmetic over MB x KB x NB blocks, i-p-j order inside a block: a row of C (NB values)
// and a row of op(B) stay in L1 while one value of op(A) is scaled into it, so the inner loop is a
// unit-stride axpy the compiler vectorises (when B is not transposed).  a op(A) (M,K), b op(B) (K,N), c (M,N)
template <class T>
void gemm_kernel2_blocked(const GemmArgs<T>& g) {
  if (trivial(g)) return;
  constexpr int64_t MB = 64, KB = 256, NB = 512;
  // C = beta*C first (C not read when beta == 0), then C += alpha*op(A)*op(B) block by block.
  for (int64_t i = 0; i < g.m; ++i) {
    T* c = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) c[j] = g.beta == T(0) ? T(0) : g.beta * c[j];
  }
  for (int64_t jb = 0; jb < g.n; jb += NB) {
    const int64_t je = std::min(g.n, jb + NB);
    for (int64_t pb = 0; pb < g.k; pb += KB) {
      const int64_t pe = std::min(g.k, pb + KB);
      for (int64_t ib = 0; ib < g.m; ib += MB) {
        const int64_t ie = std::min(g.m, ib + MB);
        for (int64_t i = ib; i < ie; ++i) {
          T* __restrict c = g.c + i * g.ldc;
          for (int64_t p = pb; p < pe; ++p) {
            const T a = g.alpha * op_a(g, i, p);
            if (!g.trans_b) {
              const T* __restrict b = g.b + p * g.ldb;
              for (int64_t j = jb; j < je; ++j) c[j] += a * b[j];
            } else {
              for (int64_t j = jb; j < je; ++j) c[j] += a * g.b[j * g.ldb + p];
            }
          }
        }
      }
    }
  }
  if (g.bias || g.relu) {
    for (int64_t i = 0; i < g.m; ++i) {
      T* c = g.c + i * g.ldc;
      for (int64_t j = 0; j < g.n; ++j) c[j] = epilogue(g, c[j], j);
    }
  }
}

template <class T>
const GemmBlocking& gemm_blocking() {
  static const GemmBlocking b = derive_blocking<T>();
  return b;
}

// Rung 3: packed panels + register-blocked SIMD micro-kernel, one thread (gemm_packed.hpp).
template <class T>
void gemm_kernel3_packed_simd(const GemmArgs<T>& g) {
  if (trivial(g)) return;
  const GemmBlocking& b = gemm_blocking<T>();
  FASTANN_SIMD_DISPATCH(gemm_packed(g, b));
}

// Rung 4: rung 3 on threads. C is cut into a grid of tiles whose sides are whole micro-tiles, and each
// thread runs rung 3 on the tiles it takes, packing their A rows and B columns itself: no barrier inside
// the call. The grid is the one with the shortest predicted makespan (see plan_tiles); tiles go out
// dynamically through a TileTeam (internal/tile_team.hpp), whose caller never waits for a helper that has not
// started: a thread slowed by another process on its core takes fewer tiles, one that never runs takes none.
template <class T>
void gemm_kernel4_packed_simd_threaded(const GemmArgs<T>& g) {
  if (trivial(g)) return;
  const double macs = double(g.m) * double(g.n) * double(g.k);
  int nt = num_threads();
  if (in_parallel_region()) nt = 1;  // called from a kernel's parallel work: its threads already hold the cores
  if (nt <= 1 || macs < kThreadMinMacs) {
    gemm_kernel3_packed_simd(g);
    return;
  }
  const GemmBlocking& blk = gemm_blocking<T>();
  const int mr = blk.mr, nr = blk.nr;
  // Two FMA pipes x vector lanes: 32 fp32 multiply-adds per cycle with AVX-512, 16 with AVX2.
  const int lanes = simd_level() == SimdLevel::avx512 ? 64 / int(sizeof(T))
                    : simd_level() == SimdLevel::avx2 ? 32 / int(sizeof(T)) : 2;
  // Busy-core guard: while a recent call found a helper thread late, mid-sized products stay on one thread
  // and large ones are cut finer.
  const int64_t fork_ns = now_ns();
  const bool contended = fork_ns < g_single_thread_until_ns.load(std::memory_order_relaxed);
  if (contended && macs < kRobustMinMacs) {
    g_backed_off_calls.fetch_add(1, std::memory_order_relaxed);
    gemm_kernel3_packed_simd(g);
    return;
  }
  const TilePlan plan = plan_tiles(g.m, g.n, g.k, mr, nr, nt, 2.0 * lanes, contended);
  const int64_t tile_m = plan.tile_m, tile_n = plan.tile_n;
  const int64_t grid_m = (g.m + tile_m - 1) / tile_m, grid_n = (g.n + tile_n - 1) / tile_n;
  const int64_t tiles = grid_m * grid_n;
  const int threads = static_cast<int>(std::min<int64_t>(nt, tiles));
  if (threads <= 1) {
    gemm_kernel3_packed_simd(g);
    return;
  }
  g_threaded_calls.fetch_add(1, std::memory_order_relaxed);
  struct Tiles {
    const GemmArgs<T>* g;
    int64_t tile_m, tile_n, grid_n;
    static void run(void* ctx, int64_t t) {
      const Tiles& s = *static_cast<const Tiles*>(ctx);
      const int64_t i0 = (t / s.grid_n) * s.tile_m, j0 = (t % s.grid_n) * s.tile_n;
      const int64_t rows = std::min(s.tile_m, s.g->m - i0), cols = std::min(s.tile_n, s.g->n - j0);
      gemm_kernel3_packed_simd(tile(*s.g, i0, rows, j0, cols));
    }
  } work{&g, tile_m, tile_n, grid_n};
  const TileTeam::Report report = TileTeam::instance().run(tiles, threads - 1, &Tiles::run, &work);
  // A helper that joined more than kLateNs after the post, or never during a call that long, was not running:
  // another process holds its core. (A sleeping helper on an idle core wakes within tens of microseconds;
  // 1 ms leaves room for a slow virtual-machine wake-up, while a helper descheduled for another process
  // misses a whole slice, several ms.) That alone costs the call little: it never waits for a helper that has
  // not started, and does the tiles itself. What costs is a helper descheduled while it holds a tile: when
  // the caller waited more than kLateNs for one, for the next kBackoffNs mid-sized products run on one thread
  // and large ones are cut into finer tiles; then threads are tried again.
  const int64_t elapsed_ns = now_ns() - fork_ns;
  if (report.first_join_ns > kLateNs || (report.first_join_ns < 0 && elapsed_ns > kLateNs))
    g_late_calls.fetch_add(1, std::memory_order_relaxed);
  if (report.wait_ns > kLateNs) {
    g_waited_calls.fetch_add(1, std::memory_order_relaxed);
    g_single_thread_until_ns.store(now_ns() + kBackoffNs, std::memory_order_relaxed);
  }
}

GemmThreadStats gemm_thread_stats() {
  GemmThreadStats s;
  s.threaded = g_threaded_calls.load(std::memory_order_relaxed);
  s.late = g_late_calls.load(std::memory_order_relaxed);
  s.waited = g_waited_calls.load(std::memory_order_relaxed);
  s.backed_off = g_backed_off_calls.load(std::memory_order_relaxed);
  return s;
}

// ---- the linear layer ----------------------------------------------------------------------------
namespace {

// The backward's pass before its GEMMs (gemm_packed.hpp): relu mask and/or bias gradient, vectorized for
// the ISA in use.
template <class T>
void linear_grad_prologue(T* dz, T* dbias, const T* grad_output, const T* output, int64_t n, int64_t out_features) {
  FASTANN_SIMD_DISPATCH(linear_grad_prologue(dz, dbias, grad_output, output, n, out_features));
}

// A linear layer with at most this many outputs runs its forward (kLinearNarrowMaxOut) or backward
// (kLinearNarrowMaxOutBackward) as dot products and row updates (gemm_packed.hpp, linear_*_narrow), where the
// packed GEMM would compute a whole 6 x 64 micro-tile for a few columns or rows of it. A Dense(1) head of 6272
// features, batch 128, one thread: forward 272 -> 46 us, backward 254 -> 191 us; 4 outputs: forward 274 ->
// 171 us (2 threads: 272 -> 91, the GEMM kept such a product on one thread), but with 2 outputs the backward
// was slower than the GEMM's (318 vs 265 us). docs/gemm.md.
constexpr int64_t kLinearNarrowMaxOut = 4;
constexpr int64_t kLinearNarrowMaxOutBackward = 1;

template <class T>
void linear_forward_narrow(T* y, const T* x, const T* w, const T* bias, int64_t n, int64_t in, int64_t out,
                           bool relu) {
  FASTANN_SIMD_DISPATCH(linear_forward_narrow(y, x, w, bias, n, in, out, relu));
}

template <class T>
void linear_backward_narrow(T* dinput, T* dweight, const T* dz, const T* x, const T* w, int64_t n, int64_t in,
                            int64_t out) {
  FASTANN_SIMD_DISPATCH(linear_backward_narrow(dinput, dweight, dz, x, w, n, in, out));
}

template <class T>
void linear_store_transposed(T* out, const T* yt, const T* bias, int64_t n, int64_t out_features, bool relu) {
  FASTANN_SIMD_DISPATCH(linear_store_transposed(out, yt, bias, n, out_features, relu));
}

// Whether the forward y (N,OUT) = input (N,IN) * weight^T runs faster as y^T (OUT,N) = weight * input^T
// followed by a transposing store (linear_store_transposed). The micro-kernel pads the rows of C to MR and
// the last column panel to col_step, and the packing copies op(B) (the weight in the first form, the input
// in the second) and op(A) unless it is read in place (a narrow C, see gemm_packed.hpp): with N = 128 and
// OUT = 300 the second form pads nothing (300 = 50 x 6, 128 = 2 x 64) and packs 128 x IN values instead of
// 300 x IN. Model, in cycles: the padded multiply-adds at 2 x vector-width per cycle plus 1/4 cycle per
// packed value (as plan_tiles) and per transposed value (2 when the output does not fit the L2).
// The second form is taken only when every element is computed by the same operations in the same order
// (a product is commutative, the K blocks are the same, the epilogue is applied by the store): neither
// form may have a last column panel narrow enough for the micro-kernel to split its accumulators
// (split_max_cols), so the result bits never depend on the choice.
template <class T>
bool forward_transposed_pays(int64_t n, int64_t in_features, int64_t out_features) {
  const GemmKernelShape s = kernel_shape_in_use<T>();
  auto split = [&](int64_t cols) {
    const int64_t r = cols % s.nr;
    return r != 0 && r <= s.split_max_cols;
  };
  if (split(n) || split(out_features)) return false;
  const double k = double(in_features);
  const double lanes = 2.0 * (simd_level() == SimdLevel::avx512 ? 64 / int(sizeof(T))
                              : simd_level() == SimdLevel::avx2 ? 32 / int(sizeof(T)) : 2);
  // The transposing store: 1/4 cycle per value while y fits the L2; beyond it the scattered rows go to memory,
  // measured ~2 cycles per value (128 x 6272 float32: 0.6 ms, which made the plain form faster, 1.76 vs 2.1 ms).
  const double store_cycles =
      double(n) * double(out_features) * double(sizeof(T)) > double(cpu_info().l2_bytes) ? 2.0 : 0.25;
  auto cost = [&](int64_t rows, int64_t cols, bool store) {
    const double padded = double((rows + s.mr - 1) / s.mr * s.mr) *
                          double((cols + s.col_step - 1) / s.col_step * s.col_step);
    // gemm_packed.hpp, kDirectAMaxPanels: the AVX-512 kernel reads a row-major A in place for a narrow C
    const bool direct_a = simd_level() == SimdLevel::avx512 && cols <= 5 * s.nr;
    const double packed = double(cols) * k + (direct_a ? 0.0 : double(rows) * k);
    return padded * k / lanes + packed / 4 + (store ? double(rows) * double(cols) * store_cycles : 0.0);
  };
  return cost(out_features, n, true) < cost(n, out_features, false);
}

}  // namespace

// out (N,OUT), input (N,IN), weight (OUT,IN), bias (OUT,) or nullptr
template <class T>
void linear_forward(T* out, const T* input, const T* weight, const T* bias, int64_t n, int64_t in_features,
                    int64_t out_features, int activation) {
  if (out_features <= kLinearNarrowMaxOut) {
    linear_forward_narrow(out, input, weight, bias, n, in_features, out_features, activation == 1);
    return;
  }
  if (forward_transposed_pays<T>(n, in_features, out_features)) {
    // yt (OUT,N) = weight * input^T: A = weight (read in place or packed), B = input read transposed in the
    // packing; bias and relu are applied by the transposing store.
    thread_local std::vector<T> yt;
    yt.resize(static_cast<size_t>(n * out_features));
    GemmArgs<T> g;
    g.m = out_features;
    g.n = n;
    g.k = in_features;
    g.a = weight;
    g.lda = in_features;
    g.b = input;
    g.ldb = in_features;
    g.trans_b = true;
    g.c = yt.data();
    g.ldc = n;
    gemm(g, 0);
    linear_store_transposed(out, yt.data(), bias, n, out_features, activation == 1);
    return;
  }
  // out = input * weight^T: B = weight read transposed in the packing, never copied.
  GemmArgs<T> g;
  g.m = n;
  g.n = out_features;
  g.k = in_features;
  g.a = input;
  g.lda = in_features;
  g.b = weight;
  g.ldb = in_features;
  g.trans_b = true;
  g.c = out;
  g.ldc = out_features;
  g.bias = bias;
  g.relu = activation == 1;
  gemm(g, 0);
}

// dinput (N,IN) or nullptr, dweight (OUT,IN), dbias (OUT,) or nullptr, grad_output (N,OUT), input (N,IN),
// weight (OUT,IN), output (N,OUT) (read only for relu)
template <class T>
void linear_backward(T* dinput, T* dweight, T* dbias, const T* grad_output, const T* input, const T* weight,
                     const T* output, int64_t n, int64_t in_features, int64_t out_features, int activation) {
  // dz = dL/d(pre-activation): grad_output, masked by relu'(output) for relu. One pass over it builds dz
  // and sums dbias.
  const T* dz = grad_output;
  if (activation == 1) {
    thread_local std::vector<T> masked;
    masked.resize(static_cast<size_t>(n * out_features));
    linear_grad_prologue(masked.data(), dbias, grad_output, output, n, out_features);
    dz = masked.data();
  } else if (dbias) {
    linear_grad_prologue<T>(nullptr, dbias, grad_output, nullptr, n, out_features);
  }
  if (out_features <= kLinearNarrowMaxOutBackward) {
    linear_backward_narrow(dinput, dweight, dz, input, weight, n, in_features, out_features);
    return;
  }
  // dweight (OUT,IN) = dz^T (OUT,N) * input (N,IN)
  GemmArgs<T> gw;
  gw.m = out_features;
  gw.n = in_features;
  gw.k = n;
  gw.a = dz;
  gw.lda = out_features;
  gw.trans_a = true;
  gw.b = input;
  gw.ldb = in_features;
  gw.c = dweight;
  gw.ldc = in_features;
  gemm(gw, 0);
  // dinput (N,IN) = dz (N,OUT) * weight (OUT,IN)
  if (dinput) {
    GemmArgs<T> gx;
    gx.m = n;
    gx.n = in_features;
    gx.k = out_features;
    gx.a = dz;
    gx.lda = out_features;
    gx.b = weight;
    gx.ldb = in_features;
    gx.c = dinput;
    gx.ldc = in_features;
    gemm(gx, 0);
  }
}

// ---- dispatch ------------------------------------------------------------------------------------

template <class T>
void gemm(const GemmArgs<T>& g, int rung) {
  switch (rung) {
    case 1: gemm_kernel1_naive(g); break;
    case 2: gemm_kernel2_blocked(g); break;
    case 3: gemm_kernel3_packed_simd(g); break;
    case 0:  // auto: rung 4 (one thread below kThreadMinMacs); below ~8^3 the packing costs more than it saves
      if (double(g.m) * double(g.n) * double(g.k) <= kNaiveMaxMacs) gemm_kernel1_naive(g);
      else gemm_kernel4_packed_simd_threaded(g);
      break;
    case 4: gemm_kernel4_packed_simd_threaded(g); break;
    default: fail("gemm: rung must be 0 (auto) or 1..", kGemmRungs, ", got ", rung);
  }
}

double fma_peak_gflops(double seconds) {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512::fma_peak_gflops(seconds);
    case SimdLevel::avx2: return avx2::fma_peak_gflops(seconds);
    default: fail("fma_peak_gflops: needs the AVX2 or AVX-512 path, the CPU path in use is scalar");
  }
}

#define FASTANN_INSTANTIATE(T)                                                                        \
  template void gemm_kernel1_naive<T>(const GemmArgs<T>&);                                           \
  template void gemm_kernel2_blocked<T>(const GemmArgs<T>&);                                         \
  template void gemm_kernel3_packed_simd<T>(const GemmArgs<T>&);                                     \
  template void gemm_kernel4_packed_simd_threaded<T>(const GemmArgs<T>&);                            \
  template void gemm<T>(const GemmArgs<T>&, int);                                                    \
  template const GemmBlocking& gemm_blocking<T>();                                                   \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, int); \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, int64_t, int64_t, \
                                   int64_t, int);
FASTANN_INSTANTIATE(float)
FASTANN_INSTANTIATE(double)
#undef FASTANN_INSTANTIATE

}  // namespace fastann::cpu
