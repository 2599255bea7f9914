"""A small residual network on Fashion-MNIST with the Functional API (He et al. 2016, "Deep Residual Learning
for Image Recognition").

A residual block adds its input to what two convolutions make of it: ``y = relu(x + F(x))``, written with
``layers.Add``. The identity path gives the gradient a way around the block's layers (the gradient of a sum
is passed to both branches, and the graph adds the two gradients where the paths meet), which is what lets
very deep networks train. Here: a stem convolution, three residual blocks (the second and third halve the
image with a stride-2 convolution and a 1x1 stride-2 projection on the shortcut), global average pooling
and a softmax, on channels-last images (N, 28, 28, 1). The BatchNormalization layers use momentum 0.9 rather
than Keras's 0.99: their moving statistics, which evaluate and predict use, then settle within a few hundred
steps; with 0.99 a short run (a few epochs of a few thousand images) validates at chance level although it
trains well, because seven normalizations in a row each still carry a large share of their initial 0 / 1.

    python examples/residual_network.py [--epochs 5] [--train 60000]

prints the test accuracy and the parameter count. ``main()`` returns them (tests/test_examples.py runs a short
version).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers
from fastann.datasets import fashion_mnist


def residual_block(x, filters: int, stride: int = 1, momentum: float = 0.9):
    """relu(shortcut + BN(conv(relu(BN(conv(x)))))); the shortcut is x, or a 1x1 projection when the shape
    changes (stride 2 or another filter count)."""
    h = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    h = layers.BatchNormalization(momentum=momentum)(h)
    h = layers.Activation("relu")(h)
    h = layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
    h = layers.BatchNormalization(momentum=momentum)(h)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
        shortcut = layers.BatchNormalization(momentum=momentum)(shortcut)
    return layers.Activation("relu")(layers.Add()([shortcut, h]))


def build(width: int = 16) -> fastann.Model:
    inputs = fastann.Input((28, 28, 1))
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(inputs)
    x = residual_block(x, width)
    x = residual_block(x, 2 * width, stride=2)
    x = residual_block(x, 4 * width, stride=2)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return fastann.Model(inputs, outputs)


def main(epochs: int = 5, train: int = 60000, test: int = 10000, width: int = 16, seed: int = 0) -> dict:
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train[:train, ..., None].astype(np.float32) / 255.0
    x_test = x_test[:test, ..., None].astype(np.float32) / 255.0
    y_train, y_test = y_train[:train], y_test[:test]
    fastann.utils.set_random_seed(seed)
    model = build(width)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=128, validation_split=0.1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"test_accuracy": float(accuracy), "test_loss": float(loss), "params": model.count_params(),
            "history": history.history}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, default=60000, help="training images used (of 60,000)")
    args = parser.parse_args()
    r = main(args.epochs, args.train)
    print(f"test accuracy {r['test_accuracy']:.4f}, {r['params']:,} parameters")
