"""Keras fidelity of layers, Sequential, losses, metrics, callbacks and utils: argument checks, the model API,
shape rules, warnings and file names, each against Keras' documented behaviour or hand-computed values."""
import copy
import warnings

import numpy as np
import pytest

import fastann
from fastann import callbacks, layers, losses, ops, optimizers, utils


def _mlp(seed=0, dim=5, classes=3, last="softmax"):
    return fastann.Sequential([layers.Input((dim,)), layers.Dense(8, activation="relu"),
                               layers.Dense(classes, activation=last)], seed=seed)


def _data(rng, n=32, dim=5, classes=3):
    return rng.standard_normal((n, dim)).astype(np.float32), rng.integers(0, classes, n)


# ---- 1. strict arguments ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, cls", [
    (lambda: layers.Dense(3, bogus=1), "Dense"),
    (lambda: layers.Conv2D(2, 3, bogus=1), "Conv2D"),
    (lambda: layers.DepthwiseConv2D(3, bogus=1), "DepthwiseConv2D"),
    (lambda: layers.Conv2DTranspose(2, 3, bogus=1), "Conv2DTranspose"),
    (lambda: layers.Dropout(0.5, bogus=1), "Dropout"),
    (lambda: layers.BatchNormalization(bogus=1), "BatchNormalization"),
    (lambda: layers.Activation("relu", bogus=1), "Activation"),
    (lambda: layers.LeakyReLU(bogus=1), "LeakyReLU"),
    (lambda: layers.Flatten(bogus=1), "Flatten"),
    (lambda: layers.Reshape((2,), bogus=1), "Reshape"),
    (lambda: layers.MaxPooling2D(2, bogus=1), "MaxPooling2D"),
    (lambda: layers.GlobalAveragePooling2D(bogus=1), "GlobalAveragePooling2D"),
    (lambda: layers.UpSampling2D(2, bogus=1), "UpSampling2D"),
    (lambda: layers.ZeroPadding2D(1, bogus=1), "ZeroPadding2D"),
    (lambda: layers.Input((3,), bogus=1), "InputLayer"),
])
def test_unknown_keyword_is_keras_value_error(make, cls):
    with pytest.raises(ValueError) as e:
        make()
    assert str(e.value) == f"Unrecognized keyword arguments passed to {cls}: {{'bogus': 1}}"


@pytest.mark.parametrize("make, arg", [
    (lambda: layers.Dense(3, lora_rank=4), "lora_rank"),
    (lambda: layers.BatchNormalization(synchronized=True), "synchronized"),
    (lambda: layers.Dropout(0.5, noise_shape=(None, 1)), "noise_shape"),
    (lambda: layers.Dense(3, autocast=False), "autocast"),
    (lambda: layers.Input((3,), batch_size=8), "batch_size"),
])
def test_unimplemented_keras_argument_is_refused_by_name(make, arg):
    with pytest.raises(NotImplementedError, match=arg):
        make()


def test_keras_defaults_of_unimplemented_arguments_are_accepted():
    d = layers.Dense(3, kernel_regularizer=None, bias_constraint=None, activity_regularizer=None, dtype="float32")
    assert d.units == 3
    layers.Conv2D(2, 3, data_format="channels_first", kernel_regularizer=None)
    layers.BatchNormalization(synchronized=False, trainable=False)
    layers.Dense(3, dtype=np.float32)


def test_layer_dtype_other_than_float32_is_refused():
    for dtype in ("float64", "float16", np.int32, "mixed_float16"):
        with pytest.raises(NotImplementedError, match="dtype"):
            layers.Dense(3, dtype=dtype)


def test_input_dim_and_input_shape_build_the_model_with_keras_warning():
    with pytest.warns(UserWarning, match="input_shape`/`input_dim"):
        model = fastann.Sequential([layers.Dense(4, input_dim=7), layers.Dense(2)])
    assert model.built and model.input_shape == (7,) and model.output_shape == (2,)
    with pytest.warns(UserWarning, match="Input\\(shape\\)"):
        model = fastann.Sequential([layers.Dense(4, input_shape=(7,))])
    assert model.layers[0].params["kernel"].shape == (4, 7)
    with pytest.raises(ValueError, match="not both"):
        layers.Dense(4, input_dim=7, input_shape=(7,))
    with pytest.raises(ValueError, match="input_dim"):
        layers.Dense(4, input_dim=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers.Input((7,))  # the Input layer itself does not warn


def test_compile_and_fit_arguments_are_keras(rng):
    x, y = _data(rng)
    model = _mlp()
    with pytest.raises(TypeError, match="bogus"):
        model.compile("adam", "sparse_categorical_crossentropy", bogus=1)
    for kw, arg in ((dict(loss_weights=[1.0]), "loss_weights"), (dict(weighted_metrics=["accuracy"]),
                    "weighted_metrics"), (dict(steps_per_execution=2), "steps_per_execution"),
                    (dict(jit_compile=True), "jit_compile")):
        with pytest.raises(NotImplementedError, match=arg):
            model.compile("adam", "sparse_categorical_crossentropy", **kw)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True,
                  jit_compile="auto")
    with pytest.raises(TypeError, match="bogus"):
        model.fit(x, y, bogus=1)
    for kw, arg in ((dict(steps_per_epoch=2), "steps_per_epoch"), (dict(validation_freq=2), "validation_freq")):
        with pytest.raises(NotImplementedError, match=arg):
            model.fit(x, y, verbose=0, **kw)
    with pytest.raises(NotImplementedError, match="steps"):
        model.predict(x, steps=1)
    # Keras' defaults: batch_size None is 32 (one step of 32 here), verbose "auto" is 1
    h = model.fit(x, y, batch_size=None, epochs=1, verbose=0)
    assert len(h.history["loss"]) == 1
    assert model.fit(x, y, verbose="auto", epochs=1).history["loss"]
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose="loud")
    with pytest.raises(TypeError):
        fastann.Sequential([], True, "m", 0)  # seed and dtype are keyword-only: Keras' positions are its own


# ---- 2. the model API -------------------------------------------------------------------------------------
def test_layers_get_layer_pop():
    model = fastann.Sequential([layers.Input((5,)), layers.Dense(8, name="hidden"), layers.Dense(3, name="out")])
    assert [l.name for l in model.layers] == ["hidden", "out"]
    assert model.layers[0] is model.get_layer("hidden") is model.get_layer(index=0)
    assert model.get_layer(index=-1).name == "out"
    for kw, msg in ((dict(name="nope"), "No such layer: nope"), (dict(index=2), "index 2"),
                    (dict(name="out", index=0), "only a layer name or a layer index"), ({}, "either")):
        with pytest.raises(ValueError, match=msg):
            model.get_layer(**kw)
    popped = model.pop()
    assert popped.name == "out" and [l.name for l in model.layers] == ["hidden"]
    assert model.built and model.output_shape == (8,)
    model.pop()
    with pytest.raises(TypeError, match="no layers"):
        model.pop()


def test_weights_and_trainable_weights():
    model = fastann.Sequential([layers.Input((5, 5, 2)), layers.Conv2D(3, 3), layers.BatchNormalization(),
                                layers.Flatten(), layers.Dense(4)])
    # conv kernel + bias, gamma, beta, moving_mean, moving_variance, dense kernel + bias (Keras' order)
    assert len(model.weights) == 8 and len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    assert model.weights[0] is model.layers[0].params["kernel"]  # the arrays themselves
    model.layers[1].trainable = False
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 4
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 8
    assert all(not l.trainable for l in model.layers)


def test_metrics_names_and_build_with_batch_axis(rng):
    model = fastann.Sequential([layers.Dense(4), layers.Dense(3, activation="softmax")])
    model.build((None, 5))
    assert model.built and model.input_shape == (5,) and model.layers[0].params["kernel"].shape == (4, 5)
    with pytest.raises(ValueError, match="batch axis"):
        fastann.Sequential([layers.Dense(4)]).build((5,))
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy", "mae"])
    assert model.metrics_names == ["loss", "accuracy", "mae"]
    x, y = _data(rng)
    assert len(model.evaluate(x, utils.to_categorical(y, 3))) == 3


def test_deepcopy_is_an_independent_equal_model(rng):
    x, y = _data(rng)
    model = _mlp(seed=3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    clone = copy.deepcopy(model)
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    h1 = model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    h2 = clone.fit(x, y, epochs=1, verbose=0, shuffle=False)
    assert h1.history == h2.history
    clone.layers[0].params["kernel"][...] = 0
    assert np.any(model.layers[0].params["kernel"] != 0)


def test_trainable_set_is_fixed_at_compile(rng):
    """Keras: freezing after compile takes effect at the next compile; until then fit trains the
    compile-time set (and raises nothing)."""
    x, y = _data(rng)
    model = _mlp(seed=1)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable = False
    w0 = model.layers[0].get_weights()
    model.fit(x, y, epochs=1, verbose=0)  # no recompile: the first Dense still trains
    assert not np.array_equal(w0[0], model.layers[0].get_weights()[0])
    assert model.layers[0].trainable is False  # the user's flag is kept
    model.compile("adam", "sparse_categorical_crossentropy")
    w0, w1 = model.layers[0].get_weights(), model.layers[1].get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(w0[0], model.layers[0].get_weights()[0])
    np.testing.assert_array_equal(w0[1], model.layers[0].get_weights()[1])
    assert not np.array_equal(w1[0], model.layers[1].get_weights()[0])
    # the same frozen model, with the same optimizer instance reused after a compile that changed the set:
    # Keras refuses an optimizer built for other variables, and so does fastann
    opt = optimizers.Adam()
    model.layers[0].trainable = True
    model.compile(opt, "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable = False
    model.compile(opt, "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="built for 4 parameters, got 2"):
        model.fit(x, y, epochs=1, verbose=0)


def test_model_trainable_false_freezes_all(rng):
    # Keras 3: fit warns "The model does not have any trainable weights." and computes the loss, updating
    # nothing (the optimizer is not called)
    x, y = _data(rng)
    model = _mlp()
    model.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = [w.copy() for w in model.get_weights()]
    with pytest.warns(UserWarning, match="The model does not have any trainable weights"):
        hist = model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()
    np.testing.assert_allclose(hist.history["loss"][0], hist.history["loss"][1], rtol=1e-6)  # nothing changed
    np.testing.assert_allclose(hist.history["loss"][0], model.evaluate(x, y, verbose=0)[0], rtol=1e-5)
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        loss = model.train_on_batch(x[:8], y[:8])
    np.testing.assert_allclose(loss[0], model.test_on_batch(x[:8], y[:8])[0], rtol=1e-6)
    model.trainable = True
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)


def test_fit_of_a_model_without_weights_warns(rng):
    model = fastann.Sequential([layers.Input((3, 2)), layers.Flatten()], seed=0)
    model.compile("sgd", "mse")
    x = rng.standard_normal((10, 3, 2)).astype(np.float32)
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        hist = model.fit(x, x.reshape(10, 6) * 0.5, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_allclose(hist.history["loss"][0], np.mean((x.reshape(10, 6) * 0.5) ** 2), rtol=1e-5)


def test_frozen_batch_norm_runs_in_inference_mode(rng):
    x = (rng.standard_normal((16, 4)) * 3 + 2).astype(np.float32)
    bn = layers.BatchNormalization(trainable=False)
    model = fastann.Sequential([layers.Input((4,)), layers.Dense(4), bn, layers.Dense(2)], seed=0)
    model.compile("sgd", "mse")
    stats = [p.copy() for p in bn.get_weights()]
    model.fit(x, np.zeros((16, 2), np.float32), epochs=1, verbose=0)
    for a, b in zip(stats, bn.get_weights()):
        np.testing.assert_array_equal(a, b)  # gamma, beta frozen; moving statistics not updated
    h = model.layers[0](x)
    expected = (h - 0.0) / np.sqrt(1.0 + bn.epsilon)  # moving mean 0, variance 1, gamma 1, beta 0
    np.testing.assert_allclose(bn.forward(h, training=True), expected, rtol=1e-6)


# ---- 3. shape rules ---------------------------------------------------------------------------------------
def test_targets_of_shape_n_for_one_output_unit(rng):
    x = rng.standard_normal((40, 3)).astype(np.float32)
    t = x @ np.array([1.0, -2.0, 0.5], np.float32)
    model = fastann.Sequential([layers.Input((3,)), layers.Dense(1)], seed=0)
    model.compile(optimizers.SGD(0.1), "mse")
    h = model.fit(x, t, batch_size=8, epochs=30, verbose=0)  # (N,) targets for the (N, 1) output
    assert h.history["loss"][-1] < 1e-3
    assert model.evaluate(x, t) == pytest.approx(model.evaluate(x, t[:, None]))
    yb = (t > 0).astype(np.int64)
    clf = fastann.Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")], seed=0)
    clf.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    clf.fit(x, yb, epochs=1, verbose=0)
    acc = clf.evaluate(x, yb, return_dict=True)["accuracy"]
    assert acc == pytest.approx(np.mean((clf.predict(x)[:, 0] > 0.5) == yb))


def test_accuracy_is_resolved_from_shapes_as_keras(rng):
    x, labels = _data(rng, n=50)
    onehot = utils.to_categorical(labels, 3)

    def acc(loss, y, metric="accuracy"):
        m = _mlp(seed=2, last="softmax")
        m.compile("sgd", loss, metrics=[metric])
        logs = m.evaluate(x, y, return_dict=True)
        return logs[metric], m.metrics[0], m.predict(x)

    value, metric, p = acc("mse", onehot)
    assert type(metric).__name__ == "CategoricalAccuracy" and metric.name == "accuracy"
    assert value == pytest.approx(np.mean(p.argmax(1) == labels)) and value > 0
    value, metric, p = acc("categorical_crossentropy", onehot, "acc")
    assert type(metric).__name__ == "CategoricalAccuracy" and metric.name == "acc"
    value, metric, p = acc("sparse_categorical_crossentropy", labels)
    assert type(metric).__name__ == "SparseCategoricalAccuracy"
    assert value == pytest.approx(np.mean(p.argmax(1) == labels))
    value, metric, p = acc("binary_crossentropy", onehot)  # Keras 3: several units -> categorical
    assert type(metric).__name__ == "CategoricalAccuracy"
    m = fastann.Sequential([layers.Input((5,)), layers.Dense(1, activation="sigmoid")], seed=0)
    m.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    m.evaluate(x, (labels > 0).astype(np.float32)[:, None])
    assert type(m.metrics[0]).__name__ == "BinaryAccuracy"


def test_dense_on_any_rank_input(rng):
    x = rng.standard_normal((3, 4, 5))
    d = layers.Dense(2, activation="tanh")
    d.build((4, 5), np.float64, np, rng)
    assert d.compute_output_shape((4, 5)) == (4, 2)
    y = d.forward(x, training=True)
    w, b = d.params["kernel"], d.params["bias"]
    np.testing.assert_allclose(y, np.tanh(np.einsum("ntf,uf->ntu", x, w) + b), rtol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = d.backward(g)
    dz = g * (1 - y ** 2)
    np.testing.assert_allclose(dx, np.einsum("ntu,uf->ntf", dz, w), rtol=1e-10)
    np.testing.assert_allclose(d.grads["kernel"], np.einsum("ntu,ntf->uf", dz, x), rtol=1e-10)
    np.testing.assert_allclose(d.grads["bias"], dz.sum((0, 1)), rtol=1e-10)
    # fused relu path and a model over sequences
    model = fastann.Sequential([layers.Input((4, 5)), layers.Dense(6, activation="relu"), layers.Dense(1)], seed=0)
    model.compile("sgd", "mse")
    assert model.output_shape == (4, 1)
    model.fit(x.astype(np.float32), rng.standard_normal((3, 4, 1)).astype(np.float32), epochs=1, verbose=0)


def test_batch_norm_axis_minus_one_normalizes_features(rng):
    x = (rng.standard_normal((32, 6)) * 4 + 1).astype(np.float64)
    a, b = layers.BatchNormalization(axis=-1), layers.BatchNormalization(axis=1)
    a.build((6,), np.float64, np, rng)
    b.build((6,), np.float64, np, rng)
    assert a.axis == 1  # normalized to the positive axis
    ya, yb = a.forward(x, training=True), b.forward(x, training=True)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_allclose(ya, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-8)
    c = layers.BatchNormalization(axis=-3)
    c.build((3, 4, 4), np.float64, np, rng)
    assert c.axis == 1
    with pytest.raises(ValueError, match="axis=2"):
        layers.BatchNormalization(axis=2).build((3, 4, 4), np.float64, np, rng)


# ---- 4. warnings ------------------------------------------------------------------------------------------
def test_from_logits_on_a_softmax_output_warns(rng):
    x, y = _data(rng)
    model = fastann.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax", name="probs")])
    model.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True.*softmax.*'probs'"):
        model.fit(x, y, epochs=1, verbose=0)
    model.compile("sgd", losses.CategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="'probs'"):
        model.evaluate(x, utils.to_categorical(y, 3))
    linear = fastann.Sequential([layers.Input((5,)), layers.Dense(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        linear.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=True))
        linear.fit(x, y, epochs=1, verbose=0)
        linear.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=False))
        linear.evaluate(x, y)  # probabilities expected from a linear layer: Keras does not warn either


# ---- 5. file names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["model.keras", "w.h5", "w.hdf5", "w.txt"])
def test_weights_file_names_say_their_format(tmp_path, name):
    model = _mlp()
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / name)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.load_weights(tmp_path / name)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        callbacks.ModelCheckpoint(str(tmp_path / name), save_weights_only=True)
    if name != "model.keras":
        with pytest.raises(ValueError, match=r"\.keras"):
            callbacks.ModelCheckpoint(str(tmp_path / name))
    model.save_weights(tmp_path / "w.weights.npz")
    assert (tmp_path / "w.weights.npz").exists()


# ---- 6. utils, schedules, leaky relu ----------------------------------------------------------------------
def test_to_categorical():
    out = utils.to_categorical([0, 2, 1, 2])
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])
    assert utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)  # trailing 1 dropped
    assert utils.to_categorical(np.array([[1, 0], [0, 1]]), 2).shape == (2, 2, 2)
    np.testing.assert_array_equal(utils.to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    for bad, exc in (([3], ValueError), ([-1], ValueError), ([0.5], ValueError), (["a"], TypeError)):
        with pytest.raises(exc):
            utils.to_categorical(bad, num_classes=3)
    with pytest.raises(TypeError):
        utils.to_categorical([1], num_classes=2.0)


def test_learning_rate_scheduler_one_and_two_argument_schedules(rng):
    x, y = _data(rng)
    for schedule, expected in ((lambda epoch: 0.1 / (epoch + 1), [0.1, 0.05]),
                               (lambda epoch, lr: lr * 0.5, [0.0005, 0.00025])):
        model = _mlp()
        model.compile(optimizers.Adam(0.001), "sparse_categorical_crossentropy")
        h = model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.LearningRateScheduler(schedule)])
        assert h.history["learning_rate"] == pytest.approx(expected)
    with pytest.raises(TypeError, match="epoch"):
        callbacks.LearningRateScheduler(lambda: 0.1)


def test_leaky_relu_slopes_follow_keras_and_pytorch():
    x = np.array([[-2.0, 3.0]], np.float32)
    np.testing.assert_allclose(layers.LeakyReLU()(x), [[-0.6, 3.0]], rtol=1e-6)         # Keras layer: 0.3
    np.testing.assert_allclose(layers.LeakyReLU(negative_slope=0.1)(x), [[-0.2, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(layers.Activation("leaky_relu")(x), [[-0.4, 3.0]], rtol=1e-6)  # activation: 0.2
    d = layers.Dense(2, activation="leaky_relu", use_bias=False)
    d.build((2,), np.float32, np)
    d.set_weights([np.eye(2, dtype=np.float32)])
    np.testing.assert_allclose(d(x), [[-0.4, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(ops.leaky_relu(x), [[-0.02, 3.0]], rtol=1e-6)              # ops: PyTorch's 0.01
    assert layers.LeakyReLU().name.startswith("leaky_re_lu")
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(negative_slope=-1)


def test_sequential_trainable_argument():
    frozen = fastann.Sequential([layers.Input((3,)), layers.Dense(2)], trainable=False)
    assert not frozen.trainable and not frozen.layers[0].trainable and frozen.trainable_weights == []
    keep = layers.Dense(2, trainable=False)
    model = fastann.Sequential([layers.Input((3,)), keep])  # trainable=True leaves the layers' own flags
    assert model.trainable and not keep.trainable
