"""models._data.Batches: the mini-batches fit and evaluate iterate over, gathered by a permutation (the float
row-gather kernel or np.take) or sliced in order."""
import numpy as np
import pytest

import fastann
from fastann.models._data import Batches


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("make", [
    lambda r: r.standard_normal((37, 5, 3, 2)).astype(np.float32),    # images: the row-gather kernel
    lambda r: r.standard_normal((37, 11)),                            # float64 rows: the kernel
    lambda r: np.asfortranarray(r.standard_normal((37, 6)).astype(np.float32)),  # not C-contiguous: take
    lambda r: r.integers(0, 9, (37, 4)),                              # int64: take
    lambda r: r.standard_normal(37).astype(np.float32),               # one value per sample: take
], ids=["f32-4d", "f64-2d", "f32-fortran", "int64", "f32-1d"])
def test_shuffled_batches_are_the_permuted_rows(rng, make, threads):
    x = make(rng)
    y = rng.integers(0, 10, len(x))
    order = rng.permutation(len(x))
    old = fastann.get_num_threads()
    fastann.set_num_threads(threads)
    try:
        seen = []
        for lo, hi, xb, yb, wb in Batches(np, x, y, 8).epoch(order):
            np.testing.assert_array_equal(xb, x[order[lo:hi]])
            np.testing.assert_array_equal(yb, y[order[lo:hi]])
            assert xb.dtype == x.dtype and wb is None
            seen.append((lo, hi))
        assert seen == [(lo, min(lo + 8, 37)) for lo in range(0, 37, 8)]
        for lo, hi, xb, yb, wb in Batches(np, x, y, 8).epoch(None):  # in order: views of x
            np.testing.assert_array_equal(xb, x[lo:hi])
    finally:
        fastann.set_num_threads(old)


def test_gather_reaches_every_row(rng):
    # every row of a float table reached through the kernel, the last one included
    x = rng.standard_normal((300, 784)).astype(np.float32)
    order = np.arange(299, -1, -1)
    got = np.concatenate([xb.copy() for _, _, xb, _, _ in Batches(np, x, None, 128).epoch(order)])
    np.testing.assert_array_equal(got, x[::-1])
