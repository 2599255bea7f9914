"""Training throughput of the default CNN (``fastann train --model cnn``): fastann against PyTorch CPU (NCHW
and channels_last), at 1 and 2 threads, in one run; with ``--device cuda``, fastann on the GPU against
PyTorch CUDA.

    python benchmarks/bench_cnn.py            # 25600-sample epochs (200 steps), median of 3 after 1 warm-up
    python benchmarks/bench_cnn.py --quick    # 6400-sample epochs (50 steps)
    python benchmarks/bench_cnn.py --threads 2 --n 54000   # one thread count, full Fashion-MNIST epochs
    python benchmarks/bench_cnn.py --device cuda   # GPU: fastann vs PyTorch CUDA (exit status 2 without a GPU)

The model (``--arch bn``, the default): Conv(1->32, 3x3, same, no bias)-BN-ReLU-MaxPool2 - Conv(32->64, 3x3, same,
no bias)-BN-ReLU-MaxPool2 - Flatten - Dense(128)-ReLU - Dropout(0.25) - Dense(10), softmax cross-entropy, Adam lr
1e-3, batch 128, float32, on synthetic 28x28 images (uniform pixels, random labels: the speed does not depend on
the values).

``--arch nobn``: the CNN a user writes without batch normalization, in Keras's default channels_last:
Conv2D(32, 3, padding="same", activation="relu") - MaxPooling2D - Conv2D(64, 3, padding="same",
activation="relu") - MaxPooling2D - Flatten - Dense(128, relu) - Dropout(0.25) - Dense(10, softmax) (conv
biases on). fastann runs it as written (``fastann-nobn``: each Conv2D(relu) -> MaxPooling2D a fused stage,
``models/_fusion.py``), with fusion off (``fastann-nobn-unfused``: ``Sequential.fuse_layers = False``) and in
channels_first (``fastann-nobn-cf``); PyTorch the same layers (Conv2d with bias, ReLU, MaxPool2d).

Every contender runs in its own fresh subprocess (thread pools cannot leak between them), shuffles once per
epoch and gathers each batch by index, and reports the median samples/s over the timed epochs:

* fastann: ``Sequential.fit`` exactly as ``fastann train --model cnn`` runs it (``fastann.cli.build_cnn``;
  the first conv skips its input gradient), threads via ``fastann.set_num_threads``; once without metrics
  and once with the "accuracy" metric the CLI shows. Adam keeps a constant 1e-3 here, as the PyTorch
  contenders do; the CLI's default cosine schedule adds one Python call per step;
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

``--device cuda`` runs the same contenders on GPU 0 instead (no thread settings): fastann compiles the
model with ``device="cuda"`` and ``fit`` copies each batch from the NumPy data to the GPU, as
``fastann train --model cnn --device cuda`` does; torch keeps model and data on the GPU (the batch gather runs
there too) with TF32 off (``torch.backends.cuda.matmul.allow_tf32`` and ``torch.backends.cudnn.allow_tf32``
False: fp32 math on both sides; cuDNN picks its algorithms as by default). Each epoch is timed between GPU
synchronizations (``fastann.cuda.synchronize`` / ``torch.cuda.synchronize``); the ratio is fastann's median
samples/s over the faster PyTorch CUDA layout's. When fastann, CuPy or PyTorch cannot use a GPU, the script
prints why and exits with status 2. Results go to benchmarks/results/bench_cnn_cuda.json.
"""
from __future__ import annotations

import argparse
import os
import time

import _training_bench as tb

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 128
LR = 1e-3


def make_data(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


# ---- workers (each runs in its own subprocess and prints one JSON line) ------------------------------
def worker_fastann(n, epochs, threads, with_metric, device):
    import fastann
    from fastann.cli import build_cnn

    if device == "cpu":
        fastann.set_num_threads(threads)
    x, y = make_data(n)
    model = build_cnn((28, 28), 10, seed=0)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=LR), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"] if with_metric else None, device=device)
    if device == "cuda":  # time each epoch between GPU synchronizations (kernels run asynchronously)
        return tb.fit_timed_on_gpu(fastann, model, x, y, epochs, BATCH)
    cpu = []  # process CPU seconds per epoch, measured by a callback around each epoch
    clock = fastann.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: cpu.append(-time.process_time()),
        on_epoch_end=lambda e, logs: cpu.__setitem__(-1, cpu[-1] + time.process_time()))
    hist = model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[clock])
    return hist.epoch_seconds[1:], cpu[1:], hist.history["loss"][-1], {"simd": fastann.build_info()["simd"]}


def build_nobn(fastann, data_format):
    """The no-batch-norm CNN of ``--arch nobn`` in ``data_format``."""
    from fastann import layers

    f = data_format
    shape = (28, 28, 1) if f == "channels_last" else (1, 28, 28)
    return fastann.Sequential([
        layers.Input(shape),
        layers.Conv2D(32, 3, padding="same", activation="relu", data_format=f), layers.MaxPooling2D(2, data_format=f),
        layers.Conv2D(64, 3, padding="same", activation="relu", data_format=f), layers.MaxPooling2D(2, data_format=f),
        layers.Flatten(data_format=f), layers.Dense(128, activation="relu"), layers.Dropout(0.25),
        layers.Dense(10, activation="softmax")], seed=0)


def worker_fastann_nobn(n, epochs, threads, data_format, fuse):
    import fastann

    fastann.set_num_threads(threads)
    x, y = make_data(n)
    x = x.reshape(n, 28, 28, 1) if data_format == "channels_last" else x.reshape(n, 1, 28, 28)
    model = build_nobn(fastann, data_format)
    model.fuse_layers = fuse
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=LR), loss="sparse_categorical_crossentropy")
    cpu = []
    clock = fastann.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: cpu.append(-time.process_time()),
        on_epoch_end=lambda e, logs: cpu.__setitem__(-1, cpu[-1] + time.process_time()))
    hist = model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[clock])
    fused = sum(type(s).__name__ == "FusedConvReLUPool" for _, s in model._stages)
    return hist.epoch_seconds[1:], cpu[1:], hist.history["loss"][-1], {"simd": fastann.build_info()["simd"],
                                                                        "fused_stages": fused}


def worker_torch(n, epochs, threads, channels_last, device, bn=True):
    import torch
    from torch import nn

    if device == "cuda":  # fp32 math like fastann's kernels, not TF32 tensor cores
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(threads)
        sync = lambda: None  # noqa: E731
    torch.manual_seed(0)
    x, y = make_data(n)
    xt, yt = torch.from_numpy(x).reshape(n, 1, 28, 28).to(device), torch.from_numpy(y).to(device)
    if bn:
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding="same", bias=False), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding="same", bias=False), nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=fmt)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    times, cpu, loss = [], [], None
    for epoch in range(epochs + 1):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n, device=device)
        for lo in range(0, n, BATCH):
            idx = perm[lo:lo + BATCH]
            xb, yb = xt[idx].contiguous(memory_format=fmt), yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    extra = {"torch": torch.__version__}
    if device == "cuda":
        extra["gpu"] = torch.cuda.get_device_name(0)
    return times[1:], cpu[1:], float(loss.detach()), extra


WORKERS = {
    "fastann": lambda a: worker_fastann(a.n, a.epochs, a.threads, False, a.device),
    "fastann+accuracy": lambda a: worker_fastann(a.n, a.epochs, a.threads, True, a.device),
    "torch-nchw": lambda a: worker_torch(a.n, a.epochs, a.threads, False, a.device),
    "torch-channels_last": lambda a: worker_torch(a.n, a.epochs, a.threads, True, a.device),
}
TORCH = ("torch-nchw", "torch-channels_last")
WORKERS_NOBN = {
    "fastann-nobn": lambda a: worker_fastann_nobn(a.n, a.epochs, a.threads, "channels_last", True),
    "fastann-nobn-unfused": lambda a: worker_fastann_nobn(a.n, a.epochs, a.threads, "channels_last", False),
    "fastann-nobn-cf": lambda a: worker_fastann_nobn(a.n, a.epochs, a.threads, "channels_first", True),
    "torch-nobn-nchw": lambda a: worker_torch(a.n, a.epochs, a.threads, False, "cpu", bn=False),
    "torch-nobn-channels_last": lambda a: worker_torch(a.n, a.epochs, a.threads, True, "cpu", bn=False),
}
TORCH_NOBN = ("torch-nobn-nchw", "torch-nobn-channels_last")
ARCHS = {"bn": (WORKERS, TORCH), "nobn": (WORKERS_NOBN, TORCH_NOBN)}
ALL_WORKERS = {**WORKERS, **WORKERS_NOBN}


def ratios_nobn(row):
    """--arch nobn: each fastann contender against the faster PyTorch layout (wall clock and per CPU-second,
    as ``_training_bench.add_ratios``) and the fused channels_last run against the unfused one."""
    fast = [c for c in WORKERS_NOBN if c.startswith("fastann") and c in row and "error" not in row[c]]
    tb.ratios_to_best_peer(row, TORCH_NOBN, fast)
    if "fastann-nobn" in fast and "fastann-nobn-unfused" in fast:
        f, u = row["fastann-nobn"], row["fastann-nobn-unfused"]
        f["ratio_to_unfused"] = f["samples_per_s"] / u["samples_per_s"]
        f["ratio_to_unfused_cpu"] = f["samples_per_cpu_s"] / u["samples_per_cpu_s"]
        print(f"fastann-nobn: {f['ratio_to_unfused']:.2f}x fastann-nobn-unfused (wall clock), "
              f"{f['ratio_to_unfused_cpu']:.2f}x per CPU-second")


# ---- driver ----------------------------------------------------------------------------------------
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="6400-sample epochs")
    p.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default 1 2)")
    p.add_argument("--n", type=int, default=None, help="samples per epoch")
    p.add_argument("--epochs", type=int, default=None, help="timed epochs (after one warm-up)")
    p.add_argument("--arch", choices=sorted(ARCHS), default="bn",
                   help="bn: the CLI's CNN (default); nobn: Conv2D(relu)-MaxPool blocks without batch norm, CPU only")
    p.add_argument("--only", nargs="*", choices=sorted(ALL_WORKERS), default=None,
                   help="run these contenders only")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cpu (default): fastann vs PyTorch CPU at each thread count; cuda: fastann on GPU 0 vs "
                        "PyTorch CUDA, --threads ignored, exit status 2 when no GPU is usable")
    p.add_argument("--worker", choices=sorted(ALL_WORKERS), default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help="results JSON (default benchmarks/results/bench_cnn.json, "
                                               "bench_cnn_cuda.json with --device cuda)")
    a = p.parse_args()
    if a.worker:
        a.threads = a.threads[0] if a.threads else None
        return tb.run_worker(ALL_WORKERS, a)
    workers, torch_peers = ARCHS[a.arch]
    if a.arch == "nobn" and a.device != "cpu":
        p.error("--arch nobn runs on the CPU only")
    if a.out is None:
        a.out = os.path.join(HERE, "results", ("bench_cnn.json" if a.arch == "bn" else "bench_cnn_nobn.json")
                             if a.device == "cpu" else "bench_cnn_cuda.json")

    n = a.n or (6400 if a.quick else 25600)
    epochs = a.epochs or 3
    contenders = list(a.only or workers)
    if a.device == "cuda":
        gpu = tb.gpu_name_or_exit("bench_cnn")
        threads_list = [None]  # one run: thread settings do not apply on the GPU
        where = f" on {gpu}: fastann vs PyTorch CUDA (TF32 off)"
    else:
        threads_list = a.threads or [1, 2]
        where = ""
        try:
            import torch  # noqa: F401
        except ImportError:
            contenders = [c for c in contenders if c not in torch_peers]
            print("(torch is not installed: PyTorch peers skipped; pip install '.[bench]')")
    arch = "Conv32-BN-ReLU-Pool-Conv64-BN-ReLU-Pool" if a.arch == "bn" else "Conv32(relu)-Pool-Conv64(relu)-Pool"
    print(f"CNN {arch}-Dense128-Dropout-Dense10, Adam, batch {BATCH}, float32"
          f"{where}; {n} samples per epoch, median of {epochs} epochs after 1 warm-up; each contender in a fresh "
          "subprocess.")
    results = {"arch": a.arch, "n": n, "epochs": epochs, "batch": BATCH, "runs": {}}
    if a.device == "cuda":
        results.update(device="cuda", gpu=gpu)
    for threads in threads_list:
        print(f"\n== {threads} thread(s) ==" if threads else f"\n== {gpu} ==")
        row = tb.measure_row(__file__, contenders, threads, n, epochs, a.device, name_width=22, epoch_ms=False,
                             timeout=3600)
        if a.arch == "bn":
            tb.add_ratios(row, torch_peers, "ratio_to_best_torch", a.device)
        else:
            ratios_nobn(row)
        results["runs"][str(threads) if threads else "cuda"] = row
    tb.write_results(a.out, results)


if __name__ == "__main__":
    main()
