"""Argument checks every family of :mod:`fastann.ops` and :mod:`fastann.reference` shares.

Both layers validate the same way, so the same bad input raises the same exception class from the
reference and from the kernels (the compiled modules check again at the C++ boundary): a wrong type or
dtype (``None`` where an array belongs included) is a ``TypeError``; a wrong ndim, shape, an empty array,
a non-contiguous view or an output too large to allocate is a ``ValueError``. Every message names the op,
the argument and the value received.
"""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: The largest integer the compiled kernels take (int64_t): sizes, strides, paddings, step counts.
INT64_MAX = 2**63 - 1


def is_cupy(a) -> bool:
    """True for a CuPy ndarray (checked by module name, so CuPy need not be importable)."""
    return type(a).__module__.split(".")[0] == "cupy"


def where(a) -> str:
    return "cupy.ndarray (GPU)" if is_cupy(a) else f"{type(a).__module__}.{type(a).__name__} (CPU)"


def array(op: str, name: str, a, ndim=None, layout: str = "", float_only: bool = True,
          contiguous: bool = True, nonempty: bool = True):
    """Check one array argument and return it unchanged.

    Raises TypeError if ``a`` is not a NumPy/CuPy array (None included) or (``float_only``) not
    float32/float64; ValueError for a wrong ``ndim`` (an int or a tuple of allowed values), an empty array,
    or a non-C-contiguous view (negative strides included) when ``contiguous``.
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
    """An int (Python or NumPy, not bool) in [1, 2^63); ValueError otherwise."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 < v <= INT64_MAX:
        raise ValueError(f"{op}: {name} must be a positive integer below 2^63, got {v!r}")
    return int(v)


def nonneg_int(op: str, name: str, v) -> int:
    """An int (Python or NumPy, not bool) in [0, 2^63); ValueError otherwise."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v <= INT64_MAX:
        raise ValueError(f"{op}: {name} must be a non-negative integer below 2^63, got {v!r}")
    return int(v)


def pair(op: str, name: str, v, check=positive_int) -> tuple[int, int]:
    """An int or a pair of ints, as torch.nn.functional takes stride / padding / dilation."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
        return check(op, name, v[0]), check(op, name, v[1])
    x = check(op, name, v)
    return x, x


def real(op: str, name: str, v) -> float:
    """A real number (Python or NumPy int or float, not bool) as a float. TypeError for anything else;
    ValueError for an int beyond the float range (``10**400``), where ``float(v)`` raises OverflowError.
    Every real-valued argument (hyper-parameters, eps, p, alpha / beta, grad_output) goes through here."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__} {v!r:.40}")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{op}: {name} is beyond the float range, got an int of {int(v).bit_length()} "
                         "bits") from None


def probability(op: str, name: str, v) -> float:
    """A real number (not bool) in [0, 1); TypeError / ValueError (from :func:`real`) otherwise."""
    x = real(op, name, v)
    if not 0.0 <= x < 1.0:
        raise ValueError(f"{op}: {name} must be in [0, 1), got {v!r}")
    return x


def flag(op: str, name: str, v) -> bool:
    """A bool argument (Python or NumPy bool); TypeError otherwise."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {type(v).__name__} {v!r}")
    return bool(v)


_memory_bytes: dict[bool, int] = {}


def _memory(gpu: bool) -> int:
    """Bytes of memory an output can at most take: the machine's physical memory (the GPU's for CuPy)."""
    if gpu not in _memory_bytes:
        total = INT64_MAX
        try:
            if gpu:
                import cupy  # noqa: PLC0415

                total = int(cupy.cuda.Device().mem_info[1])
            else:
                total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except Exception:  # noqa: BLE001 - no figure: only the int64 limit applies
            pass
        _memory_bytes[gpu] = total
    return _memory_bytes[gpu]


def fits(nbytes: int, gpu: bool = False) -> bool:
    """True when an output of ``nbytes`` bytes passes :func:`output_size`'s limits."""
    return nbytes <= INT64_MAX and nbytes <= _memory(gpu)


def output_size(op: str, shape, dtype, gpu: bool = False, name: str = "output") -> tuple:
    """Check that an output of ``shape`` and ``dtype`` can be allocated; returns ``shape`` as a tuple.

    ValueError ("output too large") when its element count or byte size passes 2^63 - 1 or the memory of
    the machine (of the GPU for ``gpu``), so a huge but well-formed request fails before the allocation
    instead of with a MemoryError from it.
    """
    shape = tuple(int(s) for s in shape)
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if not fits(nbytes, gpu):
        limit = _memory(gpu)
        where_ = "the GPU's" if gpu else "this machine's"
        raise ValueError(f"{op}: output too large: {name} of shape {shape} and dtype {np.dtype(dtype).name} "
                         f"needs {nbytes} bytes, more than {where_} {limit} bytes of memory")
    return shape
