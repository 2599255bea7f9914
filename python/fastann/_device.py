"""Device strings and moving arrays between the host (NumPy) and a GPU (CuPy), for ``Layer.to``,
``Sequential.to`` / ``compile(device=...)`` and the optimizers.

A device is ``"cpu"``, ``"cuda"`` (= ``"cuda:0"``) or ``"cuda:N"``. Asking for a GPU where none can be used
is a RuntimeError that says why (fastann built without CUDA, the CUDA runtime failed to load, no device, or
CuPy not installed); a string that names no device is a ValueError. Nothing here touches a GPU unless a
GPU device was asked for.
"""
from __future__ import annotations

import numpy as np

from ._args.common import is_cupy


def parse(owner: str, device) -> tuple[str, int]:
    """``(kind, index)`` for a device string: ("cpu", 0) or ("cuda", N).

    TypeError when ``device`` is not a string; ValueError for anything but "cpu", "cuda", "cuda:N" (N >= 0).
    """
    if not isinstance(device, str):
        raise TypeError(f"{owner}: device must be a string ('cpu', 'cuda' or 'cuda:N'), got {device!r}")
    d = device.strip().lower()
    if d == "cpu":
        return "cpu", 0
    if d == "cuda":
        return "cuda", 0
    if d.startswith("cuda:") and d[5:].isdigit():
        return "cuda", int(d[5:])
    raise ValueError(f"{owner}: unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")


def require_cuda(owner: str, index: int = 0):
    """Return the cupy module when GPU ``index`` is usable by fastann; else RuntimeError saying why."""
    from . import cuda  # noqa: PLC0415 - fastann.cuda imports nothing heavy, but keep import fastann lean

    why = cuda.why_unavailable()
    if why is not None:
        raise RuntimeError(f"{owner}: CUDA was asked for but is not available: {why}")
    try:
        import cupy  # noqa: PLC0415
    except ImportError as exc:
        raise RuntimeError(f"{owner}: CUDA was asked for but CuPy is not installed ({exc}); "
                           "install it with: pip install fastann[cuda]") from exc
    n = cuda.device_count()
    if not 0 <= index < n:
        raise ValueError(f"{owner}: device 'cuda:{index}' does not exist; {n} CUDA device(s) are visible")
    return cupy


def resolve(owner: str, device):
    """``(xp, name, index)`` for a device string: the array module (numpy or cupy), the canonical name
    ("cpu" or "cuda:N") and the GPU index. Raises like :func:`parse` and :func:`require_cuda`."""
    kind, index = parse(owner, device)
    if kind == "cpu":
        return np, "cpu", 0
    return require_cuda(owner, index), f"cuda:{index}", index


def device_of(xp, index: int = 0) -> str:
    """Canonical device name for an array module."""
    return "cpu" if xp is np else f"cuda:{index}"


def move(value, xp):
    """``value`` with every NumPy/CuPy array in it (also inside dicts, lists, tuples) on ``xp``'s side.

    Copies are exact (same dtype, same bits) and C-contiguous arrays stay C-contiguous. Arrays already on
    that side are returned as they are (no copy); anything that is not an array is returned unchanged."""
    if isinstance(value, np.ndarray):
        return value if xp is np else xp.asarray(value)
    if is_cupy(value):
        return value.get() if xp is np else value
    if isinstance(value, dict):
        return {k: move(v, xp) for k, v in value.items()}
    if isinstance(value, list):
        return [move(v, xp) for v in value]
    if isinstance(value, tuple):
        return tuple(move(v, xp) for v in value)
    return value


def context(index: int, xp):
    """A context manager making GPU ``index`` current for CuPy (a no-op on the CPU or for GPU 0 when it is
    already current)."""
    if xp is np:
        import contextlib  # noqa: PLC0415

        return contextlib.nullcontext()
    return xp.cuda.Device(index)
