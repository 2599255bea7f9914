"""The runnable examples of examples/ reach the outcome their docs quote (short runs)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import time_series_forecast  # noqa: E402


def test_time_series_lstm_beats_the_naive_forecast():
    for seed in (0, 1):
        r = time_series_forecast.main(epochs=4, seed=seed, n_series=3000)
        assert r["lstm_mse"] < 0.5 * r["naive_mse"], r
