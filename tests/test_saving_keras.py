"""fastann's .keras and .weights.h5 files against Keras 3 itself: a fastann model opens in Keras and
predicts the same, a Keras-saved MLP and CNN open in fastann, Keras reads fastann's layer configs (skipped
where Keras is not installed; run with KERAS_BACKEND=torch in the venv that has it)."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="Keras 3 is not installed (interop tests only)")
pytest.importorskip("h5py", reason="h5py is needed for .keras files")

import fastann  # noqa: E402
from fastann import layers, optimizers, schedules  # noqa: E402

from test_saving import _LAYERS  # noqa: E402


def _fa_model(kind):
    if kind == "mlp":
        m = fastann.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dropout(0.2),
                                layers.Dense(3, activation="softmax")], seed=0)
    else:
        m = fastann.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu", padding="same"),
                                layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(),
                                layers.Dropout(0.3), layers.Dense(5, activation="softmax")], seed=0)
    m.compile(optimizer=optimizers.Adam(schedules.ExponentialDecay(0.01, 10, 0.9)),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _keras_model(kind):
    L = keras.layers
    if kind == "mlp":
        m = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu"), L.Dropout(0.2),
                              L.Dense(3, activation="softmax")])
    else:
        m = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", padding="same"),
                              L.BatchNormalization(), L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.3),
                              L.Dense(5, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _data(kind, n=64):
    rng = np.random.default_rng(2)
    x = rng.random((n, 6) if kind == "mlp" else (n, 8, 8, 1)).astype(np.float32)
    return x, rng.integers(0, 3 if kind == "mlp" else 5, n)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_fastann_model_opens_in_keras(tmp_path, kind):
    x, y = _data(kind)
    model = _fa_model(kind)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)  # moving statistics and weights away from their init
    model.save(tmp_path / "fa.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: "Skipping variable loading for optimizer" (fastann keeps its own)
        k = keras.models.load_model(tmp_path / "fa.keras")
    np.testing.assert_allclose(np.asarray(k.predict(x, verbose=0)), model.predict(x), atol=1e-5, rtol=0)
    assert [type(l).__name__ for l in k.layers] == [type(l).__name__ for l in model.layers]
    assert type(k.optimizer).__name__ == "Adam"
    model.save_weights(tmp_path / "fa.weights.h5")
    k2 = _keras_model(kind)
    k2.load_weights(tmp_path / "fa.weights.h5")
    np.testing.assert_allclose(np.asarray(k2.predict(x, verbose=0)), model.predict(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_keras_model_opens_in_fastann(tmp_path, kind):
    x, y = _data(kind)
    k = _keras_model(kind)
    k.fit(x, y, epochs=2, batch_size=16, verbose=0)
    k.save(tmp_path / "k.keras")
    model = fastann.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(model.predict(x), np.asarray(k.predict(x, verbose=0)), atol=1e-5, rtol=0)
    assert [l.name for l in model.layers] == [l.name for l in k.layers]
    assert type(model.optimizer).__name__ == "Adam" and model.loss.name == "sparse_categorical_crossentropy"
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # compiled from Keras's compile_config: trains
    k.save_weights(tmp_path / "k.weights.h5")
    other = _fa_model(kind)
    other.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(other.predict(x), np.asarray(k.predict(x, verbose=0)), atol=1e-5, rtol=0)


def test_recurrent_models_in_both_directions(tmp_path):
    x = np.random.default_rng(3).random((4, 5, 4)).astype(np.float32)
    L = keras.layers
    k = keras.Sequential([keras.Input((5, 4)), L.LSTM(3, return_sequences=True),
                          L.Bidirectional(L.GRU(2, return_sequences=True)), L.TimeDistributed(L.Dense(2)),
                          L.SimpleRNN(2)])
    k.save(tmp_path / "k.keras")
    model = fastann.models.load_model(tmp_path / "k.keras")
    assert model.optimizer is None  # Keras's compile_config {} of an uncompiled model
    np.testing.assert_allclose(model.predict(x), np.asarray(k.predict(x, verbose=0)), atol=1e-5, rtol=0)
    model.save(tmp_path / "fa.keras")
    k2 = keras.models.load_model(tmp_path / "fa.keras")
    np.testing.assert_allclose(np.asarray(k2.predict(x, verbose=0)), model.predict(x), atol=1e-5, rtol=0)


def test_functional_models_in_both_directions(tmp_path):
    x = np.random.default_rng(4).random((8, 6)).astype(np.float32)
    i = fastann.Input((6,))
    h = layers.Dense(5, activation="relu")(i)
    o = layers.Dense(3, activation="softmax")(layers.Add()([h, layers.Dense(5)(h)]))
    model = fastann.Model(i, o, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.save(tmp_path / "fa.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = keras.models.load_model(tmp_path / "fa.keras")
    np.testing.assert_allclose(np.asarray(k.predict(x, verbose=0)), model.predict(x), atol=1e-5, rtol=0)
    L = keras.layers
    ki = keras.Input((6,))
    d = L.Dense(4)
    kh = d(ki)
    ko = L.Dense(2)(L.Concatenate()([kh, L.Dense(3)(kh)]))
    km = keras.Model(ki, ko)
    km.save(tmp_path / "k.keras")
    back = fastann.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back.predict(x), np.asarray(km.predict(x, verbose=0)), atol=1e-5, rtol=0)


def test_nested_models_in_both_directions(tmp_path):
    x = np.random.default_rng(5).random((8, 4)).astype(np.float32)
    L = keras.layers
    inner = keras.Sequential([keras.Input((4,)), L.Dense(3), L.Dropout(0.1)], name="inner")
    k = keras.Sequential([keras.Input((4,)), inner, L.Dense(2)])
    k.save(tmp_path / "k.keras")
    model = fastann.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(model.predict(x), np.asarray(k.predict(x, verbose=0)), atol=1e-5, rtol=0)
    model.save(tmp_path / "fa.keras")
    k2 = keras.models.load_model(tmp_path / "fa.keras")
    np.testing.assert_allclose(np.asarray(k2.predict(x, verbose=0)), model.predict(x), atol=1e-5, rtol=0)


def _adam_state(model):
    out = []
    for (layer, key), state in zip(model._param_keys, model.optimizer._states):
        out += [layer._to_keras_layout(key, state[s]) for s in ("exp_avg", "exp_avg_sq")]
    return out


def test_adam_state_travels_in_keras_layout(tmp_path):
    x, y = _data("cnn", n=32)
    model = _fa_model("cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "fa.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Skipping variable loading for optimizer"
        k = keras.models.load_model(tmp_path / "fa.keras")
    kv = [np.asarray(v) for v in k.optimizer.variables]
    assert int(kv[0]) == model.optimizer.iterations == 4
    assert len(kv) == 2 + len(_adam_state(model))
    for a, b in zip(kv[2:], _adam_state(model)):
        np.testing.assert_array_equal(a, b)
    km = _keras_model("cnn")
    km.fit(x, y, epochs=1, batch_size=8, verbose=0)
    km.save(tmp_path / "k.keras")
    back = fastann.models.load_model(tmp_path / "k.keras")
    kv = [np.asarray(v) for v in km.optimizer.variables]
    assert back.optimizer.iterations == int(kv[0]) == 4
    for a, b in zip(kv[2:], _adam_state(back)):
        np.testing.assert_array_equal(a, b)


_KERAS_READS = _LAYERS


def _plain(v):
    return json.loads(json.dumps(v, default=list))


@pytest.mark.parametrize("layer", _KERAS_READS, ids=lambda l: type(l).__name__)
def test_keras_reads_layer_configs(layer):
    data = fastann.saving.serialize_keras_object(layer)
    k = keras.saving.deserialize_keras_object(data)
    assert type(k).__name__ == type(layer).__name__ and k.name == layer.name
    kc = _plain(k.get_config())
    for key, value in _plain(layer.get_config()).items():
        if key not in kc or key == "dtype" or isinstance(value, dict) or isinstance(kc[key], dict):
            continue  # nested objects are compared by test_object_config_round_trips
        if isinstance(value, (int, float)) and isinstance(kc[key], list):
            continue  # fastann writes kernel_size=3 as given; Keras expands it to [3, 3]
        assert value == kc[key], (key, value, kc[key])
