// C ABI over the emulated recurrent launchers (csrc/cuda/rnn_*.cu, with the emulated csrc/cuda/gemm.cu), for
// check_rnn.py through ctypes.
#include <cstdio>
#include <stdexcept>
#include "fastann/cuda/rnn.hpp"

using namespace fastann::cuda;
#define GUARD(body) try { body; return 0; } catch (std::exception& e) { fprintf(stderr, "emu error: %s\n", e.what()); return -1; }
template <class T>
static RnnArgs<T> A(int cell, const int64_t* s, int gb, const T* x, const T* h0, const T* c0, const T* wi, const T* wh,
                    const T* bi, const T* bh) {
  RnnArgs<T> a;
  a.cell = RnnCell(cell);
  a.n = s[0], a.t = s[1], a.f = s[2], a.h = s[3];
  a.go_backwards = gb != 0;
  a.input = x, a.h0 = h0, a.c0 = c0, a.weight_ih = wi, a.weight_hh = wh, a.bias_ih = bi, a.bias_hh = bh;
  return a;
}
#define BOTH(T, S) \
extern "C" int rnn_fwd_##S(T* out, T* hn, T* cn, T* saved, const T* x, const T* h0, const T* c0, const T* wi, const T* wh, \
                           const T* bi, const T* bh, int cell, const int64_t* s, int gb, int rung) { \
  GUARD(rnn_forward<T>(out, hn, cn, saved, A<T>(cell, s, gb, x, h0, c0, wi, wh, bi, bh), rung, nullptr)) } \
extern "C" int rnn_bwd_##S(T* dx, T* dh0, T* dc0, T* dwi, T* dwh, T* dbi, T* dbh, const T* go, const T* ghn, const T* gcn, \
                           const T* out, const T* saved, const T* x, const T* h0, const T* c0, const T* wi, const T* wh, \
                           int cell, const int64_t* s, int gb, int rung) { \
  GUARD(rnn_backward<T>(dx, dh0, dc0, dwi, dwh, dbi, dbh, go, ghn, gcn, out, saved, \
                        A<T>(cell, s, gb, x, h0, c0, wi, wh, nullptr, nullptr), rung, nullptr)) }
BOTH(float, f32)
BOTH(double, f64)
