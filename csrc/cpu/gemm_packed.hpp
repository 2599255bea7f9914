// gemm_packed.hpp: the BLIS-style packed GEMM driver (rung 3), shared by the scalar, AVX2 and AVX-512 paths.
//
// Internal to csrc/cpu: included by gemm_scalar.cpp, gemm_avx2.cpp and gemm_avx512.cpp, each of which
// defines a micro-kernel "traits" struct K in an anonymous namespace and calls gemm_packed<K>(...). Everything
// here sits in an anonymous namespace too, so each ISA file gets its own internal copy compiled with its own
// flags: an inline function or template shared by name would be merged by the linker into ONE copy, compiled
// for whichever ISA came first in the link, and the scalar path could run AVX2 code (tools/check_isa_symbols.py
// checks the objects for such symbols).
//
// K provides:
//   using T;  MR, NR (micro-tile); the cache blocks KC, MC, NC come at run time (GemmBlocking, gemm.cpp)
//   kStridedA: true if K::micro_kernel_strided_a(kc, a, lda, bp, c, ldc, nr, alpha, beta, bias, relu) runs a
//     full MR-row tile reading A in place (a(i,p) = a[i*lda + p]) instead of from a packed micro-panel
//   kTransposePack: true if K::pack_b_transposed(src, ldb, kc, cols, dst) packs a transposed B panel
//     (dst[p*NR + j] = src[j*ldb + p], zero for j >= cols) faster than the generic loop here
//   static void micro_kernel(kc, ap, bp, c, ldc, mr, nr, alpha, beta, bias, relu)
//     computes the MR x NR tile  acc = sum_p ap[p*MR + i] * bp[p*NR + j]  in registers and stores
//     c[i*ldc + j] = act(alpha*acc + beta*c + bias[j]) for i < mr, j < nr (beta == 0: c is not read;
//     bias == nullptr: no bias).
//
// Loop nest (Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication"; BLIS, Van Zee &
// van de Geijn 2015), with the cache each packed piece is sized for:
//   for jc in N step NC                      B panel  KC x NC  -> L3
//     for pc in K step KC                    pack op(B)[pc:pc+KC, jc:jc+NC] into NR-column micro-panels
//       for ic in M step MC                  pack op(A)[ic:ic+MC, pc:pc+KC] into MR-row micro-panels (L2)
//         for jr in NC step NR               B micro-panel KC x NR  -> L1, reused across all ir
//           for ir in MC step MR             A micro-panel MR x KC streamed from L2
//             micro_kernel                   MR x NR tile of C in registers, rank-1 updates over KC
// (With a narrow C and a row-major op(A), the AVX-512 path skips packing A: see kDirectAMaxPanels.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fastann/common.hpp"
#include "fastann/cpu/gemm.hpp"

namespace fastann::cpu::packed {
namespace {

// ---- helpers -------------------------------------------------------------------------------------

// A 64-byte aligned scratch buffer that only grows; one per thread and use (see workspace()).
template <class K>
struct AlignedBuffer {
  using T = typename K::T;
  T* data = nullptr;
  size_t capacity = 0;
  T* get(size_t n) {
    if (n > capacity) {
      std::free(data);
      const size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
      data = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (!data) throw std::bad_alloc();
      capacity = n;
    }
    return data;
  }
  ~AlignedBuffer() { std::free(data); }
};

// Per-thread packing buffers, reused across calls: allocating ~MBs per call would cost page faults.
template <class K>
typename K::T* workspace(int which, size_t n) {
  thread_local AlignedBuffer<K> buffers[2];
  return buffers[which].get(n);
}

template <class K>
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Pack op(A)[i0:i0+mc, p0:p0+kc] into MR-row micro-panels: panel r holds rows r*MR.. in the order
// ap[r*MR*kc + p*MR + i], so the micro-kernel reads MR consecutive values per step p. Rows past mc are 0.
template <class K>
void pack_a(const GemmArgs<typename K::T>& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, typename K::T* ap) {
  using T = typename K::T;
  constexpr int MR = K::MR;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
    T* dst = ap + ir * kc;
    if (g.trans_a) {
      // A stored (K,M): for each p the MR values are contiguous in memory.
      const T* src = g.a + p0 * g.lda + (i0 + ir);
      if (rows == MR) {
        for (int64_t p = 0; p < kc; ++p, src += g.lda, dst += MR)
          for (int i = 0; i < MR; ++i) dst[i] = src[i];
      } else {
        for (int64_t p = 0; p < kc; ++p, src += g.lda, dst += MR) {
          int i = 0;
          for (; i < rows; ++i) dst[i] = src[i];
          for (; i < MR; ++i) dst[i] = T(0);
        }
      }
    } else {
      // A stored (M,K): gather one value from each of MR rows per step p (MR read streams).
      const T* src = g.a + (i0 + ir) * g.lda + p0;
      if (rows == MR) {
        for (int64_t p = 0; p < kc; ++p, dst += MR)
          for (int i = 0; i < MR; ++i) dst[i] = src[i * g.lda + p];
      } else {
        for (int64_t p = 0; p < kc; ++p, dst += MR) {
          int i = 0;
          for (; i < rows; ++i) dst[i] = src[i * g.lda + p];
          for (; i < MR; ++i) dst[i] = T(0);
        }
      }
    }
  }
}

// Pack op(B)[p0:p0+kc, j0:j0+nc] into NR-column micro-panels: bp[r*NR*kc + p*NR + j]. Columns past nc are 0.
template <class K>
void pack_b(const GemmArgs<typename K::T>& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, typename K::T* bp) {
  using T = typename K::T;
  constexpr int NR = K::NR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    T* dst = bp + jr * kc;
    if (!g.trans_b) {
      // B stored (K,N): each step p copies NR contiguous values (a vectorised copy).
      const T* src = g.b + p0 * g.ldb + (j0 + jr);
      if (cols == NR) {
        for (int64_t p = 0; p < kc; ++p, src += g.ldb, dst += NR)
          for (int j = 0; j < NR; ++j) dst[j] = src[j];
      } else {
        for (int64_t p = 0; p < kc; ++p, src += g.ldb, dst += NR) {
          int j = 0;
          for (; j < cols; ++j) dst[j] = src[j];
          for (; j < NR; ++j) dst[j] = T(0);
        }
      }
    } else if constexpr (K::kTransposePack) {
      // B stored (N,K): the ISA file has an in-register transpose for this.
      K::pack_b_transposed(g.b + (j0 + jr) * g.ldb + p0, g.ldb, kc, cols, dst);
    } else {
      // B stored (N,K): a transpose. Walk each source row contiguously in chunks of 8 steps of p so the
      // reads stream and the writes (stride NR) stay within a few cache lines of the panel.
      const T* src = g.b + (j0 + jr) * g.ldb + p0;
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        for (int j = 0; j < cols; ++j) {
          const T* s = src + j * g.ldb + p;
          T* d = dst + p * NR + j;
          for (int q = 0; q < 8; ++q) d[q * NR] = s[q];
        }
        for (int j = cols; j < NR; ++j)
          for (int q = 0; q < 8; ++q) dst[(p + q) * NR + j] = T(0);
      }
      for (; p < kc; ++p) {
        int j = 0;
        for (; j < cols; ++j) dst[p * NR + j] = src[j * g.ldb + p];
        for (; j < NR; ++j) dst[p * NR + j] = T(0);
      }
    }
  }
}

// ---- kernel (rung 3 on one thread) ----------------------------------------------------------------

// Packing A pays off when each packed micro-panel is reused by many B micro-panels (N / NR of them). For a
// narrow C (the small layers of an MLP: N = 100 or 300) the copy costs about what it saves, so a row-major
// op(A) is then read in place by the micro-kernel (MR row streams, which the hardware prefetchers follow).
constexpr int64_t kDirectAMaxPanels = 5;
constexpr int64_t kRowsOuterMaxBytes = int64_t(512) << 10;

// C = act(alpha*op(A)*op(B) + beta*C + bias), g.k >= 1, g.m, g.n >= 1; blk: KC, MC, NC (MC a multiple of
// MR, NC of NR).
template <class K>
void gemm_packed(const GemmArgs<typename K::T>& g, const GemmBlocking& blk) {
  using T = typename K::T;
  constexpr int MR = K::MR, NR = K::NR;
  const int64_t KC = blk.kc, MC = blk.mc, NC = blk.nc;
  bool direct_a = false;
  if constexpr (K::kStridedA) direct_a = !g.trans_a && g.n <= kDirectAMaxPanels * NR;
  const int64_t kc_max = std::min<int64_t>(KC, g.k);
  const int64_t mc_max = std::min<int64_t>(MC, round_up<K>(g.m, MR));
  const int64_t nc_max = std::min<int64_t>(NC, round_up<K>(g.n, NR));
  T* ap = workspace<K>(0, static_cast<size_t>(mc_max * kc_max));
  T* bp = workspace<K>(1, static_cast<size_t>(nc_max * kc_max));

  for (int64_t jc = 0; jc < g.n; jc += NC) {
    const int64_t nc = std::min<int64_t>(NC, g.n - jc);
    for (int64_t pc = 0; pc < g.k; pc += KC) {
      const int64_t kc = std::min<int64_t>(KC, g.k - pc);
      pack_b<K>(g, pc, kc, jc, nc, bp);
      // The first K block applies the caller's beta; later blocks accumulate onto what it wrote.
      // The epilogue (bias, relu) runs only once C holds the full sum.
      // A read in place and a packed B panel small enough for the L2: each A micro-panel's rows are read
      // once (then stay in L1 for every B micro-panel) instead of once per B micro-panel.
      const bool rows_outer = direct_a && nc * kc * int64_t(sizeof(T)) <= kRowsOuterMaxBytes;
      const T beta = pc == 0 ? g.beta : T(1);
      const bool last = pc + kc >= g.k;
      const T* bias = last ? g.bias : nullptr;
      const bool relu = last && g.relu;
      for (int64_t ic = 0; ic < g.m; ic += MC) {
        const int64_t mc = std::min<int64_t>(MC, g.m - ic);
        // Direct A: only a last partial micro-panel (fewer than MR rows) is packed, with zero padding, so
        // the micro-kernel never reads rows past the matrix.
        const int64_t full_rows = direct_a ? mc / MR * MR : 0;
        if (full_rows < mc) pack_a<K>(g, ic + full_rows, mc - full_rows, pc, kc, ap + full_rows * kc);
        auto micro_tile = [&](int64_t jr, int64_t ir) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const T* bpanel = bp + jr * kc;
          const T* bias_j = bias ? bias + jc + jr : nullptr;
          const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
          T* c = g.c + (ic + ir) * g.ldc + jc + jr;
          if constexpr (K::kStridedA) {
            if (ir < full_rows) {
              K::micro_kernel_strided_a(kc, g.a + (ic + ir) * g.lda + pc, g.lda, bpanel, c, g.ldc, nr, g.alpha,
                                        beta, bias_j, relu);
              return;
            }
          }
          K::micro_kernel(kc, ap + ir * kc, bpanel, c, g.ldc, mr, nr, g.alpha, beta, bias_j, relu);
        };
        if (rows_outer) {
          for (int64_t ir = 0; ir < mc; ir += MR)
            for (int64_t jr = 0; jr < nc; jr += NR) micro_tile(jr, ir);
        } else {
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR) micro_tile(jr, ir);
        }
      }
    }
  }
}

// ---- the linear layer's backward prologue ---------------------------------------------------------

// With output (relu): dz (N,OUT) = grad_output where output > 0, else 0 (output <= 0: the unit was clamped;
// a NaN output passes the gradient, as PyTorch's threshold_backward does), and dbias (OUT,) or nullptr =
// the column sums of dz, in the same pass. Without output: only dbias, the column sums of grad_output (dz
// is not written). The sums run row by row, so each column adds its rows in order 0..N-1 whatever the
// vector width; the inner loops are unit-stride and vectorize for the including file's ISA.
template <class T>
void linear_grad_prologue(T* __restrict dz, T* __restrict dbias, const T* __restrict grad_output,
                          const T* __restrict output, int64_t n, int64_t out_features) {
  if (dbias)
    for (int64_t o = 0; o < out_features; ++o) dbias[o] = T(0);
  for (int64_t r = 0; r < n; ++r) {
    const T* __restrict go = grad_output + r * out_features;
    if (!output) {
      for (int64_t o = 0; o < out_features; ++o) dbias[o] += go[o];
      continue;
    }
    const T* __restrict y = output + r * out_features;
    T* __restrict d = dz + r * out_features;
    if (dbias) {
      for (int64_t o = 0; o < out_features; ++o) {
        const T v = y[o] <= T(0) ? T(0) : go[o];
        d[o] = v;
        dbias[o] += v;
      }
    } else {
      for (int64_t o = 0; o < out_features; ++o) d[o] = y[o] <= T(0) ? T(0) : go[o];
    }
  }
}

// out (N,OUT) = act(yt^T + bias): the linear forward computed as yt (OUT,N) = weight * input^T, stored in the
// layout of y with the epilogue the GEMM would have applied (relu(v + bias[o]), v < 0 -> 0, so NaN and -0.0
// pass as in the micro-kernels' max(0, v)). bias may be nullptr. Walks 16 x 16 blocks so both sides stay
// in a few cache lines.
template <class T>
void linear_store_transposed(T* __restrict out, const T* __restrict yt, const T* __restrict bias, int64_t n,
                             int64_t out_features, bool relu) {
  constexpr int64_t B = 16;
  for (int64_t i0 = 0; i0 < n; i0 += B) {
    const int64_t i1 = std::min(n, i0 + B);
    for (int64_t o0 = 0; o0 < out_features; o0 += B) {
      const int64_t o1 = std::min(out_features, o0 + B);
      for (int64_t i = i0; i < i1; ++i) {
        T* __restrict row = out + i * out_features;
        for (int64_t o = o0; o < o1; ++o) {
          T v = yt[o * n + i];
          if (bias) v += bias[o];
          row[o] = relu && v < T(0) ? T(0) : v;
        }
      }
    }
  }
}

// ---- the linear layer with few outputs -----------------------------------------------------------------
// With out_features <= kLinearNarrowMaxOut (gemm.cpp) the packed GEMM's 6 x 64 micro-tile would be mostly
// padding (a Dense(1) head: 1 of 6 rows, or 1 of 64 columns). These loops run the products as dot products and
// row updates (axpy) instead, vectorized over the features (GCC vector extensions of 64 bytes: one AVX-512
// register, two AVX2 or four SSE registers on the other paths), four rows of x at a time. Each output element
// is computed by one thread in a fixed order, so the result is the same at any thread count.

// out[j] = sum_k a[j*lda + k] b[k] for the R rows j < R of a, k < len: b is loaded once for all R rows, and the
// R row streams keep R times the reads in flight (the rows of a come from the L3 or memory).
template <class T, int R>
inline void dot_rows(T* out, const T* a, int64_t lda, const T* b, int64_t len) {
  typedef T V __attribute__((vector_size(64)));
  constexpr int64_t W = 64 / sizeof(T);
  V s0[R] = {}, s1[R] = {}, va, vb0, vb1;
  int64_t k = 0;
  for (; k + 2 * W <= len; k += 2 * W) {
    std::memcpy(&vb0, b + k, sizeof vb0);  // memcpy: unaligned vector loads
    std::memcpy(&vb1, b + k + W, sizeof vb1);
    for (int j = 0; j < R; ++j) {
      std::memcpy(&va, a + j * lda + k, sizeof va);
      s0[j] += va * vb0;
      std::memcpy(&va, a + j * lda + k + W, sizeof va);
      s1[j] += va * vb1;
    }
  }
  for (int j = 0; j < R; ++j) {
    const V v = s0[j] + s1[j];
    T total = T(0);
    for (int64_t l = 0; l < W; ++l) total += v[l];
    for (int64_t t = k; t < len; ++t) total += a[j * lda + t] * b[t];
    out[j] = total;
  }
}

// y[c] += g x[c], c < len
template <class T>
inline void axpy(T* __restrict y, const T* __restrict x, T g, int64_t len) {
  for (int64_t c = 0; c < len; ++c) y[c] += g * x[c];
}

// y (N,OUT) = act(x (N,IN) w^T + bias), w (OUT,IN), bias (OUT,) or nullptr; relu keeps NaN (max(0, v) as the
// micro-kernels)
template <class T>
void linear_forward_narrow(T* y, const T* x, const T* w, const T* bias, int64_t n, int64_t in, int64_t out,
                           bool relu) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, in * out));  // rows: ~32k MACs
  parallel_for(n, grain, [=](int64_t r0, int64_t r1) {
    T dots[4];
    auto store = [&](int64_t r, int64_t o, T v) {
      if (bias) v += bias[o];
      y[r * out + o] = relu && v < T(0) ? T(0) : v;
    };
    for (int64_t o = 0; o < out; ++o) {
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) {
        dot_rows<T, 4>(dots, x + r * in, in, w + o * in, in);
        for (int j = 0; j < 4; ++j) store(r + j, o, dots[j]);
      }
      for (; r < r1; ++r) {
        dot_rows<T, 1>(dots, x + r * in, in, w + o * in, in);
        store(r, o, dots[0]);
      }
    }
  });
}

// dweight (OUT,IN) = dz^T (OUT,N) x (N,IN); dinput (N,IN) = dz (N,OUT) w (OUT,IN), or nullptr. dweight is cut
// into blocks of kNarrowCols columns, one thread each, that add the rows in order.
template <class T>
void linear_backward_narrow(T* dinput, T* dweight, const T* dz, const T* x, const T* w, int64_t n, int64_t in,
                            int64_t out) {
  constexpr int64_t kNarrowCols = 256;
  const int64_t blocks = (in + kNarrowCols - 1) / kNarrowCols;
  const int64_t block_grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, kNarrowCols * n * out));
  parallel_for(blocks, block_grain, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t c0 = b * kNarrowCols, c1 = std::min(in, c0 + kNarrowCols);
      for (int64_t o = 0; o < out; ++o)
        for (int64_t c = c0; c < c1; ++c) dweight[o * in + c] = T(0);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < out; ++o) axpy(dweight + o * in + c0, x + r * in + c0, dz[r * out + o], c1 - c0);
    }
  });
  if (!dinput) return;
  const int64_t row_grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, in * out));
  parallel_for(n, row_grain, [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* d = dinput + r * in;
      for (int64_t c = 0; c < in; ++c) d[c] = T(0);
      for (int64_t o = 0; o < out; ++o) axpy(d, w + o * in, dz[r * out + o], in);
    }
  });
}

}  // namespace
}  // namespace fastann::cpu::packed

// The entry points of gemm_isa.hpp that every ISA file forwards unchanged to the templates above (for T float
// and double); each gemm_<isa>.cpp expands it inside its namespace.
#define FASTANN_GEMM_PACKED_FORWARDERS(T)                                                                   \
  void linear_forward_narrow(T* y, const T* x, const T* w, const T* bias, int64_t n, int64_t in, int64_t out, \
                             bool relu) {                                                                   \
    packed::linear_forward_narrow(y, x, w, bias, n, in, out, relu);                                         \
  }                                                                                                         \
  void linear_backward_narrow(T* dinput, T* dweight, const T* dz, const T* x, const T* w, int64_t n,        \
                              int64_t in, int64_t out) {                                                    \
    packed::linear_backward_narrow(dinput, dweight, dz, x, w, n, in, out);                                  \
  }                                                                                                         \
  void linear_grad_prologue(T* dz, T* dbias, const T* grad_output, const T* output, int64_t n,              \
                            int64_t out_features) {                                                         \
    packed::linear_grad_prologue(dz, dbias, grad_output, output, n, out_features);                          \
  }
