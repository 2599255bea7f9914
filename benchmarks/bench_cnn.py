"""Training throughput of the default CNN (``fastann train --model cnn``): fastann against PyTorch CPU (NCHW
and channels_last), at 1 and 2 threads, in one run.

    python benchmarks/bench_cnn.py            # 25600-sample epochs (200 steps), median of 3 after 1 warm-up
    python benchmarks/bench_cnn.py --quick    # 6400-sample epochs (50 steps)
    python benchmarks/bench_cnn.py --threads 2 --n 54000   # one thread count, full Fashion-MNIST epochs

The model: Conv(1->32, 3x3, same, no bias)-BN-ReLU-MaxPool2 - Conv(32->64, 3x3, same, no bias)-BN-ReLU-MaxPool2 -
Flatten - Dense(128)-ReLU - Dropout(0.25) - Dense(10), softmax cross-entropy, Adam lr 1e-3, batch 128, float32,
on synthetic 28x28 images (uniform pixels, random labels: the speed does not depend on the values).

Every contender runs in its own fresh subprocess (thread pools cannot leak between them), shuffles once per
epoch and gathers each batch by index, and reports the median samples/s over the timed epochs:

* fastann: ``Sequential.fit`` exactly as ``fastann train --model cnn`` runs it (``fastann.cli.build_cnn``;
  the first conv skips its input gradient), threads via ``fastann.set_num_threads``; once without metrics
  and once with the "accuracy" metric the CLI shows;
* torch-nchw / torch-channels_last: the same layers in ``torch.nn`` (Conv2d(bias=False), BatchNorm2d with
  eps=1e-3 and momentum=0.01, the Keras defaults), ``nn.CrossEntropyLoss``, ``torch.optim.Adam(fused=True)``,
  ``torch.set_num_threads``; channels_last converts the model and each batch with
  ``memory_format=torch.channels_last``, PyTorch's fastest CPU layout for convolutions (oneDNN).
  Skipped with a message when torch is not installed.

Ratios are fastann's samples/s over the faster PyTorch layout at the same thread count. Each contender also
reports samples per CPU-second of its process (``time.process_time``): on a busy shared machine wall-clock
rates fall with the load while CPU time barely moves, so at 1 thread that ratio is the robust one (at 2
threads it also counts the CPU that OpenMP threads burn spin-waiting). Results go to
benchmarks/results/bench_cnn.json. Run it on an otherwise idle machine for wall-clock numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 128
LR = 1e-3


def make_data(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


# ---- workers (each runs in its own subprocess and prints one JSON line) ------------------------------
def worker_fastann(n, epochs, threads, with_metric):
    import fastann
    from fastann.cli import build_cnn

    fastann.set_num_threads(threads)
    x, y = make_data(n)
    model = build_cnn((28, 28), 10, seed=0)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=LR), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"] if with_metric else None)
    cpu = []  # process CPU seconds per epoch, measured by a callback around each epoch
    clock = fastann.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: cpu.append(-time.process_time()),
        on_epoch_end=lambda e, logs: cpu.__setitem__(-1, cpu[-1] + time.process_time()))
    hist = model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[clock])
    return hist.epoch_seconds[1:], cpu[1:], hist.history["loss"][-1], {"simd": fastann.build_info()["simd"]}


def worker_torch(n, epochs, threads, channels_last):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = make_data(n)
    xt, yt = torch.from_numpy(x).reshape(n, 1, 28, 28), torch.from_numpy(y)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding="same", bias=False), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding="same", bias=False), nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    times, cpu, loss = [], [], None
    for epoch in range(epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n)
        for lo in range(0, n, BATCH):
            idx = perm[lo:lo + BATCH]
            xb, yb = xt[idx].contiguous(memory_format=fmt), yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times[1:], cpu[1:], float(loss.detach()), {"torch": torch.__version__}


WORKERS = {
    "fastann": lambda a: worker_fastann(a.n, a.epochs, a.threads, False),
    "fastann+accuracy": lambda a: worker_fastann(a.n, a.epochs, a.threads, True),
    "torch-nchw": lambda a: worker_torch(a.n, a.epochs, a.threads, False),
    "torch-channels_last": lambda a: worker_torch(a.n, a.epochs, a.threads, True),
}
TORCH = ("torch-nchw", "torch-channels_last")


def run_worker(args):
    times, cpu, loss, extra = WORKERS[args.worker](args)
    print(json.dumps({"epoch_seconds": times, "epoch_cpu_seconds": cpu, "final_loss": loss, **extra}))


# ---- driver ----------------------------------------------------------------------------------------
def _env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    src = os.path.join(os.path.dirname(HERE), "python")
    if os.path.isdir(os.path.join(src, "fastann")):  # a source checkout: use its in-place build if present
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def measure(worker, threads, n, epochs):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--threads", str(threads),
           "--n", str(n), "--epochs", str(epochs)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(threads), timeout=3600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"rc={out.returncode}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["samples_per_s"] = n / statistics.median(res["epoch_seconds"])
    res["samples_per_cpu_s"] = n / statistics.median(res["epoch_cpu_seconds"])
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="6400-sample epochs")
    p.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default 1 2)")
    p.add_argument("--n", type=int, default=None, help="samples per epoch")
    p.add_argument("--epochs", type=int, default=None, help="timed epochs (after one warm-up)")
    p.add_argument("--only", nargs="*", choices=sorted(WORKERS), default=None, help="run these contenders only")
    p.add_argument("--worker", choices=sorted(WORKERS), default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join(HERE, "results", "bench_cnn.json"))
    a = p.parse_args()
    if a.worker:
        a.threads = a.threads[0]
        return run_worker(a)

    n = a.n or (6400 if a.quick else 25600)
    epochs = a.epochs or 3
    threads_list = a.threads or [1, 2]
    contenders = list(a.only or WORKERS)
    try:
        import torch  # noqa: F401
    except ImportError:
        contenders = [c for c in contenders if c not in TORCH]
        print("(torch is not installed: PyTorch peers skipped; pip install '.[bench]')")
    print(f"CNN Conv32-BN-ReLU-Pool-Conv64-BN-ReLU-Pool-Dense128-Dropout-Dense10, Adam, batch {BATCH}, float32; "
          f"{n} samples per epoch, median of {epochs} epochs after 1 warm-up; each contender in a fresh "
          "subprocess.")
    results = {"n": n, "epochs": epochs, "batch": BATCH, "runs": {}}
    for threads in threads_list:
        print(f"\n== {threads} thread(s) ==")
        print(f"{'contender':<22}{'samples/s':>12}{'s/epoch':>10}{'samples/cpu-s':>15}{'final loss':>12}")
        row = {}
        for c in contenders:
            r = measure(c, threads, n, epochs)
            row[c] = r
            if "error" in r:
                print(f"{c:<22}  failed: {r['error']}")
            else:
                s = statistics.median(r["epoch_seconds"])
                print(f"{c:<22}{r['samples_per_s']:>12,.0f}{s:>10.2f}{r['samples_per_cpu_s']:>15,.0f}"
                      f"{r['final_loss']:>12.4f}", flush=True)
        ok = [c for c in TORCH if c in row and "error" not in row[c]]
        if ok:
            best = max(ok, key=lambda c: row[c]["samples_per_s"])
            best_cpu = max(ok, key=lambda c: row[c]["samples_per_cpu_s"])
            for c in ("fastann", "fastann+accuracy"):
                if c in row and "error" not in row[c]:
                    r = row[c]
                    r["ratio_to_best_torch"] = r["samples_per_s"] / row[best]["samples_per_s"]
                    r["ratio_to_best_torch_cpu"] = r["samples_per_cpu_s"] / row[best_cpu]["samples_per_cpu_s"]
                    print(f"{c}: {r['ratio_to_best_torch']:.2f}x {best} (wall clock), "
                          f"{r['ratio_to_best_torch_cpu']:.2f}x {best_cpu} per CPU-second")
        results["runs"][str(threads)] = row
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
