"""What every ``fastann.ops`` family module shares: backend choice by array type and output allocation."""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._args.common import same_device

#: Tests set this to True: every output the ops allocate is then NaN-filled before the kernel runs, so an
#: element the kernel forgets to write fails the comparison with the reference.
POISON = False


def backend(op: str, **arrays):
    """Return ``(kernels, xp)`` for the named arrays: ``(fastann._cpu, numpy)`` for NumPy arrays,
    ``(fastann._cuda, cupy)`` for CuPy arrays. Mixing them is a TypeError naming which is where; CuPy
    arrays where the CUDA module is missing are a RuntimeError saying why."""
    if not same_device(op, **arrays):
        return _backend.cpu, np
    if _backend.cuda is None:
        raise RuntimeError(f"{op}: got CuPy arrays but fastann._cuda is not available "
                           f"({_backend.cuda_import_error or 'not built'})")
    import cupy  # noqa: PLC0415

    return _backend.cuda, cupy


def empty(xp, shape, dtype):
    """A new output array (NaN-filled when :data:`POISON` is set)."""
    if POISON:
        return xp.full(shape, np.nan, dtype=dtype)
    return xp.empty(shape, dtype=dtype)


def empty_like(a):
    xp = np if isinstance(a, np.ndarray) else __import__("cupy")
    return empty(xp, a.shape, a.dtype)
