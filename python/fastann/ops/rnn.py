"""fastann.ops: recurrent networks over a whole sequence (Elman RNN, LSTM, GRU), forward and
backpropagation through time: NumPy arrays run the CPU kernels of csrc/cpu/rnn_*.cpp, CuPy arrays the CUDA
kernels of csrc/cuda/rnn_*.cu (the same rungs 1 and 2; results agree within float tolerances).

Layouts follow PyTorch's weights (``torch.nn.LSTM``'s ``weight_ih_l0`` (G*H, F), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0``, ``bias_hh_l0`` (G*H,), gates i,f,g,o for the LSTM and r,z,n for the GRU) with batch-first
sequences: input (N, T, F), output (N, T, H). The cells and the ``saved`` array are specified in
:mod:`fastann.reference.rnn`; docs/rnn.md derives the math and the ladder.

mode: 'rnn_tanh', 'rnn_relu', 'lstm', 'gru' (reset after the product: cuDNN, torch.nn.GRU, Keras's default)
or 'gru_reset_before' (Cho et al. 2014, Keras reset_after=False). go_backwards: step s reads input[:, T-1-s]
(nothing is copied); the output stays in step order. rung: None (auto: 3 where the CPU has AVX-512, else 2),
1 (textbook loop), 2 (input projection as one GEMM, one recurrent GEMM and one fused element-wise pass per
step) or 3 (rung 2 with W_hh packed once per call and the cell's element-wise work in the epilogue of the
recurrent GEMM's micro-tiles; the steps' work spread over the threads without a barrier per step).
"""
from __future__ import annotations

from .._args.common import flag
from .._args.rnn import check_rnn, check_rnn_backward
from ._common import backend, empty

__all__ = ["rnn", "rnn_backward"]


def rnn(input, weight_ih, weight_hh, bias_ih=None, bias_hh=None, h0=None, c0=None, mode="lstm",
        go_backwards=False, rung=None):
    """Run a recurrent layer over the sequence.

    input (N,T,F) float32/float64, T >= 1; weights and optional biases, h0, c0 (N,H) as above, all one dtype
    and all NumPy (CPU) or all CuPy (GPU).
    Returns (output (N,T,H), h_n (N,H), c_n (N,H) or None (not lstm), saved (N,T,S*H)); ``saved`` is what
    :func:`rnn_backward` needs. Raises TypeError (non-array, integer dtype, mixed dtypes or devices) and
    ValueError (rank, shapes, T = 0, mode, rung, c0 outside lstm). NaN in any input propagates to the outputs.
    """
    N, T, F, H, G, S = check_rnn("rnn", mode, input, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0,
                                 go_backwards, rung)
    k, xp = backend("rnn", input=input, weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih,
                    bias_hh=bias_hh, h0=h0, c0=c0)
    dt = input.dtype
    out, h_n, saved = empty(xp, (N, T, H), dt), empty(xp, (N, H), dt), empty(xp, (N, T, S * H), dt)
    c_n = empty(xp, (N, H), dt) if mode == "lstm" else None
    k.rnn_forward(mode, out, h_n, c_n, saved, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh,
                  bool(go_backwards), rung)
    return out, h_n, c_n, saved


def rnn_backward(grad_output, grad_h_n, grad_c_n, input, weight_ih, weight_hh, output, saved, h0=None, c0=None,
                 mode="lstm", go_backwards=False, rung=None, need_input_grad=True):
    """Backpropagation through time of :func:`rnn` (the same input, weights, h0, c0, mode, go_backwards).

    grad_output (N,T,H), grad_h_n (N,H), grad_c_n (N,H) (lstm only): gradients of the loss w.r.t. rnn's
    outputs, or None for zeros. output, saved: rnn's. Returns (dinput (N,T,F), dh0 (N,H), dc0 (N,H) or None,
    dweight_ih (G*H,F), dweight_hh (G*H,H), dbias_ih (G*H,), dbias_hh (G*H,)). need_input_grad=False returns
    None for dinput and, on the CPU, skips its GEMM (a network's first layer needs no input gradient); the
    CUDA kernels compute it regardless. Errors as :func:`rnn`.
    """
    N, T, F, H, G, S = check_rnn_backward("rnn_backward", mode, grad_output, grad_h_n, grad_c_n, input, weight_ih,
                                          weight_hh, output, saved, h0, c0, go_backwards, rung)
    flag("rnn_backward", "need_input_grad", need_input_grad)
    k, xp = backend("rnn_backward", grad_output=grad_output, grad_h_n=grad_h_n, grad_c_n=grad_c_n, input=input,
                    weight_ih=weight_ih, weight_hh=weight_hh, output=output, saved=saved, h0=h0, c0=c0)
    dt = input.dtype
    skip_dx = not need_input_grad and xp.__name__ == "numpy"
    dx, dh0, dwi, dwh = (None if skip_dx else empty(xp, (N, T, F), dt), empty(xp, (N, H), dt),
                         empty(xp, (G * H, F), dt), empty(xp, (G * H, H), dt))
    dbi, dbh = empty(xp, (G * H,), dt), empty(xp, (G * H,), dt)
    dc0 = empty(xp, (N, H), dt) if mode == "lstm" else None
    k.rnn_backward(mode, dx, dh0, dc0, dwi, dwh, dbi, dbh, grad_output, grad_h_n, grad_c_n, input, h0, c0,
                   weight_ih, weight_hh, output, saved, bool(go_backwards), rung)
    return (dx if need_input_grad else None), dh0, dc0, dwi, dwh, dbi, dbh
