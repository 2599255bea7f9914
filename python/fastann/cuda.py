"""fastann.cuda: is a GPU usable from fastann, and which.

``import fastann`` never needs a GPU: when fastann._cuda was not built, or the CUDA runtime finds no
driver or device, these functions answer "no" (``is_available()`` is False, ``device_count()`` is 0)
instead of raising. :func:`why_unavailable` says which of those it was.
"""
from __future__ import annotations

from . import _backend


def device_count() -> int:
    """Number of CUDA devices fastann._cuda sees (0 when not built, no driver, or no device)."""
    if _backend.cuda is None:
        return 0
    try:
        return int(_backend.cuda.device_count())
    except Exception:  # any CUDA error here means "no usable GPU"
        return 0


def is_available() -> bool:
    """True when fastann._cuda was built and at least one CUDA device is visible."""
    return device_count() > 0


def get_device_name(device: int = 0) -> str:
    """Name of CUDA device ``device`` (e.g. 'NVIDIA H100 80GB HBM3').

    Raises RuntimeError (with :func:`why_unavailable`'s reason) when no GPU is usable, ValueError for a
    device index out of range."""
    n = device_count()
    if n == 0:
        raise RuntimeError(f"fastann.cuda: no GPU: {why_unavailable()}")
    if not 0 <= device < n:
        raise ValueError(f"fastann.cuda: device must be in [0, {n}), got {device}")
    return str(_backend.cuda.get_device_name(device))


def why_unavailable() -> str | None:
    """None when a GPU is usable, else the reason: not built, runtime failed to load, no driver/device."""
    if _backend.cuda is None:
        if _backend.cuda_import_error:
            return f"fastann._cuda could not be imported: {_backend.cuda_import_error}"
        return "fastann was built without CUDA (no nvcc at install time, or FASTANN_CUDA=OFF)"
    try:
        n = int(_backend.cuda.device_count())
    except Exception as exc:
        return f"the CUDA runtime reported an error: {exc}"
    if n == 0:
        reason = getattr(_backend.cuda, "device_count_error", lambda: "")()
        return "no CUDA device is visible" + (f" ({reason})" if reason else "")
    return None


def synchronize() -> None:
    """Block until all work queued on the current GPU has finished (kernels run asynchronously).

    An error raised inside an earlier kernel surfaces here as :class:`fastann.CudaError`. Raises
    RuntimeError (with :func:`why_unavailable`'s reason) when no GPU is usable."""
    if device_count() == 0:
        raise RuntimeError(f"fastann.cuda: no GPU: {why_unavailable()}")
    _backend.cuda.synchronize()
