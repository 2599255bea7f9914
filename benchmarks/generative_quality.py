"""Quality of the generative jobs (``fastann train --model autoencoder`` and ``--model gan``) against the same
models and recipes trained in PyTorch CPU (``_torch_generative.py``): the comparisons of issue 13.

    python benchmarks/generative_quality.py autoencoder [--epochs 10] [--noise 0.3] [--seed 0] [--limit N]
    python benchmarks/generative_quality.py gan [--epochs 10] [--seed 0] [--limit N] [--score-only]
    python benchmarks/generative_quality.py classifier       # train (or load) the evaluator and report it

(run with PYTHONPATH=python and a Python that has PyTorch; torch is needed by this script only.)

* ``autoencoder``: runs the real job, ``python -m fastann train --model autoencoder --noise 0.3 --seed S
  --threads 1 --metrics-out ...`` (default epochs unless ``--epochs``), and its PyTorch twin with the job's
  recipe: Fashion-MNIST / 255 (``--limit N``: the first N training and test images, as the job's hidden
  ``--limit``), the same noisy copies (``fastann._jobs.generative.add_noise`` with ``default_rng(seed)`` for
  the training images and ``default_rng([seed, 1])`` for the test images), the last 10% of the training images
  held out (Keras's ``validation_split``), binary cross-entropy, Adam 1e-3 (eps 1e-7), batch 128 (the last
  batch partial), the learning rate decayed to 0 along a half cosine over the run's steps. Both report the
  test MSE = mean over the test images and pixels of (reconstruction of the noisy image - clean image)^2 and
  PSNR = 10 log10(1 / MSE). Pass: fastann's MSE <= 1.05 x PyTorch's, and fastann's PSNR >= the noisy input's
  + 6 dB.
* ``gan``: runs the real job, ``python -m fastann train --model gan --seed S --threads 1 --samples-out ...
  --plot ... --metrics-out ...``, and the PyTorch twin (``_torch_generative.train_gan`` + ``gan_samples``)
  for the same ``--epochs`` and ``--limit`` (first N training images), then scores each side's 1,000 samples
  with a Fashion-MNIST classifier trained here in PyTorch (``classifier``; its weights are cached under
  benchmarks/results/ keyed by a hash of its recipe):

    class shares   share_k = #{samples whose argmax class is k} / #samples; pass: min_k share_k >= 3%
    Frechet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local
                   Nash equilibrium", the FID formula) between Gaussians fitted to the classifier's
                   penultimate features (128 after ReLU) of the samples (mu_1, S_1) and of the 10,000 test
                   images (mu_2, S_2), in place of Inception-v3's pool features:
                   FD = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2})
                   (tr((S_1 S_2)^{1/2}) written with symmetric matrices: S_1^{1/2} from a symmetric
                   eigendecomposition, then the eigenvalues of the symmetric PSD S_1^{1/2} S_2 S_1^{1/2};
                   NumPy only). S is the unbiased sample covariance (np.cov, as the reference FID code).
                   Pass: fastann's FD <= 1.5 x PyTorch's.

  1,000 real training images (a seeded random choice) are scored the same way: the floor a perfect
  generator would reach with 1,000 samples. ``--score-only`` rescores the sample files of an earlier run.

The two contenders of a comparison are independent processes (1 thread each) run concurrently: this script
measures quality, not speed. Results: benchmarks/results/generative_quality_{autoencoder,gan}_e<epochs>_n<limit>
_s<seed>.json; the jobs' own files (metrics JSON, logs, samples, plots) and, for the GAN, a picture of the
first 100 samples of each side beside 100 real images (``*_grids.png``) under
benchmarks/results/generative_quality/.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
RUNS = os.path.join(RESULTS, "generative_quality")
AE_MSE_RATIO, AE_GAIN_DB, GAN_MIN_SHARE, GAN_FD_RATIO = 1.05, 6.0, 0.03, 1.5
CLASSIFIER_RECIPE = {"arch": "conv32k3-relu-maxpool2-conv64k3-relu-maxpool2-dense128-relu-dense10",
                     "data": "fashion-mnist train 60000 /255", "epochs": 3, "batch": 128, "optimizer": "adam 1e-3",
                     "seed": 0}


# ---- pure functions (tested in tests/test_generative_quality.py) -------------------------------------
def sqrtm_psd(a):
    """The symmetric square root of a symmetric positive semi-definite matrix a (d, d): V diag(sqrt(w)) V^T
    from its eigendecomposition (negative rounding-error eigenvalues clipped to 0), float64."""
    a = np.asarray(a, np.float64)
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Frechet (2-Wasserstein) distance squared between N(mu1, sigma1) and N(mu2, sigma2) (Dowson &
    Landau 1982; the FID of Heusel et al. 2017): |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2)
    - 2 tr((sigma1^{1/2} sigma2 sigma1^{1/2})^{1/2}); mu (d,), sigma (d, d) symmetric PSD. NumPy only."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"frechet_distance: shapes must be (d,) and (d, d), got {mu1.shape}, {sigma1.shape}, "
                         f"{mu2.shape}, {sigma2.shape}")
    r1 = sqrtm_psd(sigma1)
    m = r1 @ sigma2 @ r1
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def feature_stats(features):
    """(mean (d,), unbiased covariance (d, d)) of features (n, d), float64."""
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def class_shares(predicted, classes: int = 10):
    """The share of each class 0..classes-1 among the predicted labels (n,): float64 (classes,), sums to 1."""
    p = np.asarray(predicted).ravel()
    return np.bincount(p, minlength=classes)[:classes] / max(1, p.size)


# ---- data --------------------------------------------------------------------------------------------
def load(limit=None):
    """Fashion-MNIST as the job reads it: float32 / 255, the first ``limit`` training and test images."""
    from fastann.datasets import fashion_mnist

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    return (x_train.astype(np.float32) / 255.0, y_train), (x_test.astype(np.float32) / 255.0, y_test)


def fastann_command(model, a, out):
    """The job's command line writing its files under the prefix ``out``."""
    cmd = [sys.executable, "-m", "fastann", "train", "--model", model, "--seed", str(a.seed), "--threads", "1",
           "--verbose", "2", "--metrics-out", out + ".json", "--plot", out + ".png"]
    if model == "autoencoder":
        cmd += ["--noise", str(a.noise)]
    else:
        cmd += ["--samples-out", out + "_samples.npy"]
    if a.epochs:
        cmd += ["--epochs", str(a.epochs)]
    if a.limit:
        cmd += ["--limit", str(a.limit)]
    return cmd


def run_pair(fastann_cmd, torch_cmd, prefix):
    """Start both commands (1 thread each), wait for both; logs to prefix_{fastann,torch}.log. Raises
    RuntimeError naming the side that failed."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (os.path.join(ROOT, "python"), HERE,
                                                      os.environ.get("PYTHONPATH")) if p))
    procs = {}
    for side, cmd in (("fastann", fastann_cmd), ("torch", torch_cmd)):
        log = open(f"{prefix}_{side}.log", "w")
        print(f"[{side}] {' '.join(cmd)}", flush=True)
        procs[side] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT), log)
    return procs


def wait_pair(procs, prefix):
    t0 = time.perf_counter()
    for side, (p, log) in procs.items():
        rc = p.wait()
        log.close()
        print(f"[{side}] exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            raise RuntimeError(f"the {side} side failed (exit {rc}); see {prefix}_{side}.log")


def tag(a):
    return f"e{a.epochs or 10}_n{a.limit or 'all'}_s{a.seed}"


# ---- autoencoder ---------------------------------------------------------------------------------------
def worker_torch_autoencoder(a):
    """The PyTorch twin of the autoencoder job; writes a.out (JSON)."""
    import _torch_generative as tg
    from fastann._jobs.generative import add_noise, psnr_db

    (x_train, _), (x_test, _) = load(a.limit)
    x_train_noisy = add_noise(x_train, a.noise, np.random.default_rng(a.seed))
    x_test_noisy = add_noise(x_test, a.noise, np.random.default_rng([a.seed, 1]))
    n_fit = int(len(x_train) * (1.0 - 0.1))
    epochs = a.epochs or 10
    model, clock, losses, val_losses = tg.train_autoencoder(
        x_train_noisy[:n_fit], x_train[:n_fit], epochs, 128, 1e-3, "cosine", a.seed, threads=1,
        val=(x_train_noisy[n_fit:], x_train[n_fit:]))
    recon = tg.predict_autoencoder(model, x_test_noisy).numpy()[:, 0]
    test_mse = float(np.mean((recon.astype(np.float64) - x_test) ** 2))
    noisy_mse = float(np.mean((x_test_noisy.astype(np.float64) - x_test) ** 2))
    with open(a.out, "w") as f:
        json.dump({"test_mse": test_mse, "noisy_mse": noisy_mse, "test_psnr_db": psnr_db(test_mse),
                   "noisy_psnr_db": psnr_db(noisy_mse), "loss": losses, "val_loss": val_losses,
                   "epoch_seconds": clock.wall, "train_samples": n_fit, "epochs": epochs}, f, indent=1)


def cmd_autoencoder(a):
    os.makedirs(RUNS, exist_ok=True)
    prefix = os.path.join(RUNS, f"ae_{tag(a)}_noise{a.noise}")
    torch_cmd = [sys.executable, os.path.abspath(__file__), "worker-torch-autoencoder", "--seed", str(a.seed),
                 "--noise", str(a.noise), "--out", prefix + "_torch.json"]
    torch_cmd += (["--epochs", str(a.epochs)] if a.epochs else []) + (["--limit", str(a.limit)] if a.limit else [])
    wait_pair(run_pair(fastann_command("autoencoder", a, prefix + "_fastann"), torch_cmd, prefix), prefix)
    with open(prefix + "_fastann.json") as f:
        fa = json.load(f)
    with open(prefix + "_torch.json") as f:
        to = json.load(f)
    ratio = fa["test_mse"] / to["test_mse"]
    gain = fa["test_psnr_db"] - fa["noisy_psnr_db"]
    result = {
        "what": "denoising autoencoder, fastann job vs PyTorch twin", "epochs": a.epochs or 10, "noise": a.noise,
        "seed": a.seed, "limit": a.limit,
        "fastann_command": " ".join(fastann_command("autoencoder", a, prefix + "_fastann")[1:]),
        "fastann": {k: fa[k] for k in ("test_mse", "noisy_mse", "test_psnr_db", "noisy_psnr_db", "epoch_seconds")}
        | {"val_loss": fa["history"].get("val_loss")},
        "torch": {k: to[k] for k in ("test_mse", "noisy_mse", "test_psnr_db", "noisy_psnr_db", "epoch_seconds",
                                     "val_loss")},
        "mse_ratio": ratio, "psnr_gain_db": gain,
        "pass_mse_ratio": ratio <= AE_MSE_RATIO, "pass_psnr_gain": gain >= AE_GAIN_DB,
    }
    print(f"fastann: test MSE {fa['test_mse']:.5f}  PSNR {fa['test_psnr_db']:.2f} dB  (noisy input "
          f"{fa['noisy_psnr_db']:.2f} dB, +{gain:.2f} dB: {'PASS' if gain >= AE_GAIN_DB else 'FAIL'} vs +6 dB)")
    print(f"PyTorch: test MSE {to['test_mse']:.5f}  PSNR {to['test_psnr_db']:.2f} dB  (noisy input "
          f"{to['noisy_psnr_db']:.2f} dB, +{to['test_psnr_db'] - to['noisy_psnr_db']:.2f} dB)")
    print(f"MSE ratio fastann / PyTorch: {ratio:.4f} ({'PASS' if ratio <= AE_MSE_RATIO else 'FAIL'} vs <= 1.05)")
    save(f"generative_quality_autoencoder_{tag(a)}.json", result)


# ---- the evaluator classifier --------------------------------------------------------------------------
def classifier_net():
    """The evaluator: conv32-pool-conv64-pool-dense128-dense10 (NCHW, (N, 1, 28, 28) in [0, 1]);
    ``features`` gives the 128 penultimate activations."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(64 * 5 * 5, 128), nn.ReLU())
            self.head = nn.Linear(128, 10)

        def features(self, x):
            return self.body(x)

        def forward(self, x):
            return self.head(self.body(x))

    torch.manual_seed(CLASSIFIER_RECIPE["seed"])
    return Net()


def classifier():
    """The trained evaluator (loaded from its cache file or trained and cached) and its test accuracy."""
    import torch

    key = hashlib.sha256(json.dumps(CLASSIFIER_RECIPE, sort_keys=True).encode()).hexdigest()[:12]
    path = os.path.join(RESULTS, f"fmnist_classifier_{key}.pt")
    net = classifier_net()
    (x_train, y_train), (x_test, y_test) = load()
    if os.path.exists(path):
        net.load_state_dict(torch.load(path))
    else:
        r = CLASSIFIER_RECIPE
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        xt = torch.from_numpy(x_train).reshape(-1, 1, 28, 28)
        yt = torch.from_numpy(y_train.astype(np.int64))
        gen = torch.Generator().manual_seed(r["seed"])
        t0 = time.perf_counter()
        for epoch in range(r["epochs"]):
            net.train()
            perm = torch.randperm(len(xt), generator=gen)
            for lo in range(0, len(xt), r["batch"]):
                idx = perm[lo:lo + r["batch"]]
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
                opt.step()
            print(f"classifier epoch {epoch + 1}/{r['epochs']} ({time.perf_counter() - t0:.0f} s)", flush=True)
        os.makedirs(RESULTS, exist_ok=True)
        torch.save(net.state_dict(), path)
    _, logits = embed(net, x_test)
    accuracy = float(np.mean(logits.argmax(1) == y_test))
    return net, accuracy, path


def embed(net, images, batch=1000):
    """(penultimate features (n, 128) float64, logits (n, 10)) of images (n, 28, 28) in [0, 1]."""
    import torch

    net.eval()
    feats, logits = [], []
    with torch.no_grad():
        for lo in range(0, len(images), batch):
            f = net.features(torch.from_numpy(np.ascontiguousarray(images[lo:lo + batch], np.float32))
                             .reshape(-1, 1, 28, 28))
            feats.append(f.numpy().astype(np.float64))
            logits.append(net.head(f).numpy())
    return np.concatenate(feats), np.concatenate(logits)


def score(net, samples, test_stats):
    """Class shares and the Frechet distance to the test images' features of samples (n, 28, 28)."""
    feats, logits = embed(net, samples)
    shares = class_shares(logits.argmax(1))
    return {"class_shares": [float(s) for s in shares], "min_share": float(shares.min()),
            "frechet_distance": frechet_distance(*feature_stats(feats), *test_stats),
            "mean_pixel": float(np.mean(samples))}


def cmd_classifier(a):
    import torch

    torch.set_num_threads(a.threads)
    _, accuracy, path = classifier()
    print(f"evaluator classifier {path}: test accuracy {accuracy:.4f}")
    return accuracy


# ---- GAN -----------------------------------------------------------------------------------------------
def worker_torch_gan(a):
    """The PyTorch twin of the GAN job; writes a.out + '.json' and a.out + '_samples.npy'."""
    import _torch_generative as tg

    (x_train, _), _ = load(a.limit)
    epochs = a.epochs or 10
    g, clock, d_losses, g_losses = tg.train_gan(x_train, epochs, 128, 2e-4, "cosine", a.seed, threads=1)
    np.save(a.out + "_samples.npy", tg.gan_samples(g, a.seed))
    with open(a.out + ".json", "w") as f:
        json.dump({"d_loss": d_losses, "g_loss": g_losses, "epoch_seconds": clock.wall, "epochs": epochs,
                   "train_samples": (len(x_train) // 128) * 128}, f, indent=1)


def cmd_gan(a):
    import torch

    os.makedirs(RUNS, exist_ok=True)
    prefix = os.path.join(RUNS, f"gan_{tag(a)}")
    procs = None
    if not a.score_only:
        torch_cmd = [sys.executable, os.path.abspath(__file__), "worker-torch-gan", "--seed", str(a.seed),
                     "--out", prefix + "_torch"]
        torch_cmd += (["--epochs", str(a.epochs)] if a.epochs else []) + (["--limit", str(a.limit)] if a.limit
                                                                            else [])
        procs = run_pair(fastann_command("gan", a, prefix + "_fastann"), torch_cmd, prefix)
    torch.set_num_threads(1)
    net, accuracy, path = classifier()           # trained meanwhile if not cached
    print(f"evaluator classifier: test accuracy {accuracy:.4f} ({path})", flush=True)
    (x_train, _), (x_test, _) = load()
    test_stats = feature_stats(embed(net, x_test)[0])
    if procs:
        wait_pair(procs, prefix)
    real = x_train[np.random.default_rng([a.seed, 3]).choice(len(x_train), 1000, replace=False)]
    scores = {side: score(net, np.load(f"{prefix}_{side}_samples.npy"), test_stats)
              for side in ("fastann", "torch")}
    scores["real_train_1000"] = score(net, real, test_stats)
    logs = {}
    for side in ("fastann", "torch"):
        with open(f"{prefix}_{side}.json") as f:
            m = json.load(f)
        logs[side] = {k: m[k] for k in ("d_loss", "g_loss", "epoch_seconds")}
    ratio = scores["fastann"]["frechet_distance"] / scores["torch"]["frechet_distance"]
    result = {
        "what": "DCGAN samples, fastann job vs PyTorch twin, scored by a Fashion-MNIST classifier",
        "epochs": a.epochs or 10, "limit": a.limit, "seed": a.seed,
        "fastann_command": " ".join(fastann_command("gan", a, prefix + "_fastann")[1:]),
        "classifier": CLASSIFIER_RECIPE | {"test_accuracy": accuracy, "weights": os.path.basename(path)},
        "scores": scores, "training": logs, "fd_ratio": ratio,
        "pass_min_share": scores["fastann"]["min_share"] >= GAN_MIN_SHARE,
        "pass_fd_ratio": ratio <= GAN_FD_RATIO,
    }
    for side, s in scores.items():
        print(f"{side:>16}: FD {s['frechet_distance']:8.3f}   min class share {s['min_share']:.3f}   shares "
              + " ".join(f"{x:.3f}" for x in s["class_shares"]))
    print(f"min share fastann {scores['fastann']['min_share']:.3f} "
          f"({'PASS' if result['pass_min_share'] else 'FAIL'} vs >= 0.03); FD ratio fastann / PyTorch {ratio:.3f} "
          f"({'PASS' if result['pass_fd_ratio'] else 'FAIL'} vs <= 1.5)")
    save(f"generative_quality_gan_{tag(a)}.json", result)
    grids(prefix + "_grids.png", {f"fastann (FD {scores['fastann']['frechet_distance']:.1f})":
                                  np.load(f"{prefix}_fastann_samples.npy"),
                                  f"PyTorch (FD {scores['torch']['frechet_distance']:.1f})":
                                  np.load(f"{prefix}_torch_samples.npy"),
                                  f"real training images (FD {scores['real_train_1000']['frechet_distance']:.1f})":
                                  real})


def tile(images, rows=10, cols=10):
    """The first rows * cols images (n, 28, 28) as one (rows * 28, cols * 28) picture."""
    h, w = images.shape[1:]
    return images[:rows * cols].reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)


def grids(path, named_images):
    """A row of 10x10 grids (the first 100 images of each set), titled by name; skipped without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no grid picture")
        return
    fig, axes = plt.subplots(1, len(named_images), figsize=(4.2 * len(named_images), 4.6))
    for ax, (name, images) in zip(axes, named_images.items()):
        ax.imshow(tile(images), cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


def save(name, result):
    sys.path.insert(0, HERE)
    import _machine

    result["machine"] = _machine.lscpu()
    result["date_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    path = os.path.join(RESULTS, name)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("autoencoder", "gan", "classifier", "worker-torch-autoencoder",
                                       "worker-torch-gan"))
    p.add_argument("--epochs", type=int, default=None, help="both sides (default: the job's, 10)")
    p.add_argument("--limit", type=int, default=None, help="the first N training (and test) images, both sides")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.3, help="autoencoder: the noise stddev")
    p.add_argument("--threads", type=int, default=1, help="classifier: torch threads")
    p.add_argument("--score-only", action="store_true", help="gan: rescore the sample files of an earlier run")
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    sys.path.insert(0, HERE)
    {"autoencoder": cmd_autoencoder, "gan": cmd_gan, "classifier": cmd_classifier,
     "worker-torch-autoencoder": worker_torch_autoencoder, "worker-torch-gan": worker_torch_gan}[a.command](a)


if __name__ == "__main__":
    main()
