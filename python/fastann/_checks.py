"""Argument checks shared by :mod:`fastann.ops` and :mod:`fastann.reference`.

Both layers validate the same way, so the same bad input raises the same exception class from the
reference and from the kernels (the compiled modules check again at the C++ boundary): a wrong type or
dtype is a ``TypeError``; a wrong ndim, shape, an empty array or a non-contiguous view is a ``ValueError``.
Every message names the op, the argument and the value received.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_cupy(a) -> bool:
    """True for a CuPy ndarray (checked by module name, so CuPy need not be importable)."""
    return type(a).__module__.split(".")[0] == "cupy"


def where(a) -> str:
    return "cupy.ndarray (GPU)" if is_cupy(a) else f"{type(a).__module__}.{type(a).__name__} (CPU)"


def array(op: str, name: str, a, ndim=None, layout: str = "", float_only: bool = True,
          contiguous: bool = True, nonempty: bool = True):
    """Check one array argument and return it unchanged.

    Raises TypeError if ``a`` is not a NumPy/CuPy array or (``float_only``) not float32/float64;
    ValueError for a wrong ``ndim`` (an int or a tuple of allowed values), an empty array, or a
    non-C-contiguous view (negative strides included) when ``contiguous``.
    """
    if not isinstance(a, np.ndarray) and not is_cupy(a):
        raise TypeError(f"{op}: {name} must be a numpy or cupy ndarray, got {type(a).__name__}")
    if float_only and a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must be float32 or float64, got dtype {a.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{op}: {name} must be {want}{' ' + layout if layout else ''}, "
                             f"got ndim={a.ndim} shape {tuple(a.shape)}")
    if nonempty and a.size == 0:
        raise ValueError(f"{op}: {name} is empty (shape {tuple(a.shape)})")
    if contiguous and not a.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be C-contiguous (got a strided or negative-stride view of "
                         f"shape {tuple(a.shape)}); pass numpy.ascontiguousarray({name})")
    return a


def same_dtype(op: str, **arrays) -> np.dtype:
    """All named arrays share one dtype (TypeError naming them otherwise); returns it."""
    items = [(k, v) for k, v in arrays.items() if v is not None]
    dt = items[0][1].dtype
    for k, v in items[1:]:
        if v.dtype != dt:
            raise TypeError(f"{op}: {k} has dtype {v.dtype} but {items[0][0]} has {dt}; "
                            "all arrays must share one dtype")
    return dt


def same_device(op: str, **arrays) -> bool:
    """All named arrays live on one side (all NumPy or all CuPy); returns True for CuPy."""
    items = [(k, v) for k, v in arrays.items() if v is not None]
    gpu = [is_cupy(v) for _, v in items]
    if any(gpu) and not all(gpu):
        desc = ", ".join(f"{k} is a {where(v)}" for k, v in items)
        raise TypeError(f"{op}: arrays must all be NumPy (CPU) or all CuPy (GPU): {desc}")
    return bool(gpu and gpu[0])


def positive_int(op: str, name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError(f"{op}: {name} must be a positive integer, got {v!r}")
    return int(v)


def nonneg_int(op: str, name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
        raise ValueError(f"{op}: {name} must be a non-negative integer, got {v!r}")
    return int(v)


def pair(op: str, name: str, v, check=positive_int) -> tuple[int, int]:
    """An int or a pair of ints, as torch.nn.functional takes stride / padding / dilation."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
        return check(op, name, v[0]), check(op, name, v[1])
    x = check(op, name, v)
    return x, x


def probability(op: str, name: str, v) -> float:
    if not isinstance(v, numbers.Real) or not (0.0 <= float(v) < 1.0):
        raise ValueError(f"{op}: {name} must be in [0, 1), got {v!r}")
    return float(v)
