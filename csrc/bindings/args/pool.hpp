// args/pool.hpp: signatures and argument parsing of the pool family (max / average / global-average pooling,
// forward and backward), shared by fastann._cpu and fastann._cuda. Window arguments arrive as (h, w) pairs,
// already normalised by fastann.ops (stride=None -> kernel_size); the geometry is built and validated by
// fastann::make_pool2d_geometry (fastann/geometry.hpp), the same for both backends. Output arrays come
// first and must already have the output shape the geometry gives.
#pragma once

#include <vector>

#include "checks.hpp"
#include "fastann/geometry.hpp"

namespace fastann::bindings {

struct PoolCall {
  FloatType ft;
  Pool2dGeometry g{};
  ArrayView out, x;                  // out: forward out or dinput; x: input or grad_output
  std::optional<ArrayView> indices;  // max pooling
  int rung = 0;
  bool count_include_pad = false;
};

inline Pool2dGeometry pool_geometry(const char* op, const ArrayView& like, const char* name, const IntPairArg& k,
                                    const IntPairArg& s, const IntPairArg& p, const IntPairArg* d, bool ceil_mode) {
  require_ndim(like, 4, op, name, "(N,C,H,W)");
  const auto ks = to_int_pair(k, op, "kernel_size"), st = to_int_pair(s, op, "stride"),
             pd = to_int_pair(p, op, "padding");
  const std::pair<int64_t, int64_t> dl = d ? to_int_pair(*d, op, "dilation") : std::pair<int64_t, int64_t>{1, 1};
  return make_pool2d_geometry(op, like.shape[0], like.shape[1], like.shape[2], like.shape[3], ks.first, ks.second,
                              st.first, st.second, pd.first, pd.second, dl.first, dl.second, ceil_mode);
}

inline std::vector<int64_t> pool_out_shape(const Pool2dGeometry& g) { return {g.N, g.C, g.OH, g.OW}; }

template <class RunMaxF, class RunMaxB, class RunAvgF, class RunAvgB, class RunGlobalF, class RunGlobalB>
void def_pool(py::module_& m, Device dev, const char* max_doc, RunMaxF max_f, RunMaxB max_b, RunAvgF avg_f,
              RunAvgB avg_b, RunGlobalF global_f, RunGlobalB global_b) {
  m.def(
      "max_pool2d_forward",
      [dev, max_f](py::object out, py::object indices, py::object input, IntPairArg kernel_size, IntPairArg stride,
                   IntPairArg padding, IntPairArg dilation, bool ceil_mode, IntArg rung) {
        const char* op = "max_pool2d";
        PoolCall c;
        c.x = leading(input, dev, &c.ft, op, "input");
        c.g = pool_geometry(op, c.x, "input", kernel_size, stride, padding, &dilation, ceil_mode);
        c.out = output(out, dev, c.ft, op, "out");
        require_shape(c.out, pool_out_shape(c.g), op, "out");
        c.indices = int_array(indices, dev, DType::i64, op, "indices", /*out=*/true);
        require_shape(*c.indices, pool_out_shape(c.g), op, "indices");
        require_disjoint(op, {{c.out, "out"}, {c.indices, "indices"}}, {{c.x, "input"}});
        c.rung = rung_arg(rung, op);
        max_f(c);
      },
      py::arg("out"), py::arg("indices"), py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("rung") = 0, max_doc);

  m.def(
      "max_pool2d_backward",
      [dev, max_b](py::object dinput, py::object grad_output, py::object indices) {
        const char* op = "max_pool2d_backward";
        PoolCall c;
        c.x = leading(grad_output, dev, &c.ft, op, "grad_output");
        require_ndim(c.x, 4, op, "grad_output", "(N,C,OH,OW)");
        c.indices = int_array(indices, dev, DType::i64, op, "indices");
        require_shape(*c.indices, c.x.shape, op, "indices");
        c.out = output(dinput, dev, c.ft, op, "dinput");
        require_ndim(c.out, 4, op, "dinput", "(N,C,H,W)");
        FASTANN_CHECK(c.out.shape[0] == c.x.shape[0] && c.out.shape[1] == c.x.shape[1], op, ": dinput ",
                      shape_str(c.out), " and grad_output ", shape_str(c.x), " disagree in N or C");
        require_disjoint(op, {{c.out, "dinput"}}, {{c.x, "grad_output"}, {c.indices, "indices"}});
        c.g.N = c.out.shape[0], c.g.C = c.out.shape[1], c.g.H = c.out.shape[2], c.g.W = c.out.shape[3];
        c.g.OH = c.x.shape[2], c.g.OW = c.x.shape[3];
        max_b(c);
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("indices"),
      "Backward of max_pool2d: dinput (N,C,H,W) <- grad_output, indices (N,C,OH,OW). ValueError for an index "
      "outside [0, H*W).");

  m.def(
      "avg_pool2d_forward",
      [dev, avg_f](py::object out, py::object input, IntPairArg kernel_size, IntPairArg stride, IntPairArg padding,
                   bool ceil_mode, bool count_include_pad) {
        const char* op = "avg_pool2d";
        PoolCall c;
        c.count_include_pad = count_include_pad;
        c.x = leading(input, dev, &c.ft, op, "input");
        c.g = pool_geometry(op, c.x, "input", kernel_size, stride, padding, nullptr, ceil_mode);
        c.out = output(out, dev, c.ft, op, "out");
        require_shape(c.out, pool_out_shape(c.g), op, "out");
        require_disjoint(op, {{c.out, "out"}}, {{c.x, "input"}});
        avg_f(c);
      },
      py::arg("out"), py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"),
      "2-D average pooling: out (N,C,OH,OW) <- input (N,C,H,W), PyTorch's divisor rules.");

  m.def(
      "avg_pool2d_backward",
      [dev, avg_b](py::object dinput, py::object grad_output, IntPairArg kernel_size, IntPairArg stride,
                   IntPairArg padding, bool ceil_mode, bool count_include_pad) {
        const char* op = "avg_pool2d_backward";
        PoolCall c;
        c.count_include_pad = count_include_pad;
        c.x = leading(grad_output, dev, &c.ft, op, "grad_output");
        c.out = output(dinput, dev, c.ft, op, "dinput");
        c.g = pool_geometry(op, c.out, "dinput", kernel_size, stride, padding, nullptr, ceil_mode);
        require_shape(c.x, pool_out_shape(c.g), op, "grad_output");
        require_disjoint(op, {{c.out, "dinput"}}, {{c.x, "grad_output"}});
        avg_b(c);
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"),
      "Backward of avg_pool2d: dinput (N,C,H,W) <- grad_output (N,C,OH,OW).");

  m.def(
      "global_avg_pool2d_forward",
      [dev, global_f](py::object out, py::object input) {
        const char* op = "global_avg_pool2d";
        PoolCall c;
        c.x = leading(input, dev, &c.ft, op, "input");
        require_ndim(c.x, 4, op, "input", "(N,C,H,W)");
        require_nonempty(c.x, op, "input");
        c.out = output(out, dev, c.ft, op, "out");
        require_shape(c.out, {c.x.shape[0], c.x.shape[1]}, op, "out");
        require_disjoint(op, {{c.out, "out"}}, {{c.x, "input"}});
        c.g.N = c.x.shape[0], c.g.C = c.x.shape[1], c.g.H = c.x.shape[2], c.g.W = c.x.shape[3];
        global_f(c);
      },
      py::arg("out"), py::arg("input"), "Global average pooling: out (N,C) <- input (N,C,H,W).");

  m.def(
      "global_avg_pool2d_backward",
      [dev, global_b](py::object dinput, py::object grad_output) {
        const char* op = "global_avg_pool2d_backward";
        PoolCall c;
        c.x = leading(grad_output, dev, &c.ft, op, "grad_output");
        require_ndim(c.x, 2, op, "grad_output", "(N,C)");
        c.out = output(dinput, dev, c.ft, op, "dinput");
        require_ndim(c.out, 4, op, "dinput", "(N,C,H,W)");
        require_nonempty(c.out, op, "dinput");
        require_shape(c.x, {c.out.shape[0], c.out.shape[1]}, op, "grad_output");
        require_disjoint(op, {{c.out, "dinput"}}, {{c.x, "grad_output"}});
        c.g.N = c.out.shape[0], c.g.C = c.out.shape[1], c.g.H = c.out.shape[2], c.g.W = c.out.shape[3];
        global_b(c);
      },
      py::arg("dinput"), py::arg("grad_output"),
      "Backward of global_avg_pool2d: dinput (N,C,H,W) = grad_output (N,C) / (H*W), broadcast.");
}

}  // namespace fastann::bindings
