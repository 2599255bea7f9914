"""Regression tests of fastann._cpu's C++ boundary (csrc/bindings/checks.hpp, args/).

- dtypes are compared by kind and item size: an equal dtype that is not the identical object (after pickle,
  or int64 spelled 'q') is accepted;
- an output that overlaps another argument is refused with a ValueError naming both (except the documented
  in-place activation_forward(x, x)), and an output that is not an array is a TypeError naming it;
- integers outside int64 (uint64 for seeds) are ValueErrors naming the argument, and huge but
  representable shapes are refused before any allocation.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import fastann
from fastann import _backend, ops

cpu = _backend.cpu


def roundtrip(a):
    return pickle.loads(pickle.dumps(a))


# ---- dtypes by value, not identity ------------------------------------------------------------------
def test_pickled_arrays_are_accepted():
    x = roundtrip(np.array([-1.0, 0.5, 2.0], np.float32))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(ops.relu(x), [0.0, 0.5, 2.0])
    out = np.empty(3, np.float32)
    cpu.activation_forward(out, x, "relu", 0.0)
    np.testing.assert_array_equal(out, [0.0, 0.5, 2.0])
    a, b = roundtrip(np.eye(2)), roundtrip(np.ones((2, 2)))
    c = np.empty((2, 2))
    cpu.gemm(c, a, b)
    np.testing.assert_array_equal(c, np.ones((2, 2)))


def test_int64_spelled_q_is_int64():
    logits = np.zeros((3, 4), np.float32)
    labels_l = np.array([0, 3, 1], np.int64)
    labels_q = labels_l.astype(np.dtype("q"))
    la, lb = np.zeros((), np.float32), np.zeros((), np.float32)
    cpu.cross_entropy_forward(la, logits, labels_l)
    cpu.cross_entropy_forward(lb, logits, roundtrip(labels_q))
    assert la == lb
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = np.empty((1, 1, 2, 2), np.float32)
    idx = np.empty((1, 1, 2, 2), np.dtype("q"))
    cpu.max_pool2d_forward(out, idx, x, (2, 2), (2, 2), (0, 0), (1, 1), False, 0)
    np.testing.assert_array_equal(idx.ravel(), [5, 7, 13, 15])
    dx = np.empty_like(x)
    cpu.max_pool2d_backward(dx, np.ones_like(out), idx)
    assert dx.sum() == 4


def test_non_native_byte_order_is_refused():
    x = np.ones(3, ">f4")
    with pytest.raises(TypeError, match="input must be float32 or float64, got dtype >f4"):
        cpu.activation_forward(np.empty(3, np.float32), x, "relu", 0.0)


# ---- aliasing -----------------------------------------------------------------------------------------
def test_optimizer_refuses_aliased_arguments():
    p, g = np.ones(6), np.ones(6)
    m = np.zeros(6)
    with pytest.raises(ValueError, match="param and grad share memory"):
        cpu.sgd_step(p, None, p, 0.1)
    with pytest.raises(ValueError, match="exp_avg and exp_avg_sq share memory"):
        cpu.adam_step(p, m, m, None, g, 1)
    buf = np.zeros(9)
    with pytest.raises(ValueError, match="exp_avg and exp_avg_sq share memory"):
        cpu.adam_step(p, buf[:6], buf[3:], None, g, 1)  # overlapping views
    with pytest.raises(ValueError, match="param and grad share memory"):
        cpu.adagrad_step(buf[:6], np.zeros(6), buf[3:], 0.1)
    np.testing.assert_array_equal(p, 1.0)  # nothing was written


def test_outputs_must_not_overlap_inputs():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = np.ones((2, 2, 1, 1), np.float32)
    with pytest.raises(ValueError, match="conv2d_forward: out and input share memory"):
        cpu.conv2d_forward(x, x, w, None, 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0)
    g = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="activation_backward: dinput and grad_output share memory"):
        cpu.activation_backward(g, g, np.ones(4, np.float32), "relu", 0.0)
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="cross_entropy_with_grad: dinput and input share memory"):
        cpu.cross_entropy_with_grad(np.zeros((), np.float32), logits, logits, np.zeros(3, np.int64), 1.0)
    buf = np.zeros(8, np.int64)  # one buffer seen as float32 out and int64 indices
    out = buf.view(np.float32)[:4].reshape(1, 1, 2, 2)
    idx = buf[4:].reshape(1, 1, 2, 2)
    idx2 = buf[:4].reshape(1, 1, 2, 2)
    cpu.max_pool2d_forward(out, idx, np.ones((1, 1, 4, 4), np.float32), (2, 2), (2, 2), (0, 0), (1, 1), False, 0)
    with pytest.raises(ValueError, match="max_pool2d: out and indices share memory"):
        cpu.max_pool2d_forward(out, idx2, np.ones((1, 1, 4, 4), np.float32), (2, 2), (2, 2), (0, 0), (1, 1),
                               False, 0)
    x = np.ones(10, np.float32)
    with pytest.raises(ValueError, match="activation_forward: out and input share memory"):
        cpu.activation_forward(x[1:], x[:-1], "relu", 0.0)  # shifted view: wrong values if allowed


def test_activation_forward_in_place_is_allowed():
    x = np.array([-2.0, -0.5, 0.0, 3.0], np.float32)
    want = np.maximum(x, 0)
    cpu.activation_forward(x, x, "relu", 0.0)
    np.testing.assert_array_equal(x, want)


@pytest.mark.parametrize("call, name", [
    (lambda: cpu.activation_forward([0.0, 0.0], np.zeros(2, np.float32), "relu", 0.0), "out"),
    (lambda: cpu.cross_entropy_forward([0.0], np.zeros((2, 3), np.float32), np.zeros(2, np.int64)), "out"),
    (lambda: cpu.cross_entropy_with_grad(np.zeros((), np.float32), [[0.0] * 3] * 2, np.zeros((2, 3), np.float32),
                                         np.zeros(2, np.int64)), "dinput"),
    (lambda: cpu.conv2d_backward_weight(np.zeros((1, 1, 1, 1), np.float32), [0.0], np.zeros((1, 1, 2, 2), np.float32),
                                        np.zeros((1, 1, 2, 2), np.float32), 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0),
     "dbias"),
    (lambda: cpu.sgd_step(np.zeros(3), [0.0] * 3, np.zeros(3), 0.1, 0.9), "momentum_buffer"),
])
def test_list_as_output_is_a_type_error(call, name):
    with pytest.raises(TypeError, match=f"{name} must be a numpy.ndarray, got builtins.list"):
        call()


# ---- integers out of range, huge shapes ----------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda: cpu.gemm(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32),
                      rung=2**64), r"gemm: rung must be in \[-2\*\*63, 2\*\*63\)"),
    (lambda: cpu.softmax_forward(np.zeros(3), np.zeros(3), -(2**63) - 1), "softmax: dim must be in"),
    (lambda: cpu.adam_step(np.zeros(3), np.zeros(3), np.zeros(3), None, np.zeros(3), 2**64), "adam_step: step must be in"),
    (lambda: cpu.dropout_forward(np.zeros(3), np.zeros(3), 0.5, 2**64), r"dropout: seed must be in \[0, 2\*\*64\)"),
    (lambda: cpu.conv2d_forward(np.zeros((1, 1, 1, 1), np.float32), np.zeros((1, 1, 1, 1), np.float32),
                                np.zeros((1, 1, 1, 1), np.float32), None, 2**70, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0),
     "conv2d_forward: stride_h must be in"),
    (lambda: cpu.avg_pool2d_forward(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), (2, 2), (2**64, 2), (0, 0),
                                    False, True), r"avg_pool2d: stride\[0\] must be in"),
    (lambda: cpu.upsample2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1)), 2**63, 1, "nearest", False),
     "upsample2d_forward: scale_h must be in"),
])
def test_out_of_range_integers_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_huge_shapes_fail_before_allocating():
    with pytest.raises(ValueError, match="conv2d_pick_rung: array size overflows int64"):
        cpu.conv2d_pick_rung([2**40, 2**20, 2**20, 1], [1, 2**20, 1, 1], 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0)
    with pytest.raises(ValueError, match="sizes too large"):
        cpu.conv2d_pick_rung([1, 1, 2**41, 1], [1, 1, 1, 1], 1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0)
    with pytest.raises(ValueError, match="sizes too large"):  # stride bounded (so o * stride cannot overflow)
        cpu.conv2d_pick_rung([1, 1, 4, 4], [1, 1, 1, 1], 2**40, 1, 0, 0, 0, 0, 1, 1, 1, "zeros", 0)
    with pytest.raises(ValueError, match="upsample2d_forward: output too large"):
        cpu.upsample2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1)), 2**40, 2**40, "nearest", False)


def test_window_in_padding_check_is_fast_for_huge_windows():
    # kernel 2^20 with padding 2^19 on a 1x1 input is legal; the window check looks only at the windows that
    # start in the padding, so this returns at once.
    x = np.ones((1, 1, 1, 1), np.float32)
    out = np.empty((1, 1, 1, 1), np.float32)
    cpu.avg_pool2d_forward(out, x, (2**20, 1), (2**20, 1), (2**19, 0), False, False)
    assert out[0, 0, 0, 0] == 1.0
    assert fastann  # the package imports with the rebuilt module
