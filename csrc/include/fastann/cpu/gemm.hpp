// fastann/cpu/gemm.hpp: general matrix multiply and the linear (fully connected) layer on the CPU.
//
//   C = alpha * op(A) * op(B) + beta * C        row-major, op(X) = X or X^T
//   op(A) (M,K), op(B) (K,N), C (M,N)
//
// The GEMM ladder (each rung is kept, selectable with `kernel`, and tested against the same reference):
//   1 gemm_kernel1_naive                 the textbook triple loop: one dot product per C element.
//   2 gemm_kernel2_blocked               cache blocking: loop over MC x KC x NC tiles so the pieces of A, B and
//                                        C being combined stay in cache; i-k-j order so the inner loop runs
//                                        along contiguous rows and the compiler can vectorise it.
//   3 gemm_kernel3_packed_simd           BLIS-style: copy ("pack") a KC x NC panel of op(B) into NR-column
//                                        micro-panels and an MC x KC block of op(A) into MR-row micro-panels,
//                                        so the micro-kernel reads both with unit stride; the micro-kernel
//                                        keeps an MR x NR tile of C in vector registers and updates it with
//                                        broadcast-FMA (AVX-512: 6x64 fp32 / 6x32 fp64, AVX2: 6x16 / 6x8,
//                                        scalar fallback 4x8 / 4x4). Edges: panels are zero-padded, the
//                                        last tile is stored with masks, a narrow last panel runs a
//                                        narrower variant of the micro-kernel.
//   4 gemm_kernel4_packed_simd_threaded  rung 3 on threads: C is cut into tiles (whole MR/NR multiples)
//                                        handed out dynamically, each thread packing its own panels; the
//                                        caller never waits for a helper that has not started (TileTeam).
//                                        Small products stay on one thread; so do mid-sized ones for 50 ms
//                                        after a call that waited for a helper holding a tile (another
//                                        process holds its core).
// rung 0 (= Python's rung=None) picks: the naive loop up to 8x8x8, rung 4 above.
// Rungs 3 and 4 block for the caches of the CPU they run on (gemm_blocking below).
#pragma once

#include <cstdint>
#include <string>

namespace fastann::cpu {

// What the packed GEMM computes, with pointers already offset to the (sub-)problem.
// Leading dimensions are the row strides (in elements) of the arrays as stored.
template <class T>
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const T* a = nullptr;  // stored (M,K), or (K,M) when trans_a
  int64_t lda = 0;
  bool trans_a = false;
  const T* b = nullptr;  // stored (K,N), or (N,K) when trans_b
  int64_t ldb = 0;
  bool trans_b = false;
  T* c = nullptr;        // (M,N); not read when beta == 0
  int64_t ldc = 0;
  T alpha = 1, beta = 0;
  // Epilogue applied while the C tile is still in registers (the linear layer's bias and activation):
  // c = act(alpha*acc + beta*c + bias[j]).
  const T* bias = nullptr;  // (N,) or nullptr
  bool relu = false;
};

// ---- the ladder ----------------------------------------------------------------------------------
// a op(A) (M,K), b op(B) (K,N), c (M,N)
template <class T> void gemm_kernel1_naive(const GemmArgs<T>& g);
template <class T> void gemm_kernel2_blocked(const GemmArgs<T>& g);
template <class T> void gemm_kernel3_packed_simd(const GemmArgs<T>& g);
template <class T> void gemm_kernel4_packed_simd_threaded(const GemmArgs<T>& g);

constexpr int kGemmRungs = 4;  // valid `kernel` numbers: 0 (auto) .. kGemmRungs
// Run rung `kernel` (0 = auto). The epilogue (bias / relu) is honoured by every rung.
template <class T> void gemm(const GemmArgs<T>& g, int rung);

// ---- cache blocking of rungs 3 and 4 ---------------------------------------------------------------
// The micro-tile (MR x NR, fixed per SIMD path) and the cache blocks (KC, MC, NC) the packed GEMM uses on
// this CPU: derived once from the cache sizes (cpu_info.hpp) by the rules in gemm.cpp (gemm_blocking), or
// taken from FASTANN_GEMM_BLOCKING="KC,MC,NC" (for tuning). KC decides how the K sum is split into passes
// over C, so it is the one block size that changes result bits; MC and NC do not.
struct GemmBlocking {
  int mr = 0, nr = 0;
  int64_t kc = 0, mc = 0, nc = 0;
  std::string rule;  // "derived from the caches", "table: <microarchitecture>" or "FASTANN_GEMM_BLOCKING"
};
// The blocking for element type T on the SIMD path in use (computed on the first call).
template <class T> const GemmBlocking& gemm_blocking();

// ---- threads of rung 4 -----------------------------------------------------------------------------
// Counts since the module loaded (all threads of the process): calls of rung 4 that used helper threads,
// those in which a helper started more than 1 ms late (another process held its core; the call does not wait
// for it), those in which the caller waited more than 1 ms for a tile a helper held (each starts a 50 ms
// back-off), and mid-sized calls that ran on one thread because a back-off was active.
struct GemmThreadStats {
  int64_t threaded = 0, late = 0, waited = 0, backed_off = 0;
};
GemmThreadStats gemm_thread_stats();

// ---- the linear layer ----------------------------------------------------------------------------
// out (N,OUT), input (N,IN), weight (OUT,IN), bias (OUT,) or nullptr; out = act(input * weight^T + bias)
// activation: 0 none, 1 relu (fused into the GEMM's store).
template <class T>
void linear_forward(T* out, const T* input, const T* weight, const T* bias, int64_t n, int64_t in_features,
                    int64_t out_features, int activation);

// dinput (N,IN) or nullptr, dweight (OUT,IN), dbias (OUT,) or nullptr, grad_output (N,OUT), input (N,IN),
// weight (OUT,IN), output (N,OUT) (needed only for activation=relu: the gradient is masked where output<=0).
//   dz = grad_output masked by relu'(output);  dinput = dz * weight;  dweight = dz^T * input;  dbias = sum_n dz
template <class T>
void linear_backward(T* dinput, T* dweight, T* dbias, const T* grad_output, const T* input, const T* weight,
                     const T* output, int64_t n, int64_t in_features, int64_t out_features, int activation);

// ---- machine peak --------------------------------------------------------------------------------
// Single-core fp32 FMA throughput in GFLOP/s (2 flops per lane per FMA) of the SIMD path in use, measured
// by running independent FMA chains on vector registers for about `seconds` of the thread's CPU time
// (CPU time, not wall time: another process sharing the core does not lower the figure).
double fma_peak_gflops(double seconds);

}  // namespace fastann::cpu
