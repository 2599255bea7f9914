"""Training speed of the generative jobs (``fastann train --model autoencoder`` and ``--model gan``): fastann
against the same models and recipe in PyTorch CPU (NCHW and channels_last), at 1 and 2 threads, in one run.

    python benchmarks/bench_generative.py                  # both jobs, 1 and 2 threads
    python benchmarks/bench_generative.py --job gan --threads 1 --quick

* ``--job autoencoder``: the convolutional denoising autoencoder of ``fastann._jobs.generative`` (stride-2
  Conv2D encoder, stride-2 Conv2DTranspose decoder, 74,497 parameters), binary cross-entropy, Adam 1e-3,
  batch 128; epochs of ``--n`` images (default 6400, 50 steps). fastann runs ``Sequential.fit`` (channels_last,
  as the job); PyTorch the twin of ``_torch_generative.autoencoder`` with ``BCEWithLogitsLoss`` and
  ``Adam(fused=True)``.
* ``--job gan``: one DCGAN training step per batch of 128 real images, as the job runs it (G forward in
  training mode on 128 z, D trained on 256 images, G trained through the frozen D on 128 new z; fastann with
  ``train_on_batch``, ``fastann._jobs.gan.run_gan``), Adam 2e-4 beta_1 0.5; epochs of ``--n`` real images
  (default 3200, 25 steps). The rate counts real images per second (the unit of an epoch).

The learning rate stays constant here (the jobs' default cosine decay costs both sides one rate update per
step). The data are random (the speed does not depend on the values). Each contender runs in its own fresh
subprocess and reports the median over the timed epochs after one warm-up epoch, in samples per second (wall
clock) and per CPU-second of its process; the ratio is fastann's rate over the faster PyTorch layout's. The
header gives the CPU (``lscpu``). Results go to benchmarks/results/bench_generative.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from types import SimpleNamespace

import _machine
import _training_bench as tb

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 128


def make_images(n, seed=0):
    import numpy as np

    return np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)


# ---- workers (each runs in its own subprocess and prints one JSON line) ------------------------------
def worker_fastann_autoencoder(a):
    import fastann
    from fastann._jobs.generative import build_autoencoder

    fastann.set_num_threads(a.threads)
    x = make_images(a.n)
    noisy = make_images(a.n, seed=1)
    model = build_autoencoder((28, 28, 1), 32, seed=0)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=1e-3), loss="binary_crossentropy")
    cpu = []
    clock = fastann.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: cpu.append(-time.process_time()),
        on_epoch_end=lambda e, logs: cpu.__setitem__(-1, cpu[-1] + time.process_time()))
    hist = model.fit(noisy[..., None], x[..., None], batch_size=BATCH, epochs=a.epochs + 1, verbose=0,
                     shuffle=True, callbacks=[clock])
    return hist.epoch_seconds[1:], cpu[1:], hist.history["loss"][-1], {"simd": fastann.build_info()["simd"]}


def worker_torch_autoencoder(a, channels_last):
    import torch

    import _torch_generative as tg

    x, noisy = make_images(a.n), make_images(a.n, seed=1)
    _, clock, losses, _ = tg.train_autoencoder(noisy, x, a.epochs + 1, BATCH, 1e-3, "constant", 0,
                                               channels_last=channels_last, threads=a.threads)
    return clock.wall[1:], clock.cpu[1:], losses[-1], {"torch": torch.__version__}


def worker_fastann_gan(a):
    import fastann
    from fastann._jobs import gan

    fastann.set_num_threads(a.threads)
    args = SimpleNamespace(seed=0, batch_size=BATCH, filters=64, epochs=a.epochs + 1, verbose=0, device="cpu")
    r = gan.run_gan(args, make_images(a.n), lambda steps: fastann.optimizers.Adam(2e-4, beta_1=0.5))
    return (r["epoch_seconds"][1:], r["epoch_cpu_seconds"][1:], r["g_loss"][-1],
            {"simd": fastann.build_info()["simd"]})


def worker_torch_gan(a, channels_last):
    import torch

    import _torch_generative as tg

    _, clock, _, g_losses = tg.train_gan(make_images(a.n), a.epochs + 1, BATCH, 2e-4, "constant", 0,
                                         channels_last=channels_last, threads=a.threads)
    return clock.wall[1:], clock.cpu[1:], g_losses[-1], {"torch": torch.__version__}


JOBS = {
    "autoencoder": {
        "fastann-ae": worker_fastann_autoencoder,
        "torch-ae-nchw": lambda a: worker_torch_autoencoder(a, False),
        "torch-ae-channels_last": lambda a: worker_torch_autoencoder(a, True),
    },
    "gan": {
        "fastann-gan": worker_fastann_gan,
        "torch-gan-nchw": lambda a: worker_torch_gan(a, False),
        "torch-gan-channels_last": lambda a: worker_torch_gan(a, True),
    },
}
ALL_WORKERS = {name: w for job in JOBS.values() for name, w in job.items()}
DEFAULT_N = {"autoencoder": 6400, "gan": 3200}


# ---- driver ----------------------------------------------------------------------------------------
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", choices=sorted(JOBS), nargs="*", default=None, help="jobs (default both)")
    p.add_argument("--quick", action="store_true", help="half-size epochs")
    p.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default 1 2)")
    p.add_argument("--n", type=int, default=None, help="images per epoch (default 6400 autoencoder, 3200 gan)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up)")
    p.add_argument("--worker", choices=sorted(ALL_WORKERS), default=None, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join(HERE, "results", "bench_generative.json"))
    a = p.parse_args()
    if a.worker:
        a.threads = a.threads[0] if a.threads else 1
        return tb.run_worker(ALL_WORKERS, a)
    if a.n is not None and a.n < BATCH:
        p.error(f"--n must be at least the batch size {BATCH}, got {a.n}")
    if a.epochs < 1:
        p.error(f"--epochs must be >= 1, got {a.epochs}")
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("(torch is not installed: PyTorch peers skipped; pip install '.[bench]')")
    sys.path.insert(0, tb.source_python() or "")
    import fastann

    lines, machine = _machine.describe(fastann)
    print("\n".join(lines))
    results = {"machine": machine, "batch": BATCH, "epochs": a.epochs, "runs": {}}
    for job in a.job or sorted(JOBS):
        n = a.n or (DEFAULT_N[job] // 2 if a.quick else DEFAULT_N[job])
        contenders = [c for c in JOBS[job] if have_torch or not c.startswith("torch")]
        print(f"\n{job}: {n} images per epoch, batch {BATCH}, median of {a.epochs} epochs after 1 warm-up; "
              "each contender in a fresh subprocess.")
        for threads in a.threads or [1, 2]:
            print(f"\n== {job}, {threads} thread(s) ==")
            row = tb.measure_row(__file__, contenders, threads, n, a.epochs, "cpu", name_width=26,
                                 epoch_ms=False, timeout=3600)
            tb.ratios_to_best_peer(row, [c for c in row if c.startswith("torch")],
                                   [c for c in row if c.startswith("fastann")])
            results["runs"][f"{job}/{threads}"] = dict(row, n=n)
    tb.write_results(a.out, results)


if __name__ == "__main__":
    main()
