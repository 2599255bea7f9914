"""Value and argument generators of the fuzz harness (hypothesis draws the structure, NumPy the values).

Hypothesis draws shapes, dtypes, geometry, hyper-parameters, a value *regime* and a seed; the array
contents come from ``numpy.random.default_rng(seed)``, which keeps large arrays cheap while every case
stays replayable from what its description prints.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

DTYPES = (np.float32, np.float64)

#: Value regimes. "normal": N(0, s^2); "wide": log-uniform magnitudes over 12 decades; "ties": small
#: integers (exact ties for max/argmax); "tiny": subnormal-range magnitudes; "huge": magnitudes near the
#: dtype's limit (a family may cap them with ``huge_exp``); "special": normal values with NaN / +inf / -inf
#: put at random places (single elements, or a whole line).
REGIMES_FINITE = ("normal", "wide", "ties")


def dtype(data):
    return data.draw(st.sampled_from(DTYPES), label="dtype")


def seed(data):
    return data.draw(st.integers(0, 2**32 - 1), label="seed")


def threads(data):
    return data.draw(st.sampled_from([None, 1, 2, 3]), label="threads")


def fill(rng, shape, dt, regime, scale=1.0, huge_exp=None, lo=None, hi=None):
    """An array of ``shape`` and dtype ``dt`` in the given regime (see REGIMES)."""
    n = int(np.prod(shape))
    if regime == "normal":
        v = rng.standard_normal(n) * scale
    elif regime == "wide":
        v = np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(-6, 6, n) * scale
    elif regime == "ties":
        v = rng.integers(-3, 4, n).astype(np.float64) * scale
    elif regime == "tiny":
        e = (-44, -38) if np.dtype(dt) == np.float32 else (-320, -308)
        v = np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(*e, n)
    elif regime == "huge":
        top = np.log10(np.finfo(dt).max) - 0.1 if huge_exp is None else huge_exp
        v = np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(top - 3, top, n)
        small = rng.random(n) < 0.3
        v[small] = rng.standard_normal(int(small.sum()))
    elif regime == "special":
        v = rng.standard_normal(n) * scale
        k = int(rng.integers(1, 4))
        for _ in range(k):
            what = rng.choice([np.nan, np.inf, -np.inf])
            if rng.random() < 0.2 and len(shape) >= 1 and shape[-1] > 0:  # a whole last-axis line
                start = int(rng.integers(0, max(n // shape[-1], 1))) * shape[-1]
                v[start:start + shape[-1]] = what
            else:
                v[int(rng.integers(0, n))] = what
    else:
        raise ValueError(regime)
    if lo is not None or hi is not None:
        v = np.clip(v, lo, hi)
    return v.astype(dt).reshape(shape)


def regime(data, allowed):
    return data.draw(st.sampled_from(allowed), label="regime")


def size(data, lo=1, hi=8):
    return data.draw(st.integers(lo, hi))
