// args/conv.hpp: signatures and argument parsing of the conv family (conv2d forward / input gradient /
// weight gradient, conv2d_pick_rung, upsample2d), shared by fastann._cpu and fastann._cuda. Padding arrives
// explicit (top, bottom, left, right): fastann.ops resolves "same"/"valid" first. The geometry is validated
// by fastann::conv2d_validate (fastann/geometry.hpp), the same for both backends; the backend checks only
// the rung number (its ladder) before running.
#pragma once

#include <string>
#include <vector>

#include "checks.hpp"
#include "fastann/geometry.hpp"

namespace fastann::bindings {

inline PaddingMode padding_mode_arg(const std::string& s, const char* op) {
  if (s == "zeros") return PaddingMode::zeros;
  if (s == "reflect") return PaddingMode::reflect;
  if (s == "replicate") return PaddingMode::replicate;
  fail(op, ": padding_mode must be 'zeros', 'reflect' or 'replicate', got '", s, "'");
}

// The hyper-parameters every conv2d function takes after its arrays.
struct ConvHyper {
  IntArg stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right, dilation_h, dilation_w, groups;
  std::string mode;
};

// Geometry from the input shape (N,C,H,W), the weight shape (OC,C/groups,KH,KW) and the hyper-parameters;
// validated (ValueError) and OH/OW filled in.
inline Conv2dParams conv_params(const char* op, const std::vector<int64_t>& in, const std::vector<int64_t>& w,
                                const ConvHyper& h) {
  Conv2dParams p;
  p.N = in[0], p.C = in[1], p.H = in[2], p.W = in[3];
  p.OC = w[0], p.KH = w[2], p.KW = w[3];
  p.stride_h = to_int64(h.stride_h, op, "stride_h"), p.stride_w = to_int64(h.stride_w, op, "stride_w");
  p.pad_top = to_int64(h.pad_top, op, "pad_top"), p.pad_bottom = to_int64(h.pad_bottom, op, "pad_bottom");
  p.pad_left = to_int64(h.pad_left, op, "pad_left"), p.pad_right = to_int64(h.pad_right, op, "pad_right");
  p.dilation_h = to_int64(h.dilation_h, op, "dilation_h"), p.dilation_w = to_int64(h.dilation_w, op, "dilation_w");
  p.groups = to_int64(h.groups, op, "groups");
  p.mode = padding_mode_arg(h.mode, op);
  FASTANN_CHECK(p.groups > 0, op, ": groups must be positive, got ", p.groups);
  FASTANN_CHECK(w[1] > 0 && w[1] <= INT64_MAX / p.groups && w[1] * p.groups == p.C, op,
                ": channel mismatch: weight (", w[0], ", ", w[1], ", ", w[2], ", ", w[3], ") expects C_in/groups=",
                w[1], " but the input has C=", p.C, " with groups=", p.groups);
  conv2d_validate(p, op);
  return p;
}

struct ConvCall {
  FloatType ft;
  Conv2dParams p;
  ArrayView out, a, b;                // forward: out, input, weight; input grad: dinput, grad_output, weight;
                                      // weight grad: dweight, grad_output, input
  std::optional<ArrayView> bias;      // forward: bias; weight grad: dbias
  int rung;
};

#define FASTANN_CONV_HYPER_PARAMS                                                                             \
  IntArg sh, IntArg sw, IntArg pt, IntArg pb, IntArg pl, IntArg pr, IntArg dh, IntArg dw, IntArg groups,      \
      const std::string &mode, IntArg rung
#define FASTANN_CONV_HYPER_ARGS                                                                                 \
  py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"),     \
      py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"), py::arg("groups"),                    \
      py::arg("padding_mode"), py::arg("rung")

template <class RunF, class RunBI, class RunBW>
void def_conv2d(py::module_& m, Device dev, const char* forward_doc, const char* input_doc, const char* weight_doc,
                RunF run_f, RunBI run_bi, RunBW run_bw) {
  m.def(
      "conv2d_forward",
      [dev, run_f](py::object out, py::object input_, py::object weight, py::object bias, FASTANN_CONV_HYPER_PARAMS) {
        const char* op = "conv2d_forward";
        ConvCall c;
        c.a = leading(input_, dev, &c.ft, op, "input");
        c.b = input(weight, dev, c.ft, op, "weight");
        c.out = output(out, dev, c.ft, op, "out");
        require_ndim(c.a, 4, op, "input", "(N, C, H, W)");
        require_ndim(c.b, 4, op, "weight", "(C_out, C_in/groups, kH, kW)");
        c.rung = rung_arg(rung, op);
        c.p = conv_params(op, c.a.shape, c.b.shape, {sh, sw, pt, pb, pl, pr, dh, dw, groups, mode});
        require_shape(c.out, {c.p.N, c.p.OC, c.p.OH, c.p.OW}, op, "out");
        c.bias = opt_input(bias, dev, c.ft, op, "bias");
        if (c.bias) require_shape(*c.bias, {c.p.OC}, op, "bias");
        require_disjoint(op, {{c.out, "out"}}, {{c.a, "input"}, {c.b, "weight"}, {c.bias, "bias"}});
        run_f(c);
      },
      py::arg("out"), py::arg("input"), py::arg("weight"), py::arg("bias"), FASTANN_CONV_HYPER_ARGS, forward_doc);

  m.def(
      "conv2d_backward_input",
      [dev, run_bi](py::object dinput, py::object grad_output, py::object weight, FASTANN_CONV_HYPER_PARAMS) {
        const char* op = "conv2d_backward_input";
        ConvCall c;
        c.a = leading(grad_output, dev, &c.ft, op, "grad_output");
        c.b = input(weight, dev, c.ft, op, "weight");
        c.out = output(dinput, dev, c.ft, op, "dinput");
        require_ndim(c.out, 4, op, "dinput", "(N, C, H, W)");
        require_ndim(c.a, 4, op, "grad_output", "(N, C_out, OH, OW)");
        require_ndim(c.b, 4, op, "weight", "(C_out, C_in/groups, kH, kW)");
        c.rung = rung_arg(rung, op);
        c.p = conv_params(op, c.out.shape, c.b.shape, {sh, sw, pt, pb, pl, pr, dh, dw, groups, mode});
        require_shape(c.a, {c.p.N, c.p.OC, c.p.OH, c.p.OW}, op, "grad_output");
        require_disjoint(op, {{c.out, "dinput"}}, {{c.a, "grad_output"}, {c.b, "weight"}});
        run_bi(c);
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("weight"), FASTANN_CONV_HYPER_ARGS, input_doc);

  m.def(
      "conv2d_backward_weight",
      [dev, run_bw](py::object dweight, py::object dbias, py::object grad_output, py::object input_,
                    FASTANN_CONV_HYPER_PARAMS) {
        const char* op = "conv2d_backward_weight";
        ConvCall c;
        c.b = leading(input_, dev, &c.ft, op, "input");
        c.a = input(grad_output, dev, c.ft, op, "grad_output");
        c.out = output(dweight, dev, c.ft, op, "dweight");
        require_ndim(c.b, 4, op, "input", "(N, C, H, W)");
        require_ndim(c.a, 4, op, "grad_output", "(N, C_out, OH, OW)");
        require_ndim(c.out, 4, op, "dweight", "(C_out, C_in/groups, kH, kW)");
        c.rung = rung_arg(rung, op);
        c.p = conv_params(op, c.b.shape, c.out.shape, {sh, sw, pt, pb, pl, pr, dh, dw, groups, mode});
        require_shape(c.a, {c.p.N, c.p.OC, c.p.OH, c.p.OW}, op, "grad_output");
        c.bias = opt_output(dbias, dev, c.ft, op, "dbias");
        if (c.bias) require_shape(*c.bias, {c.p.OC}, op, "dbias");
        require_disjoint(op, {{c.out, "dweight"}, {c.bias, "dbias"}}, {{c.a, "grad_output"}, {c.b, "input"}});
        run_bw(c);
      },
      py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("input"), FASTANN_CONV_HYPER_ARGS,
      weight_doc);
}

// A shape list of 4 positive sizes (N, C, H, W) or (OC, C/groups, KH, KW).
inline std::vector<int64_t> shape4_arg(const IntListArg& a, const char* op, const char* name) {
  std::vector<int64_t> s = to_int_list(a, op, name);
  FASTANN_CHECK(s.size() == 4, op, ": ", name, " must have 4 entries (N, C, H, W), got ", s.size());
  for (int64_t v : s) FASTANN_CHECK(v > 0, op, ": ", name, " entries must be positive, got ", v);
  return s;
}

// conv2d_pick_rung: pick(params, direction, is_float32) -> the rung that rung=0 runs.
template <class Pick>
void def_conv2d_pick_rung(py::module_& m, const char* doc, Pick pick) {
  m.def(
      "conv2d_pick_rung",
      [pick](IntListArg input_shape, IntListArg weight_shape, IntArg sh, IntArg sw, IntArg pt, IntArg pb, IntArg pl,
             IntArg pr, IntArg dh, IntArg dw, IntArg groups, const std::string& mode, IntArg direction_,
             const std::string& dtype) {
        const char* op = "conv2d_pick_rung";
        const std::vector<int64_t> in = shape4_arg(input_shape, op, "input_shape");
        const std::vector<int64_t> w = shape4_arg(weight_shape, op, "weight_shape");
        const int64_t direction = to_int64(direction_, op, "direction");
        FASTANN_CHECK(direction >= 0 && direction <= 2, op, ": direction must be 0, 1 or 2, got ", direction);
        FASTANN_CHECK(dtype == "float32" || dtype == "float64", op, ": dtype must be 'float32' or 'float64', got '",
                      dtype, "'");
        const Conv2dParams p = conv_params(op, in, w, {sh, sw, pt, pb, pl, pr, dh, dw, groups, mode});
        return pick(p, static_cast<int>(direction), dtype == "float32");
      },
      py::arg("input_shape"), py::arg("weight_shape"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
      py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dilation_h"), py::arg("dilation_w"),
      py::arg("groups"), py::arg("padding_mode"), py::arg("direction"), py::arg("dtype") = "float32", doc);
}

struct UpsampleCall {
  FloatType ft;
  ArrayView small, big;  // forward: input, out; backward: dinput, grad_output
  int64_t N, C, H, W, sh, sw;
  bool bilinear, align_corners;
};

template <class RunF, class RunB>
void def_upsample2d(py::module_& m, Device dev, RunF run_f, RunB run_b) {
  // small (N,C,H,W), big (N,C,H*sh,W*sw), the scale factors, mode and align_corners.
  auto finish = [](UpsampleCall& u, const IntArg& sh_, const IntArg& sw_, const std::string& mode, bool align,
                   const char* op, const char* small_name, const char* big_name) {
    require_ndim(u.small, 4, op, small_name, "(N, C, H, W)");
    require_ndim(u.big, 4, op, big_name, "(N, C, H*sh, W*sw)");
    u.sh = to_int64(sh_, op, "scale_h"), u.sw = to_int64(sw_, op, "scale_w");
    FASTANN_CHECK(u.sh > 0 && u.sw > 0, op, ": scale_factor must be positive, got (", u.sh, ", ", u.sw, ")");
    require_nonempty(u.small, op, small_name);
    u.N = u.small.shape[0], u.C = u.small.shape[1], u.H = u.small.shape[2], u.W = u.small.shape[3];
    FASTANN_CHECK(u.H < (int64_t(1) << 31) / u.sh && u.W < (int64_t(1) << 31) / u.sw &&
                      u.small.size <= INT64_MAX / (u.sh * u.sw),
                  op, ": output too large (", u.N, ", ", u.C, ", ", u.H, "*", u.sh, ", ", u.W, "*", u.sw, ")");
    require_shape(u.big, {u.N, u.C, u.H * u.sh, u.W * u.sw}, op, big_name);
    FASTANN_CHECK(mode == "nearest" || mode == "bilinear", op, ": mode must be 'nearest' or 'bilinear', got '", mode,
                  "'");
    FASTANN_CHECK(mode == "bilinear" || !align, op, ": align_corners only applies to mode='bilinear'");
    u.bilinear = mode == "bilinear", u.align_corners = align;
  };
  m.def(
      "upsample2d_forward",
      [dev, run_f, finish](py::object out, py::object input_, IntArg sh, IntArg sw, const std::string& mode,
                           bool align_corners) {
        const char* op = "upsample2d_forward";
        UpsampleCall u;
        u.small = leading(input_, dev, &u.ft, op, "input");
        u.big = output(out, dev, u.ft, op, "out");
        finish(u, sh, sw, mode, align_corners, op, "input", "out");
        require_disjoint(op, {{u.big, "out"}}, {{u.small, "input"}});
        run_f(u);
      },
      py::arg("out"), py::arg("input"), py::arg("scale_h"), py::arg("scale_w"), py::arg("mode"),
      py::arg("align_corners"), "out (N,C,H*sh,W*sw) = upsample of input (N,C,H,W), nearest or bilinear.");
  m.def(
      "upsample2d_backward",
      [dev, run_b, finish](py::object dinput, py::object grad_output, IntArg sh, IntArg sw, const std::string& mode,
                           bool align_corners) {
        const char* op = "upsample2d_backward";
        UpsampleCall u;
        u.big = leading(grad_output, dev, &u.ft, op, "grad_output");
        u.small = output(dinput, dev, u.ft, op, "dinput");
        finish(u, sh, sw, mode, align_corners, op, "dinput", "grad_output");
        require_disjoint(op, {{u.small, "dinput"}}, {{u.big, "grad_output"}});
        run_b(u);
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("scale_h"), py::arg("scale_w"), py::arg("mode"),
      py::arg("align_corners"), "dinput (N,C,H,W) = gradient of upsample2d from grad_output (N,C,H*sh,W*sw).");
}

}  // namespace fastann::bindings
