"""The Keras-course scripts of ``tests/keras_course/`` run with fastann and, where Keras 3 is installed,
agree with Keras on everything that does not depend on random numbers.

Each script is Keras code whose import lines (marked ``# course import``) name fastann; it records what it
observed in a dict ``RESULT``. The fastann run checks the facts a Keras user expects (shapes, parameter
counts, history keys, accuracies well above chance). The Keras run switches the marked import lines to
``import keras`` / ``from keras import``, hands Keras the same Fashion-MNIST arrays (Keras would download
them), and compares the deterministic facts of both ``RESULT`` dicts.
"""
import os
import pathlib

import numpy as np
import pytest

import fastann

COURSE = pathlib.Path(__file__).parent / "keras_course"
SCRIPTS = sorted(p.stem for p in COURSE.glob("*.py"))

#: RESULT keys that depend on random numbers (initial weights, shuffling): checked per library, not compared
RANDOM = {"accuracy", "auc", "mse_test", "baseline_mse", "losses_fell", "first_lr", "ratios", "epochs",
          "csv_rows", "frozen_unchanged", "unfrozen_changed", "proba_rows_sum_to_one", "hidden1_bias_zero",
          "losses_finite"}


@pytest.fixture(scope="module")
def fashion():
    try:
        return fastann.datasets.fashion_mnist.load_data(download=False)
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"Fashion-MNIST not found locally ({exc}); on Debian: apt-get install dataset-fashion-mnist")


def run_script(name: str, library: str) -> dict:
    """Execute ``keras_course/<name>.py`` with its course imports naming ``library`` and return RESULT."""
    source = (COURSE / f"{name}.py").read_text()
    if library == "keras":
        lines = []
        for line in source.splitlines():
            if line.endswith("# course import"):
                line = line.replace("import fastann as keras", "import keras").replace("from fastann ", "from keras ")
            lines.append(line)
        source = "\n".join(lines)
    namespace = {"__name__": f"course_{name}"}
    exec(compile(source, str(COURSE / f"{name}.py"), "exec"), namespace)  # noqa: S102 - our own scripts
    return namespace["RESULT"]


@pytest.fixture(scope="module")
def fastann_results(fashion):
    return {}


def _fastann_result(cache, name):
    if name not in cache:
        cache[name] = run_script(name, "fastann")
    return cache[name]


CHECKS = {
    "mlp_classifier": lambda r: (r["params"] == 266_610 and r["hidden1_kernel"] == (784, 300)
                                 and r["hidden1_bias_zero"] and r["epochs"] == 4 and r["accuracy"] > 0.7
                                 and r["proba_rows_sum_to_one"] and r["evaluate_type"] == "float"
                                 and r["history_keys"] == ["accuracy", "loss", "val_accuracy", "val_loss"]),
    "cnn_channels_last": lambda r: (r["conv1_kernel"] == (3, 3, 1, 32) and r["params"] == 41_866
                                    and r["evaluate_len"] == 2 and r["proba_shape"] == (5, 10)
                                    and r["accuracy"] > 0.65),
    "binary_classifier": lambda r: (r["proba_shape"] == (4, 1) and r["accuracy"] > 0.7 and r["auc"] > 0.75
                                    and r["evaluate_keys"] == ["accuracy", "auc", "loss", "precision", "recall"]),
    "regression": lambda r: r["pred_shape"] == (3, 1) and r["mse_test"] < 0.2 * r["baseline_mse"],
    "callbacks_course": lambda r: (r["epochs"] >= 3 and r["csv_rows"] == r["epochs"] and r["ratios"] == r["epochs"]
                                   and r["first_lr"] == pytest.approx(0.01)
                                   and r["csv_header"] == ["accuracy", "epoch", "learning_rate", "loss",
                                                           "val_accuracy", "val_loss"]),
    "transfer_freezing": lambda r: (r["layers_B"] == 4 and r["trainable_while_frozen"] == 2
                                    and r["non_trainable_while_frozen_params"] == 784 * 100 + 100 + 100 * 50 + 50
                                    and r["trainable_after"] == 6 and r["frozen_unchanged"]
                                    and r["unfrozen_changed"]),
    "losses_metrics": lambda r: (r["losses_finite"] and len(r["losses_fell"]) >= 3 and all(
        keys == ["accuracy", "loss", "top_k_categorical_accuracy"] for keys in r["history_keys"].values())),
}


def test_every_script_has_a_check():
    assert sorted(CHECKS) == SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_with_fastann(fashion, fastann_results, name):
    result = _fastann_result(fastann_results, name)
    assert CHECKS[name](result), result


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_agrees_with_keras(fashion, fastann_results, name, monkeypatch):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (comparison tests only)")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: fashion)
    ours = _fastann_result(fastann_results, name)
    theirs = run_script(name, "keras")
    assert CHECKS[name](theirs), theirs  # the checks hold for Keras itself
    same = {k: v for k, v in ours.items() if k not in RANDOM}
    assert same == {k: v for k, v in theirs.items() if k not in RANDOM}
