"""An MLP and a CNN on Fashion-MNIST as a Keras user writes them: callbacks, the training curves, save and
load.

Both models are the course's: the MLP flattens the 28x28 image into 784 inputs; the CNN reads it as a
channels-last image (N, 28, 28, 1), Keras's default layout. Training holds out 10% for validation and runs
with three callbacks: ``EarlyStopping(restore_best_weights=True)`` stops when the validation loss stops
improving and brings back the best weights, ``ModelCheckpoint(save_best_only=True)`` keeps the best model
on disk as a ``.keras`` file, and ``ReduceLROnPlateau`` halves the learning rate when the loss stalls.
``fastann.utils.plot_history`` draws the curves (with the ``plot`` extra), and the saved file loads back
with ``fastann.models.load_model`` into a model that predicts exactly what the trained one predicts; the
same file opens in Keras 3.

    python examples/keras_mlp_cnn.py [--epochs 10] [--train 60000] [--out DIR]

prints each model's test accuracy and where it saved the model and the curves. ``main()`` returns the
results as a dict (tests/test_examples.py runs a short version).
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import fastann
from fastann import callbacks, layers
from fastann.datasets import fashion_mnist


def build(kind: str) -> fastann.Sequential:
    """The MLP (784-300-100-10) or the CNN (two conv/pool blocks, dropout, softmax), compiled with Adam."""
    if kind == "mlp":
        model = fastann.Sequential([
            layers.Input((28, 28)), layers.Flatten(),
            layers.Dense(300, activation="relu"), layers.Dense(100, activation="relu"),
            layers.Dense(10, activation="softmax")])
    else:
        model = fastann.Sequential([
            layers.Input((28, 28, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
            layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(epochs: int = 10, train: int = 60000, test: int = 10000, out=None, seed: int = 0) -> dict:
    """Train, checkpoint, plot, save and reload both models; return their results."""
    out = out or tempfile.mkdtemp(prefix="fastann-")
    os.makedirs(out, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train, y_train = x_train[:train].astype(np.float32) / 255.0, y_train[:train]
    x_test, y_test = x_test[:test].astype(np.float32) / 255.0, y_test[:test]
    fastann.utils.set_random_seed(seed)
    results = {}
    for kind in ("mlp", "cnn"):
        xtr, xte = (x_train, x_test) if kind == "mlp" else (x_train[..., None], x_test[..., None])
        model = build(kind)
        best = os.path.join(out, f"{kind}_best.keras")
        history = model.fit(xtr, y_train, epochs=epochs, batch_size=128, validation_split=0.1, verbose=0,
                            callbacks=[callbacks.EarlyStopping(patience=3, restore_best_weights=True),
                                       callbacks.ModelCheckpoint(best, save_best_only=True),
                                       callbacks.ReduceLROnPlateau(factor=0.5, patience=1)])
        loss, accuracy = model.evaluate(xte, y_test, verbose=0)
        path = os.path.join(out, f"{kind}.keras")
        model.save(path)
        reloaded = fastann.models.load_model(path)
        same = bool(np.array_equal(reloaded.predict(xte, verbose=0), model.predict(xte, verbose=0)))
        curves = None
        try:
            curves = os.path.join(out, f"{kind}_curves.png")
            fastann.utils.plot_history(history, curves)
        except ImportError:  # matplotlib (the plot extra) is not installed: no picture
            curves = None
        results[kind] = {"test_accuracy": float(accuracy), "test_loss": float(loss), "epochs_run":
                         len(history.history["loss"]), "saved": path, "best_checkpoint": best,
                         "reloaded_predicts_the_same": same, "curves": curves}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=60000, help="training images used (of 60,000)")
    parser.add_argument("--out", default=None, help="directory for the models and the curves (default: a new one)")
    args = parser.parse_args()
    for name, r in main(args.epochs, args.train, out=args.out).items():
        print(f"{name}: test accuracy {r['test_accuracy']:.4f} after {r['epochs_run']} epochs; saved {r['saved']}"
              + (f", curves {r['curves']}" if r["curves"] else ""))
