// cpu_norm.cpp: the norm family of fastann._cpu: batch norm (signatures and checks in args/norm.hpp) and the
// CPU-only fused batch_norm_relu (+ 2x2 max pool), whose checks live here; kernels in csrc/cpu/norm*.cpp.
#include <algorithm>

#include "args/norm.hpp"
#include "families.hpp"
#include "fastann/cpu/norm.hpp"

namespace fastann::bindings {

namespace {

constexpr Device kDev = Device::cpu;

// The fused batch_norm_relu's image layout: input (N,C,H,W) and the (pooled) output's shape.
struct FusedLayout {
  int64_t N, C, H, W;
  std::vector<int64_t> out_shape;
};

FusedLayout fused_layout(const char* op, const ArrayView& input, int64_t pool) {
  FASTANN_CHECK(pool == 1 || pool == 2, op, ": pool must be 1 (no pooling) or 2 (2x2 max pool), got ", pool);
  require_ndim(input, 4, op, "input", "(N,C,H,W)");
  require_nonempty(input, op, "input");
  const int64_t N = input.shape[0], C = input.shape[1], H = input.shape[2], W = input.shape[3];
  FASTANN_CHECK(H >= pool && W >= pool, op, ": a 2x2 max pool needs H, W >= 2, got input shape ", shape_str(input));
  return {N, C, H, W, {N, C, H / pool, W / pool}};
}

// window_index: uint8, C-contiguous, the output's shape; present exactly when pool == 2.
std::optional<ArrayView> window_index_arg(py::handle wi, const FusedLayout& l, int64_t pool, bool out,
                                          const char* op) {
  FASTANN_CHECK(!wi.is_none() == (pool == 2), op, ": window_index is needed with pool=2 and only then (pool=", pool,
                ")");
  if (wi.is_none()) return std::nullopt;
  ArrayView v = int_array(wi, kDev, DType::u8, op, "window_index", out);
  require_shape(v, l.out_shape, op, "window_index");
  return v;
}

}  // namespace

void bind_norm(py::module_& m) {
  def_batch_norm(
      m, kDev,
      [](const BatchNormCall& b) {
        dispatch_float(b.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::batch_norm_forward_training<T>(b.out.ptr<T>(), b.save_mean->ptr<T>(), b.save_invstd->ptr<T>(),
                                              ptr_or_null<T>(b.running_mean), ptr_or_null<T>(b.running_var),
                                              b.input.ptr<const T>(), ptr_or_null<const T>(b.weight),
                                              ptr_or_null<const T>(b.bias), b.l.N, b.l.C, b.l.HW, b.momentum, b.eps);
        });
      },
      [](const BatchNormCall& b) {
        dispatch_float(b.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::batch_norm_forward_inference<T>(b.out.ptr<T>(), b.input.ptr<const T>(), b.running_mean->ptr<const T>(),
                                               b.running_var->ptr<const T>(), ptr_or_null<const T>(b.weight),
                                               ptr_or_null<const T>(b.bias), b.l.N, b.l.C, b.l.HW, b.eps);
        });
      },
      [](const BatchNormCall& b) {
        dispatch_float(b.ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::batch_norm_backward<T>(b.out.ptr<T>(), b.dweight->ptr<T>(), b.dbias->ptr<T>(),
                                      b.grad_output->ptr<const T>(), b.input.ptr<const T>(),
                                      ptr_or_null<const T>(b.weight), b.save_mean->ptr<const T>(),
                                      b.save_invstd->ptr<const T>(), b.l.N, b.l.C, b.l.HW);
        });
      });

  m.def(
      "batch_norm_relu_forward",
      [](py::object out_, py::object window_index, py::object save_mean, py::object save_invstd,
         py::object running_mean, py::object running_var, py::object input, py::object weight, py::object bias,
         bool training, double momentum, double eps, IntArg pool_) {
        const char* op = "batch_norm_relu";
        FloatType ft;
        const ArrayView x = leading(input, kDev, &ft, op, "input");
        const int64_t pool = to_int64(pool_, op, "pool");
        const FusedLayout l = fused_layout(op, x, pool);
        FASTANN_CHECK(!training || l.N * l.H * l.W >= 2, op,
                      ": training needs more than one value per channel, got input shape ", shape_str(x));
        check_norm_momentum(op, momentum);
        check_norm_eps(op, eps);
        const ArrayView out = output(out_, kDev, ft, op, "out");
        require_shape(out, l.out_shape, op, "out");
        const auto wi = window_index_arg(window_index, l, pool, true, op);
        if (training)
          FASTANN_CHECK(!save_mean.is_none() && !save_invstd.is_none(), op,
                        ": training needs save_mean and save_invstd");
        else
          FASTANN_CHECK(!running_mean.is_none() && !running_var.is_none(), op,
                        ": inference needs running_mean and running_var");
        const auto sm = training ? channel(save_mean, kDev, ft, l.C, op, "save_mean", true, true) : std::nullopt;
        const auto si = training ? channel(save_invstd, kDev, ft, l.C, op, "save_invstd", true, true) : std::nullopt;
        const auto rm = channel(running_mean, kDev, ft, l.C, op, "running_mean", training, false);
        const auto rv = channel(running_var, kDev, ft, l.C, op, "running_var", training, false);
        const auto w = channel(weight, kDev, ft, l.C, op, "weight", false, false);
        const auto b = channel(bias, kDev, ft, l.C, op, "bias", false, false);
        const Named rm_n(rm, "running_mean"), rv_n(rv, "running_var");
        if (training)
          require_disjoint(op, {{out, "out"}, {wi, "window_index"}, {sm, "save_mean"}, {si, "save_invstd"}, rm_n, rv_n},
                           {{x, "input"}, {w, "weight"}, {b, "bias"}});
        else
          require_disjoint(op, {{out, "out"}, {wi, "window_index"}}, {{x, "input"}, {w, "weight"}, {b, "bias"}, rm_n, rv_n});
        dispatch_float(ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::batch_norm_relu_forward<T>(out.ptr<T>(), ptr_or_null<uint8_t>(wi), ptr_or_null<T>(sm),
                                          ptr_or_null<T>(si), ptr_or_null<T>(rm), ptr_or_null<T>(rv), x.ptr<const T>(),
                                          ptr_or_null<const T>(w), ptr_or_null<const T>(b), l.N, l.C, l.H, l.W,
                                          static_cast<int>(pool), training, momentum, eps);
        });
      },
      py::arg("out"), py::arg("window_index").none(true), py::arg("save_mean").none(true),
      py::arg("save_invstd").none(true), py::arg("running_mean").none(true), py::arg("running_var").none(true),
      py::arg("input"), py::arg("weight").none(true), py::arg("bias").none(true), py::arg("training"),
      py::arg("momentum"), py::arg("eps"), py::arg("pool"),
      "Fused batch norm + ReLU (+ 2x2/stride-2 max pool when pool=2): out (N,C,H/pool,W/pool), window_index "
      "(uint8, pool=2 only: 2*row+column of each window's winner) <- input (N,C,H,W). Training: batch "
      "statistics into save_mean, save_invstd (C,), running stats updated unless None; inference: "
      "running_mean, running_var read.");

  m.def(
      "batch_norm_relu_backward",
      [](py::object dinput, py::object dweight, py::object dbias, py::object grad_output, py::object output_,
         py::object window_index, py::object input_, py::object weight, py::object bias, py::object save_mean,
         py::object save_invstd, IntArg pool_) {
        const char* op = "batch_norm_relu_backward";
        FloatType ft;
        const ArrayView x = leading(input_, kDev, &ft, op, "input");
        const int64_t pool = to_int64(pool_, op, "pool");
        const FusedLayout l = fused_layout(op, x, pool);
        const ArrayView dy = input(grad_output, kDev, ft, op, "grad_output");
        require_shape(dy, l.out_shape, op, "grad_output");
        const ArrayView y = input(output_, kDev, ft, op, "output");
        require_shape(y, l.out_shape, op, "output");
        const auto wi = window_index_arg(window_index, l, pool, false, op);
        const ArrayView dx = output(dinput, kDev, ft, op, "dinput");
        require_shape(dx, {l.N, l.C, l.H, l.W}, op, "dinput");
        const auto dw = channel(dweight, kDev, ft, l.C, op, "dweight", true, true);
        const auto db = channel(dbias, kDev, ft, l.C, op, "dbias", true, true);
        const auto w = channel(weight, kDev, ft, l.C, op, "weight", false, false);
        const auto b = channel(bias, kDev, ft, l.C, op, "bias", false, false);
        const auto sm = channel(save_mean, kDev, ft, l.C, op, "save_mean", false, true);
        const auto si = channel(save_invstd, kDev, ft, l.C, op, "save_invstd", false, true);
        require_disjoint(op, {{dx, "dinput"}, {dw, "dweight"}, {db, "dbias"}},
                         {{dy, "grad_output"}, {y, "output"}, {wi, "window_index"}, {x, "input"}, {w, "weight"},
                          {b, "bias"}, {sm, "save_mean"}, {si, "save_invstd"}});
        if (wi) {  // a byte outside 0..3 would drop its gradient silently
          const uint8_t* p = wi->ptr<const uint8_t>();
          uint8_t worst = 0;
          for (int64_t i = 0; i < wi->size; ++i) worst = std::max(worst, p[i]);
          FASTANN_CHECK(worst <= 3, op, ": window_index values must be 0..3 (2*row + column), found ", int(worst));
        }
        dispatch_float(ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::batch_norm_relu_backward<T>(dx.ptr<T>(), dw->ptr<T>(), db->ptr<T>(), dy.ptr<const T>(),
                                           y.ptr<const T>(), ptr_or_null<const uint8_t>(wi), x.ptr<const T>(),
                                           ptr_or_null<const T>(w), ptr_or_null<const T>(b), sm->ptr<const T>(),
                                           si->ptr<const T>(), l.N, l.C, l.H, l.W, static_cast<int>(pool));
        });
      },
      py::arg("dinput"), py::arg("dweight"), py::arg("dbias"), py::arg("grad_output"), py::arg("output"),
      py::arg("window_index").none(true), py::arg("input"), py::arg("weight").none(true),
      py::arg("bias").none(true), py::arg("save_mean"), py::arg("save_invstd"), py::arg("pool"),
      "Backward of training-mode batch_norm_relu_forward: dinput (N,C,H,W), dweight = sum(dz*xhat), dbias = "
      "sum(dz) (C,) <- grad_output, output (its forward's out: output > 0 is the ReLU mask, and output - bias "
      "gives the live values' normalized input), window_index (pool=2), input, weight and bias (or None) as "
      "given to the forward, save_mean, save_invstd.");

  m.def(
      "relu_max_pool2_forward",
      [](py::object out_, py::object window_index, py::object input_) {
        const char* op = "relu_max_pool2";
        FloatType ft;
        const ArrayView x = leading(input_, kDev, &ft, op, "input");
        const FusedLayout l = fused_layout(op, x, 2);
        const ArrayView y = output(out_, kDev, ft, op, "out");
        require_shape(y, l.out_shape, op, "out");
        const auto wi = window_index_arg(window_index, l, 2, true, op);
        require_disjoint(op, {{y, "out"}, {wi, "window_index"}}, {{x, "input"}});
        dispatch_float(ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::relu_max_pool2_forward<T>(y.ptr<T>(), wi->ptr<uint8_t>(), x.ptr<const T>(), l.N, l.C, l.H, l.W);
        });
      },
      py::arg("out"), py::arg("window_index"), py::arg("input"),
      "Fused ReLU + 2x2/stride-2 max pool (floor mode): out (N,C,H/2,W/2) = max_pool2x2(relu(input)), "
      "window_index (uint8, like out) = 2*row+column of each window's winner <- input (N,C,H,W).");

  m.def(
      "relu_max_pool2_backward",
      [](py::object dinput, py::object grad_output, py::object output_, py::object window_index) {
        const char* op = "relu_max_pool2_backward";
        FloatType ft;
        const ArrayView dx = leading(dinput, kDev, &ft, op, "dinput", true);
        const FusedLayout l = fused_layout(op, dx, 2);
        const ArrayView dy = input(grad_output, kDev, ft, op, "grad_output");
        require_shape(dy, l.out_shape, op, "grad_output");
        const ArrayView y = input(output_, kDev, ft, op, "output");
        require_shape(y, l.out_shape, op, "output");
        const auto wi = window_index_arg(window_index, l, 2, false, op);
        require_disjoint(op, {{dx, "dinput"}}, {{dy, "grad_output"}, {y, "output"}, {wi, "window_index"}});
        const uint8_t* p = wi->ptr<const uint8_t>();  // a byte outside 0..3 would drop its gradient silently
        uint8_t worst = 0;
        for (int64_t i = 0; i < wi->size; ++i) worst = std::max(worst, p[i]);
        FASTANN_CHECK(worst <= 3, op, ": window_index values must be 0..3 (2*row + column), found ", int(worst));
        dispatch_float(ft, [&](auto tag) {
          using T = decltype(tag);
          nogil release;
          cpu::relu_max_pool2_backward<T>(dx.ptr<T>(), dy.ptr<const T>(), y.ptr<const T>(),
                                          wi->ptr<const uint8_t>(), l.N, l.C, l.H, l.W);
        });
      },
      py::arg("dinput"), py::arg("grad_output"), py::arg("output"), py::arg("window_index"),
      "Backward of relu_max_pool2_forward, as max_pool2d_backward then relu_backward: dinput (N,C,H,W) = "
      "(0 + grad_output) * relu'(output) (1 where > 0, NaN where NaN, else 0) at each window's winner (the first "
      "tap where output is 0), zero elsewhere <- grad_output, output, window_index (N,C,H/2,W/2) from the "
      "forward.");
}

}  // namespace fastann::bindings
