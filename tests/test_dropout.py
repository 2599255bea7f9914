"""Dropout: the counter-based mask against the NumPy reference, statistics, backward, NaN, bad input."""
import sys

import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import check_at_simd, raises_both, to_numpy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference_exactly(xp, rng, dtype):
    for shape, p in [((1,), 0.5), ((7,), 0.1), ((4, 5), 0.9), ((3, 2, 17), 0.5), ((128, 300), 0.25)]:
        seed = int(rng.integers(0, 2**63))
        x = rng.standard_normal(shape).astype(dtype)
        y = to_numpy(ops.dropout(xp.asarray(x), p=p, seed=seed))
        assert y.dtype == dtype and y.shape == shape
        np.testing.assert_allclose(y, ref.dropout(x, p=p, seed=seed), rtol=1e-6 if dtype == np.float32 else 1e-15)
        g = rng.standard_normal(shape).astype(dtype)
        d = to_numpy(ops.dropout_backward(xp.asarray(g), p=p, seed=seed))
        np.testing.assert_allclose(d, ref.dropout_backward(g, p=p, seed=seed), rtol=1e-6 if dtype == np.float32 else 1e-15)
        # the backward uses the forward's mask: zero exactly where the forward dropped
        np.testing.assert_array_equal(d == 0, y == 0)


def test_hash_bits_match_reference():
    # the integers themselves, so a port (CUDA) can check against these
    for seed, i in [(0, 0), (0, 1), (42, 123456789), (2**64 - 1, 2**40)]:
        assert fastann._cpu.dropout_bits(seed, i) == ref.dropout_bits(seed, i)
    # Vigna's splitmix64.c with state 0: the first output is 0xE220A8397B1DCDAF
    mix = sys.modules["fastann.reference.dropout"].mix
    assert int(mix(np.uint64(0x9E3779B97F4A7C15))) == 0xE220A8397B1DCDAF


def test_statistics_and_scaling():
    x = np.ones(200_000, np.float32)  # also large enough to run on several threads
    for p in [0.1, 0.5, 0.8]:
        y = ops.dropout(x, p=p, seed=7)
        kept = y != 0
        # the kept fraction is 1 - p within 5 standard deviations of a binomial
        sd = np.sqrt(p * (1 - p) / x.size)
        assert abs(kept.mean() - (1 - p)) < 5 * sd
        np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    # different seeds give different masks, the same seed the same mask
    a, b = ops.dropout(x, seed=1), ops.dropout(x, seed=2)
    assert (a != b).mean() > 0.4
    np.testing.assert_array_equal(a, ops.dropout(x, seed=1))


def test_thread_count_does_not_change_the_mask():
    x = np.ones(2_100_003, np.float32)  # > 2 x 1048576: two threads really split it
    n0 = fastann.get_num_threads()
    try:
        fastann.set_num_threads(1)
        one = ops.dropout(x, p=0.3, seed=11)
        fastann.set_num_threads(2)
        two = ops.dropout(x, p=0.3, seed=11)
    finally:
        fastann.set_num_threads(n0)
    np.testing.assert_array_equal(one, two)


def test_identity_cases(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    for y in (ops.dropout(x, p=0.5, training=False), ops.dropout(x, p=0.0)):
        np.testing.assert_array_equal(y, x)
        assert y is not x
    np.testing.assert_array_equal(ops.dropout_backward(x, p=0.0), x)


def test_nan_propagates(xp):
    x = np.full(64, np.nan, np.float32)
    y = to_numpy(ops.dropout(xp.asarray(x), p=0.5, seed=3))
    assert np.isnan(y).all()  # dropped NaN elements stay NaN (NaN * 0), as in PyTorch
    d = to_numpy(ops.dropout_backward(xp.asarray(x), p=0.5, seed=3))
    assert np.isnan(d).all()


def test_bad_input_ops_and_reference():
    x = np.ones((3, 4), np.float32)
    raises_both(ValueError, lambda m: m.dropout(x, p=1.0), "p must be in")
    raises_both(ValueError, lambda m: m.dropout(x, p=-0.1), "p must be in")
    raises_both(ValueError, lambda m: m.dropout_backward(x, p=1.5), "p must be in")
    raises_both(ValueError, lambda m: m.dropout(x, seed=-1), "seed")
    raises_both(ValueError, lambda m: m.dropout(x, seed=2**64), "seed")
    raises_both(ValueError, lambda m: m.dropout(x, seed=1.5), "seed")
    raises_both(TypeError, lambda m: m.dropout(x.astype(np.int32)), "float32 or float64")
    raises_both(ValueError, lambda m: m.dropout(np.ones((0, 3), np.float32)), "empty")
    raises_both(ValueError, lambda m: m.dropout(np.ones((3, 8), np.float32)[:, ::2]), "C-contiguous")
    raises_both(ValueError, lambda m: m.dropout_backward(np.ones(5, np.float32)[::-1]), "C-contiguous")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    x = np.ones((3, 4), np.float32)
    out = np.empty_like(x)
    cpu.dropout_forward(out, x, 0.5, 1)
    with pytest.raises(ValueError, match="p must be in"):
        cpu.dropout_forward(out, x, 1.0, 1)
    with pytest.raises(ValueError, match="p must be in"):
        cpu.dropout_backward(out, x, float("nan"), 1)
    with pytest.raises(TypeError, match="input must be float32 or float64"):
        cpu.dropout_forward(out, x.astype(np.int8), 0.5, 1)
    with pytest.raises(TypeError, match="out has dtype float64"):
        cpu.dropout_forward(out.astype(np.float64), x, 0.5, 1)
    with pytest.raises(ValueError, match="out must have the shape of input"):
        cpu.dropout_forward(np.empty(12, np.float32), x, 0.5, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.dropout_backward(out, np.ones((3, 8), np.float32)[:, ::2], 0.5, 1)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\), got -1"):
        cpu.dropout_forward(out, x, 0.5, -1)  # seed is uint64
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\), got 18446744073709551616"):
        cpu.dropout_forward(out, x, 0.5, 2**64)
    with pytest.raises(TypeError, match="seed must be an int, got builtins.float"):
        cpu.dropout_forward(out, x, 0.5, 1.0)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        cpu.dropout_forward(ro, x, 0.5, 1)


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_lower_simd_paths_give_the_same_mask(level):
    # The mask loop is compiled for baseline x86-64, AVX2 and AVX-512 and picked once per process;
    # FASTANN_SIMD forces a lower path, so each runs here in a subprocess against the reference.
    check_at_simd(level, """
        x = rng.standard_normal(1003).astype(np.float32)
        for p, seed in [(0.5, 1), (0.1, 2**63 + 5), (0.9, 12345)]:
            np.testing.assert_allclose(ops.dropout(x, p, seed=seed), ref.dropout(x, p, seed=seed), rtol=1e-6)
        """)
