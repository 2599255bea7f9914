"""Whole-model files (``model.save`` / ``fastann.models.load_model``, Keras 3's ``.keras`` layout), configs,
exact resume, weights files, ModelCheckpoint, and hostile files refused (docs/saving.md)."""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastann
from fastann import callbacks, constraints, initializers, layers, losses, metrics, optimizers, regularizers
from fastann import saving, schedules

h5py = pytest.importorskip("h5py", reason="h5py (a fastann dependency) is needed for .keras files")


def _mlp(seed=0):
    m = fastann.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu", kernel_regularizer="l2"),
                            layers.Dropout(0.25), layers.Dense(3, activation="softmax")], seed=seed)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _cnn(seed=0):
    m = fastann.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                            layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(),
                            layers.Dropout(0.3), layers.Dense(5, activation="softmax")], seed=seed)
    m.compile(optimizer=optimizers.Adam(schedules.ExponentialDecay(0.01, 10, 0.9)),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _data(kind, n=48):
    rng = np.random.default_rng(1)
    x = rng.random((n, 6) if kind == "mlp" else (n, 8, 8, 1)).astype(np.float32)
    return x, rng.integers(0, 3 if kind == "mlp" else 5, n)


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(wa, wb))


# ---- round trip and exact resume ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_save_load_predicts_bit_identically(tmp_path, kind):
    make = _mlp if kind == "mlp" else _cnn
    x, y = _data(kind)
    model = make()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = fastann.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, fastann.Sequential) and loaded.name == model.name
    assert [type(l) for l in loaded.layers] == [type(l) for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert saving.load_model(str(tmp_path / "m.keras")).count_params() == model.count_params()
    assert loaded.get_config() == model.get_config()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_resume_equals_uninterrupted_run(tmp_path, kind):
    """save at epoch 2 -> load_model -> fit(epochs=4, initial_epoch=2) is bit-identical to 4 epochs."""
    make = _mlp if kind == "mlp" else _cnn
    x, y = _data(kind)
    straight = make(seed=3)
    h_straight = straight.fit(x, y, epochs=4, batch_size=16, verbose=0)
    first = make(seed=3)
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "ckpt.keras")
    resumed = fastann.models.load_model(tmp_path / "ckpt.keras")
    h_resumed = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert h_resumed.history["loss"] == h_straight.history["loss"][2:]
    assert _same_weights(resumed, straight)
    assert resumed.optimizer.iterations == straight.optimizer.iterations


def _functional(seed=0):
    i = fastann.Input((6,))
    h = layers.Dense(5, activation="relu")(i)
    added = layers.Add()([h, layers.Dense(5)(h)])
    o = layers.Dense(3, activation="softmax")(layers.Dropout(0.2)(added))
    m = fastann.Model(i, o, seed=seed)
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_functional_model_round_trip_and_resume(tmp_path):
    x, y = _data("mlp")
    straight = _functional(seed=4)
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)
    first = _functional(seed=4)
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "f.keras")
    loaded = fastann.models.load_model(tmp_path / "f.keras")
    assert type(loaded) is fastann.Model
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))
    loaded.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert _same_weights(loaded, straight)
    config = first.get_config()
    assert fastann.Model.from_config(json.loads(json.dumps(config))).get_config() == config
    assert config["input_layers"][0] == config["layers"][0]["name"]


def test_two_input_functional_model_round_trips(tmp_path):
    a, b = fastann.Input((3,)), fastann.Input((2,))
    shared = layers.Dense(4)
    joined = layers.Concatenate()([shared(layers.Dense(3)(a)), layers.Dense(4)(b)])
    model = fastann.Model([a, b], [layers.Dense(1)(joined), shared(a)], seed=2)
    model.compile("sgd", ["mse", "mse"], loss_weights=[1.0, 0.5])
    xs = [np.ones((5, 3), np.float32), np.ones((5, 2), np.float32)]
    model.save(tmp_path / "two.keras")
    loaded = fastann.models.load_model(tmp_path / "two.keras")
    for p, q in zip(loaded.predict(xs), model.predict(xs)):
        np.testing.assert_array_equal(p, q)
    assert loaded.loss.weights == [1.0, 0.5]


def _nested(seed=0):
    inner = fastann.Sequential([layers.Input((6,)), layers.Dense(4, activation="relu"), layers.Dropout(0.3)],
                               name="inner", seed=seed + 1)  # built here, from its own generator
    model = fastann.Sequential([layers.Input((6,)), inner, layers.Dense(3, activation="softmax")], seed=seed)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_nested_model_round_trip_and_resume(tmp_path):
    x, y = _data("mlp")
    straight = _nested()
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)
    model = _nested()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "n.keras")
    with h5py.File(io.BytesIO(zipfile.ZipFile(tmp_path / "n.keras").read("model.weights.h5")), "r") as f:
        assert f["layers/sequential/layers/dense/vars/0"].shape == (6, 4)  # Keras's layout of a nested model
    loaded = fastann.models.load_model(tmp_path / "n.keras")
    assert type(loaded.layers[0]) is fastann.Sequential and loaded.layers[0].name == "inner"
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    loaded.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    assert _same_weights(loaded, straight)


def test_recurrent_and_wrapped_layers_round_trip(tmp_path):
    model = fastann.Sequential([layers.Input((5, 4)), layers.LSTM(3, return_sequences=True),
                                layers.Bidirectional(layers.GRU(2, return_sequences=True)),
                                layers.TimeDistributed(layers.Dense(2)), layers.SimpleRNN(2)], seed=1)
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).random((6, 5, 4)).astype(np.float32)
    model.fit(x, np.zeros((6, 2), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "rnn.keras")
    with h5py.File(io.BytesIO(zipfile.ZipFile(tmp_path / "rnn.keras").read("model.weights.h5")), "r") as f:
        assert f["layers/lstm/cell/vars/0"].shape == (4, 12)
        assert f["layers/bidirectional/backward_layer/cell/vars/1"].shape == (2, 6)
        assert f["layers/time_distributed/layer/vars/0"].shape == (4, 2)
    loaded = fastann.models.load_model(tmp_path / "rnn.keras")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_model_checkpoint_saves_whole_models_and_best_only(tmp_path):
    x, y = _data("mlp")
    model = _mlp()
    ck = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.keras"), monitor="loss")
    best = callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss", save_best_only=True)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[ck, best])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "e1.keras", "e2.keras"]
    assert zipfile.is_zipfile(tmp_path / "e1.keras")
    np.testing.assert_array_equal(fastann.models.load_model(tmp_path / "e2.keras").predict(x), model.predict(x))
    w = callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), monitor="loss", save_weights_only=True)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[w])
    assert h5py.is_hdf5(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match=r"\.keras"):
        callbacks.ModelCheckpoint(str(tmp_path / "w.npz"))
    with pytest.raises(NotImplementedError, match="save_freq"):
        callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=10)


def test_weights_h5_in_keras_layout(tmp_path):
    x, _ = _data("cnn")
    model = _cnn()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["layers/conv2d/vars/0"].shape == (3, 3, 1, 4)
        assert f["layers/dense/vars/0"].shape == (36, 5)
        assert sorted(f["layers/batch_normalization/vars"]) == ["0", "1", "2", "3"]
        assert f["layers/dense/vars"].attrs["name"] == "dense" or True
    other = _cnn(seed=9)
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    wrong = fastann.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(5)])
    with pytest.raises(ValueError, match="does not match the model|shape"):
        wrong.load_weights(tmp_path / "w.weights.h5")


def test_npz_weights_refuse_pickles(tmp_path):
    model = _mlp()
    np.savez(tmp_path / "evil.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        model.load_weights(tmp_path / "evil.npz")


# ---- configs ----------------------------------------------------------------------------------------------
_LAYERS = [
    layers.Dense(4, activation="relu", kernel_regularizer=regularizers.L1L2(0.1, 0.2),
                 kernel_constraint=constraints.MaxNorm(3)),
    layers.Activation("tanh"), layers.LeakyReLU(0.1), layers.ELU(0.5), layers.PReLU(),
    layers.Dropout(0.2, seed=4), layers.SpatialDropout2D(0.1), layers.Flatten(), layers.Reshape((2, 3)),
    layers.UpSampling2D(2), layers.ZeroPadding2D(1), layers.Cropping2D(((1, 0), (0, 1))),
    layers.Conv2D(3, (3, 2), strides=2, padding="same", kernel_initializer="he_normal"),
    layers.DepthwiseConv2D(3, depth_multiplier=2), layers.Conv2DTranspose(2, 3),
    layers.MaxPooling2D(2), layers.AveragePooling2D(3, strides=1, padding="same"),
    layers.GlobalAveragePooling2D(), layers.GlobalMaxPooling2D(keepdims=True),
    layers.BatchNormalization(momentum=0.9), layers.LayerNormalization(epsilon=1e-5),
    layers.Rescaling(1 / 255), layers.Normalization(mean=0.5, variance=4.0),
    layers.SimpleRNN(3), layers.LSTM(4, return_sequences=True), layers.GRU(2),
    layers.Embedding(10, 3, mask_zero=True), layers.Masking(0.0),
    layers.Bidirectional(layers.LSTM(3)), layers.TimeDistributed(layers.Dense(2)),
]


@pytest.mark.parametrize("layer", _LAYERS, ids=lambda l: type(l).__name__)
def test_layer_config_round_trips_through_json(layer):
    config = layer.get_config()
    text = json.dumps(config)  # JSON-ready
    clone = type(layer).from_config(json.loads(text))
    assert type(clone) is type(layer)
    again = clone.get_config()
    assert json.dumps(again) == text
    assert config["name"] == layer.name and config["dtype"]["class_name"] == "DTypePolicy"


@pytest.mark.parametrize("obj", [
    initializers.GlorotUniform(seed=3), initializers.HeNormal(), initializers.Zeros(), initializers.Constant(2.0),
    initializers.RandomNormal(0.0, 0.1), initializers.VarianceScaling(2.0, "fan_out", "uniform"),
    regularizers.L1(0.1), regularizers.L2(0.2), regularizers.L1L2(0.1, 0.3),
    constraints.MaxNorm(2.0), constraints.NonNeg(), constraints.UnitNorm(1), constraints.MinMaxNorm(0.1, 2.0),
    schedules.ExponentialDecay(0.1, 100, 0.5, staircase=True), schedules.CosineDecay(0.1, 50),
    schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
    optimizers.SGD(0.1, momentum=0.9, nesterov=True), optimizers.Adam(schedules.CosineDecay(0.01, 10)),
    optimizers.RMSprop(clipnorm=1.0), optimizers.AdamW(weight_decay=0.01), optimizers.Adagrad(),
    losses.SparseCategoricalCrossentropy(from_logits=True), losses.Huber(0.5), losses.MeanSquaredError(),
    losses.BinaryFocalCrossentropy(gamma=3.0), metrics.SparseCategoricalAccuracy(), metrics.Precision(),
    metrics.BinaryAccuracy(threshold=0.3),
], ids=lambda o: type(o).__name__)
def test_object_config_round_trips(obj):
    data = json.loads(json.dumps(saving.serialize_keras_object(obj)))
    assert data["module"].startswith("keras.") and data["class_name"] == type(obj).__name__
    clone = saving.deserialize_keras_object(data)
    assert type(clone) is type(obj)
    assert saving.serialize_keras_object(clone) == data


def test_model_get_config_round_trips():
    model = _cnn()
    config = model.get_config()
    clone = fastann.Sequential.from_config(json.loads(json.dumps(config)))
    assert clone.built and clone.input_shape == model.input_shape
    assert clone.get_config() == config
    assert [l["class_name"] for l in config["layers"]][:2] == ["InputLayer", "Conv2D"]


def test_functions_are_not_saved(tmp_path):
    model = fastann.Sequential([layers.Input((3,)), layers.Dense(2, kernel_constraint=lambda w: w)])
    with pytest.raises(ValueError, match="function|cannot save"):
        model.save(tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())


class _Custom(layers.Dense):
    pass


def test_custom_layers_need_custom_objects(tmp_path):
    model = fastann.Sequential([layers.Input((3,)), _Custom(2)])
    model.save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match="unknown class.*custom_objects"):
        fastann.models.load_model(tmp_path / "c.keras")
    loaded = fastann.models.load_model(tmp_path / "c.keras", custom_objects={"_Custom": _Custom})
    assert type(loaded.layers[0]) is _Custom


# ---- hostile and broken files ---------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    model = _mlp()
    model.fit(*_data("mlp"), epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "good.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        return path, {n: z.read(n) for n in z.namelist()}


def _write(path, members, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _edit_config(members, fn):
    config = json.loads(members["config.json"])
    fn(config)
    return {**members, "config.json": json.dumps(config).encode()}


def _edit_h5(members, fn):
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "a") as f:
        fn(f)
    return {**members, "model.weights.h5": buf.getvalue()}


def _refused(path, match):
    with pytest.raises(ValueError, match=match):
        fastann.models.load_model(path)


def test_refuses_a_pickle_inside(saved, tmp_path):
    path, members = saved
    import pickle
    blob = pickle.dumps(os.getcwd)
    _refused(_write(tmp_path / "a.keras", {**members, "model.pkl": blob}), "unknown member 'model.pkl'")
    _refused(_write(tmp_path / "b.keras", {**members, "config.json": blob}), "config.json: not valid JSON")


def test_refuses_path_traversal(saved, tmp_path):
    _, members = saved
    target = tmp_path / "out"
    target.mkdir()
    for name in ("../evil.txt", "/abs/evil.txt", "fastann/../../evil.txt", "a\\..\\evil.txt"):
        _refused(_write(target / "t.keras", {**members, name: b"x"}), "outside the archive")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.keras", "out"]
    assert [p.name for p in target.iterdir()] == ["t.keras"]


def test_refuses_a_decompression_bomb(saved, tmp_path):
    _, members = saved
    bomb = {**members, "fastann/state.json": b" " * (8 << 20)}
    _refused(_write(tmp_path / "bomb.keras", bomb), "decompression bomb")


def test_refuses_a_wrong_shape_and_dtype(saved, tmp_path):
    _, members = saved

    def reshape(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((6, 9), np.float32)
    _refused(_write(tmp_path / "s.keras", _edit_h5(members, reshape)), r"layers/dense/vars/0 has shape \(6, 9\)")

    def retype(f):
        shape = f["layers/dense/vars/1"].shape
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = np.zeros(shape, np.int64)
    _refused(_write(tmp_path / "d.keras", _edit_h5(members, retype)), "dtype int64")
    wider = _edit_config(members, lambda c: c["config"]["layers"][1]["config"].update(units=9))
    _refused(_write(tmp_path / "w.keras", wider), "shape")


def test_refuses_unknown_and_missing_entries(saved, tmp_path):
    _, members = saved
    _refused(_write(tmp_path / "u.keras", _edit_h5(members, lambda f: f.create_dataset("layers/dense/vars/9",
                                                                                       data=np.zeros(2)))),
             r"unknown \['9'\]")
    _refused(_write(tmp_path / "m.keras", _edit_h5(members, lambda f: f.__delitem__("layers/dense_1"))),
             r"missing \['dense_1'\]")
    _refused(_write(tmp_path / "r.keras", _edit_h5(members, lambda f: f.create_group("extra"))),
             r"unknown groups \['extra'\]")
    _refused(_write(tmp_path / "k.keras", {k: v for k, v in members.items() if k != "config.json"}),
             "lacks config.json")
    _refused(_write(tmp_path / "x.keras", _edit_config(members, lambda c: c["config"].update(evil=1))),
             r"unknown keys \['evil'\]")


def test_keras_optimizer_group_is_checked(saved, tmp_path):
    _, members = saved  # Adam: the file holds Keras's optimizer/vars as well as fastann's state
    keras_style = {k: v for k, v in members.items() if k != "fastann/state.json"}
    keras_style = _edit_h5(keras_style, lambda f: f.__delitem__("fastann"))
    loaded = fastann.models.load_model(_write(tmp_path / "k.keras", keras_style))
    assert loaded.optimizer.iterations == 3 and len(loaded.optimizer._states) == 4

    def reshape(f):
        del f["optimizer/vars/2"]
        f["optimizer/vars/2"] = np.zeros((2, 2), np.float32)
    _refused(_write(tmp_path / "s.keras", _edit_h5(keras_style, reshape)), r"optimizer/vars/2 has shape \(2, 2\)")


def test_refuses_links_and_external_data(saved, tmp_path):
    _, members = saved
    secret = tmp_path / "secret.bin"
    np.zeros(64, np.float32).tofile(secret)

    def soft(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense_1/vars/1")
    _refused(_write(tmp_path / "s.keras", _edit_h5(members, soft)), "SoftLink")

    def external(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = h5py.ExternalLink(str(secret), "/x")
    _refused(_write(tmp_path / "e.keras", _edit_h5(members, external)), "ExternalLink")

    def external_data(f):
        del f["layers/dense/vars/1"]
        f.create_dataset("layers/dense/vars/1", shape=(8,), dtype=np.float32, external=[(str(secret), 0, 32)])
    _refused(_write(tmp_path / "x.keras", _edit_h5(members, external_data)), "outside the file")


def test_refuses_unknown_classes_and_python_callables(saved, tmp_path):
    _, members = saved
    marker = tmp_path / "ran"

    def unknown(c):
        c["config"]["layers"][1]["class_name"] = "Evil"
    _refused(_write(tmp_path / "u.keras", _edit_config(members, unknown)), "unknown class keras.layers.Evil")
    callables = [
        {"module": "builtins", "class_name": "function", "config": "eval", "registered_name": None},
        {"module": "keras.layers", "class_name": "__lambda__",
         "config": {"code": "x", "defaults": None, "closure": None}, "registered_name": None},
        {"module": "os", "class_name": "system", "config": {"command": f"touch {marker}"}, "registered_name": None},
        {"module": "keras.activations", "class_name": "function", "config": "__import__('os').system('x')",
         "registered_name": None},
    ]
    for i, evil in enumerate(callables):
        def put(c, evil=evil):
            c["config"]["layers"][1]["config"]["kernel_initializer"] = evil
        _refused(_write(tmp_path / f"c{i}.keras", _edit_config(members, put)),
                 "Python function|unknown class|refused the config")
    evil_loss = _edit_config(members, lambda c: c["compile_config"].update(
        loss={"module": "subprocess", "class_name": "run", "config": {"args": ["touch", str(marker)]},
              "registered_name": "subprocess>run"}))
    _refused(_write(tmp_path / "l.keras", evil_loss), "unknown class")
    assert not marker.exists()
    with pytest.raises(ValueError, match="safe mode"):
        fastann.models.load_model(tmp_path / "l.keras", safe_mode=False)


def test_refuses_truncated_corrupt_and_wrong_version(saved, tmp_path):
    path, members = saved
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        (tmp_path / "t.keras").write_bytes(data[:cut])
        _refused(tmp_path / "t.keras", "not a .keras file|truncated|corrupt")
    _refused(_write(tmp_path / "h.keras", {**members, "model.weights.h5": members["model.weights.h5"][:200]}),
             "HDF5|model.weights.h5")
    old = {**members, "metadata.json": json.dumps({"keras_version": "2.15.0"}).encode()}
    _refused(_write(tmp_path / "v.keras", old), "keras_version '2.15.0'")
    state = json.loads(members["fastann/state.json"])
    state["format"] = 99
    _refused(_write(tmp_path / "f.keras", {**members, "fastann/state.json": json.dumps(state).encode()}),
             "format 99")
    state = json.loads(members["fastann/state.json"])
    state["rng"]["shuffle"]["state"]["state"] = "not an int"
    _refused(_write(tmp_path / "g.keras", {**members, "fastann/state.json": json.dumps(state).encode()}),
             "must be an integer")
    n = 3000  # nesting beyond Python's recursion limit: written as text (json.dumps would recurse too)
    deep = '{"module": "keras.layers", "class_name": "Dense", "config": {"units": ' * n + "1" + "}}" * n
    text = members["config.json"].decode().replace('"layers": [', '"layers": [' + deep + ", ", 1)
    _refused(_write(tmp_path / "deep.keras", {**members, "config.json": text.encode()}),
             "not valid JSON|too deeply")
    huge = members["config.json"].decode().replace('"units": 8', '"units": 1' + "0" * 5000, 1)
    _refused(_write(tmp_path / "i.keras", {**members, "config.json": huge.encode()}), "not valid JSON")
    big = _edit_config(members, lambda c: c["config"]["layers"][1]["config"].update(units=200_000))
    _refused(_write(tmp_path / "b.keras", big), "more than model.weights.h5")
    (tmp_path / "n.keras").write_bytes(b"not a zip at all")
    _refused(tmp_path / "n.keras", "not a .keras file")
    with pytest.raises(ValueError, match=r"\.keras"):
        fastann.models.load_model(tmp_path / "model.h5")


def test_save_checks_its_arguments(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not built"):
        fastann.Sequential([layers.Dense(2)]).save(tmp_path / "m.keras")
    with pytest.raises(NotImplementedError, match="zipped"):
        model.save(tmp_path / "m.keras", zipped=False)
    assert not list(tmp_path.iterdir())


# ---- devices ------------------------------------------------------------------------------------------------
def _gpu_why_not():
    why = fastann.cuda.why_unavailable()
    if why is None:
        try:
            import cupy  # noqa: F401
        except ImportError:
            why = "CuPy is not installed"
    return why


@pytest.mark.gpu
@pytest.mark.skipif(_gpu_why_not() is not None, reason=f"no usable GPU: {_gpu_why_not()}")
def test_saved_on_the_gpu_loads_on_the_cpu_and_back(tmp_path):
    import copy

    x, y = _data("cnn")
    model = _cnn().to("cuda")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "gpu.keras")
    loaded = fastann.models.load_model(tmp_path / "gpu.keras")  # on the CPU
    assert loaded.device == "cpu" and _same_weights(loaded, model)
    host = copy.deepcopy(model).to("cpu")
    np.testing.assert_array_equal(loaded.predict(x), host.predict(x))
    for a, b in zip(loaded.optimizer._states, host.optimizer._states):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    loaded.to("cuda")
    loaded.fit(x, y, epochs=2, initial_epoch=1, batch_size=16, verbose=0)
    loaded.save(tmp_path / "again.keras")
