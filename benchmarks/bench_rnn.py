"""Training throughput of the recurrent job of issue #12: row-sequential Fashion-MNIST (each 28x28 image a
sequence of 28 rows of 28 pixels), LSTM(128) or GRU(128) -> last state -> Dense(10, softmax), Adam, batch 128,
float32: fastann per rung of the RNN ladder against PyTorch CPU (``nn.LSTM`` / ``nn.GRU``), at 1 and 2 threads.

    python benchmarks/bench_rnn.py                 # LSTM and GRU, rungs 2 and 3 and torch, 1 and 2 threads
    python benchmarks/bench_rnn.py --quick         # 3840-sample epochs, 2 timed
    python benchmarks/bench_rnn.py --rungs 1 2 3   # rung 1 too (about 10x slower than rung 2)
    python benchmarks/bench_rnn.py --cells lstm --threads 1

Every contender runs in its own fresh subprocess on the same synthetic data (uniform pixels, random labels:
the speed does not depend on the values), with one warm-up epoch, then reports the median samples/s over the
timed epochs (wall clock) and the samples per CPU-second of the process (all its threads):

* fastann rung r: ``Sequential([Input((28, 28)), LSTM(128, rung=r) or GRU(128, rung=r), Dense(10,
  activation="softmax")])`` trained with ``fit`` (sparse categorical cross-entropy, Adam 1e-3), threads via
  ``fastann.set_num_threads``;
* torch: ``nn.LSTM(28, 128, batch_first=True)`` or ``nn.GRU`` -> last step -> ``nn.Linear(128, 10)``,
  ``nn.CrossEntropyLoss``, ``torch.optim.Adam(fused=True)``, ``torch.set_num_threads`` (skipped when torch
  is not installed).

It also prints the CPU (lscpu's model name and caches), the FLOPs of one training sample and, per contender,
the fraction of the machine's FLOP bound reached: samples/s x FLOPs per sample / peak, the peak being
``fastann._cpu.fma_peak_gflops`` (one core's measured fp32 FMA rate) times the thread count.

On a shared machine the wall clock includes time spent waiting for a core; samples per CPU-second do not (at
1 thread it is the better estimate of the idle-machine speed; at 2 threads it also counts threads spinning
while they wait). Results go to benchmarks/results/bench_rnn.json.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import time

import _training_bench as tb

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, T, F, UNITS, CLASSES = 128, 28, 28, 128, 10
LR = 1e-3
GATES = {"lstm": 4, "gru": 3}


def flops_per_sample(cell):
    """Multiply-adds x 2 of one training sample in the recurrent layer and the Dense head; the element-wise
    gate work is not counted. Forward: x W_ih^T and h W_hh^T per step; backward: dW_ih, dW_hh and dh_prev per
    step (no input gradient: the recurrent layer is the first, neither fastann nor PyTorch forms it)."""
    gh = GATES[cell] * UNITS
    return 2 * T * gh * (F + UNITS) + 2 * T * gh * (F + 2 * UNITS) + 3 * 2 * UNITS * CLASSES


def make_data(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, T, F), dtype=np.float32), rng.integers(0, CLASSES, n).astype(np.int64)


# ---- workers (each runs in its own subprocess and prints one JSON line) ------------------------------
def worker_fastann(n, epochs, threads, cell, rung):
    import fastann
    from fastann import layers

    fastann.set_num_threads(threads)
    x, y = make_data(n)
    rnn = (layers.LSTM if cell == "lstm" else layers.GRU)(UNITS, rung=rung)
    model = fastann.Sequential([layers.Input((T, F)), rnn, layers.Dense(CLASSES, activation="softmax")], seed=0)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=LR), loss="sparse_categorical_crossentropy")
    cpu = []

    def end(epoch, logs):
        cpu[-1] += time.process_time()

    clock = fastann.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: cpu.append(-time.process_time()),
                                             on_epoch_end=end)
    hist = model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[clock])
    return hist.epoch_seconds[1:], cpu[1:], hist.history["loss"][-1], {"simd": fastann.build_info()["simd"]}


def worker_torch(n, epochs, threads, cell):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = make_data(n)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(F, UNITS, batch_first=True)
            self.head = torch.nn.Linear(UNITS, CLASSES)

        def forward(self, xb):
            return self.head(self.rnn(xb)[0][:, -1])

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    times, cpu, loss = [], [], None
    for epoch in range(epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n)
        for lo in range(0, n, BATCH):
            idx = perm[lo:lo + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times[1:], cpu[1:], float(loss.detach()), {"torch": torch.__version__}


def parse_contender(name):
    """'lstm/rung3' -> ('lstm', 3); 'gru/torch' -> ('gru', None)."""
    cell, who = name.split("/")
    return cell, None if who == "torch" else int(who[4:])


class _Workers(dict):
    def __missing__(self, name):
        cell, rung = parse_contender(name)
        if rung is None:
            return lambda a: worker_torch(a.n, a.epochs, a.threads, cell)
        return lambda a: worker_fastann(a.n, a.epochs, a.threads, cell, rung)


WORKERS = _Workers()


# ---- driver ----------------------------------------------------------------------------------------
def cpu_description():
    """lscpu's model name and cache lines (or the platform's processor string without lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        import platform

        return platform.processor() or "unknown CPU"
    keep = ("Model name", "CPU family", "Model:", "Core(s) per socket", "L1d", "L2", "L3", "Hypervisor")
    return "; ".join(" ".join(line.split()) for line in out.splitlines() if line.strip().startswith(keep))


def peak_gflops():
    src = tb.source_python()
    import sys

    if src and src not in sys.path:
        sys.path.insert(0, src)
    import fastann

    from fastann import _backend

    return _backend.cpu.fma_peak_gflops(0.3), fastann.build_info()["simd"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3840-sample epochs, 2 timed")
    p.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default 1 2)")
    p.add_argument("--cells", nargs="*", default=["lstm", "gru"], choices=["lstm", "gru"])
    p.add_argument("--rungs", type=int, nargs="*", default=[2, 3], help="fastann rungs (default 2 3)")
    p.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join(HERE, "results", "bench_rnn.json"), help="results JSON")
    a = p.parse_args()
    if a.worker:
        a.threads = a.threads[0] if a.threads else 1
        return tb.run_worker(WORKERS, a)
    n = a.n or (3840 if a.quick else 12800)
    epochs = a.epochs or (2 if a.quick else 3)
    threads_list = a.threads or [1, 2]
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("(torch is not installed: PyTorch peer skipped; run with a Python that has torch)")
    peak, simd = peak_gflops()
    print(f"CPU: {cpu_description()}")
    print(f"fastann SIMD path: {simd}; one core's measured fp32 FMA peak: {peak:.0f} GFLOP/s")
    print(f"RNN(128) on 28x28 row sequences -> Dense(10) softmax, Adam, batch {BATCH}, float32; {n} samples per "
          f"epoch, median of {epochs} epochs after 1 warm-up; each contender in a fresh subprocess.")
    results = {"n": n, "epochs": epochs, "batch": BATCH, "cpu": cpu_description(), "simd": simd,
               "peak_gflops_per_core": peak, "runs": {}}
    for cell in a.cells:
        fps = flops_per_sample(cell)
        print(f"\n#### {cell.upper()}(128): {fps / 1e6:.1f} MFLOP per training sample")
        contenders = [f"{cell}/rung{r}" for r in a.rungs] + ([f"{cell}/torch"] if have_torch else [])
        for threads in threads_list:
            print(f"\n== {threads} thread(s) ==")
            row = tb.measure_row(__file__, contenders, threads, n, epochs, "cpu", name_width=14, epoch_ms=True,
                                 timeout=1800)
            torch_row = row.get(f"{cell}/torch", {})
            for c, r in row.items():
                if "error" in r:
                    continue
                r["flop_bound_fraction"] = r["samples_per_s"] * fps / (peak * 1e9 * threads)
                r["flop_bound_fraction_cpu"] = r["samples_per_cpu_s"] * fps / (peak * 1e9)
                line = (f"{c}: {100 * r['flop_bound_fraction']:.0f}% of the FLOP bound (wall), "
                        f"{100 * r['flop_bound_fraction_cpu']:.0f}% per CPU-second")
                if "error" not in torch_row and torch_row and not c.endswith("torch"):
                    r["ratio_to_torch"] = r["samples_per_s"] / torch_row["samples_per_s"]
                    r["ratio_to_torch_cpu"] = r["samples_per_cpu_s"] / torch_row["samples_per_cpu_s"]
                    line += (f"; {r['ratio_to_torch']:.2f}x torch (wall), {r['ratio_to_torch_cpu']:.2f}x per "
                             "CPU-second")
                print(line)
            results["runs"][f"{cell}/{threads}"] = row
    tb.write_results(a.out, results)


if __name__ == "__main__":
    main()
