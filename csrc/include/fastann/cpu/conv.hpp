// fastann/cpu/conv.hpp: 2-D convolution (NCHW), its transpose and upsampling, CPU kernels.
//
// A convolution of x (N,C,H,W) with w (OC,C/groups,KH,KW), stride s, dilation d, padding p:
//   out[n,o,i,j] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] * xpad[n, g*Cg+c, i*s_h + kh*d_h, j*s_w + kw*d_w]
// (g = o / (OC/groups), Cg = C/groups). Every direction is its own function; each has a ladder of versions:
//
//   kernel 1  naive        the textbook formula, one output (or gradient) element per loop iteration,
//                          bounds tests in the inner loop; threads over independent outputs.
//   kernel 2  im2col_gemm  Caffe's formulation: unfold one image into the (C/groups*KH*KW, OH*OW) "column"
//                          matrix, then one fastann GEMM per image and group; images one after the other
//                          (the GEMM is where the speed comes from).
//   kernel 3  fused_simd   whole images per thread (handed out one at a time) through a register-blocked AVX-512
//                          micro-kernel (12 or 8 rows x 32 floats of accumulators). Stride 1: the output is
//                          computed on the padded input's grid, where each row of the column matrix is the
//                          padded image shifted by a fixed offset, so the kernels read it in place (no im2col
//                          buffer); the input gradient is the forward of dout with the flipped kernel; the
//                          weight gradient accumulates per thread (GEMM or, for few taps, dot products) and is
//                          reduced once. Stride > 1: im2col straight into the packed layouts.
//   kernel 4  winograd     3x3, stride 1, dilation 1 only: Winograd's F(2x2, 3x3) (Lavin & Gray 2016), 16
//                          multiplications per 2x2 outputs and channel pair instead of 36, as 16 GEMMs between
//                          transformed weights and transformed 4x4 input patches. The input gradient is the
//                          forward of the flipped kernel (rung 3 where that needs padding > 2); the weight
//                          gradient is F(3x3, 2x2), 16 GEMMs that reduce over the tiles of every image.
//   kernel 0  auto         picks the fastest for the shape and dtype (see conv2d_pick_kernel in conv.cpp).
//
// Padding modes other than "zeros" ("reflect" mirrors without repeating the edge, "replicate" repeats it)
// are implemented for every rung by materializing the padded input once, running the zero-padding-free
// convolution on it, and (for the input gradient) folding the padded gradient back onto the input.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fastann/geometry.hpp"

namespace fastann::cpu {

// PaddingMode and Conv2dParams (the geometry of one convolution) are shared with the CUDA backend.
using fastann::Conv2dParams;
using fastann::PaddingMode;

// The one validation of a conv2d geometry, shared with the CUDA backend (fastann/geometry.hpp).
using fastann::conv2d_validate;

// Which rung kernel=0 runs for these parameters, this direction (0 forward, 1 input grad, 2 weight grad) and
// dtype (float32 or float64).
int conv2d_pick_kernel(const Conv2dParams& p, int direction, bool float32);

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward(T* out, const T* inp, const T* weight, const T* bias, const Conv2dParams& p, int kernel);

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input(T* dinp, const T* dout, const T* weight, const Conv2dParams& p, int kernel);

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight(T* dweight, T* dbias, const T* dout, const T* inp, const Conv2dParams& p, int kernel);

// Upsampling by integer factors (sh, sw): inp (N,C,H,W), out (N,C,H*sh,W*sw).
// nearest: out[i,j] = inp[i/sh, j/sw]. bilinear: torch.nn.functional.interpolate's source coordinates.
template <class T>
void upsample2d_nearest_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                int64_t sw);
// dout (N,C,H*sh,W*sw), dinp (N,C,H,W)
template <class T>
void upsample2d_nearest_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw);
// inp (N,C,H,W), out (N,C,H*sh,W*sw)
template <class T>
void upsample2d_bilinear_forward(T* out, const T* inp, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                 int64_t sw, bool align_corners);
// dout (N,C,H*sh,W*sw), dinp (N,C,H,W)
template <class T>
void upsample2d_bilinear_backward(T* dinp, const T* dout, int64_t N, int64_t C, int64_t H, int64_t W, int64_t sh,
                                  int64_t sw, bool align_corners);

// ---- internals shared between conv.cpp and conv_avx512.cpp ----------------------------------------
namespace conv_detail {
// Kernel 3 pads each image into a per-thread buffer just before computing it. Read cold, that copy waits on
// memory (~15% of a 14x14 backward-input convolution, 7% of its forward), and so do the first stores to
// its output. SpreadPrefetch asks for the next image's cache lines (up to three regions: its input, its
// output, a gradient) while the current one computes: a few lines per step(), spread evenly over the
// `steps` micro-kernel calls, so that the prefetches never pile up. (prefetcht1, a read prefetch: a write
// prefetch, PREFETCHW, would need -mprfchw in every file that includes this.)
class SpreadPrefetch {
 public:
  explicit SpreadPrefetch(int64_t steps) : steps_(std::max<int64_t>(1, steps)) {}
  void add(const void* p, int64_t bytes) {  // nullptr (no next image) is ignored
    if (!p || regions_ == 3) return;
    const int64_t lines = (bytes + 63) / 64;
    r_[regions_++] = {static_cast<const char*>(p), lines, 0, (lines + steps_ - 1) / steps_};
  }
  void step() {
    for (int i = 0; i < regions_; ++i) {
      Region& r = r_[i];
      for (const int64_t e = std::min(r.lines, r.next + r.per_step); r.next < e; ++r.next)
        __builtin_prefetch(r.p + r.next * 64, 0, 2);  // prefetcht1
    }
  }

 private:
  struct Region {
    const char* p;
    int64_t lines, next, per_step;
  };
  int64_t steps_;
  int regions_ = 0;
  Region r_[3] = {};
};

// Register tile of the micro-kernel: MR rows (broadcast from packed A) x NR columns (two SIMD vectors).
constexpr int64_t MR = 12;
template <class T>
constexpr int64_t NR = 128 / sizeof(T);  // 32 floats or 16 doubles: two 64-byte vectors

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
// Kernel 4, Winograd F(2x2, 3x3) (Lavin & Gray 2016) forward of one image and group, float: xpad (Cg, Hp, Wp)
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
// Kernel 4's weight gradient (float): the input transform V = B^T d B of all th*tw tiles of one image, stored
// v[xi*xi_stride + c*ldv + t] (t = ty*tw + tx; ldv >= th*tw + 16), and D4 = G4 dt G4^T of dout's 2x2 tiles,
// G4 = [1 0; 1 1; 1 -1; 0 1], from dout^T packed by pack_dout_t_avx512 with row stride Wp2 = 2*ceil(OW/2):
// d[xi*xi_stride + blk*T*32 + t*32 + j] (the per-xi GEMMs' packed B, T = th*tw rows).
void winograd_input_avx512(float* v, int64_t ldv, int64_t xi_stride, const float* xpad, int64_t Cg, int64_t OH,
                           int64_t OW, int64_t Hp, int64_t Wp);
void winograd_dout_avx512(float* d, int64_t xi_stride, const float* dpack, int64_t OCg, int64_t OH, int64_t OW,
                          int64_t Wp2);
// img (C,H,W) -> xpad (C,Hp,Wp): the image at (pad_top, pad_left), zeros around it. Full-width stores may
// write up to one vector (64 bytes) past the last row: the caller leaves that much slack after xpad.
void pad_image_avx512(float* xpad, const float* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                      int64_t pad_left, int64_t Hp, int64_t Wp);
void pad_image_avx512(double* xpad, const double* img, int64_t C, int64_t H, int64_t W, int64_t pad_top,
                      int64_t pad_left, int64_t Hp, int64_t Wp);
}  // namespace conv_detail

}  // namespace fastann::cpu
