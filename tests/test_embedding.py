"""ops.embedding / ops.embedding_backward (the row gather and its deterministic scatter-add) against
fastann.reference.embedding: dtypes, index dtypes, shapes, repeated indices, padding_idx, bad input from Python
and at the C++ boundary."""
from __future__ import annotations

import numpy as np
import pytest

from fastann import _backend, ops
from fastann import reference as ref
from helpers import assert_close, raises_both

FLOATS = [np.float32, np.float64]
INDEX = [np.int32, np.int64]


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("it", INDEX)
@pytest.mark.parametrize("shape,V,D", [((5,), 7, 3), ((4, 9), 11, 16), ((2, 3, 5), 3, 33), ((1,), 1, 1),
                                       ((64, 28), 1000, 129)])
def test_forward_and_backward_match_reference(dt, it, shape, V, D, rng):
    w = rng.standard_normal((V, D)).astype(dt)
    idx = rng.integers(0, V, shape).astype(it)
    out = ops.embedding(idx, w)
    assert out.shape == shape + (D,) and out.dtype == dt
    assert np.array_equal(out, w[idx])  # a copy of rows: exact
    g = rng.standard_normal(shape + (D,)).astype(dt)
    dw = ops.embedding_backward(g, idx, V)
    assert dw.shape == (V, D) and dw.dtype == dt
    tol = 1e-6 if dt == np.float32 else 1e-13
    assert_close(dw, ref.embedding_backward(g, idx, V), tol, "dweight")


@pytest.mark.parametrize("padding_idx", [0, 2, -1])
def test_padding_idx_gets_no_gradient(padding_idx, rng):
    V, D = 5, 4
    w = rng.standard_normal((V, D))
    idx = np.array([[0, 2, 4, 2], [4, 4, 1, 0]], np.int64)
    out = ops.embedding(idx, w, padding_idx=padding_idx)
    assert np.array_equal(out, w[idx])  # the lookup reads the padding row like any other
    g = rng.standard_normal(idx.shape + (D,))
    dw = ops.embedding_backward(g, idx, V, padding_idx=padding_idx)
    assert np.all(dw[padding_idx % V] == 0)
    assert_close(dw, ref.embedding_backward(g, idx, V, padding_idx=padding_idx), 1e-13, "dweight")


def test_repeated_indices_accumulate_and_unused_rows_are_zero():
    w = np.zeros((4, 2), np.float32)
    idx = np.array([1, 1, 1, 3], np.int32)
    g = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], np.float32)
    dw = ops.embedding_backward(g, idx, w.shape[0])
    assert np.array_equal(dw, np.array([[0, 0], [9, 12], [0, 0], [7, 8]], np.float32))


def test_backward_is_deterministic_across_thread_counts(rng):
    """One row per thread, positions summed in increasing order: the same bits at 1 and 2 threads."""
    import fastann

    idx = rng.integers(0, 50, (4000,))
    g = rng.standard_normal((4000, 64)).astype(np.float32)
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(1)
        one = ops.embedding_backward(g, idx, 50)
        fastann.set_num_threads(2)
        two = ops.embedding_backward(g, idx, 50)
    finally:
        fastann.set_num_threads(before)
    assert np.array_equal(one, two)


def test_empty_indices():
    w = np.ones((3, 2), np.float32)
    idx = np.zeros((0, 4), np.int64)
    assert ops.embedding(idx, w).shape == (0, 4, 2)
    assert np.array_equal(ops.embedding_backward(np.zeros((0, 4, 2), np.float32), idx, 3), np.zeros((3, 2)))


def test_nan_in_the_table_is_copied():
    w = np.array([[np.nan, 1.0], [2.0, np.inf]], np.float32)
    out = ops.embedding(np.array([1, 0]), w)
    assert np.isinf(out[0, 1]) and np.isnan(out[1, 0])


@pytest.mark.parametrize("bad", [-1, 7, 2**40])
def test_out_of_range_index_is_a_value_error(bad):
    w = np.ones((7, 3), np.float32)
    idx = np.array([0, bad, 1], np.int64)
    raises_both(ValueError, lambda M: M.embedding(idx, w), match=rf"embedding: index {bad} is out of range")
    raises_both(ValueError, lambda M: M.embedding_backward(np.ones((3, 3), np.float32), idx, 7),
                match="out of range")


def test_out_of_range_index_at_the_cpp_boundary():
    """The compiled kernels check the indices themselves before reading or writing the table."""
    k = _backend.cpu
    w = np.ones((7, 3), np.float32)
    for it in INDEX:
        idx = np.array([0, 3, 7, 1], it)
        out = np.full((4, 3), np.nan, np.float32)
        with pytest.raises(ValueError, match=r"embedding_forward: index 7 at flat position 2 is out of range"):
            k.embedding_forward(out, w, idx)
        assert np.isnan(out).all()  # nothing written
        with pytest.raises(ValueError, match=r"embedding_backward: index -2"):
            k.embedding_backward(np.empty((7, 3), np.float32), np.ones((4, 3), np.float32),
                                 np.array([0, -2, 1, 1], it))
    with pytest.raises(TypeError, match="indices must be int32 or int64, got dtype float32"):
        k.embedding_forward(np.empty((2, 3), np.float32), w, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="out must have shape"):
        k.embedding_forward(np.empty((3, 3), np.float32), w, np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="out has dtype float64"):
        k.embedding_forward(np.empty((2, 3), np.float64), w, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="padding_idx must be None or in"):
        k.embedding_backward(np.empty((7, 3), np.float32), np.ones((2, 3), np.float32), np.zeros(2, np.int64), 7)
    with pytest.raises(ValueError, match="share memory"):
        k.embedding_forward(w[:2], w, np.zeros(2, np.int64))


def test_bad_arguments_from_python():
    w = np.ones((7, 3), np.float32)
    idx = np.array([0, 1], np.int64)
    raises_both(TypeError, lambda M: M.embedding(idx.astype(np.float32), w), match="int32 or int64")
    raises_both(TypeError, lambda M: M.embedding(idx, w.astype(np.int32)), match="weight must be float32")
    raises_both(ValueError, lambda M: M.embedding(idx, np.ones(7, np.float32)), match="weight must be 2-D")
    raises_both(ValueError, lambda M: M.embedding(idx, w, padding_idx=7), match="padding_idx")
    raises_both(ValueError, lambda M: M.embedding(idx[::-1], w), match="C-contiguous")
    raises_both(ValueError, lambda M: M.embedding_backward(np.ones((3, 4), np.float32), idx, 7),
                match="grad_output must have shape")
    raises_both(ValueError, lambda M: M.embedding_backward(np.ones((2, 3), np.float32), idx, 0),
                match="num_weights")
