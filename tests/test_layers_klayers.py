"""LayerNormalization, PReLU, Rescaling and Normalization against hand-written NumPy formulas in Keras's weight
layouts, finite differences of their backward, Keras's documented examples, argument checks, and a short
training run through Sequential."""
import os

import numpy as np
import pytest

import fastann
from fastann import layers
from helpers import assert_close, numerical_grad


def _keras():
    """Keras 3 on its torch backend (the venv with PyTorch has no TensorFlow); skips where absent."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def _built(layer, shape, dtype=np.float64, seed=0):
    layer.build(shape, dtype=dtype, rng=np.random.default_rng(seed))
    return layer


def _fill(layer, rng):
    for p in layer.params.values():
        if p.dtype.kind == "f":
            p[...] = rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape)


def _check_layer_grads(layer, x, rng, tol=1e-6):
    """Input and parameter gradients of a float64 layer against central differences of sum(forward * G)."""
    y = layer.forward(x, training=True)
    G = rng.standard_normal(y.shape)
    layer.need_input_grad = True
    dx = layer.backward(G)
    assert_close(dx, numerical_grad(lambda: layer.forward(x, training=True), x, G), tol, "input gradient")
    for k in layer.trainable_names:
        layer.forward(x, training=True)
        layer.backward(G)
        got = layer.grads[k].copy()
        assert got.shape == layer.params[k].shape
        assert_close(got, numerical_grad(lambda: layer.forward(x, training=True), layer.params[k], G), tol,
                     f"gradient of {k}")


# ---- LayerNormalization -----------------------------------------------------------------------------------

def _ln_formula(x, axes, gamma, beta, eps):
    axes = sorted(a % x.ndim for a in axes)
    m = x.mean(axis=tuple(axes), keepdims=True)
    v = x.var(axis=tuple(axes), keepdims=True)
    bshape = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    y = (x - m) / np.sqrt(v + eps)
    if gamma is not None:
        y = y * gamma.reshape(bshape)  # Keras reshapes gamma to the broadcast shape
    return y + beta.reshape(bshape) if beta is not None else y


@pytest.mark.parametrize("axis, shape", [(-1, (4, 7)), (-1, (3, 5, 6)), ([1, 2], (3, 5, 6)), (1, (3, 5, 6)),
                                         ([-1, 1], (2, 3, 4, 5)), (2, (2, 3, 4, 5))])
@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False), (False, False)])
def test_layer_normalization_matches_the_formula_and_finite_differences(rng, axis, shape, center, scale):
    layer = _built(layers.LayerNormalization(axis=axis, center=center, scale=scale, epsilon=1e-2), shape[1:])
    _fill(layer, rng)
    axes = axis if isinstance(axis, list) else [axis]
    want = tuple(shape[a] for a in sorted(axes))
    w = layer.get_weights()
    assert [a.shape for a in w] == [want] * (int(scale) + int(center))
    x = rng.standard_normal(shape) * 2 + 1
    gamma = layer.params.get("gamma")
    beta = layer.params.get("beta")
    assert_close(layer.forward(x), _ln_formula(x, axes, gamma, beta, 1e-2), 1e-12, "output")
    _check_layer_grads(layer, x, rng)


def test_layer_normalization_float32_default_keras_values(rng):
    x = rng.standard_normal((8, 16)).astype(np.float32)
    layer = layers.LayerNormalization()
    y = layer(x)
    assert y.dtype == np.float32 and layer.epsilon == 1e-3 and layer.name.startswith("layer_normalization")
    assert_close(y, _ln_formula(x.astype(np.float64), [-1], None, None, 1e-3), 1e-5, "output")
    assert [a.shape for a in layer.get_weights()] == [(16,), (16,)]
    np.testing.assert_array_equal(layer.get_weights()[0], 1)
    np.testing.assert_array_equal(layer.get_weights()[1], 0)


@pytest.mark.parametrize("make, exc", [
    (lambda: layers.LayerNormalization(rms_scaling=True), NotImplementedError),
    (lambda: layers.LayerNormalization(axis="last"), TypeError),
    (lambda: layers.LayerNormalization(epsilon=0), ValueError),
    (lambda: layers.LayerNormalization(bogus=1), ValueError),
    (lambda: _built(layers.LayerNormalization(axis=3), (4, 5)), ValueError),
    (lambda: _built(layers.LayerNormalization(axis=0), (4, 5)), ValueError),
    (lambda: _built(layers.LayerNormalization(axis=[1, -2]), (4, 5)), ValueError),
])
def test_layer_normalization_bad_arguments(make, exc):
    with pytest.raises(exc):
        make()


def test_layer_normalization_matches_keras_if_installed(rng):
    keras = _keras()
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    for axis in (-1, [1, 2], [2, 1]):
        k = keras.layers.LayerNormalization(axis=axis)
        k.build(x.shape)
        weights = [rng.standard_normal(w.shape).astype(np.float32) for w in k.get_weights()]
        k.set_weights(weights)
        f = layers.LayerNormalization(axis=axis)
        f.build(x.shape[1:])
        f.set_weights(weights)
        assert_close(f(x), keras.ops.convert_to_numpy(k(x)), 1e-5, f"axis={axis}")


# ---- PReLU ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, shared, kernel", [
    ((4, 6), None, True),             # one alpha per feature: ops.prelu's per-channel weight
    ((2, 3, 4, 5), [2, 3], True),     # one per axis-1 channel
    ((3, 4, 5), [1, 2], True),        # one shared value
    ((3, 4, 5), [1], False),          # the element-wise path
    ((2, 3, 4, 5), [1, 2], False),
    ((2, 3, 4, 5), 3, False)])
def test_prelu_matches_the_formula_and_finite_differences(rng, shape, shared, kernel):
    layer = _built(layers.PReLU(shared_axes=shared), shape[1:])
    assert (layer._kernel_weight is not None) == kernel
    want = list(shape[1:])
    for a in ([shared] if isinstance(shared, int) else shared or []):
        want[a - 1] = 1
    assert layer.get_weights()[0].shape == tuple(want)
    np.testing.assert_array_equal(layer.get_weights()[0], 0)  # Keras's alpha_initializer="zeros"
    _fill(layer, rng)
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # away from the kink for the finite differences
    alpha = layer.params["alpha"]
    assert_close(layer.forward(x), np.maximum(x, 0) - alpha * np.maximum(-x, 0), 1e-15, "output")
    _check_layer_grads(layer, x, rng)


def test_prelu_bad_arguments():
    with pytest.raises(ValueError):
        _built(layers.PReLU(shared_axes=[3]), (4, 5))
    with pytest.raises(TypeError):
        layers.PReLU(shared_axes="1")
    with pytest.raises(NotImplementedError, match="alpha_constraint"):
        layers.PReLU(alpha_constraint="non_neg")
    assert layers.PReLU().name.startswith("p_re_lu")


# ---- Rescaling --------------------------------------------------------------------------------------------

def test_rescaling_forward_and_backward(rng):
    x = rng.uniform(0, 255, (4, 3, 2)).astype(np.float32)
    layer = layers.Rescaling(1 / 127.5, offset=-1)
    y = layer(x)
    assert y.dtype == np.float32 and not layer.get_weights()
    assert_close(y, x / 127.5 - 1, 1e-6, "output")
    assert_close(layer.backward(np.ones_like(x)), np.full(x.shape, 1 / 127.5), 1e-6, "backward")
    per_channel = layers.Rescaling(np.array([1.0, 2.0]), offset=np.array([0.0, 1.0]))
    assert_close(per_channel(x), x * np.array([1, 2]) + np.array([0, 1]), 1e-6, "per-channel")
    with pytest.raises(ValueError, match="broadcast"):
        layers.Rescaling(np.ones(3))(x)
    with pytest.raises(TypeError):
        layers.Rescaling("2")
    with pytest.raises(ValueError):
        layers.Rescaling(float("nan"))


# ---- Normalization ----------------------------------------------------------------------------------------
ADAPT = np.array([[0., 7., 4.], [2., 9., 6.], [0., 7., 4.], [2., 9., 6.]], dtype="float32")


def test_normalization_keras_docstring_examples():
    layer = layers.Normalization(axis=-1)
    layer.adapt(ADAPT)
    np.testing.assert_allclose(layer(np.array([[0., 7., 4.]], np.float32)), [[-1., -1., -1.]], atol=1e-6)
    mean, var, count = layer.get_weights()
    np.testing.assert_allclose(mean, [1, 8, 5])
    np.testing.assert_allclose(var, [1, 1, 1])
    assert count.shape == () and count == 0 and layer.count_params() == 7  # Keras: 2 * features + 1
    direct = layers.Normalization(mean=3., variance=2.)
    np.testing.assert_allclose(direct(np.array([[1.], [2.], [3.]], np.float32)).ravel(),
                               [-1.4142135, -0.70710677, 0.], rtol=1e-6)
    assert direct.get_weights() == []
    inv = layers.Normalization(axis=-1, invert=True)
    inv.adapt(ADAPT)
    np.testing.assert_allclose(inv(np.array([[1., 2., 3.]], np.float32)), [[2., 10., 8.]], atol=1e-5)


def test_normalization_adapt_batches_axis_none_and_backward(rng):
    data = rng.standard_normal((30, 4, 3)) * 3 + 2
    whole = layers.Normalization(axis=None)
    whole.adapt(data)
    np.testing.assert_allclose(whole.get_weights()[0], data.mean(), rtol=1e-6)
    batched = layers.Normalization(axis=[1, 2])
    batched.adapt([data[:7], data[7:20], data[20:]])
    np.testing.assert_allclose(batched.get_weights()[0], data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(batched.get_weights()[1], data.var(axis=0), rtol=1e-5)
    x = data[:5].astype(np.float32)
    y = batched(x)
    sd = np.sqrt(data.var(axis=0))
    assert_close(y, (x - data.mean(axis=0)) / sd, 1e-5, "output")
    assert_close(batched.backward(np.ones_like(x)), np.broadcast_to(1 / sd, x.shape), 1e-5, "backward")
    per_last = layers.Normalization()
    per_last.adapt(data)
    np.testing.assert_allclose(per_last.get_weights()[0], data.mean(axis=(0, 1)), rtol=1e-5)


def test_normalization_bad_arguments():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="axis"):
        layers.Normalization(axis=0).adapt(ADAPT)
    layer = layers.Normalization()
    layer.adapt(ADAPT)
    with pytest.raises(ValueError, match="adapt"):
        layer.adapt(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="without mean"):
        layers.Normalization(mean=1.0, variance=1.0).adapt(ADAPT)


def test_normalization_matches_keras_if_installed(rng):
    keras = _keras()
    data = (rng.standard_normal((20, 3, 4)) * 2 + 1).astype(np.float32)
    for axis in (-1, None, (1, 2)):
        k = keras.layers.Normalization(axis=axis)
        k.adapt(data)
        f = layers.Normalization(axis=axis)
        f.adapt(data)
        assert [w.shape for w in f.get_weights()] == [w.shape for w in k.get_weights()]
        assert_close(f(data), keras.ops.convert_to_numpy(k(data)), 1e-5, f"axis={axis}")


# ---- in a model -------------------------------------------------------------------------------------------

def test_the_new_layers_train_in_a_sequential(rng):
    x = rng.standard_normal((64, 6)).astype(np.float32) * 5 + 3
    y = (x[:, 0] > 3).astype(np.int64)
    norm = layers.Normalization()
    norm.adapt(x)
    model = fastann.Sequential([layers.Input((6,)), norm, layers.Rescaling(0.5), layers.Dense(16),
                                layers.LayerNormalization(), layers.PReLU(), layers.Dense(2, activation="softmax")],
                               seed=0)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


@pytest.mark.parametrize("make, cls", [
    (lambda: layers.LayerNormalization(bogus=1), "LayerNormalization"),
    (lambda: layers.PReLU(bogus=1), "PReLU"),
    (lambda: layers.Rescaling(2.0, bogus=1), "Rescaling"),
    (lambda: layers.Normalization(bogus=1), "Normalization"),
])
def test_unknown_keyword_is_keras_value_error(make, cls):
    with pytest.raises(ValueError) as e:
        make()
    assert str(e.value) == f"Unrecognized keyword arguments passed to {cls}: {{'bogus': 1}}"


def test_layer_normalization_regularizer_and_constraint():
    """gamma/beta regularizers and constraints go through Layer._WEIGHT_ARGS, as BatchNormalization's."""
    ln = layers.LayerNormalization(gamma_regularizer=fastann.regularizers.l2(0.5), beta_constraint="non_neg")
    ln.build((3, 4), np.float64, np, np.random.default_rng(0))
    ln.set_weights([np.full(4, 2.0), np.array([-1.0, 0.5, -2.0, 3.0])])
    assert float(sum(ln.losses)) == pytest.approx(0.5 * 4 * 4.0)
    ln.apply_constraints(["beta"])
    np.testing.assert_array_equal(ln.get_weights()[1], [0.0, 0.5, 0.0, 3.0])
