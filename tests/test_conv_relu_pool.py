"""The fused Conv2D(bias, ReLU) -> MaxPooling2D(2) stage (models/_fusion.FusedConvReLUPool) and its internal
ReLU + pool kernels (ops._fused): the same bits as the separate ops and layers, forward and backward, both
dtypes, channels_first and channels_last, odd sizes."""
import numpy as np
import pytest

import fastann
from fastann import layers, ops
from fastann.ops._fused import relu_max_pool2d, relu_max_pool2d_backward

CPU = fastann._backend.cpu
DTYPES = [np.float32, np.float64]
SHAPES = [(3, 5, 7, 9), (2, 32, 28, 28), (4, 6, 14, 14), (1, 2, 2, 2), (2, 3, 5, 37), (2, 2, 6, 70)]


def _bits_equal(a, b):
    """Same shape, dtype and values, NaN where the other has NaN and the same sign on zeros (a NaN's sign
    bit is not compared)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True) \
        and np.array_equal(np.signbit(a) & ~np.isnan(a), np.signbit(b) & ~np.isnan(b))


def _separate(x, g):
    """max_pool2d(relu(x), 2) and its gradient through the public ops."""
    r = ops.relu(x)
    y, idx = ops.max_pool2d(r, 2)
    dz = ops.relu_backward(ops.max_pool2d_backward(g, idx, x.shape), x)
    return y, dz


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_max_pool2d_equals_separate_ops(rng, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[::7] = x.flat[1::7]  # ties inside windows
    y, wi = relu_max_pool2d(x)
    g = rng.standard_normal(y.shape).astype(dtype)
    want_y, want_dz = _separate(x, g)
    assert _bits_equal(y, want_y)
    assert wi.dtype == np.uint8 and wi.max() <= 3
    assert _bits_equal(relu_max_pool2d_backward(g, y, wi, x.shape), want_dz)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_max_pool2d_nonfinite_like_separate_ops(rng, dtype):
    x = rng.standard_normal((2, 3, 9, 11)).astype(dtype)
    for v in (np.nan, np.inf, -np.inf):
        x.flat[rng.integers(0, x.size, 8)] = v
    y, wi = relu_max_pool2d(x)
    g = rng.standard_normal(y.shape).astype(dtype)
    g.flat[rng.integers(0, g.size, 4)] = np.nan
    g.flat[rng.integers(0, g.size, 4)] = -g.flat[rng.integers(0, g.size, 4)] ** 2  # negative at dead winners
    want_y, want_dz = _separate(x, g)
    assert _bits_equal(y, want_y)
    dz = relu_max_pool2d_backward(g, y, wi, x.shape)
    # The one documented difference: a NaN input that is not its window's winner (or is in no window) gets
    # gradient 0 instead of the separate relu_backward's NaN (its window's output is NaN already).
    lost = np.isnan(x) & ~np.isnan(dz)
    assert np.all(dz[lost] == 0)
    assert _bits_equal(np.where(lost, 0, dz), np.where(lost, 0, want_dz))


def test_relu_max_pool2d_bad_input():
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(TypeError, match="relu_max_pool2d: input"):
        relu_max_pool2d(x.astype(np.int32))
    with pytest.raises(ValueError, match="4-D"):
        relu_max_pool2d(x[0])
    with pytest.raises(ValueError, match="H, W >= 2"):
        relu_max_pool2d(x[:, :, :1])
    y, wi = relu_max_pool2d(x)
    with pytest.raises(ValueError, match="0..3"):
        relu_max_pool2d_backward(y, y, np.full_like(wi, 4), x.shape)
    with pytest.raises(ValueError, match="shape"):
        relu_max_pool2d_backward(y, y[:, :2].copy(), wi, x.shape)
    with pytest.raises(TypeError):
        relu_max_pool2d_backward(y, y.astype(np.float64), wi, x.shape)
    with pytest.raises(TypeError):
        CPU.relu_max_pool2_forward(np.empty_like(y), wi.astype(np.int64), x)


# ---- the model stage ---------------------------------------------------------------------------------
def _cnn(fuse, data_format, dtype, hw, act_layer=False, bias=True):
    shape = (1, *hw) if data_format == "channels_first" else (*hw, 1)

    def conv(f):
        if act_layer:
            return [layers.Conv2D(f, 3, padding="same", use_bias=bias, data_format=data_format),
                    layers.Activation("relu")]
        return [layers.Conv2D(f, 3, padding="same", activation="relu", use_bias=bias, data_format=data_format)]

    m = fastann.Sequential([layers.Input(shape), *conv(6), layers.MaxPooling2D(2, data_format=data_format),
                            *conv(5), layers.MaxPooling2D(2, data_format=data_format), layers.Flatten(),
                            layers.Dense(7, activation="relu"), layers.Dropout(0.25),
                            layers.Dense(4, activation="softmax")], seed=1, dtype=dtype)
    m.fuse_layers = fuse
    m._stages = m._plan_stages()
    return m


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("hw,act_layer,bias", [((11, 13), False, True), ((12, 8), True, True),
                                                ((9, 10), False, False)])
def test_fused_stage_gives_the_separate_layers_bits(rng, dtype, data_format, hw, act_layer, bias):
    xshape = (6, 1, *hw) if data_format == "channels_first" else (6, *hw, 1)
    x = rng.standard_normal(xshape).astype(dtype)
    out = []
    for fuse in (True, False):
        m = _cnn(fuse, data_format, dtype, hw, act_layer, bias)
        kinds = [type(s).__name__ for _, s in m._stages]
        assert (kinds.count("FusedConvReLUPool") == 2) == fuse, kinds
        y = m(x, training=True)
        g = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
        m._open_input_grads()
        grads, dx = m.gradients(g)
        out.append((y, grads, dx, m.predict(x, verbose=0)))
    (y1, g1, dx1, p1), (y2, g2, dx2, p2) = out
    assert _bits_equal(y1, y2) and _bits_equal(dx1, dx2) and _bits_equal(p1, p2)
    assert len(g1) == len(g2) and all(_bits_equal(a, b) for a, b in zip(g1, g2))


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_fused_stage_training_equals_separate_layers(rng, data_format):
    xshape = (40, 1, 10, 12) if data_format == "channels_first" else (40, 10, 12, 1)
    x = rng.random(xshape).astype(np.float32)
    y = rng.integers(0, 4, 40)
    runs = []
    for fuse in (True, False):
        m = _cnn(fuse, data_format, "float32", (10, 12))
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        hist = m.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        runs.append((hist.history["loss"], m.get_weights()))
    assert runs[0][0] == runs[1][0]
    assert all(_bits_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_fusion_only_where_it_applies():
    def kinds(*mid, shape=(1, 8, 8)):
        m = fastann.Sequential([layers.Input(shape), *mid, layers.Flatten(), layers.Dense(2)])
        return [type(s).__name__ for _, s in m._stages][1:]  # after the InputLayer

    cf = "channels_first"
    assert kinds(layers.Conv2D(2, 3, activation="relu", data_format=cf),
                 layers.MaxPooling2D(2, data_format=cf))[0] == "FusedConvReLUPool"
    assert kinds(layers.Conv2D(2, 3, activation="tanh", data_format=cf),
                 layers.MaxPooling2D(2, data_format=cf))[0] == "Conv2D"
    assert kinds(layers.Conv2D(2, 3, activation="relu", data_format=cf),
                 layers.MaxPooling2D(3, data_format=cf))[0] == "Conv2D"
    assert kinds(layers.Conv2D(2, 3, activation="relu", padding="same", data_format=cf),
                 layers.MaxPooling2D(2, padding="same", data_format=cf), shape=(1, 7, 7))[0] == "Conv2D"
    assert kinds(layers.Conv2D(2, 3, activation="relu", data_format=cf, activity_regularizer="l2"),
                 layers.MaxPooling2D(2, data_format=cf))[0] == "Conv2D"
    assert kinds(layers.Conv2D(2, 3, data_format=cf), layers.Activation("relu"),
                 layers.MaxPooling2D(2, data_format=cf))[0] == "FusedConvReLUPool"
