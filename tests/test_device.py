"""Models on a device: Layer.to / Sequential.to / compile(device=...) and `fastann train --device`.

The first half runs everywhere: device strings are parsed strictly, asking for CUDA where it is not usable
raises a RuntimeError that says why (and changes nothing), and .to("cpu") is an exact no-op round trip.
The second half (marked gpu) needs a usable GPU and CuPy and skips, saying why, elsewhere: it trains an MLP
and a small CNN on the GPU and on the CPU and compares them, and checks that moving a trained model to the
GPU and back keeps every weight and every optimizer state bit for bit.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import fastann
from fastann import _device, cli, layers

# These tests are written in channels_first (N, C, H, W); tests/test_data_format.py covers channels_last.
pytestmark = pytest.mark.usefixtures("channels_first")


def _cuda_why_not():
    """None when fastann can train on a GPU here, else why not (the reason the error must give)."""
    why = fastann.cuda.why_unavailable()
    if why is not None:
        return why
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "pip install fastann[cuda]"
    return None


WHY_NOT = _cuda_why_not()
no_cuda = pytest.mark.skipif(WHY_NOT is None, reason="CUDA is usable here; these tests check the error without it")
needs_gpu = pytest.mark.skipif(WHY_NOT is not None, reason=f"no usable GPU: {WHY_NOT}")


def _data(n=600, classes=4, hw=8, seed=1):
    """A learnable toy image set: each class is a fixed random pattern plus noise; (N, 1, hw, hw) float32."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(classes, 1, hw, hw))
    y = rng.integers(0, classes, size=n)
    x = protos[y] + 0.8 * rng.normal(size=(n, 1, hw, hw))
    return x.astype(np.float32), y.astype(np.int64)


def _mlp(seed=0, classes=4, features=64, dropout=0.0):
    stack = [layers.Input((features,)), layers.Dense(32, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(classes, activation="softmax"))
    return fastann.Sequential(stack, seed=seed)


def _cnn(seed=0, classes=4, hw=8):
    return fastann.Sequential([
        layers.Input((1, hw, hw)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.BatchNormalization(axis=1),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(classes, activation="softmax"),
    ], seed=seed)


def _state(model):
    """Weights (NumPy) and optimizer state (NumPy) of a model, for exact comparisons."""
    weights = model.get_weights()
    opt = model.optimizer
    states = [{k: (v.get() if hasattr(v, "get") and not isinstance(v, np.ndarray) else np.array(v))
               for k, v in s.items()} for s in opt._states]
    return weights, states, opt.iterations


def _assert_same_state(a, b):
    wa, sa, ia = a
    wb, sb, ib = b
    assert ia == ib
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        np.testing.assert_array_equal(u, v)
    assert len(sa) == len(sb)
    for u, v in zip(sa, sb):
        assert u.keys() == v.keys()
        for k in u:
            np.testing.assert_array_equal(u[k], v[k])


# ---------------------------------------------------------------------------------------------------------
# Everywhere
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cuda:-1", "", "cpu:0", "tpu"])
def test_unknown_device_string_is_value_error(bad):
    model = _mlp()
    with pytest.raises(ValueError, match="unknown device"):
        model.to(bad)
    with pytest.raises(ValueError, match="unknown device"):
        model.compile("adam", "sparse_categorical_crossentropy", device=bad)
    with pytest.raises(ValueError, match="unknown device"):
        layers.Dense(3).to(bad)
    assert model.device == "cpu" and model.optimizer is None  # nothing changed


@pytest.mark.parametrize("bad", [0, None, np.float32(1)])
def test_device_must_be_a_string(bad):
    with pytest.raises(TypeError, match="device must be a string"):
        _mlp().to(bad)


def test_parse_accepts_the_documented_spellings():
    assert _device.parse("t", "cpu") == ("cpu", 0)
    assert _device.parse("t", " CPU ") == ("cpu", 0)
    assert _device.parse("t", "cuda") == ("cuda", 0)
    assert _device.parse("t", "cuda:0") == ("cuda", 0)
    assert _device.parse("t", "cuda:3") == ("cuda", 3)


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "CUDA:1"])
def test_to_cuda_without_cuda_says_why(device):
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises(RuntimeError, match="CUDA was asked for but") as info:
        model.to(device)
    assert WHY_NOT in str(info.value)
    assert "Sequential.to" in str(info.value)
    # the failed move changed nothing: still a CPU model with the same NumPy weights
    assert model.device == "cpu" and model.xp is np
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert all(isinstance(p, np.ndarray) for l in model.layers for p in l.params.values())


@no_cuda
def test_compile_device_cuda_without_cuda_says_why_and_changes_nothing():
    model = _mlp()
    with pytest.raises(RuntimeError, match="Sequential.compile: CUDA was asked for but") as info:
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], device="cuda")
    assert WHY_NOT in str(info.value)
    assert model.optimizer is None and model.loss is None and model.device == "cpu"


@no_cuda
def test_layer_to_cuda_without_cuda_says_why():
    dense = layers.Dense(5)
    with pytest.raises(RuntimeError, match="CUDA was asked for but") as info:
        dense.to("cuda")
    assert WHY_NOT in str(info.value) and dense.name in str(info.value)
    assert dense.xp is np


@no_cuda
def test_cli_train_device_cuda_without_cuda_fails_clearly(capsys):
    # the device is checked before any data is loaded, so this needs no dataset
    rc = cli.main(["train", "--device", "cuda", "--epochs", "1", "--verbose", "0"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "--device cuda" in err and "CUDA was asked for but" in err and WHY_NOT in err


def test_cuda_without_cupy_says_how_to_install_it(monkeypatch):
    # a machine where fastann._cuda works but CuPy is missing: the error names the extra to install
    monkeypatch.setattr(fastann.cuda, "why_unavailable", lambda: None)
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    model = _mlp()
    with pytest.raises(RuntimeError, match=r"CuPy is not installed .*pip install fastann\[cuda\]"):
        model.to("cuda")
    assert model.device == "cpu" and model.xp is np


def test_cli_train_unknown_device_is_usage_error(capsys):
    rc = cli.main(["train", "--device", "gpu0", "--epochs", "1", "--verbose", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown device 'gpu0'" in err


def test_to_cpu_is_an_exact_no_op_round_trip():
    x, y = _data()
    model = _cnn()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    params_before = [p for l in model.layers for p in l.params.values()]
    state = _state(model)
    assert model.to("cpu") is model
    assert model.device == "cpu" and model.xp is np
    # nothing was copied: the very same arrays (moving stats, Adam m and v included)
    assert all(a is b for a, b in zip(params_before, [p for l in model.layers for p in l.params.values()]))
    _assert_same_state(state, _state(model))
    # and it keeps training from where it was
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert model.optimizer.iterations == 2 * 10


def test_compile_device_cpu_and_layer_to_cpu():
    model = _mlp()
    model.compile("sgd", "sparse_categorical_crossentropy", device="cpu")
    assert model.device == "cpu"
    dense = layers.Dense(3)
    assert dense.to("cpu") is dense and dense.xp is np


def test_move_keeps_numpy_containers_as_they_are():
    a = np.arange(6.0).reshape(2, 3)
    moved = _device.move({"a": a, "t": (a, 1), "l": [a, "s"]}, np)
    assert moved["a"] is a and moved["t"][0] is a and moved["t"][1] == 1 and moved["l"][1] == "s"


def test_predict_returns_numpy_on_cpu():
    x, _ = _data(n=50)
    model = _mlp()
    out = model.predict(x.reshape(50, -1), batch_size=16)
    assert isinstance(out, np.ndarray) and out.shape == (50, 4) and out.dtype == np.float32


# ---------------------------------------------------------------------------------------------------------
# On a GPU
# ---------------------------------------------------------------------------------------------------------

def _train(model, x, y, device, epochs=4, optimizer="adam"):
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"], device=device)
    hist = model.fit(x[:500], y[:500], batch_size=32, epochs=epochs, verbose=0, validation_split=0.1)
    loss, acc = model.evaluate(x[500:], y[500:], batch_size=64)
    return hist, loss, acc


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("build", ["mlp", "cnn"])
def test_gpu_training_matches_cpu(build):
    x, y = _data()
    if build == "mlp":
        x = x.reshape(len(x), -1)
    make = _mlp if build == "mlp" else _cnn
    _, loss_cpu, acc_cpu = _train(make(seed=3), x, y, "cpu")
    hist, loss_gpu, acc_gpu = _train(make(seed=3), x, y, "cuda")
    assert isinstance(loss_gpu, float) and isinstance(acc_gpu, float)
    assert acc_cpu > 0.8 and acc_gpu > 0.8
    assert abs(acc_cpu - acc_gpu) <= 0.05
    assert abs(loss_cpu - loss_gpu) <= 0.1 * max(loss_cpu, 0.05)
    assert all(isinstance(v, float) for v in hist.history["val_loss"])


@pytest.mark.gpu
@needs_gpu
def test_gpu_round_trip_preserves_weights_and_optimizer_state():
    import cupy

    x, y = _data()
    model = _cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    state = _state(model)
    assert model.to("cuda") is model and model.device == "cuda:0"
    assert all(isinstance(p, cupy.ndarray) for l in model.layers for p in l.params.values())
    assert all(isinstance(v, cupy.ndarray) for s in model.optimizer._states for v in s.values())
    _assert_same_state(state, _state(model))
    model.to("cpu")
    assert all(isinstance(p, np.ndarray) for l in model.layers for p in l.params.values())
    _assert_same_state(state, _state(model))
    # and a model that trained on the GPU comes back with the state it reached there
    model.to("cuda")
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    on_gpu = _state(model)
    model.to("cpu")
    _assert_same_state(on_gpu, _state(model))


@pytest.mark.gpu
@needs_gpu
def test_gpu_same_seed_same_init_and_layers_built_on_device():
    import cupy

    cpu = _cnn(seed=7)
    gpu_model = fastann.Sequential(seed=7).to("cuda")
    for layer in _cnn(seed=7).layers:  # same architecture, added after .to("cuda"): built on the device
        gpu_model.add(layer)
    assert all(isinstance(p, cupy.ndarray) for l in gpu_model.layers for p in l.params.values())
    for a, b in zip(cpu.get_weights(), gpu_model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.gpu
@needs_gpu
def test_gpu_predict_returns_numpy_and_matches_cpu():
    x, _ = _data(n=97)
    model = _cnn(seed=2)
    ref = model.predict(x, batch_size=32)
    model.to("cuda")
    out = model.predict(x, batch_size=32)
    assert isinstance(out, np.ndarray) and out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@needs_gpu
def test_gpu_fit_on_cupy_data_and_errors_for_cupy_on_cpu_model():
    import cupy

    x, y = _data()
    xd, yd = cupy.asarray(x.reshape(len(x), -1)), cupy.asarray(y)
    cpu_model = _mlp()
    cpu_model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="CuPy .* the model is on the CPU"):
        cpu_model.fit(xd, yd, epochs=1, verbose=0)
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], device="cuda")
    model.fit(xd, yd, batch_size=32, epochs=3, verbose=0)
    _, acc = model.evaluate(xd, yd)
    assert acc > 0.8


def _fashion_dir():
    for d in (os.environ.get("FASTANN_DATA", "") and os.path.join(os.environ["FASTANN_DATA"], "fashion_mnist"),
              os.path.join(os.path.dirname(__file__), "..", "build", "fashion-mnist"),
              "/usr/share/datasets/fashion-mnist"):
        if d and os.path.exists(os.path.join(d, "train-labels-idx1-ubyte.gz")):
            return d
    return None


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_gpu_cli_train(model, tmp_path, capsys):
    data = _fashion_dir()
    if data is None:
        pytest.skip("Fashion-MNIST files not found")
    import json

    accs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.json"
        rc = cli.main(["train", "--model", model, "--device", device, "--limit", "3000", "--epochs", "2",
                       "--batch-size", "100", "--seed", "0", "--data-dir", data, "--verbose", "0",
                       "--metrics-out", str(out)])
        assert rc == 0, capsys.readouterr().err
        result = json.loads(out.read_text())
        assert result["device"] == ("cpu" if device == "cpu" else "cuda:0")
        accs[device] = result["test_accuracy"]
    assert accs["cpu"] > 0.6 and abs(accs["cpu"] - accs["cuda"]) <= 0.05, accs
