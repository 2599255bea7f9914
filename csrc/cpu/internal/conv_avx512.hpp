// conv_avx512.hpp: the AVX-512 entry points of conv2d's rungs 3 and 4, defined in conv_rung3_direct_avx512.cpp
// and conv_rung4_winograd_avx512.cpp (compiled with the AVX-512 flags, called only after fastann::simd_level()
// reported avx512), and the register-tile sizes the baseline packing code shares with them. Declarations and
// integer helpers only, so that baseline and AVX-512 files can both include it. Docs: docs/conv.md.
#pragma once

#include <cstdint>

#include "spread_prefetch.hpp"

namespace fastann::cpu::conv_detail {

// Register tile of the micro-kernel: MR rows (broadcast from packed A) x NR columns (two SIMD vectors).
constexpr int64_t MR = 12;
template <class T>
constexpr int64_t NR = 128 / sizeof(T);  // 32 floats or 16 doubles: two 64-byte vectors

// ---- rung 3 (conv_rung3_direct_avx512.cpp) ---------------------------------------------------------------
// C[0:mr, 0:nr] (+)= Apanel (K x MR, row i of the tile at Apanel[k*MR + i]) * B[0:K, 0:nr] (row stride ldb).
// mr <= MR, nr <= NR; rows of Apanel beyond mr are zero. accumulate=false overwrites C.
void microkernel_avx512(int64_t K, const float* a_panel, const float* b, int64_t ldb, float* c, int64_t ldc,
                        int64_t mr, int64_t nr, bool accumulate);
void microkernel_avx512(int64_t K, const double* a_panel, const double* b, int64_t ldb, double* c, int64_t ldc,
                        int64_t mr, int64_t nr, bool accumulate);
// The same with A read in place: row i of the tile is a_base + a_off[i]; the reduction (length K, a multiple of
// run_len) reads A at r*a_run_stride + t and B row r*run_len + t for reduction index r*run_len + t.
void microkernel_rows_avx512(int64_t K, int64_t run_len, int64_t a_run_stride, const float* a_base,
                             const int64_t* a_off, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                             int64_t nr, bool accumulate);
void microkernel_rows_avx512(int64_t K, int64_t run_len, int64_t a_run_stride, const double* a_base,
                             const int64_t* a_off, const double* b, int64_t ldb, double* c, int64_t ldc, int64_t mr,
                             int64_t nr, bool accumulate);
// Forward tile with B read in place (row k of B is b_base + b_off[k], full loads) whose columns are padded-grid
// positions: the columns with a set bit in `valid` are stored packed to c + i*ldc (+ bias[i] if bias). `room`:
// elements from c to the end of each output row (plane); stores may write past the valid columns within it.
// rows: the tile height the A panel was packed with, 12 (MR) or 8.
void microkernel_boff_avx512(int64_t rows, int64_t K, const float* a_panel, const float* b_base, const int64_t* b_off,
                             float* c, int64_t ldc, int64_t room, int64_t mr, uint64_t valid, const float* bias);
void microkernel_boff_avx512(int64_t rows, int64_t K, const double* a_panel, const double* b_base,
                             const int64_t* b_off, double* c, int64_t ldc, int64_t room, int64_t mr, uint64_t valid,
                             const double* bias);
// dw[oc*ld_oc + k*ld_k] += sum_{oh<OH, ow<OW} dout[oc*OH*OW + oh*OW + ow] * xpad[off[k] + oh*Wp + ow]
void dw_dot_avx512(float* dw, int64_t ld_oc, int64_t ld_k, const float* dout, const float* xpad, const int64_t* off,
                   int64_t OCg, int64_t K, int64_t OH, int64_t OW, int64_t Wp);
void dw_dot_avx512(double* dw, int64_t ld_oc, int64_t ld_k, const double* dout, const double* xpad,
                   const int64_t* off, int64_t OCg, int64_t K, int64_t OH, int64_t OW, int64_t Wp);
// dout (OCg x OH*OW) -> packed dout^T on the padded grid (32-channel blocks of Q x 32, Q = OH*Wp, zeros at
// ow >= OW and channels >= OCg); float only.
void pack_dout_t_avx512(float* bpack, const float* dout, int64_t OCg, int64_t OH, int64_t OW, int64_t Wp);
// Stride-1 forward of one image/group with output channels in the vector lanes (float): tiles of 14 positions
// of one output row x 32 channels, A broadcast straight from xpad (row stride Wp, tap offsets off), wt = W^T
// packed in 32-channel blocks (K x 32), out (OCg x OH*OW) in NCHW, + bias (OCg) or nullptr. `next` is stepped
// once per tile: rowtile_count(OCg, OH, OW) steps.
inline int64_t rowtile_count(int64_t OCg, int64_t OH, int64_t OW) { return (OCg + 31) / 32 * OH * ((OW + 13) / 14); }
void conv_forward_rowtiles_avx512(float* out, const float* xpad, const int64_t* off, const float* wt, int64_t K,
                                  int64_t OCg, int64_t OH, int64_t OW, int64_t Wp, const float* bias,
                                  SpreadPrefetch& next);
// img (C,H,W) -> xpad (C,Hp,Wp): the image at (pad_top, pad_left), zeros around it. Full-width stores may
// write up to one vector (64 bytes) past the last row: the caller leaves that much slack after xpad.
void pad_image_avx512(float* xpad, const float* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                      int64_t pad_left, int64_t Hp, int64_t Wp);
void pad_image_avx512(double* xpad, const double* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                      int64_t pad_left, int64_t Hp, int64_t Wp);

// ---- rung 4 (conv_rung4_winograd_avx512.cpp) -------------------------------------------------------------
// Winograd F(2x2, 3x3) (Lavin & Gray 2016) forward of one image and group, float: xpad (Cg, Hp, Wp)
// with Hp = 2*ceil(OH/2) + 2, Wp = 2*ceil(OW/2) + 2 and >= 32 floats of slack after it; upack = U[xi] = G g G^T
// for the 16 xi = (u, w), each packed as B of a (Cg x OCg) GEMM (32-channel blocks, Cg x 32); out (OCg, OH, OW)
// + bias (OCg) or nullptr. Scratch: vbuf (16*winograd_v_stride(Cg) floats), mbuf (16*kWinogradMStride floats).
// `next` is stepped winograd_step_count(OCg, OH, OW) times.
// The 16 transformed inputs (and products) of a chunk lie one 64-byte line more than a multiple of 4 KiB apart
// (for Cg = 64, 16 at exactly 4 KiB: all in one L1 set, which has 12 ways; the extra line took the CNN's
// 14x14 input gradient from 4.2 to 3.4 ms at 1 thread).
inline int64_t winograd_v_stride(int64_t Cg) { return Cg * 16 + 16; }
constexpr int64_t kWinogradMStride = 16 * 32 + 16;
inline int64_t winograd_step_count(int64_t OCg, int64_t OH, int64_t OW) {
  const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2;
  const int64_t chunks = tw <= 7 ? (th + 1) / 2 : th * ((tw + 13) / 14);
  return chunks * ((OCg + 31) / 32) * 16;
}
void winograd_f23_forward_avx512(float* out, const float* xpad, const float* upack, int64_t Cg, int64_t OCg,
                                 int64_t OH, int64_t OW, int64_t Hp, int64_t Wp, const float* bias, float* vbuf,
                                 float* mbuf, SpreadPrefetch& next);
// Rung 4's weight gradient (float): the input transform V = B^T d B of all th*tw tiles of one image, stored
// v[xi*xi_stride + c*ldv + t] (t = ty*tw + tx; ldv >= th*tw + 16), and D4 = G4 dt G4^T of dout's 2x2 tiles,
// G4 = [1 0; 1 1; 1 -1; 0 1], from dout^T packed by pack_dout_t_avx512 with row stride Wp2 = 2*ceil(OW/2):
// d[xi*xi_stride + blk*T*32 + t*32 + j] (the per-xi GEMMs' packed B, T = th*tw rows).
void winograd_input_avx512(float* v, int64_t ldv, int64_t xi_stride, const float* xpad, int64_t Cg, int64_t OH,
                           int64_t OW, int64_t Hp, int64_t Wp);
void winograd_dout_avx512(float* d, int64_t xi_stride, const float* dpack, int64_t OCg, int64_t OH, int64_t OW,
                          int64_t Wp2);
// True when one of the n values at x is an infinity or a NaN (rung 4 hands such work items to rung 3).
bool any_non_finite_avx512(const float* x, int64_t n);
bool any_non_finite_avx512(const double* x, int64_t n);

}  // namespace fastann::cpu::conv_detail
