"""fastann's channels_last image layers against Keras 3 itself: Keras's weights (``get_weights``, Keras's
layouts) copied into the fastann layer with ``set_weights`` must give Keras's outputs on the same NHWC input.

Skipped where Keras is not installed (it is never a dependency of fastann); Keras runs on its torch backend
here (``KERAS_BACKEND`` unless set)."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="Keras 3 is not installed (comparison tests only)")

import fastann  # noqa: E402
from fastann import layers  # noqa: E402

CASES = [
    ("Conv2D", dict(filters=6, kernel_size=3, padding="same", strides=2)),
    ("Conv2D", dict(filters=6, kernel_size=(3, 2), dilation_rate=2, groups=2, activation="relu")),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, padding="same")),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same")),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="valid")),
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same")),
    ("AveragePooling2D", dict(pool_size=2, strides=1, padding="same")),
    ("GlobalAveragePooling2D", dict()),
    ("GlobalMaxPooling2D", dict(keepdims=True)),
    ("UpSampling2D", dict(size=2, interpolation="bilinear")),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 1)))),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1)))),
    ("Flatten", dict()),
]


@pytest.mark.parametrize("name, kw", CASES)
def test_layer_matches_keras(rng, name, kw):
    x = rng.standard_normal((2, 8, 7, 4)).astype(np.float32)
    k = getattr(keras.layers, name)(**kw)
    ref = keras.ops.convert_to_numpy(k(x))
    f = getattr(layers, name)(**kw)
    f.build(x.shape[1:])
    if k.get_weights():
        f.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(np.float32) for w in k.get_weights()])
        k.set_weights(f.get_weights())
        ref = keras.ops.convert_to_numpy(k(x))
    np.testing.assert_allclose(f(x), ref, rtol=1e-4, atol=1e-5)


def test_channels_first_flatten_matches_keras(rng):
    x = rng.standard_normal((2, 4, 8, 7)).astype(np.float32)
    ref = keras.ops.convert_to_numpy(keras.layers.Flatten(data_format="channels_first")(x))
    np.testing.assert_array_equal(layers.Flatten(data_format="channels_first")(x), ref)


def test_batch_normalization_matches_keras(rng):
    x = rng.standard_normal((8, 5, 4, 3)).astype(np.float32)
    k = keras.layers.BatchNormalization()
    k.build(x.shape)
    w = [rng.uniform(0.5, 2, 3).astype(np.float32) for _ in range(4)]
    k.set_weights(w)
    f = layers.BatchNormalization()
    f.build(x.shape[1:])
    f.set_weights(w)
    for training in (False, True):
        np.testing.assert_allclose(f(x, training=training), keras.ops.convert_to_numpy(k(x, training=training)),
                                   rtol=1e-4, atol=1e-5)


def test_cnn_with_keras_weights_predicts_as_keras(rng):
    """The Flatten after channels_last conv layers: a Dense trained in Keras keeps its meaning."""
    def stack(lib):
        return [lib.Conv2D(4, 3, padding="same", activation="relu"), lib.MaxPooling2D(),
                lib.Conv2D(5, 3), lib.Flatten(), lib.Dense(3, activation="softmax")]

    km = keras.Sequential([keras.Input((10, 9, 2))] + stack(keras.layers))
    fm = fastann.Sequential([layers.Input((10, 9, 2))] + stack(layers))
    fm.set_weights(km.get_weights())
    x = rng.standard_normal((4, 10, 9, 2)).astype(np.float32)
    np.testing.assert_allclose(fm.predict(x), keras.ops.convert_to_numpy(km(x)), rtol=1e-4, atol=1e-6)
    assert [w.shape for w in fm.get_weights()] == [w.shape for w in km.get_weights()]
