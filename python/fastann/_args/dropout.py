"""Argument checks of dropout (forward and backward), shared by ops and reference."""
from __future__ import annotations

import numbers

from .common import array, probability


def check_seed(op, seed) -> int:
    """seed: an int (not bool) in [0, 2^64); ValueError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise ValueError(f"{op}: seed must be an int in [0, 2^64), got {seed!r}")
    return int(seed)


def check_dropout(op, name, a, p, seed) -> tuple[float, int]:
    """The array ``name`` (any shape, float, non-empty, C-contiguous), p in [0, 1) and the seed; returns
    (p, seed)."""
    array(op, name, a)
    return probability(op, "p", p), check_seed(op, seed)


__all__ = ["check_dropout", "check_seed"]
