"""Keras-course code for regularization and imbalanced data, run unchanged except for the imports
(``from fastann import layers, regularizers, constraints`` instead of ``from keras import ...``): l2 weight
decay and max-norm on an MLP for Fashion-MNIST, and class weights on an imbalanced binary problem (the
Keras "imbalanced classification" example's 1 / count weights)."""
import numpy as np
import pytest

import fastann
from fastann import callbacks, constraints, layers, losses, regularizers

keras = fastann  # the scripts below say keras.Sequential, keras.losses, as the course does


@pytest.fixture(scope="module")
def fashion():
    try:
        return fastann.datasets.fashion_mnist.load_data(download=False)
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"Fashion-MNIST not found locally ({exc}); on Debian: apt-get install dataset-fashion-mnist")


def test_mlp_with_l2_and_max_norm(fashion):
    (X_train_full, y_train_full), (X_test, y_test) = fashion
    X_train, y_train = X_train_full[:6000] / 255.0, y_train_full[:6000]
    X_valid, y_valid = X_train_full[-1000:] / 255.0, y_train_full[-1000:]

    model = keras.Sequential([
        layers.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(100, activation="relu", kernel_initializer="he_normal",
                     kernel_regularizer=regularizers.l2(0.001)),
        layers.Dense(100, activation="relu", kernel_initializer="he_normal",
                     kernel_regularizer=regularizers.l2(0.001), kernel_constraint=constraints.max_norm(1.0)),
        layers.Dense(10, activation="softmax", kernel_regularizer="l2"),
    ], seed=42)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=2, validation_data=(X_valid, y_valid), verbose=0,
                        callbacks=[callbacks.EarlyStopping(patience=2)])
    assert history.history["val_accuracy"][-1] > 0.7
    # the reported loss holds the penalty: it exceeds the plain cross-entropy of the same weights
    penalty = sum(float(p) for layer in model.layers for p in layer.losses)
    assert penalty > 0
    loss, acc = model.evaluate(X_valid, y_valid)
    probs = model.predict(X_valid)
    plain = -np.mean(np.log(probs[np.arange(len(y_valid)), y_valid]))
    assert loss == pytest.approx(plain + penalty, rel=1e-4)
    kernel = model.layers[2].get_weights()[0]
    assert np.sqrt((kernel ** 2).sum(axis=0)).max() <= 1.0 + 1e-5  # max_norm on axis 0 of get_weights' kernel


def test_imbalanced_binary_with_class_weight():
    rng = np.random.default_rng(0)
    n_pos, n_neg = 60, 940
    features = np.concatenate([rng.normal(0.8, 1.0, (n_pos, 8)), rng.normal(0.0, 1.0, (n_neg, 8))]).astype("float32")
    targets = np.concatenate([np.ones(n_pos), np.zeros(n_neg)]).astype("float32")

    counts = np.bincount(targets.astype("int64"))
    weight_for_0 = 1.0 / counts[0]
    weight_for_1 = 1.0 / counts[1]
    class_weight = {0: weight_for_0, 1: weight_for_1}

    def make_model():
        model = keras.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                                  layers.Dropout(0.3), layers.Dense(1, activation="sigmoid")], seed=1)
        model.compile(optimizer=fastann.optimizers.Adam(1e-2), loss="binary_crossentropy",
                      metrics=["accuracy"])
        return model

    weighted, plain = make_model(), make_model()
    weighted.fit(features, targets, batch_size=128, epochs=20, verbose=0, class_weight=class_weight)
    plain.fit(features, targets, batch_size=128, epochs=20, verbose=0)

    def recall(model):
        return float(((model.predict(features)[:, 0] > 0.5) & (targets == 1)).sum() / n_pos)

    assert recall(weighted) > recall(plain) + 0.2  # the weights make the rare class count


def test_focal_loss_and_label_smoothing_compile_by_name_and_object():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)).astype("float32"), rng.integers(0, 3, 64)
    y_onehot = fastann.utils.to_categorical(y, 3)
    for loss in ("categorical_focal_crossentropy", keras.losses.CategoricalFocalCrossentropy(gamma=1.0),
                 keras.losses.CategoricalCrossentropy(label_smoothing=0.1)):
        model = keras.Sequential([layers.Input((6,)), layers.Dense(3, activation="softmax")], seed=0)
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        h = model.fit(x, y_onehot, epochs=3, verbose=0, sample_weight=np.linspace(0.5, 1.5, 64))
        assert np.isfinite(h.history["loss"]).all()
    assert isinstance(losses.get("binary_focal_crossentropy"), losses.BinaryFocalCrossentropy)
