"""Logistic regression: one sigmoid unit trained with binary cross-entropy on two Fashion-MNIST classes.

Logistic regression is the one-neuron classifier: ``p = sigmoid(x @ w + b)`` estimates the probability of
the positive class and the loss is the binary cross-entropy (log loss), whose gradient is simply
``x^T (p - y) / N`` (Géron, *Hands-On Machine Learning*, ch. 4, eq. 4-13 to 4-18). It needs a task whose
classes a hyperplane separates well: here trouser (class 1) against bag (class 8) of Fashion-MNIST, on the
784 raw pixels scaled to [0, 1]. In fastann it is ``Dense(1, activation="sigmoid")`` with
``loss="binary_crossentropy"``; the sigmoid and the cross-entropy together give that gradient.

    python examples/logistic_regression.py [--classes 1 8] [--plot curves.png]

prints the test accuracy. ``main()`` returns it as a dict (tests/test_examples.py runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers
from fastann.datasets import fashion_mnist


def binary_subset(x: np.ndarray, y: np.ndarray, negative: int, positive: int, limit=None):
    """The samples of the two classes: X (n, 784) float32 in [0, 1], y (n, 1) float32, 1 for ``positive``;
    the first ``limit`` of them when given."""
    keep = np.flatnonzero((y == negative) | (y == positive))[:limit]
    X = x[keep].reshape(len(keep), -1).astype(np.float32) / 255.0
    return X, (y[keep] == positive).astype(np.float32)[:, None]


def main(negative: int = 1, positive: int = 8, epochs: int = 5, n_train=None, seed: int = 0, plot=None,
         verbose: int = 1) -> dict:
    """Train on the training images of the two classes (the first ``n_train`` of them when given), 10% held
    out for validation; return ``{"test_accuracy", "test_loss", "history", "classes"}``. ``plot``: a PNG
    of the training curves (``fastann.utils.plot_history``, needs matplotlib)."""
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    X_train, Y_train = binary_subset(x_train, y_train, negative, positive, n_train)
    X_test, Y_test = binary_subset(x_test, y_test, negative, positive)

    fastann.utils.set_random_seed(seed)
    model = fastann.Sequential([layers.Input((X_train.shape[1],)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fastann.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(X_train, Y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose)
    test_loss, test_accuracy = model.evaluate(X_test, Y_test, verbose=0)
    names = fashion_mnist.CLASS_NAMES
    if verbose:
        print(f"logistic regression, {names[positive]} vs {names[negative]}: test accuracy {test_accuracy:.4f} "
              f"on {len(X_test)} images")
    if plot is not None:
        import matplotlib.pyplot as plt
        plt.close(fastann.utils.plot_history(history, path=plot))
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss), "history": history.history,
            "classes": (names[negative], names[positive])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs=2, default=(1, 8), metavar=("NEGATIVE", "POSITIVE"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--plot", default=None, help="write the training curves to this PNG (needs matplotlib)")
    args = parser.parse_args()
    main(*args.classes, epochs=args.epochs, plot=args.plot)
