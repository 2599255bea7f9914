"""build_info(), threads."""
from __future__ import annotations

import numbers

import numpy as np

from . import _backend, cuda
from ._version import __version__


def build_info() -> dict:
    """What this fastann build is and what it runs on.

    Returns a dict: ``version``, ``compiler``, ``simd`` (the CPU code path in use: 'avx512', 'avx2' or
    'scalar', chosen at run time), ``openmp`` (the OpenMP spec date, 0 if built without), ``num_threads``,
    ``cuda_built`` (fastann._cuda was compiled), ``cuda_available`` (a GPU is usable now), ``gpu_count``,
    ``gpus`` (device names), ``cuda_status`` (why not, when no GPU is usable) and ``malloc_tuned`` (glibc's
    mmap/trim thresholds were raised when fastann loaded, so per-step arrays reuse heap memory instead of
    page-faulting; FASTANN_MALLOC_TUNING=0 or the user's own MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_
    turn it off).
    """
    info = dict(_backend.cpu.compile_info())
    info["version"] = __version__
    info["simd"] = _backend.cpu.simd_level()
    info["num_threads"] = _backend.cpu.get_num_threads()
    info["cuda_built"] = _backend.cuda is not None
    n = cuda.device_count()
    info["cuda_available"] = n > 0
    info["gpu_count"] = n
    info["gpus"] = [cuda.get_device_name(i) for i in range(n)]
    info["cuda_status"] = cuda.why_unavailable() or "ok"
    return info


def set_num_threads(n: int) -> None:
    """Threads fastann's CPU kernels use: an int (Python or NumPy, not bool) in [1, 2^31 - 1]; ValueError
    otherwise. Like torch.set_num_threads."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or not 1 <= n <= 2**31 - 1:
        raise ValueError(f"set_num_threads: n must be an int in [1, 2^31 - 1], got {n!r}")
    _backend.cpu.set_num_threads(int(n))


def get_num_threads() -> int:
    """Threads fastann's CPU kernels use (default: OMP_NUM_THREADS, else the core count)."""
    return int(_backend.cpu.get_num_threads())
