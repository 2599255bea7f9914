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

    The CPU, read at run time: ``cpu`` (the CPUID brand string), ``cpu_id`` (dict: ``vendor``, ``family``,
    ``model``, ``stepping``), ``cpu_caches`` (dict: ``l1d``, ``l2``, ``l3`` data cache sizes in bytes per
    instance, ``l2_shared_cpus`` / ``l3_shared_cpus`` the logical CPUs sharing one, ``source`` 'sysfs', 'cpuid'
    or 'default') and ``gemm_blocking`` (dict per dtype, 'float32' and 'float64': the micro-tile ``mr`` x
    ``nr`` and the cache blocks ``kc``, ``mc``, ``nc`` the CPU GEMM uses, and the ``rule`` that chose them;
    docs/gemm.md explains the rules).
    """
    info = dict(_backend.cpu.compile_info())
    info["version"] = __version__
    info["simd"] = _backend.cpu.simd_level()
    cpu = _backend.cpu.cpu_info()
    info["cpu"] = cpu["model_name"] or "unknown"
    info["cpu_id"] = {k: cpu[k] for k in ("vendor", "family", "model", "stepping")}
    info["cpu_caches"] = {"l1d": cpu["l1d_bytes"], "l2": cpu["l2_bytes"], "l3": cpu["l3_bytes"],
                          "l2_shared_cpus": cpu["l2_shared_cpus"], "l3_shared_cpus": cpu["l3_shared_cpus"],
                          "source": cpu["cache_source"]}
    info["gemm_blocking"] = {dt: dict(b) for dt, b in cpu["gemm_blocking"].items()}
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
