"""The activation functions and their derivatives, computed by fastann's own kernels (``fastann.ops``).

A hidden layer's activation decides how the gradient flows back through it (Géron, *Hands-On Machine
Learning*, ch. 10 and 11): the logistic sigmoid's derivative is at most 1/4 and vanishes on both sides
(saturation), tanh's at most 1 at 0 and vanishes too; ReLU's is exactly 1 for every positive input (and 0
below, the "dying ReLU"), which leaky ReLU, ELU, SELU, GELU and SiLU/Swish soften. Here each function is
``ops.activation(name, x)`` and its derivative is ``ops.activation_backward(name, ones, x)`` (the backward
kernel's ``grad_output * f'(x)`` with grad_output = 1), checked against a central finite difference of the
forward.

    python examples/activation_functions.py [--plot activations.png]

prints each derivative's largest value and its value at x = -5 and x = 5. ``main()`` returns them as a dict
(tests/test_examples.py runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import ops

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus")


def main(names=NAMES, plot=None, verbose: int = 1) -> dict:
    """Evaluate f and f' on x in [-5, 5] (float64) for each activation; return ``{name: {"x", "f",
    "derivative", "max_derivative", "derivative_at_-5", "derivative_at_5", "fd_error"}}``, where
    ``fd_error`` is the largest difference between the kernel's derivative and a central finite difference
    (away from the kinks at 0). ``plot``: a PNG with the functions and their derivatives (needs matplotlib)."""
    x = np.linspace(-5.0, 5.0, 1001)
    h = 1e-6
    results = {}
    for name in names:
        f = ops.activation(name, x)
        d = ops.activation_backward(name, np.ones_like(x), x)
        fd = (ops.activation(name, x + h) - ops.activation(name, x - h)) / (2 * h)
        smooth = np.abs(x) > 1e-3
        results[name] = {"x": x, "f": f, "derivative": d, "max_derivative": float(d.max()),
                         "derivative_at_-5": float(d[0]), "derivative_at_5": float(d[-1]),
                         "fd_error": float(np.max(np.abs(d - fd)[smooth]))}
        if verbose:
            print(f"{name:10s}: max f' = {d.max():.4f}, f'(-5) = {d[0]:.4f}, f'(5) = {d[-1]:.4f}")
    if plot is not None:
        fastann.utils._import_pyplot(headless=True)
        import matplotlib.pyplot as plt
        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
        for name, r in results.items():
            ax0.plot(x, r["f"], label=name)
            ax1.plot(x, r["derivative"], label=name)
        ax0.set_ylim(-2, 5)
        ax0.set_title("f(x)")
        ax1.set_title("f'(x)")
        for ax in (ax0, ax1):
            ax.axhline(0, color="0.5", linewidth=0.6)
            ax.axvline(0, color="0.5", linewidth=0.6)
            ax.set_xlabel("x")
            ax.grid(True, alpha=0.3)
        ax1.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
        plt.close(fig)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default=None, help="write the functions and derivatives to this PNG")
    main(plot=parser.parse_args().plot)
