"""The runnable examples of examples/ reach the outcome their docs quote (short runs)."""
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import time_series_forecast  # noqa: E402


def test_time_series_lstm_beats_the_naive_forecast():
    for seed in (0, 1):
        r = time_series_forecast.main(epochs=4, seed=seed, n_series=3000)
        assert r["lstm_mse"] < 0.5 * r["naive_mse"], r


import perceptron_logic_gates  # noqa: E402
import linear_regression_gd  # noqa: E402
import logistic_regression  # noqa: E402


def test_perceptron_learns_and_or_nand_fails_xor_and_the_2_2_1_network_learns_xor():
    r = perceptron_logic_gates.main(seed=0, verbose=0)
    for gate in ("AND", "OR", "NAND"):
        assert r["perceptron"][gate]["accuracy"] == 1.0 and r["perceptron"][gate]["converged"], r
    assert not r["perceptron"]["XOR"]["converged"] and r["perceptron"]["XOR"]["accuracy"] < 1.0, r
    assert r["mlp_xor_accuracy"] == 1.0, r


def test_linear_regression_batch_stochastic_minibatch_recover_the_coefficients(tmp_path):
    r = linear_regression_gd.main(seed=0, verbose=0)
    true = np.r_[linear_regression_gd.W_TRUE, linear_regression_gd.B_TRUE]
    for name in linear_regression_gd.VARIANTS:
        found = np.r_[r[name]["w"], r[name]["b"]]
        np.testing.assert_allclose(found, true, rtol=0.01, err_msg=name)
        assert r[name]["loss"][-1] < 0.05 * r[name]["loss"][0], name


def test_logistic_regression_on_two_fashion_mnist_classes():
    try:
        r = logistic_regression.main(epochs=2, n_train=2000, verbose=0)
    except FileNotFoundError as e:  # no copy of Fashion-MNIST and no network
        pytest.skip(str(e))
    assert r["test_accuracy"] >= 0.95, r["test_accuracy"]


import vanishing_gradients  # noqa: E402


def test_vanishing_gradients_sigmoid_first_layer_starves_relu_he_bn_does_not():
    try:
        r = vanishing_gradients.main(depth=8, n=640, epochs=1, verbose=0)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    assert r["sigmoid"]["first_over_last"] < 1e-3, r["sigmoid"]["mean_norms"]
    assert r["relu_he_bn"]["first_over_last"] > 0.1, r["relu_he_bn"]["mean_norms"]
    final = r["too_large_lr"]["loss"][-1]
    assert not np.isfinite(final) or final > 10 * r["relu_he_bn"]["loss"][-1], r["too_large_lr"]


import optimizers_compared  # noqa: E402


def test_optimizers_on_rosenbrock_adam_and_momentum_reach_the_minimum_plain_sgd_does_not():
    r = optimizers_compared.main(verbose=0)
    for name in ("Adam", "momentum", "Nesterov"):
        assert r[name]["distance"] < 1e-2, (name, r[name]["final"])
    assert r["SGD"]["distance"] > 0.1, r["SGD"]["final"]
    assert r["SGD"]["f"] < optimizers_compared.rosenbrock(*optimizers_compared.START)


def test_optimizers_plot_draws_the_paths(tmp_path):
    pytest.importorskip("matplotlib")
    optimizers_compared.main(steps=50, plot=tmp_path / "paths.png", verbose=0)
    assert (tmp_path / "paths.png").read_bytes()[:4] == b"\x89PNG"


import hyperparameter_search  # noqa: E402


@pytest.mark.parametrize("sampler", ["tpe", "grid"])
def test_hyperparameter_search_with_optuna_finds_a_setting_better_than_chance(sampler):
    pytest.importorskip("optuna")
    try:
        r = hyperparameter_search.main(sampler=sampler, n_trials=3, n_train=1000, n_valid=300, epochs=1, verbose=0)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    values = [v for _, v in r["trials"]]
    assert len(values) == 3 and r["best_val_accuracy"] == max(values)
    assert r["best_val_accuracy"] > 0.4 and r["test_accuracy"] > 0.4, r
    p = r["best_params"]
    assert 1 <= p["n_hidden"] <= 2 and 32 <= p["units"] <= 256 and 0.0 <= p["dropout"] <= 0.5, p


import activation_functions  # noqa: E402


def test_activation_derivatives_from_the_kernels_match_finite_differences():
    r = activation_functions.main(verbose=0)
    for name, v in r.items():
        assert v["fd_error"] < 1e-6, (name, v["fd_error"])
    assert abs(r["sigmoid"]["max_derivative"] - 0.25) < 1e-6
    assert r["sigmoid"]["derivative_at_5"] < 0.01 and r["tanh"]["derivative_at_-5"] < 0.01
    assert r["relu"]["derivative_at_5"] == 1.0 and r["relu"]["derivative_at_-5"] == 0.0


import keras_mlp_cnn  # noqa: E402


def test_keras_mlp_and_cnn_train_checkpoint_save_and_reload(tmp_path):
    try:
        r = keras_mlp_cnn.main(epochs=2, train=3000, test=1000, out=str(tmp_path))
    except FileNotFoundError as e:  # no copy of Fashion-MNIST and no network
        pytest.skip(str(e))
    for kind in ("mlp", "cnn"):
        assert r[kind]["test_accuracy"] > 0.6, r[kind]
        assert r[kind]["reloaded_predicts_the_same"], kind
        assert (tmp_path / f"{kind}.keras").exists() and (tmp_path / f"{kind}_best.keras").exists()
        assert r[kind]["curves"] is None or (tmp_path / f"{kind}_curves.png").stat().st_size > 1000


import residual_network  # noqa: E402


def test_residual_network_trains_through_its_add_blocks():
    try:
        r = residual_network.main(epochs=2, train=4000, test=1000, seed=1)
    except FileNotFoundError as e:  # no copy of Fashion-MNIST and no network
        pytest.skip(str(e))
    assert r["params"] == 78_378
    assert r["test_accuracy"] > 0.5, r  # chance is 0.1
