// conv_rung4_winograd_phases_avx512.cpp: the transforms and layout changes of rung 4's stride-2 4x4 path
// (conv_rung4_winograd_phases.cpp) for float32, compiled with the AVX-512 flags: their channel loops run 16
// floats per instruction and the transposes go through registers 16x16 at a time. Called only when the CPU
// has AVX-512.
#define FASTANN_WP_NS phases_avx512_impl
#define FASTANN_WP_AVX512 1
#include "internal/conv_winograd_phases.hpp"

namespace fastann::cpu::conv_detail::phases_avx512 {

namespace impl = phases_avx512_impl;

bool to_padded_channels_last(float* dst, const float* x, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left,
                             int64_t Hp, int64_t Wp) {
  return impl::to_padded_channels_last(dst, x, C, H, W, top, left, Hp, Wp);
}
void phase_input_transform(float* V, int64_t xi_stride, const float* xt, int64_t th, int64_t tw, int64_t Wp,
                           int64_t b, int64_t C, float* tmp) {
  impl::phase_input_transform(V, xi_stride, xt, th, tw, Wp, b, C, tmp);
}
void transform_patch(float* dst, int64_t xi_stride, const float* src, int64_t row, int64_t col, int64_t n,
                     float* tmp) {
  impl::transform_patch(dst, xi_stride, src, row, col, n, tmp);
}
void tile_output(float* Y, const float* M, int64_t xi_stride, int64_t t, int64_t n, float* tmp) {
  impl::tile_output(Y, M, xi_stride, t, n, tmp);
}
void dout_tile(float* D, int64_t xi_stride, int64_t t, const float* dyt, int64_t oh0, int64_t ow0, int64_t OH,
               int64_t OW, int64_t OC, const float* zero, float* tmp) {
  impl::dout_tile(D, xi_stride, t, dyt, oh0, ow0, OH, OW, OC, zero, tmp);
}
void transpose(float* dst, const float* src, int64_t rows, int64_t cols) { impl::transpose(dst, src, rows, cols); }
void weight_transform(float* dst, int64_t xi_stride, int64_t nr, int64_t blk_stride, const float* taps, int64_t ci_n,
                      int64_t co_n, int64_t plane, const float* inv) {
  impl::weight_transform(dst, xi_stride, nr, blk_stride, taps, ci_n, co_n, plane, inv);
}
void weight_grad_output(float* taps, const float* M, int64_t count, int64_t n, const float* inv) {
  impl::weight_grad_output(taps, M, count, n, inv);
}

}  // namespace fastann::cpu::conv_detail::phases_avx512
