"""Keras's image layout: ``data_format`` on the image layers (channels_last by default, fastann.config), Keras's
weight layouts in get_weights/set_weights, and the model's layout plan (NCHW between channels_last layers).

Each layer is checked against a hand-written NumPy formula in Keras's layout (channels_last input, weights
set through set_weights in Keras's layout), and against the same layer in channels_first on the transposed
input (forward and backward)."""
import numpy as np
import pytest

import fastann
from fastann import layers
from fastann.models import _layout
from fastann.models._fusion import FusedBatchNormReLU
from helpers import to_numpy


def _nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ---- config and the argument ----------------------------------------------------------------------------
def test_config_default_and_setting():
    assert fastann.config.image_data_format() == "channels_last"
    assert layers.Conv2D(2, 3).data_format == "channels_last"
    fastann.config.set_image_data_format("channels_first")
    try:
        assert fastann.config.image_data_format() == "channels_first"
        assert layers.Conv2D(2, 3).data_format == "channels_first"
        assert layers.MaxPooling2D(data_format="channels_last").data_format == "channels_last"  # per layer wins
    finally:
        fastann.config.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="data_format"):
        fastann.config.set_image_data_format("NHWC")


@pytest.mark.parametrize("make", [
    lambda f: layers.Conv2D(2, 3, data_format=f), lambda f: layers.DepthwiseConv2D(3, data_format=f),
    lambda f: layers.Conv2DTranspose(2, 3, data_format=f), lambda f: layers.MaxPooling2D(data_format=f),
    lambda f: layers.AveragePooling2D(data_format=f), lambda f: layers.GlobalAveragePooling2D(data_format=f),
    lambda f: layers.UpSampling2D(data_format=f), lambda f: layers.ZeroPadding2D(data_format=f),
    lambda f: layers.Flatten(data_format=f), lambda f: layers.GlobalMaxPooling2D(data_format=f),
    lambda f: layers.Cropping2D(data_format=f), lambda f: layers.SpatialDropout2D(0.5, data_format=f),
])
def test_bad_data_format_is_a_value_error_naming_the_argument(make):
    for bad in ("channels_middle", "NHWC", 1):
        with pytest.raises(ValueError, match="data_format"):
            make(bad)
    assert make("Channels_First").data_format == "channels_first"


# ---- Keras's shapes -------------------------------------------------------------------------------------
def test_keras_shapes_of_a_channels_last_model():
    model = fastann.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, padding="same"),
                                layers.MaxPooling2D(), layers.Conv2D(8, 3), layers.GlobalAveragePooling2D(),
                                layers.Dense(10)])
    assert [l.output_shape for l in model.layers] == [(28, 28, 32), (14, 14, 32), (12, 12, 8), (8,), (10,)]
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(Conv2D)" in s and "(None, 28, 28, 32)" in s for s in lines)
    gap = layers.GlobalAveragePooling2D()
    assert gap(np.ones((2, 28, 28, 1), np.float32)).shape == (2, 1)
    assert layers.GlobalAveragePooling2D(keepdims=True)(np.ones((2, 5, 4, 3), np.float32)).shape == (2, 1, 1, 3)
    rgb = layers.Conv2D(4, 3)(np.ones((2, 32, 32, 3), np.float32))
    assert rgb.shape == (2, 30, 30, 4)


def test_nhw_input_is_one_channel_in_channels_last(rng):
    x = rng.standard_normal((3, 9, 8))
    conv = layers.Conv2D(4, 3, padding="same")
    y = conv(x)
    assert conv.input_shape == (9, 8) and conv.output_shape == (9, 8, 4) and y.shape == (3, 9, 8, 4)
    conv1 = layers.Conv2D(4, 3, padding="same")
    conv1.build((9, 8, 1), np.float64)
    conv1.set_weights(conv.get_weights())
    np.testing.assert_array_equal(y, conv1(x[..., None]))
    pool = layers.MaxPooling2D(2)
    assert pool(x).shape == (3, 4, 4) and pool.output_shape == (4, 4)
    assert layers.UpSampling2D(2)(x).shape == (3, 18, 16)


# ---- NumPy formulas in Keras's layout ----------------------------------------------------------------------
def _np_conv(x, k, b, stride=(1, 1), pads=((0, 0), (0, 0)), dil=(1, 1), groups=1):
    """Keras's Conv2D: x (N, H, W, C), kernel (kH, kW, C/groups, F) -> (N, OH, OW, F)."""
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    n, h, w, c = x.shape
    kh, kw, cg, f = k.shape
    oh = (h - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, oh, ow, f))
    fg = f // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = x[:, i * dil[0]:i * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                          j * dil[1]:j * dil[1] + stride[1] * (ow - 1) + 1:stride[1], g * cg:(g + 1) * cg]
                out[..., g * fg:(g + 1) * fg] += patch @ k[i, j][:, g * fg:(g + 1) * fg]
    return out + (0 if b is None else b)


def _set(layer, x, weights):
    layer.build(x.shape[1:], np.float64)
    layer.set_weights(weights)
    return layer


@pytest.mark.parametrize("kw, pads", [(dict(), ((0, 0), (0, 0))), (dict(padding="same"), ((1, 1), (1, 1))),
                                      (dict(strides=2, padding="same"), ((1, 1), (0, 1))),  # TF split: smaller half first
                                      (dict(dilation_rate=2), ((0, 0), (0, 0))), (dict(groups=2), ((0, 0), (0, 0)))])
def test_conv2d_keras_kernel_layout(rng, kw, pads):
    x = rng.standard_normal((2, 7, 8, 4))
    k, b = rng.standard_normal((3, 3, 4 // kw.get("groups", 1), 6)), rng.standard_normal(6)
    conv = _set(layers.Conv2D(6, 3, **kw), x, [k, b])
    assert [w.shape for w in conv.get_weights()] == [(3, 3, 4 // kw.get("groups", 1), 6), (6,)]
    ref = _np_conv(x, k, b, (kw.get("strides", 1),) * 2, pads, (kw.get("dilation_rate", 1),) * 2,
                   kw.get("groups", 1))
    np.testing.assert_allclose(conv(x), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(conv.get_weights()[0], k)


def test_depthwise_conv2d_keras_kernel_layout(rng):
    x = rng.standard_normal((2, 6, 5, 3))
    k, b = rng.standard_normal((3, 3, 3, 2)), rng.standard_normal(6)  # (kH, kW, C, depth_multiplier)
    layer = _set(layers.DepthwiseConv2D(3, depth_multiplier=2), x, [k, b])
    ref = np.zeros((2, 4, 3, 3, 2))
    for i in range(3):
        for j in range(3):
            ref += x[:, i:i + 4, j:j + 3, :, None] * k[i, j]
    ref = ref.reshape(2, 4, 3, 6) + b  # output channel c*m + j, as TensorFlow's depthwise convolution
    np.testing.assert_allclose(layer(x), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(layer.get_weights()[0], k)


def test_conv2d_transpose_keras_kernel_layout(rng):
    x = rng.standard_normal((2, 4, 3, 5))
    k, b = rng.standard_normal((3, 3, 2, 5)), rng.standard_normal(2)  # (kH, kW, filters, C_in)
    layer = _set(layers.Conv2DTranspose(2, 3, strides=2), x, [k, b])
    ref = np.zeros((2, 9, 7, 2))
    for i in range(4):
        for j in range(3):
            ref[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :] += np.einsum("nc,abfc->nabf", x[:, i, j], k)
    np.testing.assert_allclose(layer(x), ref + b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(layer.get_weights()[0], k)


def test_dense_keras_kernel_layout(rng):
    x = rng.standard_normal((5, 4))
    k, b = rng.standard_normal((4, 3)), rng.standard_normal(3)  # (in, units)
    d = _set(layers.Dense(3), x, [k, b])
    np.testing.assert_allclose(d(x), x @ k + b, rtol=1e-12)
    assert d.params["kernel"].shape == (3, 4)  # stored as ops.linear wants it


def test_pooling_padding_upsampling_flatten_batchnorm_formulas(rng):
    x = rng.standard_normal((2, 6, 4, 3))
    win = x.reshape(2, 3, 2, 2, 2, 3)
    np.testing.assert_array_equal(layers.MaxPooling2D()(x), win.max(axis=(2, 4)))
    np.testing.assert_allclose(layers.AveragePooling2D()(x), win.mean(axis=(2, 4)), rtol=1e-12)
    np.testing.assert_allclose(layers.GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_array_equal(layers.UpSampling2D((2, 3))(x), x.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(layers.ZeroPadding2D(((1, 2), (0, 1)))(x),
                                  np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))))
    np.testing.assert_array_equal(layers.Flatten()(x), x.reshape(2, -1))
    np.testing.assert_array_equal(layers.GlobalMaxPooling2D()(x), x.max(axis=(1, 2)))
    np.testing.assert_array_equal(layers.Cropping2D(((1, 2), (0, 1)))(x), x[:, 1:4, 0:3])
    bn = layers.BatchNormalization()
    y = bn(x, training=True)
    assert bn.data_format == "channels_last" and bn.axis == 3
    np.testing.assert_allclose(y, (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3), rtol=1e-9)


# ---- channels_last == channels_first on the transposed input, forward and backward --------------------------
LAYERS = [
    lambda f: layers.Conv2D(5, 3, padding="same", strides=2, activation="relu", data_format=f),
    lambda f: layers.DepthwiseConv2D(3, depth_multiplier=2, data_format=f),
    lambda f: layers.Conv2DTranspose(3, 3, strides=2, padding="same", data_format=f),
    lambda f: layers.MaxPooling2D(3, strides=2, padding="same", data_format=f),
    lambda f: layers.AveragePooling2D(2, strides=1, padding="same", data_format=f),
    lambda f: layers.GlobalAveragePooling2D(data_format=f),
    lambda f: layers.GlobalAveragePooling2D(data_format=f, keepdims=True),
    lambda f: layers.UpSampling2D(2, interpolation="bilinear", data_format=f),
    lambda f: layers.ZeroPadding2D((1, 2), data_format=f),
    lambda f: layers.BatchNormalization(axis=-1 if f == "channels_last" else 1),
    lambda f: layers.GlobalMaxPooling2D(data_format=f),
    lambda f: layers.GlobalMaxPooling2D(data_format=f, keepdims=True),
    lambda f: layers.Cropping2D(((1, 0), (2, 1)), data_format=f),
]


@pytest.mark.parametrize("make", LAYERS)
def test_channels_last_equals_channels_first_on_transposed_input(xp, rng, make):
    x = rng.standard_normal((3, 7, 6, 4))  # NHWC
    cl, cf = make("channels_last"), make("channels_first")
    cl.build(x.shape[1:], np.float64, xp)
    cf.build(_nchw(x).shape[1:], np.float64, xp)
    cf.set_weights(cl.get_weights())  # Keras's layouts whatever the data_format
    y = to_numpy(cl(xp.asarray(x), training=True))
    yf = to_numpy(cf(xp.asarray(_nchw(x)), training=True))
    assert y.shape == (3,) + cl.output_shape
    to_cl = (lambda a: _nhwc(a)) if yf.ndim == 4 else (lambda a: a.reshape(y.shape))
    np.testing.assert_allclose(y, to_cl(yf), rtol=1e-12, atol=1e-13)
    g = rng.standard_normal(y.shape)
    gf = _nchw(g) if yf.ndim == 4 else g.reshape(yf.shape)
    np.testing.assert_allclose(to_numpy(cl.backward(xp.asarray(g))), _nhwc(to_numpy(cf.backward(xp.asarray(gf)))),
                               rtol=1e-12, atol=1e-13)
    for k in cl.grads:
        np.testing.assert_allclose(to_numpy(cl.grads[k]), to_numpy(cf.grads[k]), rtol=1e-12, atol=1e-13)


# ---- models: the layout plan ---------------------------------------------------------------------------------
def _cnn(f, shape):
    axis = -1 if f == "channels_last" else 1
    return fastann.Sequential([
        layers.Input(shape), layers.Conv2D(4, 3, padding="same", use_bias=False, data_format=f),
        layers.BatchNormalization(axis=axis), layers.Activation("relu"), layers.MaxPooling2D(2, data_format=f),
        layers.Conv2D(6, 3, padding="same", data_format=f), layers.Dropout(0.0),
        layers.Activation("relu"), layers.ZeroPadding2D(1, data_format=f), layers.AveragePooling2D(2, data_format=f),
        layers.Flatten(data_format=f), layers.Dense(5, activation="relu"), layers.Dense(3, activation="softmax")],
        seed=0, dtype="float64")


def _copy_weights(cf, cl):
    """cf's weights into cl as they are: both Flatten layers flatten in Keras's (H, W, C) order, so the Dense
    after them means the same thing in both models."""
    cl.set_weights(cf.get_weights())


def test_channels_first_flatten_moves_the_channels_last_as_keras():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (N, C, H, W)
    flat = layers.Flatten(data_format="channels_first")
    np.testing.assert_array_equal(flat(x, training=True), x.transpose(0, 2, 3, 1).reshape(2, -1))
    g = np.arange(60 * 2, dtype=np.float64).reshape(2, 60)
    np.testing.assert_array_equal(flat.backward(g), g.reshape(2, 4, 5, 3).transpose(0, 3, 1, 2))
    seq = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)  # (N, C, L): the channel axis goes last
    np.testing.assert_array_equal(layers.Flatten(data_format="channels_first")(seq),
                                  seq.transpose(0, 2, 1).reshape(2, -1))
    # a channels_last Flatten after channels_first layers flattens the memory order (C, H, W), as in Keras
    np.testing.assert_array_equal(layers.Flatten(data_format="channels_last")(x), x.reshape(2, -1))


def test_plan_converts_once_at_entry_and_exit():
    m = _cnn("channels_last", (8, 8, 2))
    plan = _layout.plan_layout(m._layers)
    # Input | conv bn relu pool conv dropout relu pad avgpool | flatten dense dense
    assert plan == [False] + [True] * 9 + [False] * 3
    first, flatten = m.layers[0], m.layers[9]
    assert not first._nchw_in and first._nchw_out and flatten._nchw_in
    assert any(isinstance(s, FusedBatchNormReLU) and s.pooled for _, s in m._stages)  # fusion still fires
    cf = _cnn("channels_first", (2, 8, 8))
    assert not any(getattr(l, "_nchw_in", False) or getattr(l, "_nchw_out", False) for l in cf.layers)


def test_channels_last_model_trains_as_the_channels_first_one(rng):
    x = rng.standard_normal((16, 8, 8, 2))
    y = rng.integers(0, 3, 16)
    cf, cl = _cnn("channels_first", (2, 8, 8)), _cnn("channels_last", (8, 8, 2))
    _copy_weights(cf, cl)
    np.testing.assert_allclose(cl.predict(x), cf.predict(_nchw(x)), rtol=1e-10)
    for m, xi in ((cf, _nchw(x)), (cl, x)):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        m.fit(xi, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(cf.get_weights()[:-4], cl.get_weights()[:-4]):  # all but the Dense layers
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(cl.predict(x), cf.predict(_nchw(x)), rtol=1e-8)


def test_fused_stage_without_pool_hands_nchw_to_the_next_layer(rng):
    m = fastann.Sequential([layers.Input((6, 6, 3)), layers.BatchNormalization(), layers.Activation("relu"),
                            layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(2)], seed=0, dtype="float64")
    assert isinstance(m._stages[1][1], FusedBatchNormReLU)
    x = rng.standard_normal((4, 6, 6, 3))
    h = x
    for layer in m.layers:
        h = layer(h)  # each layer alone converts at its own boundary
    np.testing.assert_allclose(m.predict(x), h, rtol=1e-10)
    m.compile("sgd", "mse")
    m.fit(x, rng.standard_normal((4, 2)), verbose=0, epochs=1)


def test_layer_of_a_model_called_alone_converts(rng):
    m = _cnn("channels_last", (8, 8, 2))
    conv = m.layers[0]
    assert conv._nchw_out
    x = rng.standard_normal((2, 8, 8, 2))
    y = conv(x, training=True)
    assert y.shape == (2, 8, 8, 4) and conv._nchw_out  # the plan is kept for the model
    ref = _np_conv(x, conv.get_weights()[0], None, pads=((1, 1), (1, 1)))
    np.testing.assert_allclose(y, ref, rtol=1e-10)
    conv.need_input_grad = True
    assert conv.backward(np.ones_like(y)).shape == x.shape


def test_saved_weights_are_keras_layouts(rng, tmp_path):
    m = _cnn("channels_last", (8, 8, 2))
    m.save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as f:
        shapes = [f[k].shape for k in sorted(f.files)]
    assert shapes[0] == (3, 3, 2, 4) and (5, 3) in shapes and (54, 5) in shapes  # Dense kernels (in, units)
    other = _cnn("channels_last", (8, 8, 2))
    other.load_weights(tmp_path / "w.npz")
    x = rng.standard_normal((3, 8, 8, 2))
    np.testing.assert_array_equal(other.predict(x), m.predict(x))


def test_spatial_dropout_drops_whole_channels(rng):
    x = np.ones((4, 5, 6, 8))
    layer = layers.SpatialDropout2D(0.5, seed=3)
    y = layer(x, training=True)
    per_channel = y.reshape(4, 30, 8)
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))  # one value per (sample, channel)
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    g = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(g), g * y)  # same mask, same scale
    np.testing.assert_array_equal(layer(x, training=False), x)
    with pytest.raises(ValueError, match="rate"):
        layers.SpatialDropout2D(1.0)


def test_global_max_pooling_gradient_goes_to_the_maximum(rng):
    x = rng.standard_normal((3, 5, 4, 2))
    layer = layers.GlobalMaxPooling2D()
    y = layer(x, training=True)
    layer.need_input_grad = True
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    ref = (x == x.max(axis=(1, 2), keepdims=True)) * g[:, None, None, :]
    np.testing.assert_array_equal(dx, ref)


def test_cropping_that_leaves_nothing_is_refused():
    with pytest.raises(ValueError, match="cropping"):
        layers.Cropping2D(3)(np.ones((1, 6, 6, 2), np.float32))
    with pytest.raises(ValueError, match="cropping"):
        layers.Cropping2D(-1)


def test_depthwise_kernel_is_initialized_with_keras_fans():
    """glorot_uniform on Keras's (kH, kW, C, m): limit sqrt(6 / (kH*kW*(C + m))), not the stored layout's
    sqrt(6 / (kH*kW*(1 + C*m)))."""
    layer = layers.DepthwiseConv2D(3, depth_multiplier=4)
    layer.build((6, 6, 16), np.float64, rng=np.random.default_rng(0))
    k = layer.get_weights()[0]
    assert k.shape == (3, 3, 16, 4)
    keras_limit, stored_limit = np.sqrt(6 / (9 * (16 + 4))), np.sqrt(6 / (9 * (1 + 64)))
    assert stored_limit < np.abs(k).max() <= keras_limit


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_dense_pair_moves_the_kernel_instead_of_the_batch(data_format, rng):
    """A Flatten that moves the channel axis (NCHW inside the model) and the Dense after it with fewer units
    than the batch: the Dense reads its kernel's columns in the array's (C, H, W) order instead of the batch
    being transposed (Flatten.absorb_into). Outputs, the kernel gradient (in Keras's order) and the input
    gradient equal those of the same model with the pair run apart (a batch of 2 < 3 units) and of the
    formula; a batch with N <= units keeps the transpose."""
    shape = (6, 5, 4) if data_format == "channels_last" else (4, 6, 5)
    m = fastann.Sequential([layers.Input(shape), layers.Conv2D(7, 3, padding="same", data_format=data_format),
                            layers.Flatten(data_format=data_format), layers.Dense(3, activation="tanh")], seed=0,
                           dtype="float64")
    flatten, dense = m.layers[1], m.layers[2]
    assert flatten._absorber is dense
    x = rng.standard_normal((8,) + shape)
    g = rng.standard_normal((8, 3))
    m._open_input_grads()

    def run(batch, grad):
        out = m._forward(batch, training=True)
        dx = m._backward(grad, full=True)
        return out.copy(), dx.copy(), dense.grads["kernel"].copy(), flatten._absorbed

    out, dx, dk, absorbed = run(x, g)
    assert absorbed and dense._order_used is not None and dense._input_order is None  # consumed by the forward
    apart = [run(x[i:i + 2], g[i:i + 2]) for i in range(0, 8, 2)]  # 2 images < 3 units: the transposing path
    assert not any(a[3] for a in apart)
    np.testing.assert_allclose(out, np.concatenate([a[0] for a in apart]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, np.concatenate([a[1] for a in apart]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dk, sum(a[2] for a in apart), rtol=1e-10, atol=1e-12)
    # the formula: Keras flattens (H, W, C); the Dense's get_weights kernel is (in_features, units)
    conv_out = m.layers[0](x)
    hwc = conv_out if data_format == "channels_last" else conv_out.transpose(0, 2, 3, 1)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(out, np.tanh(hwc.reshape(8, -1) @ kernel + bias), rtol=1e-12, atol=1e-12)


def test_dense_after_an_absorbing_flatten_alone_reads_keras_order(rng):
    """The Flatten's column order is for the one forward it feeds: the Dense called on its own afterwards
    (on (H, W, C)-flattened features) uses its kernel as Keras stores it."""
    m = fastann.Sequential([layers.Input((4, 3, 2)), layers.Conv2D(5, 3, padding="same"), layers.Flatten(),
                            layers.Dense(2)], seed=0, dtype="float64")
    x = rng.standard_normal((6, 4, 3, 2))
    m.predict(x, verbose=0)
    dense = m.layers[2]
    features = rng.standard_normal((6, 60))
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(dense(features), features @ kernel + bias, rtol=1e-12, atol=1e-12)
