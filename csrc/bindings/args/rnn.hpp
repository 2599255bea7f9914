// args/rnn.hpp: signatures and argument parsing of rnn_forward / rnn_backward (Elman RNN, LSTM, GRU over a
// whole sequence), written once for any backend: the checks and messages are the same wherever the arrays
// live. Layouts: see csrc/include/fastann/cpu/rnn.hpp.
#pragma once

#include <optional>
#include <string>

#include "checks.hpp"
#include "fastann/cpu/rnn.hpp"

namespace fastann::bindings {

// input() / output() of checks.hpp under names the parameters below do not shadow.
inline ArrayView input_of(py::handle obj, Device dev, FloatType ft, const char* op, const char* name) {
  return input(obj, dev, ft, op, name);
}
inline ArrayView output_of(py::handle obj, Device dev, FloatType ft, const char* op, const char* name) {
  return output(obj, dev, ft, op, name);
}

struct RnnCall {
  FloatType ft;
  cpu::RnnCell cell;
  int64_t n = 0, t = 0, f = 0, h = 0;
  bool go_backwards = false;
  int rung = 0;
  ArrayView input, weight_ih, weight_hh, output, saved;
  std::optional<ArrayView> h0, c0, bias_ih, bias_hh;
  // forward outputs
  ArrayView h_n;
  std::optional<ArrayView> c_n;
  // backward: gradients in and out
  std::optional<ArrayView> grad_output, grad_h_n, grad_c_n, dc0, dbias_ih, dbias_hh;
  ArrayView dinput, dh0, dweight_ih, dweight_hh;
};

inline cpu::RnnCell rnn_mode(const std::string& mode, const char* op) {
  if (mode == "rnn_tanh") return cpu::RnnCell::rnn_tanh;
  if (mode == "rnn_relu") return cpu::RnnCell::rnn_relu;
  if (mode == "lstm") return cpu::RnnCell::lstm;
  if (mode == "gru") return cpu::RnnCell::gru;
  if (mode == "gru_reset_before") return cpu::RnnCell::gru_rb;
  fail(op, ": mode must be 'rnn_tanh', 'rnn_relu', 'lstm', 'gru' or 'gru_reset_before', got '", mode, "'");
}

// The inputs both directions share: input (N,T,F), h0/c0 (N,H), weights, biases; sets the sizes. max_rung: the
// backend's ladder.
inline void parse_rnn_inputs(RnnCall& c, Device dev, const char* op, const std::string& mode, py::handle input,
                             py::handle h0, py::handle c0, py::handle weight_ih, py::handle weight_hh,
                             py::handle bias_ih, py::handle bias_hh, bool go_backwards, const IntArg& rung,
                             int max_rung) {
  c.cell = rnn_mode(mode, op);
  c.go_backwards = go_backwards;
  c.rung = rung_arg(rung, op);
  FASTANN_CHECK(c.rung <= max_rung, op, ": rung must be in [0, ", max_rung, "], got ", c.rung);
  c.input = leading(input, dev, &c.ft, op, "input");
  require_ndim(c.input, 3, op, "input", "(N, T, F)");
  require_nonempty(c.input, op, "input");
  c.n = c.input.shape[0], c.t = c.input.shape[1], c.f = c.input.shape[2];
  const int64_t G = cpu::rnn_gates(c.cell);
  c.weight_hh = input_of(weight_hh, dev, c.ft, op, "weight_hh");
  require_ndim(c.weight_hh, 2, op, "weight_hh", "(G*H, H)");
  c.h = c.weight_hh.shape[1];
  FASTANN_CHECK(c.h > 0, op, ": weight_hh must have H > 0 columns, got shape ", shape_str(c.weight_hh));
  require_shape(c.weight_hh, {G * c.h, c.h}, op, "weight_hh");
  c.weight_ih = input_of(weight_ih, dev, c.ft, op, "weight_ih");
  require_shape(c.weight_ih, {G * c.h, c.f}, op, "weight_ih");
  c.bias_ih = opt_input(bias_ih, dev, c.ft, op, "bias_ih");
  if (c.bias_ih) require_shape(*c.bias_ih, {G * c.h}, op, "bias_ih");
  c.bias_hh = opt_input(bias_hh, dev, c.ft, op, "bias_hh");
  if (c.bias_hh) require_shape(*c.bias_hh, {G * c.h}, op, "bias_hh");
  c.h0 = opt_input(h0, dev, c.ft, op, "h0");
  if (c.h0) require_shape(*c.h0, {c.n, c.h}, op, "h0");
  c.c0 = opt_input(c0, dev, c.ft, op, "c0");
  if (c.c0) {
    FASTANN_CHECK(c.cell == cpu::RnnCell::lstm, op, ": c0 is an LSTM's cell state; mode '", mode, "' takes None");
    require_shape(*c.c0, {c.n, c.h}, op, "c0");
  }
}

inline std::vector<int64_t> rnn_saved_shape(const RnnCall& c) { return {c.n, c.t, cpu::rnn_saved(c.cell) * c.h}; }

// max_rung: the highest rung of the backend's ladder (the CPU's by default).
template <class Run>
void def_rnn(py::module_& m, Device dev, const char* forward_doc, const char* backward_doc, Run run,
             int max_rung = cpu::kRnnRungs) {
  m.def(
      "rnn_forward",
      [dev, run, max_rung](const std::string& mode, py::object output, py::object h_n, py::object c_n, py::object saved,
                 py::object input, py::object h0, py::object c0, py::object weight_ih, py::object weight_hh,
                 py::object bias_ih, py::object bias_hh, bool go_backwards, IntArg rung) {
        const char* op = "rnn_forward";
        RnnCall c;
        parse_rnn_inputs(c, dev, op, mode, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, go_backwards, rung,
                         max_rung);
        c.output = output_of(output, dev, c.ft, op, "output");
        require_shape(c.output, {c.n, c.t, c.h}, op, "output");
        c.h_n = output_of(h_n, dev, c.ft, op, "h_n");
        require_shape(c.h_n, {c.n, c.h}, op, "h_n");
        c.c_n = opt_output(c_n, dev, c.ft, op, "c_n");
        const bool lstm = c.cell == cpu::RnnCell::lstm;
        FASTANN_CHECK(c.c_n.has_value() == lstm, op, ": c_n must be ", lstm ? "an (N, H) array" : "None",
                      " for mode '", mode, "'");
        if (c.c_n) require_shape(*c.c_n, {c.n, c.h}, op, "c_n");
        c.saved = output_of(saved, dev, c.ft, op, "saved");
        require_shape(c.saved, rnn_saved_shape(c), op, "saved");
        require_disjoint(op, {{c.output, "output"}, {c.h_n, "h_n"}, {c.c_n, "c_n"}, {c.saved, "saved"}},
                         {{c.input, "input"}, {c.h0, "h0"}, {c.c0, "c0"}, {c.weight_ih, "weight_ih"},
                          {c.weight_hh, "weight_hh"}, {c.bias_ih, "bias_ih"}, {c.bias_hh, "bias_hh"}});
        run(c, false);
      },
      py::arg("mode"), py::arg("output"), py::arg("h_n"), py::arg("c_n"), py::arg("saved"), py::arg("input"),
      py::arg("h0"), py::arg("c0"), py::arg("weight_ih"), py::arg("weight_hh"), py::arg("bias_ih"),
      py::arg("bias_hh"), py::arg("go_backwards") = false, py::arg("rung") = 0, forward_doc);
  m.def(
      "rnn_backward",
      [dev, run, max_rung](const std::string& mode, py::object dinput, py::object dh0, py::object dc0,
                           py::object dweight_ih, py::object dweight_hh, py::object dbias_ih, py::object dbias_hh, py::object grad_output,
                 py::object grad_h_n, py::object grad_c_n, py::object input, py::object h0, py::object c0,
                 py::object weight_ih, py::object weight_hh, py::object output, py::object saved, bool go_backwards,
                 IntArg rung) {
        const char* op = "rnn_backward";
        RnnCall c;
        parse_rnn_inputs(c, dev, op, mode, input, h0, c0, weight_ih, weight_hh, py::none(), py::none(), go_backwards,
                         rung, max_rung);
        const bool lstm = c.cell == cpu::RnnCell::lstm;
        const int64_t GH = cpu::rnn_gates(c.cell) * c.h;
        c.output = input_of(output, dev, c.ft, op, "output");
        require_shape(c.output, {c.n, c.t, c.h}, op, "output");
        c.saved = input_of(saved, dev, c.ft, op, "saved");
        require_shape(c.saved, rnn_saved_shape(c), op, "saved");
        c.grad_output = opt_input(grad_output, dev, c.ft, op, "grad_output");
        if (c.grad_output) require_shape(*c.grad_output, {c.n, c.t, c.h}, op, "grad_output");
        c.grad_h_n = opt_input(grad_h_n, dev, c.ft, op, "grad_h_n");
        if (c.grad_h_n) require_shape(*c.grad_h_n, {c.n, c.h}, op, "grad_h_n");
        c.grad_c_n = opt_input(grad_c_n, dev, c.ft, op, "grad_c_n");
        if (c.grad_c_n) {
          FASTANN_CHECK(lstm, op, ": grad_c_n is an LSTM's; mode '", mode, "' takes None");
          require_shape(*c.grad_c_n, {c.n, c.h}, op, "grad_c_n");
        }
        // dinput None: the input gradient is not computed (CPU only; c.dinput stays empty, its pointer null)
        if (!dinput.is_none() || dev != Device::cpu) {
          c.dinput = output_of(dinput, dev, c.ft, op, "dinput");
          require_shape(c.dinput, {c.n, c.t, c.f}, op, "dinput");
        }
        c.dh0 = output_of(dh0, dev, c.ft, op, "dh0");
        require_shape(c.dh0, {c.n, c.h}, op, "dh0");
        c.dc0 = opt_output(dc0, dev, c.ft, op, "dc0");
        FASTANN_CHECK(c.dc0.has_value() == lstm, op, ": dc0 must be ", lstm ? "an (N, H) array" : "None",
                      " for mode '", mode, "'");
        if (c.dc0) require_shape(*c.dc0, {c.n, c.h}, op, "dc0");
        c.dweight_ih = output_of(dweight_ih, dev, c.ft, op, "dweight_ih");
        require_shape(c.dweight_ih, {GH, c.f}, op, "dweight_ih");
        c.dweight_hh = output_of(dweight_hh, dev, c.ft, op, "dweight_hh");
        require_shape(c.dweight_hh, {GH, c.h}, op, "dweight_hh");
        c.dbias_ih = opt_output(dbias_ih, dev, c.ft, op, "dbias_ih");
        if (c.dbias_ih) require_shape(*c.dbias_ih, {GH}, op, "dbias_ih");
        c.dbias_hh = opt_output(dbias_hh, dev, c.ft, op, "dbias_hh");
        if (c.dbias_hh) require_shape(*c.dbias_hh, {GH}, op, "dbias_hh");
        require_disjoint(op,
                         {{c.dinput, "dinput"}, {c.dh0, "dh0"}, {c.dc0, "dc0"}, {c.dweight_ih, "dweight_ih"},
                          {c.dweight_hh, "dweight_hh"}, {c.dbias_ih, "dbias_ih"}, {c.dbias_hh, "dbias_hh"}},
                         {{c.grad_output, "grad_output"}, {c.grad_h_n, "grad_h_n"}, {c.grad_c_n, "grad_c_n"},
                          {c.input, "input"}, {c.h0, "h0"}, {c.c0, "c0"}, {c.weight_ih, "weight_ih"},
                          {c.weight_hh, "weight_hh"}, {c.output, "output"}, {c.saved, "saved"}});
        run(c, true);
      },
      py::arg("mode"), py::arg("dinput"), py::arg("dh0"), py::arg("dc0"), py::arg("dweight_ih"),
      py::arg("dweight_hh"), py::arg("dbias_ih"), py::arg("dbias_hh"), py::arg("grad_output"), py::arg("grad_h_n"),
      py::arg("grad_c_n"), py::arg("input"), py::arg("h0"), py::arg("c0"), py::arg("weight_ih"),
      py::arg("weight_hh"), py::arg("output"), py::arg("saved"), py::arg("go_backwards") = false,
      py::arg("rung") = 0, backward_doc);
}

// A parsed call as the kernels' argument struct: the same fields in cpu::RnnArgs<T> and cuda::RnnArgs<T>.
template <class T, class Args>
Args rnn_kernel_args(const RnnCall& c) {
  Args a;
  a.cell = c.cell;
  a.n = c.n, a.t = c.t, a.f = c.f, a.h = c.h;
  a.go_backwards = c.go_backwards;
  a.input = c.input.ptr<const T>();
  a.h0 = ptr_or_null<const T>(c.h0);
  a.c0 = ptr_or_null<const T>(c.c0);
  a.weight_ih = c.weight_ih.ptr<const T>();
  a.weight_hh = c.weight_hh.ptr<const T>();
  a.bias_ih = ptr_or_null<const T>(c.bias_ih);
  a.bias_hh = ptr_or_null<const T>(c.bias_hh);
  return a;
}

}  // namespace fastann::bindings
