"""Loads the compiled kernel modules.

``fastann._cpu`` is always built. ``fastann._cuda`` is built when nvcc was found at install time; importing
it needs the CUDA runtime, which can fail on a machine without a driver, so it is imported in a try/except
and the reason is recorded, never raised. Nothing here touches a GPU.
"""
from __future__ import annotations

import importlib
import importlib.util

from . import _cpu as cpu  # noqa: F401  (re-exported)

cuda = None
cuda_import_error: str | None = None  # None with cuda None means "not built"
if importlib.util.find_spec("fastann._cuda") is not None:  # pragma: no cover - depends on the build
    try:
        cuda = importlib.import_module("fastann._cuda")
    except ImportError as exc:  # built, but the CUDA runtime could not be loaded
        cuda_import_error = str(exc)


if cuda is not None:
    CudaError = cuda.CudaError
else:
    class CudaError(RuntimeError):
        """A failed CUDA runtime call (fastann._cuda raises the compiled twin of this class). Defined here as a
        plain Python class when fastann._cuda is missing, so ``except fastann.CudaError`` always works."""
