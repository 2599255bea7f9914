"""Vanishing and exploding gradients: a deep sigmoid network against ReLU, He initialization and batch norm.

Backpropagation multiplies, layer by layer from the output down, the incoming gradient by each layer's
weights and by the derivative of its activation. The logistic sigmoid's derivative is at most 1/4, and with
Glorot-scaled weights each layer shrinks the gradient again, so in a deep sigmoid network the first layers'
gradients are orders of magnitude smaller than the last layers': the first layers barely learn (Glorot and
Bengio, 2010; Géron, *Hands-On Machine Learning*, ch. 11). ReLU's derivative is 1 where a unit is active,
He initialization (variance 2 / fan_in) keeps the variance of the signal, and so of the gradient, the same
from layer to layer (He et al., 2015), and BatchNormalization re-centres and re-scales each layer's inputs
during training (Ioffe and Szegedy, 2015): the gradient norms then stay within about one order of magnitude
from the first layer to the last. The other side of the same product: too large a learning rate makes the
updates grow, and the loss explodes instead of falling.

fastann has no autograd: each layer's ``backward`` leaves the gradients of its parameters in
``layer.grads``, so the ``GradientNorms`` callback below reads them after every training step.

    python examples/vanishing_gradients.py [--plot gradient_norms.png]

prints each network's per-layer gradient norms. ``main()`` returns them as a dict (tests/test_examples.py
runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers
from fastann.datasets import fashion_mnist


class GradientNorms(fastann.callbacks.Callback):
    """Records, after every training batch, the L2 norm of the kernel gradient of each ``Dense`` layer
    (``layer.grads["kernel"]``, left there by the layer's backward). ``norms`` is a list with one array
    (n_dense_layers,) per batch, first layer first."""

    def __init__(self):
        super().__init__()
        self.norms: list = []

    def on_train_batch_end(self, batch, logs=None):
        dense = [layer for layer in self.model.layers if isinstance(layer, layers.Dense)]
        self.norms.append(np.array([float(np.linalg.norm(layer.grads["kernel"])) for layer in dense]))


def deep_network(kind: str, depth: int, units: int, n_inputs: int, n_classes: int):
    """``depth`` hidden Dense layers of ``units``, then a softmax: ``"sigmoid"`` with Keras's default
    Glorot-uniform initialization, or ``"relu_he_bn"`` with He-normal initialization and a
    BatchNormalization after each hidden Dense."""
    model = fastann.Sequential([layers.Input((n_inputs,))])
    for _ in range(depth):
        if kind == "sigmoid":
            model.add(layers.Dense(units, activation="sigmoid"))
        elif kind == "relu_he_bn":
            model.add(layers.Dense(units, activation="relu", kernel_initializer="he_normal"))
            model.add(layers.BatchNormalization())
        else:
            raise ValueError(f"deep_network: kind must be 'sigmoid' or 'relu_he_bn', got {kind!r}")
    model.add(layers.Dense(n_classes, activation="softmax"))
    return model


def load_subset(n: int):
    """The first ``n`` Fashion-MNIST training images, (n, 784) float32 in [0, 1], and their labels (n,)."""
    (x, y), _ = fashion_mnist.load_data()
    return x[:n].reshape(n, -1).astype(np.float32) / 255.0, y[:n].astype(np.int64)


def main(depth: int = 10, units: int = 64, n: int = 2000, epochs: int = 2, seed: int = 0, plot=None,
         verbose: int = 1) -> dict:
    """Train both networks on ``n`` Fashion-MNIST images with SGD (lr 0.01), recording the gradient norms;
    then the ReLU/He network once more at a far too large learning rate. Returns
    ``{kind: {"first_over_last": float, "mean_norms": list (one per Dense layer), "loss": list}}`` for
    ``sigmoid`` and ``relu_he_bn``, and ``"too_large_lr": {"learning_rate", "loss"}``."""
    X, y = load_subset(n)
    results = {}
    for kind in ("sigmoid", "relu_he_bn"):
        fastann.utils.set_random_seed(seed)
        model = deep_network(kind, depth, units, X.shape[1], 10)
        model.compile(optimizer=fastann.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy")
        recorder = GradientNorms()
        history = model.fit(X, y, epochs=epochs, batch_size=32, callbacks=[recorder], verbose=0)
        mean = np.mean(recorder.norms, axis=0)
        results[kind] = {"mean_norms": mean.tolist(), "first_over_last": float(mean[0] / mean[-1]),
                         "loss": history.history["loss"], "per_batch": np.array(recorder.norms)}
        if verbose:
            print(f"{kind:10s}: mean |dL/dW| per Dense layer, first to last: {np.array2string(mean, precision=1)}"
                  f"\n{'':12s}first / last = {mean[0] / mean[-1]:.2e}, loss {history.history['loss']}")

    lr = 5.0
    fastann.utils.set_random_seed(seed)
    model = deep_network("relu_he_bn", depth, units, X.shape[1], 10)
    model.compile(optimizer=fastann.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy")
    history = model.fit(X, y, epochs=epochs, batch_size=32, verbose=0)
    results["too_large_lr"] = {"learning_rate": lr, "loss": history.history["loss"]}
    if verbose:
        print(f"relu_he_bn at learning rate {lr}: loss {history.history['loss']} (against "
              f"{results['relu_he_bn']['loss']} at 0.01)")
    if plot is not None:
        _plot(results, plot)
    return results


def _plot(results: dict, path) -> None:
    """Mean gradient norm per layer (log scale) of both networks, and the first and last layer's norms
    per training step."""
    fastann.utils._import_pyplot(headless=True)
    import matplotlib.pyplot as plt
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
    for kind, style in (("sigmoid", "o-"), ("relu_he_bn", "s-")):
        r = results[kind]
        ax0.semilogy(np.arange(1, len(r["mean_norms"]) + 1), r["mean_norms"], style, label=kind)
        ax1.semilogy(r["per_batch"][:, 0], label=f"{kind}, first layer")
        ax1.semilogy(r["per_batch"][:, -1], "--", label=f"{kind}, last layer")
    ax0.set_xlabel("Dense layer (1 = nearest the input)")
    ax0.set_ylabel("mean ‖dL/dW‖")
    ax0.set_title("gradient norm per layer")
    ax1.set_xlabel("training step")
    ax1.set_title("gradient norm during training")
    for ax in (ax0, ax1):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="write the gradient norms to this PNG (needs matplotlib)")
    args = parser.parse_args()
    main(seed=args.seed, plot=args.plot)
