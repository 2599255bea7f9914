// conv_rung2_im2col_gemm.cpp: rung 2 of conv2d's CPU ladder. Over rung 1 it adds Caffe's formulation: unfold
// one image into the (C/groups*KH*KW, OH*OW) column matrix (im2col), then one fastann GEMM per image and
// group (the GEMM is where the speed comes from); the input gradient is W^T*dout followed by col2im. Images
// one after the other. Docs: docs/conv.md.
#include <algorithm>
#include <vector>

#include "fastann/cpu/gemm.hpp"
#include "internal/conv_common.hpp"
#include "internal/conv_rungs.hpp"

namespace fastann::cpu::conv_detail {

namespace {

// Row-major C (M x N) = op(A) * op(B) (+ C when accumulate) with fastann's own GEMM (csrc/cpu/gemm.cpp,
// kernel 0 = its fastest rung, threaded): the im2col rung is "unfold, then call the GEMM".
// A is stored (M x K), or (K x M) when trans_a; B is stored (K x N), or (N x K) when trans_b.
template <class T>
void gemm_for_im2col(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C,
                     bool accumulate) {
  GemmArgs<T> g;
  g.m = M, g.n = N, g.k = K;
  g.a = A, g.lda = trans_a ? M : K, g.trans_a = trans_a;
  g.b = B, g.ldb = trans_b ? K : N, g.trans_b = trans_b;
  g.c = C, g.ldc = N;
  g.alpha = T(1), g.beta = accumulate ? T(1) : T(0);
  gemm<T>(g, 0);
}

}  // namespace

// inp (N,C,H,W), weight (OC,C/groups,KH,KW), bias (OC) or nullptr, out (N,OC,OH,OW)
template <class T>
void conv2d_forward_rung2_im2col_gemm(T* out, const T* inp, const T* weight, const T* bias,
                                        const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  std::vector<T> col(col_is_input(p) ? 0 : K * P);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      const int64_t ng = n * p.groups + g;
      const T* img = group_input(inp, ng, p);
      const T* cm = img;
      if (!col_is_input(p)) {
        im2col(col.data(), img, p, Cg);
        cm = col.data();
      }
      T* o = group_output(out, ng, p);
      gemm_for_im2col<T>(false, false, OCg, P, K, weight + g * OCg * K, cm, o, false);
      if (bias)
        for (int64_t oc = 0; oc < OCg; ++oc)
          for (int64_t i = 0; i < P; ++i) o[oc * P + i] += bias[g * OCg + oc];
    }
}

// dout (N,OC,OH,OW), weight (OC,C/groups,KH,KW), dinp (N,C,H,W)
template <class T>
void conv2d_backward_input_rung2_im2col_gemm(T* dinp, const T* dout, const T* weight, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  std::vector<T> dcol(K * P);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      const int64_t ng = n * p.groups + g;
      T* img = group_input(dinp, ng, p);
      // dcol (K x P) = W[g]^T (K x OCg) * dout[n,g] (OCg x P)
      gemm_for_im2col<T>(true, false, K, P, OCg, weight + g * OCg * K, group_output(dout, ng, p),
                         dcol.data(), false);
      std::fill(img, img + Cg * p.H * p.W, T(0));
      col2im(img, dcol.data(), p, Cg);
    }
}

// dout (N,OC,OH,OW), inp (N,C,H,W), dweight (OC,C/groups,KH,KW), dbias (OC) or nullptr
template <class T>
void conv2d_backward_weight_rung2_im2col_gemm(T* dweight, T* dbias, const T* dout, const T* inp,
                                                const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, OCg = p.OC / p.groups, K = Cg * p.KH * p.KW, P = p.OH * p.OW;
  std::vector<T> col(col_is_input(p) ? 0 : K * P);
  std::fill(dweight, dweight + p.OC * K, T(0));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.groups; ++g) {
      const int64_t ng = n * p.groups + g;
      const T* img = group_input(inp, ng, p);
      const T* cm = img;
      if (!col_is_input(p)) {
        im2col(col.data(), img, p, Cg);
        cm = col.data();
      }
      // dW[g] (OCg x K) += dout[n,g] (OCg x P) * col^T (P x K)
      gemm_for_im2col<T>(false, true, OCg, K, P, group_output(dout, ng, p), cm, dweight + g * OCg * K,
                         true);
    }
  if (dbias) bias_grad(dbias, dout, p);
}

FASTANN_CONV_INSTANTIATE_RUNG(rung2_im2col_gemm, float)
FASTANN_CONV_INSTANTIATE_RUNG(rung2_im2col_gemm, double)

}  // namespace fastann::cpu::conv_detail
