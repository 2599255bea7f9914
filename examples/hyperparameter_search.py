"""Hyperparameter search with Optuna: random search, grid search and Bayesian optimization (TPE).

A network's hyperparameters (number of hidden layers, units, dropout rate, optimizer, learning rate, batch
size) are chosen by training candidates and comparing their accuracy on a validation set that the search
never trains on; the test set is touched once, by the winner (Géron, *Hands-On Machine Learning*, ch. 10,
"Fine-Tuning Neural Network Hyperparameters"). Three ways to pick the candidates, all from Optuna (Akiba et
al., 2019), a maintained library rather than a home-made tuner:

* ``grid``: every combination of a few values per hyperparameter (``optuna.samplers.GridSampler``); its cost
  is the product of the numbers of values;
* ``random``: independent random draws (``RandomSampler``); Bergstra and Bengio (2012) show it finds good
  settings with far fewer trials than a grid when only a few hyperparameters matter;
* ``tpe``: Bayesian optimization with the Tree-structured Parzen Estimator (``TPESampler``, Bergstra et al.,
  2011): after some random trials it draws where good trials were dense and bad ones sparse.

The data are a subset of Fashion-MNIST (``n_train`` training and ``n_valid`` validation images from the
training set, the test set for the winner). Optuna is an optional extra: ``pip install "fastann[tune]"``.

    python examples/hyperparameter_search.py [--sampler tpe] [--trials 20]

prints each trial and the winner's test accuracy. ``main()`` returns them as a dict (tests/test_examples.py
runs it with a few tiny trials).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers
from fastann.datasets import fashion_mnist

#: the values GridSampler combines (the other samplers draw from the ranges in ``suggest``)
GRID = {"n_hidden": [1, 2], "units": [64, 256], "dropout": [0.0, 0.3], "optimizer": ["adam"],
        "learning_rate": [1e-3], "batch_size": [32]}


def suggest(trial) -> dict:
    """The hyperparameters of one trial, drawn by Optuna's ``trial.suggest_*``."""
    return {
        "n_hidden": trial.suggest_int("n_hidden", 1, 2),
        "units": trial.suggest_int("units", 32, 256, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd"]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
    }


def build(params: dict, seed: int):
    """The MLP 784 - (units, ReLU, Dropout) x n_hidden - 10 (softmax) of ``params``, compiled."""
    fastann.utils.set_random_seed(seed)
    model = fastann.Sequential([layers.Input((784,))])
    for _ in range(params["n_hidden"]):
        model.add(layers.Dense(params["units"], activation="relu", kernel_initializer="he_normal"))
        if params["dropout"] > 0:
            model.add(layers.Dropout(params["dropout"]))
    model.add(layers.Dense(10, activation="softmax"))
    if params["optimizer"] == "adam":
        optimizer = fastann.optimizers.Adam(learning_rate=params["learning_rate"])
    else:
        optimizer = fastann.optimizers.SGD(learning_rate=params["learning_rate"], momentum=0.9, nesterov=True)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load(n_train: int, n_valid: int):
    """(X_train, y_train), (X_valid, y_valid), (X_test, y_test): flattened float32 images in [0, 1]."""
    (x, y), (x_test, y_test) = fashion_mnist.load_data()

    def prep(a):
        return a.reshape(len(a), -1).astype(np.float32) / 255.0

    return ((prep(x[:n_train]), y[:n_train]), (prep(x[n_train:n_train + n_valid]), y[n_train:n_train + n_valid]),
            (prep(x_test), y_test))


def make_sampler(name: str, seed: int):
    """The Optuna sampler called ``name`` ('tpe', 'random' or 'grid')."""
    import optuna
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(GRID, seed=seed)
    raise ValueError(f"hyperparameter_search: sampler must be 'tpe', 'random' or 'grid', got {name!r}")


def main(sampler: str = "tpe", n_trials: int = 20, n_train: int = 5000, n_valid: int = 1000, epochs: int = 3,
         seed: int = 0, verbose: int = 1) -> dict:
    """Search with ``sampler`` for ``n_trials`` trials (each trains ``epochs`` epochs on ``n_train`` images and
    scores the validation accuracy on ``n_valid``); retrain the best setting and evaluate it on the test set.
    Returns ``{"best_params", "best_val_accuracy", "test_accuracy", "trials": [(params, val_accuracy)]}``.
    Raises ImportError naming the ``tune`` extra when Optuna is missing."""
    try:
        import optuna
    except ImportError as e:
        raise ImportError('examples/hyperparameter_search.py needs Optuna: pip install "fastann[tune]"') from e
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = load(n_train, n_valid)

    def objective(trial):
        params = suggest(trial)
        model = build(params, seed)
        model.fit(X_train, y_train, epochs=epochs, batch_size=params["batch_size"], verbose=0)
        return float(model.evaluate(X_valid, y_valid, verbose=0)[1])

    study = optuna.create_study(direction="maximize", sampler=make_sampler(sampler, seed))
    study.optimize(objective, n_trials=n_trials)
    best = dict(study.best_params)
    winner = build(best, seed)
    winner.fit(X_train, y_train, epochs=epochs, batch_size=best["batch_size"], verbose=0)
    test_accuracy = float(winner.evaluate(X_test, y_test, verbose=0)[1])
    if verbose:
        print(f"best of {len(study.trials)} trials ({sampler}): {best}, validation accuracy {study.best_value:.4f}, "
              f"test accuracy {test_accuracy:.4f}")
    return {"best_params": best, "best_val_accuracy": float(study.best_value), "test_accuracy": test_accuracy,
            "trials": [(dict(t.params), t.value) for t in study.trials]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(sampler=args.sampler, n_trials=args.trials, epochs=args.epochs, seed=args.seed)
