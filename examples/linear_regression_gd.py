"""Linear regression by gradient descent: batch, stochastic and mini-batch, and their loss curves.

The data are ``y = X @ w_true + b_true + noise`` with 3 features. The model is one ``Dense(1)`` unit (a
linear regression), the loss the mean squared error, the optimizer plain ``SGD``; the three variants differ
only in how many samples each step averages the gradient over (Géron, *Hands-On Machine Learning*, ch. 4):

* batch gradient descent, ``batch_size = N``: one exact step per epoch, a smooth but slow curve;
* stochastic gradient descent, ``batch_size = 1``: N noisy steps per epoch, fast at first, then jittering
  around the minimum (here with a smaller learning rate, so the jitter stays well under the noise);
* mini-batch gradient descent, ``batch_size = 32``: between the two, the usual choice.

Each recovers the true coefficients; the normal equation (least squares) is printed as the exact answer the
three approach.

    python examples/linear_regression_gd.py [--plot curves.png]

prints the coefficients each variant found. ``main()`` returns them as a dict (tests/test_examples.py runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers

W_TRUE = np.array([2.0, -3.0, 1.5])
B_TRUE = 4.0

#: name -> (batch size (None: all N samples), learning rate, epochs)
VARIANTS = {"batch": (None, 0.1, 60), "stochastic": (1, 0.003, 10), "mini-batch": (32, 0.03, 40)}


def make_data(n: int, rng: np.random.Generator):
    """X (n, 3) standard normal features and y (n, 1) = X @ W_TRUE + B_TRUE + N(0, 0.1²) noise, float32."""
    X = rng.normal(size=(n, W_TRUE.size))
    y = X @ W_TRUE + B_TRUE + rng.normal(scale=0.1, size=n)
    return X.astype(np.float32), y[:, None].astype(np.float32)


def main(n: int = 1000, seed: int = 0, plot=None, verbose: int = 1) -> dict:
    """Fit the three variants on ``n`` samples; return ``{variant: {"w": list, "b": float, "loss": list}}``
    (``loss`` per epoch) and ``"least_squares": {"w", "b"}``. ``plot``: a file name for the three loss
    curves side by side (needs matplotlib)."""
    X, y = make_data(n, np.random.default_rng(seed))
    A = np.hstack([X, np.ones((n, 1), np.float32)]).astype(np.float64)
    exact = np.linalg.lstsq(A, y[:, 0].astype(np.float64), rcond=None)[0]
    results = {"least_squares": {"w": exact[:-1].tolist(), "b": float(exact[-1])}}
    for name, (batch_size, lr, epochs) in VARIANTS.items():
        fastann.utils.set_random_seed(seed)
        model = fastann.Sequential([layers.Input((X.shape[1],)), layers.Dense(1)])
        model.compile(optimizer=fastann.optimizers.SGD(learning_rate=lr), loss="mse")
        history = model.fit(X, y, batch_size=batch_size or n, epochs=epochs, verbose=0)
        kernel, bias = model.layers[-1].get_weights()
        results[name] = {"w": kernel[:, 0].tolist(), "b": float(bias[0]), "loss": history.history["loss"],
                         "batch_size": batch_size or n, "learning_rate": lr, "epochs": epochs}
        if verbose:
            print(f"{name:10s} (batch_size={batch_size or n:4d}, {epochs:3d} epochs): "
                  f"w = {np.round(kernel[:, 0], 4)}, b = {bias[0]:.4f}, final loss {history.history['loss'][-1]:.5f}")
    if verbose:
        print(f"{'exact':10s} (least squares):              w = {np.round(exact[:-1], 4)}, b = {exact[-1]:.4f}"
              f"   (true w = {W_TRUE}, b = {B_TRUE})")
    if plot is not None:
        fastann.utils._import_pyplot(headless=True)
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(VARIANTS), figsize=(13, 3.6), sharey=True)
        for ax, name in zip(axes, VARIANTS):
            r = results[name]
            ax.semilogy(np.arange(1, r["epochs"] + 1), r["loss"], "o-", markersize=3)
            ax.set_title(f"{name} (batch_size={r['batch_size']}, lr={r['learning_rate']})")
            ax.set_xlabel("epoch")
            ax.set_ylabel("training MSE")
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
        plt.close(fig)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="write the loss curves to this PNG (needs matplotlib)")
    args = parser.parse_args()
    main(seed=args.seed, plot=args.plot)
