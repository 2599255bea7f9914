"""Argument checks of the recurrent family (rnn, rnn_backward), shared by ops and reference."""
from __future__ import annotations

from .common import array, flag, same_device, same_dtype

#: mode -> (gates G, saved columns per unit S); see fastann.reference.rnn for the layouts.
MODES = {"rnn_tanh": (1, 1), "rnn_relu": (1, 1), "lstm": (4, 5), "gru": (3, 4), "gru_reset_before": (3, 4)}
RUNGS = (1, 2, 3)


def check_mode(op, mode) -> tuple[int, int]:
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    return MODES[mode]


def check_rung(op, rung):
    if rung is None:
        return None
    if isinstance(rung, bool) or not isinstance(rung, int) or rung not in RUNGS:
        raise ValueError(f"{op}: rung must be None (auto), 1, 2 or 3, got {rung!r}")
    return rung


def shape_is(op, name, a, shape):
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {tuple(a.shape)}")


def check_rnn(op, mode, input, weight_ih, weight_hh, bias_ih=None, bias_hh=None, h0=None, c0=None,
              go_backwards=False, rung=None, **more):
    """Check a call of rnn / rnn_backward; returns (N, T, F, H, G, S).

    input (N,T,F) with T >= 1; weight_ih (G*H,F), weight_hh (G*H,H); bias_ih, bias_hh (G*H,) or None; h0,
    c0 (N,H) or None (c0 for mode 'lstm' only); ``more``: further named arrays with their required shapes
    as (array, shape) pairs (None arrays skipped; a None shape checks only the array itself). TypeError for non-arrays, integer dtypes or mixed dtypes /
    devices; ValueError for ranks, shapes, an empty sequence, an unknown mode or rung.
    """
    G, S = check_mode(op, mode)
    flag(op, "go_backwards", go_backwards)
    check_rung(op, rung)
    array(op, "input", input, ndim=3, layout="(N, T, F)")
    array(op, "weight_ih", weight_ih, ndim=2, layout="(G*H, F)")
    array(op, "weight_hh", weight_hh, ndim=2, layout="(G*H, H)")
    N, T, F = input.shape
    H = weight_hh.shape[1]
    shape_is(op, "weight_hh", weight_hh, (G * H, H))
    shape_is(op, "weight_ih", weight_ih, (G * H, F))
    arrays = dict(input=input, weight_ih=weight_ih, weight_hh=weight_hh)
    for name, a, shape in [("bias_ih", bias_ih, (G * H,)), ("bias_hh", bias_hh, (G * H,)), ("h0", h0, (N, H)),
                           ("c0", c0, (N, H))] + [(k, v[0], v[1]) for k, v in more.items()]:
        if a is None:
            continue
        array(op, name, a)
        if shape is not None:
            shape_is(op, name, a, shape)
        arrays[name] = a
    if c0 is not None and mode != "lstm":
        raise ValueError(f"{op}: c0 is an LSTM's cell state; mode {mode!r} takes None")
    same_dtype(op, **arrays)
    same_device(op, **arrays)
    return N, T, F, H, G, S


def check_rnn_backward(op, mode, grad_output, grad_h_n, grad_c_n, input, weight_ih, weight_hh, output, saved,
                       h0, c0, go_backwards, rung):
    """check_rnn plus the backward's arrays: grad_output (N,T,H), grad_h_n (N,H), grad_c_n (N,H) (lstm only)
    or None; output (N,T,H) and saved (N,T,S*H) required. Returns (N, T, F, H, G, S)."""
    if output is None or saved is None:
        name = "output" if output is None else "saved"
        raise TypeError(f"{op}: {name} must be a numpy or cupy ndarray, got NoneType")
    more = dict(grad_output=(grad_output, None), grad_h_n=(grad_h_n, None), grad_c_n=(grad_c_n, None),
                output=(output, None), saved=(saved, None))
    N, T, F, H, G, S = check_rnn(op, mode, input, weight_ih, weight_hh, None, None, h0, c0, go_backwards, rung,
                                 **more)
    if grad_c_n is not None and mode != "lstm":
        raise ValueError(f"{op}: grad_c_n is an LSTM's; mode {mode!r} takes None")
    for name, a, shape in [("grad_output", grad_output, (N, T, H)), ("output", output, (N, T, H)),
                           ("saved", saved, (N, T, S * H)), ("grad_h_n", grad_h_n, (N, H)),
                           ("grad_c_n", grad_c_n, (N, H))]:
        if a is not None:
            shape_is(op, name, a, shape)
    return N, T, F, H, G, S


__all__ = ["check_rnn", "check_rnn_backward", "shape_is", "check_mode", "check_rung", "MODES"]
