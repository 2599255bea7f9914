"""fastann.layers and fastann.initializers: forward against NumPy formulas, backward by gradcheck (float64),
lazy building, argument errors."""
import numpy as np
import pytest
from helpers import assert_close, numerical_grad, to_numpy

from fastann import initializers, layers

# These tests are written in channels_first (N, C, H, W); tests/test_data_format.py covers channels_last.
pytestmark = pytest.mark.usefixtures("channels_first")

# NumPy (float64) formulas of the activations the layer tests use.
NP_ACT = {
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(NP_ACT))
@pytest.mark.parametrize("n, fin, units", [(1, 1, 1), (7, 13, 5), (33, 64, 17)])
def test_dense_forward(xp, rng, dtype, activation, n, fin, units):
    layer = layers.Dense(units, activation=activation, kernel_initializer="glorot_normal", bias_initializer="random_normal")
    x = rng.standard_normal((n, fin)).astype(dtype)
    y = layer(xp.asarray(x))
    assert layer.built and layer.input_shape == (fin,) and layer.output_shape == (units,)
    w, b = (to_numpy(p).astype(np.float64) for p in (layer.params["kernel"], layer.params["bias"]))
    assert w.shape == (units, fin) and layer.params["kernel"].dtype == dtype
    ref = NP_ACT[activation](x.astype(np.float64) @ w.T + b)
    assert y.dtype == dtype and y.shape == (n, units)
    assert_close(y, ref, 1e-5 if dtype == np.float32 else 1e-12, f"Dense({activation})")


def _layer_gradcheck(layer, x, rng, tol=1e-6):
    """Check layer.backward (input and parameter gradients) against central differences, float64."""
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x, training=True)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    grads = {k: np.array(v) for k, v in layer.grads.items()}

    def f():
        return layer.forward(x, training=True)

    if layer.need_input_grad:
        assert_close(dx, numerical_grad(f, x, g), tol, f"{layer.name} input gradient")
    else:
        assert dx is None
    for k, p in layer.params.items():
        assert_close(grads[k], numerical_grad(f, p, g), tol, f"{layer.name} gradient of {k}")


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "softmax", "elu", "gelu", "leaky_relu"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradcheck(rng, activation, use_bias):
    layer = layers.Dense(6, activation=activation, use_bias=use_bias, bias_initializer="random_normal")
    x = rng.standard_normal((5, 7))
    layer.build((7,), np.float64, np, rng)
    # (a relu kink within eps=1e-6 of a pre-activation has negligible probability for random inputs)
    _layer_gradcheck(layer, x, rng)
    assert set(layer.grads) == ({"kernel", "bias"} if use_bias else {"kernel"})


def test_dense_first_layer_skips_input_grad(rng):
    layer = layers.Dense(4, activation="relu")
    layer.build((3,), np.float64, np, rng)
    layer.need_input_grad = False
    _layer_gradcheck(layer, rng.standard_normal((6, 3)), rng)


def test_dense_logits_path_matches(rng):
    """forward_logits/backward_logits (used when the model fuses softmax into the loss) are the linear part."""
    layer = layers.Dense(5, activation="softmax")
    x = rng.standard_normal((4, 3))
    layer.build((3,), np.float64, np, rng)
    z = layer.forward_logits(x, training=True)
    np.testing.assert_allclose(z, x @ layer.params["kernel"].T + layer.params["bias"], rtol=1e-12)
    g = rng.standard_normal(z.shape)
    dx = layer.backward_logits(g)
    np.testing.assert_allclose(dx, g @ layer.params["kernel"], rtol=1e-10)
    np.testing.assert_allclose(layer.grads["kernel"], g.T @ x, rtol=1e-10)
    np.testing.assert_allclose(layer.grads["bias"], g.sum(0), rtol=1e-10)


@pytest.mark.parametrize("name, params", [("relu", {}), ("tanh", {}), ("sigmoid", {}), ("softmax", {}),
                                          ("log_softmax", {}), ("silu", {}), ("softplus", {}),
                                          ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.5}),
                                          ("linear", {})])
def test_activation_layer_gradcheck(rng, name, params):
    if params:  # the parametrized activations are Keras' classes (Activation takes no op keywords)
        layer = {"leaky_relu": layers.LeakyReLU, "elu": layers.ELU}[name](**params)
    else:
        layer = layers.Activation(name)
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # away from relu-type kinks
    layer.build((6,), np.float64, np, rng)
    _layer_gradcheck(layer, x, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_layer_forward(xp, rng, dtype):
    x = rng.standard_normal((5, 7)).astype(dtype)
    for name in ("relu", "tanh", "softmax"):
        y = layers.Activation(name)(xp.asarray(x))
        assert y.dtype == dtype
        assert_close(y, NP_ACT[name](x.astype(np.float64)), 1e-5 if dtype == np.float32 else 1e-12, name)


def test_flatten_reshape(xp, rng):
    x = rng.standard_normal((3, 2, 4, 5))
    f = layers.Flatten()
    y = f(xp.asarray(x))
    assert y.shape == (3, 40) and f.output_shape == (40,)
    # a channels_first Flatten moves the channels last first, as Keras's
    np.testing.assert_array_equal(to_numpy(y), x.transpose(0, 2, 3, 1).reshape(3, 40))
    np.testing.assert_array_equal(to_numpy(f.backward(y)), x)
    r = layers.Reshape((-1, 5))
    y = r(xp.asarray(x))
    assert y.shape == (3, 8, 5) and r.output_shape == (8, 5)
    np.testing.assert_array_equal(to_numpy(r.backward(y)), x)
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((7,))(xp.asarray(x))
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))


def test_flatten_reshape_gradcheck(rng):
    for layer in (layers.Flatten(), layers.Reshape((4, 3))):
        layer.build((2, 6), np.float64, np, rng)
        _layer_gradcheck(layer, rng.standard_normal((3, 2, 6)), rng)


def test_dropout_layer(rng):
    x = rng.standard_normal((64, 50))
    d = layers.Dropout(0.3, seed=7)
    d.build((50,), np.float64, np, rng)
    np.testing.assert_array_equal(d.forward(x, training=False), x)  # identity at inference
    y = d.forward(x, training=True)
    kept = y != 0
    assert 0.55 < kept.mean() < 0.85
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-12)
    g = rng.standard_normal(x.shape)
    dx = d.backward(g)  # same mask as the forward
    np.testing.assert_allclose(dx, np.where(kept, g / 0.7, 0.0), rtol=1e-12)
    y2 = d.forward(x, training=True)
    assert not np.array_equal(y2 != 0, kept)  # a new mask each training call
    d2 = layers.Dropout(0.3, seed=7)
    d2.build((50,), np.float64, np, rng)
    np.testing.assert_array_equal(d2.forward(x, training=True), y)  # same seed, same mask
    for bad in (-0.1, 1.0, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="rate"):
            layers.Dropout(bad)


def test_dense_argument_errors(rng):
    for bad in (0, -3, 2.5, "10", True):
        with pytest.raises(ValueError, match="units"):
            layers.Dense(bad)
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        layers.Dense(3, activation="relux")
    with pytest.raises(TypeError, match="activation"):
        layers.Dense(3, activation=42)
    with pytest.raises(ValueError, match="unknown initializer"):
        layers.Dense(3, kernel_initializer="glorot_unifrom")
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        layers.Dense(3, negative_slope=0.1)
    d = layers.Dense(3)
    d(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match=r"expected inputs of shape \(N, 4\)"):
        d(rng.standard_normal((2, 5)))
    with pytest.raises(TypeError, match="float32 or float64"):
        layers.Dense(3).build((4,), np.int32, np, rng)
    with pytest.raises(ValueError, match="Input: shape"):
        layers.Input((0, 3))


def test_dense_propagates_nan(rng):
    d = layers.Dense(3, activation="relu")
    x = rng.standard_normal((2, 4)).astype(np.float32)
    x[1, 2] = np.nan
    y = d(x)
    assert np.isnan(y[1]).all() and np.isfinite(y[0]).all()


def test_layer_weights_roundtrip(rng):
    d = layers.Dense(3)
    d.build((4,), np.float32, np, rng)
    w = d.get_weights()
    assert [a.shape for a in w] == [(4, 3), (3,)] and d.count_params() == 15  # Keras: kernel (in, units)
    d.set_weights([np.ones((4, 3)), np.zeros(3)])
    assert d.params["kernel"].dtype == np.float32 and (d.params["kernel"] == 1).all()
    with pytest.raises(ValueError, match="shape"):
        d.set_weights([np.ones((3, 4)), np.zeros(3)])
    with pytest.raises(ValueError, match="got 1 arrays"):
        d.set_weights([np.ones((4, 3))])


def test_auto_names_are_unique():
    names = {layers.Dense(2).name for _ in range(5)}
    assert len(names) == 5 and all(n.startswith("dense") for n in names)


# ---- initializers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape, std", [
    ("glorot_uniform", (300, 784), np.sqrt(2 / (784 + 300))),
    ("glorot_normal", (300, 784), np.sqrt(2 / (784 + 300))),
    ("he_normal", (300, 784), np.sqrt(2 / 784)),
    ("he_uniform", (64, 32, 3, 3), np.sqrt(2 / (32 * 9))),
    ("lecun_normal", (100, 300), np.sqrt(1 / 300)),
    ("random_normal", (200, 200), 0.05),
    ("random_uniform", (200, 200), 0.1 / np.sqrt(12)),
])
def test_initializer_statistics(name, shape, std):
    w = initializers.get(name)(shape, "float64", np.random.default_rng(0))
    assert w.shape == shape and w.dtype == np.float64
    assert abs(w.mean()) < 4 * std / np.sqrt(w.size)
    assert abs(w.std() / std - 1) < 0.03, f"{name}: std {w.std()} vs {std}"
    if "uniform" in name:
        limit = std * np.sqrt(3)
        assert np.abs(w).max() <= limit
    elif name != "random_normal":  # the variance-scaling normals are truncated at 2 std (like Keras)
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-12


def test_initializers_constant_and_seeded():
    assert (initializers.get("zeros")((3, 2)) == 0).all()
    assert (initializers.get("ones")((3, 2), "float64") == 1).all()
    assert initializers.get("ones")((3,)).dtype == np.float32
    a = initializers.GlorotUniform(seed=3)((5, 4))
    b = initializers.GlorotUniform(seed=3)((5, 4))
    c = initializers.GlorotUniform(seed=4)((5, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert initializers.compute_fans((10, 4, 3, 3)) == (36, 90)
    assert initializers.compute_fans((10, 4)) == (4, 10)


def test_initializer_errors():
    with pytest.raises(ValueError, match="unknown initializer"):
        initializers.get("xavier")
    with pytest.raises(TypeError):
        initializers.get(3.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        initializers.get("zeros")((2,), "int32")
    with pytest.raises(ValueError, match="shape"):
        initializers.get("zeros")((2, -1))
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
