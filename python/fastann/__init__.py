"""fastann: hand-written C++ and CUDA neural-network kernels under a small Keras-like API.

    import fastann
    fastann.build_info()                       # version, SIMD path, threads, CUDA
    fastann.ops.gemm(a, b)                     # the kernels, NumPy arrays in and out
    model = fastann.Sequential([fastann.layers.Dense(300, activation="relu"), ...])
    x = fastann.Input((784,)); model = fastann.Model(x, fastann.layers.Dense(10)(x))   # Functional API
"""
from __future__ import annotations

import os as _os

# OpenMP (libgomp) reads its settings once, when the runtime is loaded with fastann._cpu, so defaults must
# be set before that import. After a parallel region, idle worker threads spin for GOMP_SPINCOUNT
# iterations before sleeping: a short spin keeps back-to-back kernels (a training step) cheap to fork,
# while a bounded one stops an idle pool from burning a core that another process needs. A value the user
# set (or OMP_WAIT_POLICY) wins.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "20000")

from ._version import __version__  # noqa: E402
from . import cuda, ops  # noqa: E402
from ._backend import CudaError  # noqa: E402
from ._info import build_info, get_num_threads, set_num_threads  # noqa: E402
from . import callbacks, config, constraints, datasets, initializers, layers, losses, metrics  # noqa: E402
from . import optimizers, regularizers, utils  # noqa: E402
from .layers import Input  # noqa: E402
from .models import Model, Sequential  # noqa: E402
from . import models, saving  # noqa: E402

__all__ = ["CudaError", "__version__", "Input", "Model", "Sequential", "build_info", "callbacks", "config",
           "constraints", "cuda", "datasets",
           "get_num_threads", "initializers", "layers", "losses", "metrics", "ops", "optimizers", "reference",
           "regularizers", "models", "saving", "set_num_threads", "utils"]


def __getattr__(name):
    # fastann.reference (the NumPy spec) is imported on first use: importing fastann, or any of fastann.ops,
    # never loads it (tests/test_args_layer.py checks that ops does not depend on it).
    if name == "reference":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".reference", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
