"""The fastann command: info, train (on a small subset via the hidden --limit), argument errors."""
import json
import os
import subprocess
import sys

import pytest

import fastann
from fastann import cli


def _env():
    """Environment for a subprocess that imports this same fastann (installed or from the source tree)."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(fastann.__file__))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_info_subprocess():
    out = subprocess.run([sys.executable, "-m", "fastann", "info", "--json"], capture_output=True, text=True,
                         env=_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["version"] == fastann.__version__ and info["simd"] in ("avx512", "avx2", "scalar")
    assert {"compiler", "num_threads", "cuda_built", "cuda_available"} <= set(info)
    # the CPU, its caches and the GEMM blocking derived from them
    assert {"cpu", "cpu_id", "cpu_caches", "gemm_blocking"} <= set(info)
    assert info["cpu_caches"]["l1d"] > 0 and info["cpu_caches"]["l2"] > 0
    for dt in ("float32", "float64"):
        b = info["gemm_blocking"][dt]
        assert b["kc"] > 0 and b["mc"] % b["mr"] == 0 and b["nc"] % b["nr"] == 0 and b["rule"]


def test_info_text(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "simd" in out and "version" in out
    assert "cpu_caches" in out and "L2" in out and "KC" in out


def _have_fashion():
    try:
        fastann.datasets._fetch.locate(fastann.datasets.fashion_mnist.SPEC, download=False)
        return True
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not found locally (apt-get install dataset-fashion-mnist)")
def test_train_small_subset(tmp_path, capsys):
    out = tmp_path / "m.json"
    threads = fastann.get_num_threads()
    try:
        rc = cli.main(["train", "--limit", "3000", "--epochs", "2", "--batch-size", "100", "--seed", "0",
                       "--threads", "1", "--verbose", "2", "--metrics-out", str(out)])
    finally:
        fastann.set_num_threads(threads)
    assert rc == 0
    captured = capsys.readouterr()
    assert "test accuracy:" in captured.out and "samples/s" in captured.out and "wall time:" in captured.out
    assert "Epoch 2/2" in captured.err
    m = json.loads(out.read_text())
    assert {"test_accuracy", "test_loss", "train_samples_per_s", "epochs", "history"} <= set(m)
    assert m["epochs"] == 2 and m["train_samples"] == 2700 and m["threads"] == 1
    assert m["lr"] == 1e-3 and m["lr_schedule"] == "cosine"   # the default: cosine decay from --lr to 0
    assert set(m["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.6 < m["test_accuracy"] <= 1.0 and m["train_samples_per_s"] > 0


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not found locally (apt-get install dataset-fashion-mnist)")
def test_train_cnn_small_subset(tmp_path, capsys):
    """--model cnn runs the CNN on (N, 28, 28) images end to end (the accuracy check is in
    test_conv_layers.py; one epoch of 900 images only exercises the plumbing)."""
    out = tmp_path / "cnn.json"
    threads = fastann.get_num_threads()
    try:
        rc = cli.main(["train", "--model", "cnn", "--limit", "1000", "--epochs", "1", "--batch-size", "100",
                       "--seed", "0", "--threads", "1", "--verbose", "2", "--lr-schedule", "constant",
                       "--metrics-out", str(out)])
    finally:
        fastann.set_num_threads(threads)
    assert rc == 0
    captured = capsys.readouterr()
    assert "test accuracy:" in captured.out and "samples/s" in captured.out
    assert "(Conv2D)" in captured.err and "(BatchNormalization)" in captured.err and "Epoch 1/1" in captured.err
    assert "Non-trainable params: 192" in captured.err
    m = json.loads(out.read_text())
    assert m["model"] == "cnn" and m["epochs"] == 1 and m["train_samples"] == 900
    assert m["lr_schedule"] == "constant" and "lr=0.001 (constant)" in captured.err
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["train_samples_per_s"] > 0


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not found locally (apt-get install dataset-fashion-mnist)")
@pytest.mark.parametrize("model, layer, params", [("lstm", "LSTM", "1,184"), ("gru", "GRU", "912"),
                                                  ("rnn", "SimpleRNN", "296")])
def test_train_recurrent_small_subset(tmp_path, capsys, model, layer, params):
    """--model lstm|gru|rnn reads each image as 28 steps of 28 pixels: RNN(--units) -> Dense(10) (the
    accuracy target is reported in docs/rnn.md; 400 images with 8 units only exercise the plumbing)."""
    out = tmp_path / "rnn.json"
    rc = cli.main(["train", "--model", model, "--units", "8", "--limit", "400", "--epochs", "1",
                   "--batch-size", "100", "--seed", "0", "--verbose", "2", "--metrics-out", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    assert f"({layer}" in captured.err and params in captured.err and "(None, 8)" in captured.err
    m = json.loads(out.read_text())
    assert m["model"] == model and m["units"] == 8 and m["epochs"] == 1
    assert 0.0 <= m["test_accuracy"] <= 1.0


@pytest.mark.parametrize("args, msg", [(["--epochs", "-1"], "--epochs"), (["--epochs", "0"], "--epochs"), (["--batch-size", "0"], "--batch-size"),
                                       (["--lr", "0"], "--lr"), (["--threads", "0"], "--threads"),
                                       (["--validation-split", "1.5"], "--validation-split"),
                                       (["--model", "lstm", "--units", "0"], "--units")])
def test_train_bad_arguments(capsys, args, msg):
    assert cli.main(["train"] + args) == 2
    assert msg in capsys.readouterr().err


def test_train_missing_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTANN_DATA", raising=False)

    def offline(*a, **k):
        raise OSError("offline")
    monkeypatch.setattr(fastann.datasets._fetch.urllib.request, "urlopen", offline)
    assert cli.main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert "cannot load mnist" in err and str(tmp_path / "none") in err


def test_unknown_choice_exits():
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", "cifar10"])
    with pytest.raises(SystemExit):
        cli.main(["train", "--lr-schedule", "linear"])


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"fastann {fastann.__version__}"


def test_train_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 128)" in out and "(default: fashion-mnist)" in out and "(default: cosine)" in out


def test_data_dir_is_that_directory_or_an_error(tmp_path, capsys):
    """--data-dir without the files is an error even where the system copy exists (it never falls back)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["train", "--data-dir", str(empty), "--limit", "100"]) == 1
    err = capsys.readouterr().err
    assert str(empty) in err and "does not hold the four IDX files" in err


def test_unwritable_metrics_out_fails_before_training(tmp_path, capsys):
    out_dir = tmp_path / "a_directory"
    out_dir.mkdir()
    assert cli.main(["train", "--metrics-out", str(out_dir), "--limit", "100"]) == 2
    err = capsys.readouterr().err
    assert "--metrics-out" in err and "Epoch" not in err and "test accuracy" not in err


def test_bad_device_message_has_one_prefix(capsys):
    assert cli.main(["train", "--device", "tpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastann train: --device tpu:") and err.count("fastann train") == 1


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not found locally (apt-get install dataset-fashion-mnist)")
def test_train_says_which_data_and_split(tmp_path, capsys):
    d = os.path.dirname(fastann.datasets._fetch.locate(fastann.datasets.fashion_mnist.SPEC, download=False)[0])
    assert cli.main(["train", "--data-dir", d, "--limit", "1000", "--epochs", "1", "--verbose", "2"]) == 0
    err = capsys.readouterr().err
    assert f"data: fashion-mnist from {d}" in err and "(900 train / 100 validation / 1000 test)" in err


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not found locally (apt-get install dataset-fashion-mnist)")
def test_train_save_and_plot(tmp_path, capsys):
    """--save writes a .keras model that load_model reads back; --plot the training curves (plot extra)."""
    saved, png = tmp_path / "mlp.keras", tmp_path / "curves.png"
    args = ["train", "--limit", "600", "--epochs", "1", "--verbose", "0", "--save", str(saved)]
    try:
        import matplotlib  # noqa: F401
        args += ["--plot", str(png)]
    except ImportError:
        png = None
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"saved the model to {saved}" in out
    model = fastann.models.load_model(str(saved))
    assert model.count_params() == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    if png is not None:
        assert png.stat().st_size > 1000 and f"wrote the training curves to {png}" in out


@pytest.mark.parametrize("args, msg", [
    (["--save", "m.h5"], "--save writes Keras 3's .keras format"),
    (["--model", "autoencoder", "--save", "m.keras"], "--save applies to --model mlp, cnn, lstm, gru or rnn"),
])
def test_train_save_bad_arguments(capsys, args, msg):
    assert cli.main(["train"] + args) == 2
    assert msg in capsys.readouterr().err
