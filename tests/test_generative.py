"""fastann train --model autoencoder|gan (fastann._jobs): each job end to end through the CLI on a tiny subset
with small models (the hidden --limit and --filters), the fields of its JSON and files, its argument errors,
and the metrics (AUROC, PSNR, the noise) against direct formulas. The measured numbers are in
docs/generative.md."""
import importlib.util
import json

import numpy as np
import pytest

import fastann
from fastann import cli
from fastann._jobs import generative, plots

HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


def _have_fashion():
    try:
        fastann.datasets._fetch.locate(fastann.datasets.fashion_mnist.SPEC, download=False)
        return True
    except FileNotFoundError:
        return False


needs_data = pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not found locally "
                                "(apt-get install dataset-fashion-mnist)")
SMALL = ["--epochs", "1", "--batch-size", "50", "--filters", "4", "--seed", "0", "--verbose", "0"]


@needs_data
@pytest.mark.parametrize("noise", ["0.3", "0"])
def test_autoencoder_end_to_end(tmp_path, capsys, noise):
    out = tmp_path / "ae.json"
    args = ["train", "--model", "autoencoder", "--noise", noise, "--limit", "300", "--metrics-out", str(out)]
    if HAVE_MPL:
        args += ["--plot", str(tmp_path / "ae.png")]
    assert cli.main(args + SMALL) == 0
    assert "PSNR" in capsys.readouterr().out
    m = json.loads(out.read_text())
    assert m["model"] == "autoencoder" and m["noise"] == float(noise) and m["epochs"] == 1
    assert m["train_samples"] == 270 and m["test_samples"] == 300 and len(m["history"]["loss"]) == 1
    assert 0 < m["test_mse"] < 1 and m["test_psnr_db"] == pytest.approx(10 * np.log10(1 / m["test_mse"]))
    if noise == "0":  # a plain autoencoder: the input is the clean image
        assert m["noisy_mse"] == 0 and m["noisy_psnr_db"] is None
    else:
        assert 0.02 < m["noisy_mse"] < 0.09 and m["noisy_psnr_db"] == pytest.approx(10 * np.log10(1 / m["noisy_mse"]))
    assert "test_auroc" not in m
    if HAVE_MPL:
        assert (tmp_path / "ae.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_data
def test_anomaly_detection_end_to_end(tmp_path):
    out = tmp_path / "anomaly.json"
    assert cli.main(["train", "--model", "autoencoder", "--normal-class", "1", "--limit", "1000",
                     "--metrics-out", str(out)] + SMALL) == 0
    m = json.loads(out.read_text())
    assert m["normal_class"] == 1 and 0.0 <= m["test_auroc"] <= 1.0
    labels = fastann.datasets.fashion_mnist.load_data()[0][1][:1000]
    assert m["train_samples"] == int((labels == 1).sum() * 0.9)  # class 1 only, 10% held out
    assert m["mean_score_normal"] > 0 and m["mean_score_anomalous"] > 0


@needs_data
def test_gan_end_to_end(tmp_path, capsys):
    out, npy = tmp_path / "gan.json", tmp_path / "samples.npy"
    args = ["train", "--model", "gan", "--limit", "200", "--metrics-out", str(out), "--samples-out", str(npy)]
    if HAVE_MPL:
        args += ["--plot", str(tmp_path / "gan.png")]
    args += ["--epochs", "2", "--batch-size", "64", "--filters", "4", "--seed", "0", "--verbose", "2"]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "Epoch 2/2: d_loss" in err and 'Model: "generator"' in err
    m = json.loads(out.read_text())
    assert m["model"] == "gan" and m["lr"] == 2e-4 and len(m["d_loss"]) == len(m["g_loss"]) == 2
    assert len(m["d_loss_steps"]) == 2 * (200 // 64) and all(np.isfinite(m["d_loss"] + m["g_loss"]))
    samples = np.load(npy)
    assert samples.shape == (1000, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    if HAVE_MPL:
        assert (tmp_path / "gan.png").stat().st_size > 1000


def test_gan_updates_the_generator_only_through_the_combined_model():
    """The Keras GAN pattern of the job: D compiled, then frozen, then the combined model compiled."""
    from fastann._jobs import gan
    g, d = gan.build_generator(16, 2, seed=0), gan.build_discriminator(2, seed=1)
    d.compile(optimizer=fastann.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy")
    d.trainable = False
    z = fastann.Input((16,))
    combined = fastann.Model(z, d(g(z)))
    combined.compile(optimizer=fastann.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy")
    g0, d0 = [w.copy() for w in g.get_weights()], [w.copy() for w in d.get_weights()]
    rng = np.random.default_rng(0)
    combined.train_on_batch(rng.standard_normal((8, 16), dtype=np.float32), np.ones((8, 1), np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(d.get_weights(), d0))
    assert not np.array_equal(g.get_weights()[0], g0[0])
    images = rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    d.train_on_batch(images, np.ones((8, 1), np.float32))        # D itself still trains
    assert not np.array_equal(d.get_weights()[0], d0[0])
    assert g.predict(rng.standard_normal((3, 16), dtype=np.float32)).shape == (3, 28, 28, 1)


@pytest.mark.parametrize("args, msg", [
    (["--model", "autoencoder", "--normal-class", "10"], "--normal-class must be a class"),
    (["--model", "autoencoder", "--normal-class", "-1"], "--normal-class must be a class"),
    (["--model", "autoencoder", "--noise", "-0.1"], "--noise must be a finite stddev >= 0"),
    (["--model", "autoencoder", "--noise", "nan"], "--noise must be a finite stddev >= 0"),
    (["--noise", "0.3"], "--noise applies to --model autoencoder, not --model mlp"),
    (["--model", "cnn", "--normal-class", "1"], "--normal-class applies to --model autoencoder"),
    (["--model", "autoencoder", "--samples-out", "x.npy"], "--samples-out applies to --model gan"),
    (["--model", "gan", "--save", "x.keras"], "--save applies to --model mlp, cnn, lstm, gru or rnn"),
    (["--model", "gan", "--optimizer", "sgd"], "--model gan trains with Adam"),
    (["--model", "gan", "--validation-split", "0.1"], "--validation-split does not apply to --model gan"),
    (["--model", "autoencoder", "--filters", "0"], "--filters must be >= 1"),
])
def test_bad_arguments(capsys, args, msg):
    assert cli.main(["train"] + args) == 2
    err = capsys.readouterr().err
    assert msg in err and "Epoch" not in err


def test_plot_without_matplotlib_names_the_extra(monkeypatch, capsys):
    monkeypatch.setattr(plots, "available", lambda: False)
    assert cli.main(["train", "--model", "autoencoder", "--plot", "x.png", "--limit", "10"]) == 2
    assert "pip install 'fastann[plot]'" in capsys.readouterr().err


def test_unwritable_samples_out_fails_before_training(tmp_path, capsys):
    assert cli.main(["train", "--model", "gan", "--samples-out", str(tmp_path), "--limit", "10"]) == 2
    assert "--samples-out" in capsys.readouterr().err


def test_auroc_against_all_pairs():
    """The rank formula equals P(score_pos > score_neg) + P(tie) / 2 counted over every pair."""
    rng = np.random.default_rng(0)
    for n in (2, 7, 200):
        scores = rng.integers(0, 5, n).astype(float)  # many ties
        labels = np.arange(n) % 3 == 0
        pos, neg = scores[labels], scores[~labels]
        pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
        assert generative.auroc(scores, labels) == pytest.approx(pairs, abs=1e-12)
    assert generative.auroc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1]) == 1.0
    assert generative.auroc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 0.0
    with pytest.raises(ValueError, match="needs both classes"):
        generative.auroc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        generative.auroc([0.1, 0.2], [1])


def test_noise_and_psnr():
    x = np.random.default_rng(1).uniform(0, 1, (50, 28, 28)).astype(np.float32)
    noisy = generative.add_noise(x, 0.3, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.min() >= 0 and noisy.max() <= 1
    unclipped = x + 0.3 * np.random.default_rng(0).standard_normal(x.shape, dtype=np.float32)
    np.testing.assert_array_equal(noisy, np.clip(unclipped, 0, 1))
    np.testing.assert_array_equal(generative.add_noise(x, 0.0, None), x)
    assert generative.psnr_db(0.01) == pytest.approx(20.0) and generative.psnr_db(0.0) is None
    with pytest.raises(ValueError, match="divisible by 4"):
        generative.build_autoencoder((30, 30, 1))
