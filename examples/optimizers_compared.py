"""Optimizers compared on the Rosenbrock function, each step one of fastann's fused optimizer kernels.

Rosenbrock's function ``f(x, y) = (1 - x)² + 100 (y - x²)²`` (Rosenbrock, 1960) has its minimum 0 at
(1, 1) at the end of a long, narrow, curved valley: the gradient points across the valley far more than
along it, which is the ill-conditioning that makes plain gradient descent slow on real losses too. From the
classic start (-1.5, 2), every optimizer of ``fastann.optimizers`` gets the same number of steps, with the
gradient computed here by hand and the update done by ``optimizer.apply_gradients([p], [grad])``, i.e. by
the same fused ``ops.*_step`` kernel that ``fit`` uses:

* plain SGD crawls along the valley floor (its rate is capped by the steep direction);
* momentum (Polyak, 1964) and Nesterov's accelerated gradient (Nesterov, 1983; Sutskever et al., 2013)
  accumulate speed along the valley and reach the minimum;
* Adagrad (Duchi et al., 2011) divides by the accumulated squared gradients and slows to a stop early;
  RMSprop (Hinton, 2012) replaces the sum by a running mean; Adam (Kingma and Ba, 2015) adds momentum to
  RMSprop and reaches the minimum; Nadam is Adam with Nesterov's look-ahead (Dozat, 2016).

See Géron, *Hands-On Machine Learning*, ch. 11, "Faster Optimizers". The learning rates below are each
optimizer's usual order of magnitude, not tuned per optimizer beyond stability.

    python examples/optimizers_compared.py [--steps 2000] [--plot paths.png]

prints where each optimizer ended. ``main()`` returns the paths as a dict (tests/test_examples.py runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import optimizers

START = (-1.5, 2.0)
MINIMUM = (1.0, 1.0)


def rosenbrock(x, y):
    """Rosenbrock's function (any broadcastable x, y)."""
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def rosenbrock_grad(p: np.ndarray) -> np.ndarray:
    """The gradient (2,) of Rosenbrock's function at p = (x, y)."""
    x, y = p
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)])


def contenders() -> dict:
    """name -> a fresh optimizer of fastann.optimizers."""
    return {
        "SGD": optimizers.SGD(learning_rate=1e-3),
        "momentum": optimizers.SGD(learning_rate=1e-3, momentum=0.9),
        "Nesterov": optimizers.SGD(learning_rate=1e-3, momentum=0.9, nesterov=True),
        "Adagrad": optimizers.Adagrad(learning_rate=0.5),
        "RMSprop": optimizers.RMSprop(learning_rate=1e-2),
        "Adam": optimizers.Adam(learning_rate=0.05),
        "Nadam": optimizers.Nadam(learning_rate=0.05),
    }


def descend(optimizer, steps: int) -> np.ndarray:
    """The path (steps + 1, 2) of ``optimizer`` from START on Rosenbrock's function (float64 parameters)."""
    p = np.array(START, dtype=np.float64)
    path = np.empty((steps + 1, 2))
    path[0] = p
    for i in range(steps):
        optimizer.apply_gradients([p], [rosenbrock_grad(p)])
        path[i + 1] = p
    return path


def main(steps: int = 2000, plot=None, verbose: int = 1) -> dict:
    """Run every contender ``steps`` steps; return ``{name: {"path": (steps+1, 2) array, "final": [x, y],
    "f": float, "distance": float (to the minimum)}}``. ``plot``: a PNG of the paths on the contour plot
    (needs matplotlib)."""
    results = {}
    for name, opt in contenders().items():
        path = descend(opt, steps)
        end = path[-1]
        results[name] = {"path": path, "final": end.tolist(), "f": float(rosenbrock(*end)),
                         "distance": float(np.hypot(*(end - MINIMUM)))}
        if verbose:
            print(f"{name:9s} after {steps} steps: ({end[0]: .4f}, {end[1]: .4f}), f = {rosenbrock(*end):.2e}, "
                  f"distance to (1, 1) = {results[name]['distance']:.2e}")
    if plot is not None:
        _plot(results, plot)
    return results


def _plot(results: dict, path) -> None:
    """The paths on a log-spaced contour plot of Rosenbrock's function."""
    fastann.utils._import_pyplot(headless=True)
    import matplotlib.pyplot as plt
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.contour(xs, ys, rosenbrock(xs, ys), levels=np.logspace(-1, 3.5, 18), colors="0.7", linewidths=0.7)
    for name, r in results.items():
        ax.plot(r["path"][:, 0], r["path"][:, 1], "-", linewidth=1.3, label=f"{name} (f = {r['f']:.1e})")
    ax.plot(*START, "ko")
    ax.plot(*MINIMUM, "r*", markersize=14)
    ax.set_xlim(-2, 2)
    ax.set_ylim(-1, 3)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("fastann.optimizers on Rosenbrock's function")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--plot", default=None, help="write the paths on the contour plot to this PNG")
    args = parser.parse_args()
    main(steps=args.steps, plot=args.plot)
