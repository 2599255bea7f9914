"""The perceptron learns AND, OR and NAND but not XOR; a 2-2-1 network trained by backpropagation learns XOR.

Rosenblatt's perceptron (1958) is one threshold unit, ``y = step(w·x + b)``, trained by his rule: for each
sample, ``w += lr * (target - y) * x`` and ``b += lr * (target - y)`` (Géron, *Hands-On Machine Learning*,
ch. 10, eq. 10-3). The perceptron convergence theorem says the rule stops making mistakes after finitely
many updates when the classes are linearly separable, which AND, OR and NAND are. XOR is not (Minsky and
Papert, *Perceptrons*, 1969): no line puts (0,1), (1,0) on one side and (0,0), (1,1) on the other, so the
rule never stops making mistakes, and the best a single threshold unit can do is 3 of the 4 cases.

One hidden layer is enough: a 2-2-1 network (tanh hidden units, a sigmoid output, binary cross-entropy),
trained by backpropagation with ``fastann.Sequential``, learns XOR; its two hidden units draw the two lines
that a single unit lacks. From about half of the random starts, though, gradient descent ends in a local
minimum where one hidden unit is saturated and two of the four outputs sit at 0.5 (the XOR local minima
Rumelhart, Hinton and Williams, 1986, report); the cure the course gives is to start again from other random
weights, so ``main`` restarts (a new seed) until the network gets all four cases, and reports how many
starts it took.

    python examples/perceptron_logic_gates.py

prints each gate's accuracy. ``main()`` returns them as a dict (tests/test_examples.py runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATES = {
    "AND": np.array([0, 0, 0, 1], dtype=np.float32),
    "OR": np.array([0, 1, 1, 1], dtype=np.float32),
    "NAND": np.array([1, 1, 1, 0], dtype=np.float32),
    "XOR": np.array([0, 1, 1, 0], dtype=np.float32),
}


class Perceptron:
    """One threshold unit trained by Rosenblatt's rule, in NumPy as the course writes it.

    Args: lr: the learning rate (> 0); max_epochs: passes over the data; seed: for the initial weights.
    ``fit(X, y)`` takes X (N, d) and 0/1 targets y (N,); it returns self with ``errors_`` (the number of
    misclassified samples in each epoch) and stops at the first epoch without a mistake.
    """

    def __init__(self, lr: float = 0.1, max_epochs: int = 100, seed: int = 0):
        self.lr, self.max_epochs = lr, max_epochs
        self.rng = np.random.default_rng(seed)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """0/1 outputs (N,) of the step function of ``X @ w + b``."""
        return (X @ self.w + self.b >= 0.0).astype(np.float32)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Perceptron":
        self.w = self.rng.normal(scale=0.01, size=X.shape[1])
        self.b = 0.0
        self.errors_ = []
        for _ in range(self.max_epochs):
            errors = 0
            for xi, target in zip(X, y):
                update = self.lr * (target - self.predict(xi[None])[0])
                self.w += update * xi
                self.b += update
                errors += int(update != 0.0)
            self.errors_.append(errors)
            if errors == 0:
                break
        return self

    @property
    def converged(self) -> bool:
        """True when the last epoch made no mistake."""
        return self.errors_[-1] == 0


def xor_network(seed: int = 0, epochs: int = 300, verbose: int = 0):
    """Train the 2-2-1 network on XOR; return the model and its History."""
    fastann.utils.set_random_seed(seed)
    model = fastann.Sequential([layers.Input((2,)), layers.Dense(2, activation="tanh"),
                                layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(X, GATES["XOR"][:, None], epochs=epochs, batch_size=4, verbose=verbose)
    return model, history


def main(seed: int = 0, max_starts: int = 10, verbose: int = 1) -> dict:
    """Train the perceptron on every gate and the 2-2-1 network on XOR (from up to ``max_starts`` random
    starts, seeds ``seed``, ``seed + 1``, ...); return what each learned:
    ``{"perceptron": {gate: {"accuracy", "converged", "epochs"}}, "mlp_xor_accuracy": float,
    "mlp_xor_outputs": list, "mlp_xor_starts": int}``."""
    results = {"perceptron": {}}
    for gate, y in GATES.items():
        p = Perceptron(seed=seed).fit(X, y)
        acc = float(np.mean(p.predict(X) == y))
        results["perceptron"][gate] = {"accuracy": acc, "converged": p.converged, "epochs": len(p.errors_)}
        if verbose:
            verdict = (f"learned in {len(p.errors_)} epochs" if p.converged else
                       f"FAILS: still wrong after {len(p.errors_)} epochs (not linearly separable)")
            print(f"perceptron {gate:4s}: accuracy {acc:.2f}, {verdict}")
    for start in range(1, max_starts + 1):
        model, _ = xor_network(seed=seed + start - 1)
        out = model.predict(X, verbose=0)[:, 0]
        if np.all((out > 0.5) == GATES["XOR"]):
            break
    results["mlp_xor_starts"] = start
    results["mlp_xor_outputs"] = [float(v) for v in out]
    results["mlp_xor_accuracy"] = float(np.mean((out > 0.5) == GATES["XOR"]))
    if verbose:
        print(f"2-2-1 network XOR: outputs {np.round(out, 3)}, accuracy {results['mlp_xor_accuracy']:.2f} "
              f"({start} random start{'s' if start > 1 else ''})")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    main(seed=parser.parse_args().seed)
