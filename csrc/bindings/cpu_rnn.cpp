// cpu_rnn.cpp: the recurrent family of fastann._cpu; signatures and checks in args/rnn.hpp, kernels in
// csrc/cpu/rnn_*.cpp.
#include "args/rnn.hpp"
#include "families.hpp"
#include "fastann/cpu/rnn.hpp"

namespace fastann::bindings {

void bind_rnn(py::module_& m) {
  def_rnn(
      m, Device::cpu,
      "A recurrent layer over a whole sequence. mode: 'rnn_tanh', 'rnn_relu', 'lstm' (gates i,f,g,o), 'gru' "
      "(r,z,n; reset after the product) or 'gru_reset_before'. input (N,T,F); h0, c0 (N,H) or None (zeros; c0 "
      "lstm only); weight_ih (G*H,F), weight_hh (G*H,H), bias_ih, bias_hh (G*H,) or None. Writes output "
      "(N,T,H), h_n (N,H), c_n (N,H) (lstm; None otherwise) and saved (N,T,S*H), S = 1 rnn, 5 lstm, 4 gru, "
      "what rnn_backward reads. go_backwards: step s reads input[:, T-1-s]. rung: 0 auto, 1 naive, 2 GEMM, 3 fused.",
      "Backpropagation through time for rnn_forward's call with the same mode, input, h0, c0, weights, "
      "go_backwards. grad_output (N,T,H), grad_h_n, grad_c_n (N,H) or None (zeros). Writes dinput (N,T,F) (None: not "
      "computed), dh0 (N,H), dc0 (N,H) (lstm; None otherwise), dweight_ih, dweight_hh, dbias_ih, dbias_hh (None: not computed).",
      [](const RnnCall& c, bool backward) {
        dispatch_float(c.ft, [&](auto tag) {
          using T = decltype(tag);
          const auto a = rnn_kernel_args<T, cpu::RnnArgs<T>>(c);
          nogil release;
          if (!backward) {
            cpu::rnn_forward<T>(c.output.ptr<T>(), c.h_n.ptr<T>(), ptr_or_null<T>(c.c_n), c.saved.ptr<T>(), a, c.rung);
          } else {
            cpu::rnn_backward<T>(c.dinput.ptr<T>(), c.dh0.ptr<T>(), ptr_or_null<T>(c.dc0), c.dweight_ih.ptr<T>(),
                                 c.dweight_hh.ptr<T>(), ptr_or_null<T>(c.dbias_ih), ptr_or_null<T>(c.dbias_hh),
                                 ptr_or_null<const T>(c.grad_output), ptr_or_null<const T>(c.grad_h_n),
                                 ptr_or_null<const T>(c.grad_c_n), c.output.ptr<const T>(), c.saved.ptr<const T>(), a,
                                 c.rung);
          }
        });
      });
}

}  // namespace fastann::bindings
