"""Forecast a time series one step ahead with an LSTM, Keras style (docs/rnn.md, "A time series").

The series are made here: each is two sines of random phase and frequency plus uniform noise (the synthetic
series of Géron, *Hands-On Machine Learning*, ch. 15). A window of the last 50 values predicts the next one.
The LSTM is compared with the two baselines every forecast should beat: the naive forecast (the next value
is the last one) and a linear model on the same window (one Dense unit).

    python examples/time_series_forecast.py [--epochs 10] [--seed 0]

prints the three test MSEs. ``main()`` returns them as a dict (tests/test_examples.py runs it).
"""
from __future__ import annotations

import argparse

import numpy as np

import fastann
from fastann import layers


def make_series(batch_size: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """``batch_size`` series of ``n_steps`` values, float32 (batch_size, n_steps, 1)."""
    freq1, freq2, offset1, offset2 = rng.random((4, batch_size, 1))
    t = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((t - offset1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((t - offset2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.random((batch_size, n_steps)) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


def main(epochs: int = 10, seed: int = 0, n_series: int = 7000, verbose: int = 0) -> dict:
    """Train the linear model and the LSTM; return their test MSEs and the naive forecast's."""
    rng = np.random.default_rng(seed)
    n_steps = 50
    series = make_series(n_series, n_steps + 1, rng)
    n_train, n_valid = int(n_series * 0.7), int(n_series * 0.9)
    X_train, y_train = series[:n_train, :n_steps], series[:n_train, -1]
    X_valid, y_valid = series[n_train:n_valid, :n_steps], series[n_train:n_valid, -1]
    X_test, y_test = series[n_valid:, :n_steps], series[n_valid:, -1]

    naive_mse = float(np.mean((X_test[:, -1] - y_test) ** 2))

    fastann.utils.set_random_seed(seed)
    linear = fastann.Sequential([layers.Input((n_steps, 1)), layers.Flatten(), layers.Dense(1)])
    linear.compile(loss="mse", optimizer="adam")
    linear.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid), verbose=verbose)

    lstm = fastann.Sequential([layers.Input((n_steps, 1)), layers.LSTM(32), layers.Dense(1)])
    lstm.compile(loss="mse", optimizer=fastann.optimizers.Adam(learning_rate=3e-3))
    lstm.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid), verbose=verbose)

    return {"naive_mse": naive_mse,
            "linear_mse": float(linear.evaluate(X_test, y_test, verbose=0)),
            "lstm_mse": float(lstm.evaluate(X_test, y_test, verbose=0))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, mse in main(args.epochs, args.seed, verbose=2).items():
        print(f"{name:>10}: {mse:.5f}")
