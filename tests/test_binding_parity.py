"""fastann._cpu and fastann._cuda reject every bad argument with the same exception class and message.

Both modules parse their arguments with the same C++ code (csrc/bindings/args/), differing only in where an
array comes from: a NumPy array for _cpu, an object with a ``__cuda_array_interface__`` for _cuda. Each case
below describes a bad call once; it is run on _cpu with NumPy arrays and on _cuda with fake device arrays
(metadata only: every call must fail its checks before any pointer is used, so no GPU is needed), and the two
errors must match exactly. Needs fastann._cuda to be built (nvcc), not a GPU.
"""
from __future__ import annotations

import numpy as np
import pytest

from fastann import _backend

cuda_mod = _backend.cuda
pytestmark = pytest.mark.skipif(cuda_mod is None, reason="fastann._cuda was not built")

TYPESTR = {"f4": "<f4", "f8": "<f8", "f2": "<f2", "i4": "<i4", "i8": "<i8", "u1": "|u1", "i1": "|i1"}


class A:
    """An array argument: shape, dtype code, read-only flag, a step-2 view along the last axis, or an alias."""

    def __init__(self, *shape, dt="f4", ro=False, strided=False):
        self.shape, self.dt, self.ro, self.strided = shape, dt, ro, strided


class Same:
    """The same array as argument number `i` of the call (an overlapping output)."""

    def __init__(self, i):
        self.i = i


class FakeDeviceArray:
    _next = 0x7F0000000000

    def __init__(self, shape, typestr, strides, readonly):
        ptr = FakeDeviceArray._next
        FakeDeviceArray._next += 1 << 24
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, readonly),
                                         "strides": strides, "version": 3}


def to_numpy(a):
    if a.strided:
        base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dt)
        x = base[..., ::2]
    else:
        x = np.zeros(a.shape, a.dt)
    x.flags.writeable = not a.ro
    return x


def to_fake(a):
    x = to_numpy(a)  # same strides as the host array
    strides = x.strides if a.strided else None
    return FakeDeviceArray(a.shape, TYPESTR[a.dt], strides, a.ro)


class Item:
    """Entry `j` of the list given as argument number `i` (an array repeated across the lists of a
    multi-tensor call)."""

    def __init__(self, i, j):
        self.i, self.j = i, j


def build(args, convert):
    out = []
    for a in args:
        if isinstance(a, list):  # the list arguments of the multi-tensor steps
            out.append([out[x.i][x.j] if isinstance(x, Item) else convert(x) if isinstance(x, A) else x for x in a])
        else:
            out.append(out[a.i] if isinstance(a, Same) else convert(a) if isinstance(a, A) else a)
    return out


G = (1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0)  # conv2d stride, padding, dilation, groups, mode, kernel
BIG = 2**64

CASES = {
    "gemm": [
        (A(2, 2), A(2, 3, dt="i4"), A(3, 2), False, False, 1.0, 0.0, 0),
        (A(2, 2), A(2, 3), A(3, 2, dt="f8"), False, False, 1.0, 0.0, 0),
        (A(2, 2), A(2, 3, strided=True), A(3, 2), False, False, 1.0, 0.0, 0),
        (A(2, 2, ro=True), A(2, 3), A(3, 2), False, False, 1.0, 0.0, 0),
        (A(2, 2), A(2, 4), A(3, 2), False, False, 1.0, 0.0, 0),
        (A(2, 2), A(2, 2), Same(0), False, False, 1.0, 0.0, 0),
        (A(2, 2), A(2, 3), A(3, 2), False, False, 1.0, 0.0, BIG),
        (A(2, 2), A(2, 3), A(3, 2), False, False, 1.0, 0.0, 1.5),
    ],
    "linear_forward": [
        (A(2, 4), A(2, 3), A(4, 2), None, None),
        (A(2, 4), A(2, 3), A(4, 3), A(3), None),
        (A(2, 4), A(2, 3), A(4, 3), None, "tanh"),
        (A(2, 3), Same(0), A(3, 3), None, None),
    ],
    "linear_backward": [
        (None, A(4, 3), None, A(2, 4), A(2, 3), A(4, 3), None, "relu"),
        (A(2, 3), A(4, 3), None, A(2, 4), Same(0), A(4, 3), None, None),
        (None, A(4, 3, dt="f8"), None, A(2, 4), A(2, 3), A(4, 3), None, None),
    ],
    "activation_forward": [
        (A(3), A(4), "relu", 0.0),
        (A(3), A(3), "nope", 0.0),
        (A(3), A(3, dt="f2"), "relu", 0.0),
        (A(3, ro=True), A(3), "relu", 0.0),
        (A(0), A(0), "relu", 0.0),
    ],
    "activation_backward": [
        (A(3), A(3), A(4), "relu", 0.0),
        (A(3), Same(0), A(3), "relu", 0.0),
        (A(3), A(3, dt="f8"), A(3), "relu", 0.0),
    ],
    "softmax_forward": [(A(2, 3), A(2, 3), 2), (A(2, 3), A(2, 3), BIG), (A(2, 3), Same(0), -1), (A(3, 2), A(2, 3), -1)],
    "log_softmax_forward": [(A(2, 3), A(2, 3), -3), (A(2, 3), A(2, 3, dt="i8"), -1)],
    "softmax_backward": [(A(2, 3), A(2, 3), A(2, 2), -1), (A(2, 3), A(2, 3), Same(0), -1)],
    "log_softmax_backward": [(A(2, 3), A(2, 3), A(2, 3), "x"), (A(2, 3, ro=True), A(2, 3), A(2, 3), 0)],
    "dropout_forward": [(A(3), A(3), 1.0, 0), (A(3), A(4), 0.5, 0), (A(3), A(3), 0.5, -1), (A(3), Same(0), 0.5, 1)],
    "dropout_backward": [(A(3), A(3), 0.5, BIG), (A(3), A(3, dt="f8"), 0.5, 0)],
    "dropout_bits": [(-1, 0), (0, BIG), (0.5, 0)],
    "mse_loss_forward": [(A(2), A(3), A(3)), (A(), A(0), A(0)), (A(), A(3), A(3, dt="f8")), (A(), A(3), A(4))],
    "mse_loss_backward": [(A(3), A(3), A(3, dt="i8")), (A(3), A(3), Same(0))],
    "l1_loss_forward": [(A(), A(3), A(3, strided=True)), (A(ro=True), A(3), A(3))],
    "l1_loss_backward": [(A(4), A(3), A(3)), (A(3, dt="i4"), A(3), A(3))],
    "binary_cross_entropy_forward": [(A(), A(3), A(3), 0.7), (A(), A(3), A(3), float("nan"))],
    "binary_cross_entropy_backward": [(A(3), A(3), A(2), 1e-7, 1.0), (A(3), A(3), A(3), -1.0)],
    "binary_cross_entropy_with_logits_forward": [(A(1), A(3), A(3)), (A(), A(3, dt="f8"), A(3))],
    "binary_cross_entropy_with_logits_backward": [(A(3), Same(0), A(3)), (A(3), A(3), A(3, dt="f8"))],
    "cross_entropy_forward": [
        (A(), A(4, 3), A(4)),
        (A(), A(4, 3), A(5, dt="i8")),
        (A(), A(4, 3), A(4, 3, dt="u1")),
        (A(), A(4), A(4, dt="i8")),
        (A(), A(4, 3), A(4, 2)),
    ],
    "cross_entropy_backward": [(A(4, 2), A(4, 3), A(4, dt="i4"), 1.0), (A(4, 3), Same(0), A(4, 3), 1.0)],
    "cross_entropy_with_grad": [(A(), A(4, 3), A(4, 3), A(5, dt="i8"), 1.0), (A(2), A(4, 3), A(4, 3), A(4, 3), 1.0)],
    "huber_loss_forward": [(A(), A(3), A(3), 0.0), (A(), A(3), A(4), 1.0), (A(), A(3), A(3, dt="f8"), 1.0)],
    "huber_loss_backward": [(A(3), A(3), A(3), float("inf"), 1.0), (A(3), Same(0), A(3), 1.0, 1.0)],
    "kl_divergence_forward": [(A(), A(3), A(3), 0.5), (A(1), A(3), A(3), 1e-7)],
    "kl_divergence_backward": [(A(3), A(3), A(3), -1.0, 1.0), (A(3, dt="f8"), A(3), A(3), 1e-7, 1.0)],
    "hinge_loss_forward": [(A(), A(0), A(0)), (A(), A(3), A(3, strided=True))],
    "hinge_loss_backward": [(A(4), A(3), A(3), 1.0), (A(3, ro=True), A(3), A(3), 1.0)],
    "squared_hinge_loss_forward": [(A(), A(3, dt="i4"), A(3)), (A(2), A(3), A(3))],
    "squared_hinge_loss_backward": [(A(3), A(3), Same(0), 1.0), (A(3), A(3, 1), A(3), 1.0)],
    "log_cosh_loss_forward": [(A(ro=True), A(3), A(3)), (A(), A(2, 3), A(3, 2))],
    "log_cosh_loss_backward": [(A(3), A(3), A(3, dt="f2"), 1.0), (A(3), A(3), Same(0), 1.0)],
    "poisson_loss_forward": [(A(), A(3), A(3), float("nan")), (A(), A(3), A(3, dt="f8"), 1e-7)],
    "poisson_loss_backward": [(A(3), A(3), A(3), 0.7, 1.0), (A(2, 3), A(3), A(3), 1e-7, 1.0)],
    "categorical_crossentropy_forward": [(A(), A(4, 3), A(4, 3), 0.5), (A(), A(0, 3), A(4, 3), 1e-7)],
    "categorical_crossentropy_backward": [(A(4, 3), A(4, 3), A(4, 3, dt="f8"), 1e-7, 1.0), (A(4, 3), A(4, 3), Same(0), 1e-7, 1.0)],
    "sgd_step": [
        (A(3), None, A(3), 0.1, 0.9, 0.0, False, 0.0),
        (A(3), None, Same(0), 0.1, 0.0, 0.0, False, 0.0),
        (A(3), None, A(4), 0.1, 0.0, 0.0, False, 0.0),
        (A(3), A(3), A(3), -1.0, 0.9, 0.0, False, 0.0),
    ],
    "adam_step": [
        (A(3), A(3), Same(1), None, A(3), 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        (A(3), A(3), A(3), None, A(3), 0, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        (A(3), A(3), A(3), None, A(3), BIG, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        (A(3), A(3), A(3), A(2), A(3), 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
    ],
    "adamw_step": [(A(3), A(3), A(3), None, A(3), 1, 1e-3, 1.0, 0.999, 1e-7, 0.0),
                   (A(3, dt="f8"), A(3), A(3), None, A(3), 1, 1e-3, 0.9, 0.999, 1e-7, 0.0)],
    "adam_step_multi": [
        (A(3), [A(3)], [A(3)], None, [A(3)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3), A(2)], [A(3), A(2)], [A(3)], None, [A(3), A(2)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3), A(2)], [A(3), A(2, dt="f8")], [A(3), A(2)], None, [A(3), A(2)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3), A(2)], [A(3), A(2)], [A(3), A(2)], [A(3), A(3)], [A(3), A(2)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3), A(3)], [A(3), A(3)], [A(3), Item(1, 0)], None, [A(3), A(3)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3), A(3)], [A(3), A(3)], [A(3), A(3)], None, [Item(0, 1), A(3)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([], [], [], None, [], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
    ],
    "adamw_step_multi": [
        ([A(3), A(2, ro=True)], [A(3), A(2)], [A(3), A(2)], None, [A(3), A(2)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3)], [A(3)], [A(3)], None, [A(3)], 0, 1e-3, 0.9, 0.999, 1e-7, 0.0),
        ([A(3)], [A(3)], [A(3)], None, [A(3, strided=True)], 1, 1e-3, 0.9, 0.999, 1e-7, 0.0),
    ],
    "rmsprop_step": [(A(3), A(3), None, None, A(3), 0.1, 0.9, 1e-7, 0.5, 0.0),
                     (A(3), A(3), None, Same(1), A(3), 0.1, 0.9, 1e-7, 0.0, 0.0)],
    "adagrad_step": [(A(3), Same(0), A(3), 0.1, 1e-7, 0.0), (A(3), A(3, ro=True), A(3), 0.1, 1e-7, 0.0)],
    "adadelta_step": [(A(3), A(3), A(3), A(3), 1.0, 1.5, 1e-7, 0.0), (A(0), A(0), A(0), A(0), 1.0, 0.9, 1e-7, 0.0)],
    "adamax_step": [(A(3), A(3), A(3), A(3), -(2**63) - 1, 0.1, 0.9, 0.999, 1e-7, 0.0),
                    (A(3), A(3), A(3), Same(2), 1, 0.1, 0.9, 0.999, 1e-7, 0.0)],
    "nadam_step": [(A(3), A(3), A(3), A(3), 1, 1.5, 0.1, 0.9, 0.999, 1e-7, 0.0),
                   (A(3), A(3), A(3), A(3, strided=True), 1, 0.5, 0.1, 0.9, 0.999, 1e-7, 0.0)],
    "lion_step": [(A(3), A(3), A(3), 1e-3, 1.5, 0.99, 0.0), (A(3), Same(0), A(3), 1e-3, 0.9, 0.99, 0.0),
                  (A(3), A(3), A(3, dt="f8"), 1e-3, 0.9, 0.99, 0.0)],
    "ftrl_step": [(A(3), A(3), A(3), A(3), 0.0, -0.5, 0.0, 0.0, 0.0, 0.0),
                  (A(3), A(3), A(3), A(3), 1e-3, 0.5, 0.0, 0.0, 0.0, 0.0),
                  (A(3), A(3), Same(1), A(3), 1e-3, -0.5, 0.0, 0.0, 0.0, 0.0),
                  (A(3), A(3), A(3), A(3), 1e-3, -0.5, -1.0, 0.0, 0.0, 0.0)],
    "adafactor_step": [(A(3, 4), A(3), A(4), A(3, 4), A(3, 4), 1, 1e-3, -0.8, 1e-30, 1e-3, 1.0),
                       (A(3, 4), A(4), A(4), None, A(3, 4), 1, 1e-3, -0.8, 1e-30, 1e-3, 1.0),
                       (A(5), None, None, A(5), A(5), 1, 1e-3, 0.5, 1e-30, 1e-3, 1.0),
                       (A(5), None, None, Same(0), A(5), 1, 1e-3, -0.8, 1e-30, 1e-3, 1.0),
                       (A(5), A(5), None, A(5), A(5), 1, 1e-3, -0.8, 1e-30, 1e-3, 1.0),
                       (A(5), None, None, A(5, dt="f8"), A(5), 1, 1e-3, -0.8, 1e-30, 1e-3, 0.0)],
    "nadam_mu": [],  # scalar only: no argument check beyond pybind11's own conversion
    "conv2d_forward": [
        (A(1, 2, 3, 4), A(1, 2, 5, 5), A(2, 2, 3, 3), None) + G,
        (A(1, 2, 3, 3), A(1, 2, 5, 5), A(2, 3, 3, 3), None) + G,
        (A(1, 2, 5, 5), Same(0), A(2, 2, 1, 1), None) + G,
        (A(1, 2, 3, 3), A(1, 2, 5, 5), A(2, 2, 3, 3), None, 0) + G[1:],
        (A(1, 2, 3, 3), A(1, 2, 5, 5), A(2, 2, 3, 3), None, BIG) + G[1:],
        (A(1, 2, 3, 3), A(1, 2, 5, 5), A(2, 2, 3, 3), None) + G[:9] + ("circular", 0),
        (A(1, 2, 3, 3), A(1, 2, 5, 5), A(2, 2, 3, 3), None, 2**40) + G[1:],
    ],
    "conv2d_backward_input": [
        (A(1, 2, 5, 5), A(1, 2, 3, 3), A(2, 2, 3, 3, dt="f8")) + G,
        (A(1, 2, 5, 5), A(1, 2, 4, 4), A(2, 2, 3, 3)) + G,
        (A(1, 2, 5, 5), A(1, 2, 3, 3), A(2, 2, 3, 3)) + G[:2] + (2**41,) + G[3:],
    ],
    "conv2d_backward_weight": [
        (A(2, 2, 3, 3, ro=True), None, A(1, 2, 3, 3), A(1, 2, 5, 5)) + G,
        (A(2, 2, 3, 3), A(3), A(1, 2, 3, 3), A(1, 2, 5, 5)) + G,
        (A(2, 2, 3, 3), None, A(1, 2, 3, 3), A(1, 2, 5, 5)) + G[:6] + (0,) + G[7:],
    ],
    "conv2d_pick_rung": [
        ([1, 2, 5, 5], [2, 2, 3, 3], 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 3, "float32"),
        ([1, 2, 5], [2, 2, 3, 3], 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0, "float32"),
        ([2**40, 2**20, 2**20, 1], [1, 2**20, 1, 1], 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0, "float32"),
        ([1, 2, 5, 5], [2, 2, 3, 3], BIG, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0, "float32"),
    ],
    "upsample2d_forward": [
        (A(1, 1, 4, 4), A(1, 1, 2, 2), 2, 2, "nearest", True),
        (A(1, 1, 4, 4), A(1, 1, 2, 2), 2**40, 2**40, "nearest", False),
        (A(1, 1, 4, 4), A(1, 1, 2, 2), 2, 2, "cubic", False),
    ],
    "upsample2d_backward": [(A(1, 1, 2, 2), A(1, 1, 4, 5), 2, 2, "nearest", False),
                            (A(1, 1, 2, 2), A(1, 1, 4, 4), 0, 2, "bilinear", False)],
    "max_pool2d_forward": [
        (A(1, 1, 2, 2), A(1, 1, 2, 2, dt="i4"), A(1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, 0),
        (A(1, 1, 2, 2), Same(0), A(1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, 0),
        (A(1, 1, 2, 2), A(1, 1, 2, 2, dt="i8"), A(1, 1, 4, 4), (2, 2), (2, 2), (3, 0), (1, 1), False, 0),
        (A(1, 1, 2, 2), A(1, 1, 2, 2, dt="i8"), A(1, 1, 4, 4), (BIG, 2), (2, 2), (0, 0), (1, 1), False, 0),
        (A(1, 1, 2, 2), A(1, 1, 2, 2, dt="i8"), A(1, 1, 4, 4), (2, 2, 2), (2, 2), (0, 0), (1, 1), False, 0),
    ],
    "max_pool2d_backward": [(A(1, 1, 4, 4), A(1, 1, 2, 2), A(1, 1, 2, 2, dt="i4")),
                            (A(1, 2, 4, 4), A(1, 1, 2, 2), A(1, 1, 2, 2, dt="i8"))],
    "avg_pool2d_forward": [(A(1, 1, 3, 3), A(1, 1, 4, 4), (2, 2), (2, 2), (0, 0), False, True),
                           (A(1, 1, 2, 2), A(1, 1, 4, 4), (2, 2), (0, 2), (0, 0), False, True)],
    "avg_pool2d_backward": [(A(1, 1, 4, 4), A(1, 1, 2, 2, dt="f8"), (2, 2), (2, 2), (0, 0), False, True),
                            (A(1, 1, 4, 4), A(1, 1, 3, 2), (2, 2), (2, 2), (0, 0), False, True)],
    "global_avg_pool2d_forward": [(A(1, 2), A(1, 2, 0, 3)), (A(2, 1), A(1, 2, 3, 3))],
    "global_avg_pool2d_backward": [(A(1, 2, 3, 3), A(1, 2, 1)), (A(1, 2, 3, 3, ro=True), A(1, 2))],
    "batch_norm_forward_training": [
        (A(1, 3), A(3), A(3), None, None, A(1, 3), None, None, 0.1, 1e-5),
        (A(4, 3), A(3), A(3), None, None, A(4, 3), None, None, 1.5, 1e-5),
        (A(4, 3), A(3), Same(1), None, None, A(4, 3), None, None, 0.1, 1e-5),
        (A(4, 3), A(3), A(3), A(3, dt="f8"), None, A(4, 3), None, None, 0.1, 1e-5),
    ],
    "batch_norm_forward_inference": [(A(4, 3), A(4, 3), A(2), A(3), None, None, 1e-5),
                                     (A(4, 3), A(4, 3), A(3), A(3), None, None, 0.0)],
    "batch_norm_backward": [(A(4, 3), A(3), A(3), A(4, 3), A(4, 3, 1), None, A(3), A(3)),
                            (A(4, 3), A(3), A(3), Same(0), A(4, 3), None, A(3), A(3))],
    # rnn_forward(mode, output, h_n, c_n, saved, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, go_backwards,
    # rung); the rung range is the backend's (the CPU and CUDA ladders differ), so no case of it here
    "rnn_forward": [
        ("lstm", A(2, 3, 4), A(2, 4), A(2, 4), A(2, 3, 20), A(2, 3, 5, dt="i4"), None, None, A(16, 5), A(16, 4), None,
         None, False, 0),
        ("gru", A(2, 3, 4), A(2, 4), A(2, 4), A(2, 3, 16), A(2, 3, 5), None, None, A(12, 5), A(12, 4), None, None,
         False, 0),
        ("lstm", A(2, 0, 4), A(2, 4), A(2, 4), A(2, 0, 20), A(2, 0, 5), None, None, A(16, 5), A(16, 4), None, None,
         False, 0),
        ("elman", A(2, 3, 4), A(2, 4), None, A(2, 3, 4), A(2, 3, 5), None, None, A(4, 5), A(4, 4), None, None, False, 0),
        ("rnn_tanh", A(2, 3, 4), A(2, 4), None, A(2, 3, 4), A(2, 3, 5), Same(2), None, A(4, 5), A(4, 4), None, None,
         False, 0),
        ("rnn_relu", A(2, 3, 4, ro=True), A(2, 4), None, A(2, 3, 4), A(2, 3, 5), None, None, A(4, 5), A(4, 4), None,
         None, True, 0),
        ("gru_reset_before", A(2, 3, 4), A(2, 4), None, A(2, 3, 16), A(2, 3, 5), None, None, A(12, 5), A(12, 5), None,
         None, False, 0),
        ("lstm", A(2, 3, 4), A(2, 4), A(2, 4), A(2, 3, 20), A(2, 3, 5), None, A(2, 4), A(16, 5), A(16, 4), None,
         A(16, dt="f8"), False, 0),
    ],
    # rnn_backward(mode, dinput, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh, grad_output, grad_h_n,
    # grad_c_n, input, h0, c0, weight_ih, weight_hh, output, saved, go_backwards, rung)
    "rnn_backward": [
        ("gru", A(2, 3, 5), A(2, 4), A(2, 4), A(12, 5), A(12, 4), None, None, None, None, None, A(2, 3, 5), None,
         None, A(12, 5), A(12, 4), A(2, 3, 4), A(2, 3, 16), False, 0),
        ("gru", A(2, 3, 5), A(2, 4), None, A(12, 5), A(12, 4), None, None, None, None, A(2, 4), A(2, 3, 5), None,
         None, A(12, 5), A(12, 4), A(2, 3, 4), A(2, 3, 16), False, 0),
        ("lstm", A(2, 3, 5), A(2, 4), A(2, 4), A(16, 5), A(16, 4), None, None, A(2, 3, 4, strided=True), None, None,
         A(2, 3, 5), None, None, A(16, 5), A(16, 4), A(2, 3, 4), A(2, 3, 20), False, 0),
        ("rnn_tanh", A(2, 3, 5), A(2, 4), None, A(4, 5), A(4, 4), None, None, None, None, None, A(2, 3, 5), None,
         None, A(4, 5), A(4, 4), A(2, 3, 4), A(2, 3, 3), False, 0),
        ("rnn_tanh", A(2, 3, 5), A(2, 4), None, A(4, 5), A(4, 4), None, None, None, Same(2), None, A(2, 3, 5), None,
         None, A(4, 5), A(4, 4), A(2, 3, 4), A(2, 3, 4), False, 0),
    ],
    "layer_norm_forward": [
        (A(4, 5), A(4), A(4), A(4, 5), [4], None, None, 1e-5),
        (A(4, 5), A(4), A(4), A(4, 5), [5], None, None, 0.0),
        (A(4, 5), A(4), A(4), A(4, 5), [5], A(5, dt="f8"), None, 1e-5),
        (A(4, 5), A(3), A(4), A(4, 5), [5], None, None, 1e-5),
        (A(4, 5), A(4), A(4), A(4, 5), 5, None, None, 1e-5),
    ],
    "prelu_forward": [(A(4, 3), A(4, 3), A(2)), (A(4, 3), A(4, 3), A(3, dt="f8")), (A(4, 3), Same(0), A(3)),
                      (A(4, 3), A(4, 3), A(3, 1))],
    "prelu_backward": [(A(4, 3), A(2), A(4, 3), A(4, 3), A(3)), (A(4, 3), A(3), A(4, 2), A(4, 3), A(3)),
                       (A(4, 3, ro=True), A(3), A(4, 3), A(4, 3), A(3))],
    "layer_norm_backward": [(A(4, 5), None, None, A(4, 5), A(4, 5), [5], A(4), A(4), A(4)),
                            (A(4, 5), None, None, A(4, 5, dt="f8"), A(4, 5), [5], None, A(4), A(4)),
                            (A(4, 5), A(5), Same(1), A(4, 5), A(4, 5), [5], None, A(4), A(4))],
    "embedding_forward": [(A(2, 3), A(4, 3), A(2)), (A(3, 3), A(4, 3), A(2, dt="i8")),
                          (A(2, 3, dt="f8"), A(4, 3), A(2, dt="i8")), (A(2, 3, ro=True), A(4, 3), A(2, dt="i4")),
                          (A(2, 3), A(4, 3), A(2, dt="i8", strided=True)), (A(2, 3), A(4), A(2, dt="i8"))],
    "embedding_backward": [(A(4, 3), A(2, 3), A(2, dt="i4"), 4), (A(4, 3), A(3, 3), A(2, dt="i8"), None),
                           (A(4, 3), A(2, 3, dt="f8"), A(2, dt="i8"), None),
                           (A(4, 3), Same(0), A(4, dt="i8"), None), (A(4, 3, ro=True), A(2, 3), A(2, dt="i8"), None)],
}

# Arguments the CUDA module does not build an error from (no array checks): compile_info has none.
NOT_CHECKED = {"compile_info", "nadam_mu"}


def test_every_shared_function_has_cases():
    cpu = {n for n in dir(_backend.cpu) if not n.startswith("_") and callable(getattr(_backend.cpu, n))}
    gpu = {n for n in dir(cuda_mod) if not n.startswith("_") and callable(getattr(cuda_mod, n))}
    missing = sorted(n for n in cpu & gpu if n not in NOT_CHECKED and len(CASES.get(n, [])) < 2)
    assert not missing, f"functions of both modules without parity cases: {missing}"


@pytest.mark.parametrize("name, case", [(n, i) for n, cs in CASES.items() for i in range(len(cs))])
def test_same_error_from_both_modules(name, case):
    args = CASES[name][case]
    errors = []
    for mod, convert in ((_backend.cpu, to_numpy), (cuda_mod, to_fake)):
        with pytest.raises((TypeError, ValueError)) as info:
            getattr(mod, name)(*build(args, convert))
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1], f"{name} case {case}: _cpu {errors[0]} != _cuda {errors[1]}"
    assert "incompatible function arguments" not in errors[0][1], errors[0][1]
