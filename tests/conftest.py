import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/helpers.py
# The comparison tests run Keras 3 on PyTorch (the interop extra; no TensorFlow): the backend must be chosen
# before the first `import keras`, whichever test module imports it first.
os.environ.setdefault("KERAS_BACKEND", "torch")

import fastann  # noqa: E402
from fastann.ops import _common  # noqa: E402


@pytest.fixture(autouse=True)
def poison_outputs(monkeypatch):
    """Every output fastann.ops allocates is NaN-filled before its kernel runs."""
    monkeypatch.setattr(_common, "POISON", True)


@pytest.fixture
def rng():
    """A fresh random generator per test; its seed is printed so a failure can be replayed."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"rng seed = {seed}")
    return np.random.default_rng(seed)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def backend(request):
    """Run a test body on every kernel backend; 'cuda' skips (saying why) where no GPU is usable."""
    if request.param == "cuda" and not fastann.cuda.is_available():
        pytest.skip(f"no usable GPU: {fastann.cuda.why_unavailable()}")
    return request.param


@pytest.fixture
def xp(backend):
    """The array module of the backend: numpy for 'cpu', cupy for 'cuda'."""
    if backend == "cuda":
        import cupy

        return cupy
    return np


@pytest.fixture
def channels_first():
    """Image layers created in the test default to channels_first (N, C, H, W); the default is restored after."""
    saved = fastann.config.image_data_format()
    fastann.config.set_image_data_format("channels_first")
    yield
    fastann.config.set_image_data_format(saved)
