"""Training throughput of the default MLP (784-300-100-10, ReLU, softmax cross-entropy, Adam, batch 128,
float32): fastann against a plain NumPy MLP and PyTorch CPU, at 1 and 2 threads, in one run; with
``--device cuda``, fastann on the GPU against PyTorch CUDA.

    python benchmarks/bench_mlp.py            # full: 54000-sample epochs (the `fastann train` epoch), 5 timed
    python benchmarks/bench_mlp.py --quick    # 12800-sample epochs, 3 timed
    python benchmarks/bench_mlp.py --quick --rounds 3   # every contender 3 times, alternating: medians
    python benchmarks/bench_mlp.py --quick --breakdown  # fastann's step kernel by kernel (median µs)
    python benchmarks/bench_mlp.py --device cuda   # GPU: fastann vs PyTorch CUDA (exit status 2 without a GPU)

Every contender runs in its own fresh subprocess (so thread pools and BLAS settings cannot leak between
them) on the same synthetic data (uniform pixels, random labels: the speed does not depend on the values),
with one warm-up epoch, then reports the median samples/s over the timed epochs:

* fastann: ``Sequential.fit`` exactly as ``fastann train`` runs it (fused relu GEMM epilogues, fused
  softmax-cross-entropy, fused Adam), threads via ``fastann.set_num_threads``; once with no metric and once
  with the "accuracy" metric the CLI shows. Adam keeps a constant rate here, as the peers do; the CLI's
  default cosine schedule adds one Python call per step;
* numpy: the textbook MLP (forward with ``@``, explicit backward, Adam with in-place NumPy ops), on NumPy's
  OpenBLAS with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` UNSET (these machines export them, which holds
  OpenBLAS to its AVX2 kernels at about half speed; unset, it uses its native AVX-512 kernels), threads via
  ``OPENBLAS_NUM_THREADS``;
* torch: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, ``nn.CrossEntropyLoss``,
  ``torch.optim.Adam(fused=True)``, ``torch.set_num_threads`` (skipped when torch is not installed).

All three shuffle once per epoch and gather each batch by index. Besides wall-clock samples/s, the table shows
samples per CPU-second of the process (all its threads): on a shared, busy machine the wall clock includes time
spent waiting for a core, the CPU time does not (at 1 thread it is the better estimate of the idle-machine
speed; at 2 threads it also counts threads spinning while they wait). It ends with fastann's 2-thread rate over
its 1-thread rate. With ``--rounds R`` every contender runs R times at each thread count, one round after the
other, and a last table gives the median of each contender's rounds, each round's ratio to the faster peer and
the scaling of the medians: a slow spell of a shared machine then falls on one round instead of on one
contender. Results go to benchmarks/results/bench_mlp.json.

``--device cuda`` runs fastann, fastann+accuracy and torch on GPU 0 instead (no NumPy peer, no thread
settings): fastann compiles the model with ``device="cuda"`` and ``fit`` copies each batch from the NumPy
data to the GPU, as ``fastann train --device cuda`` does; torch keeps model and data on the GPU (the batch
gather runs there too) with TF32 off (``torch.backends.cuda.matmul.allow_tf32`` and
``torch.backends.cudnn.allow_tf32`` False: fp32 math on both sides). Each epoch is timed between GPU
synchronizations (``fastann.cuda.synchronize`` / ``torch.cuda.synchronize``); the ratio is fastann's median
samples/s over PyTorch CUDA's. When fastann, CuPy or PyTorch cannot use a GPU, the script prints why and
exits with status 2. Results go to benchmarks/results/bench_mlp_cuda.json.
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
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


# ---- workers (each runs in its own subprocess and prints one JSON line) ------------------------------
def worker_fastann(n, epochs, threads, with_metric, device):
    import fastann
    from fastann import layers

    if device == "cpu":
        fastann.set_num_threads(threads)
    x, y = make_data(n)
    model = fastann.Sequential([layers.Input((784,)), layers.Dense(300, activation="relu"),
                                layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")],
                               seed=0)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=LR), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"] if with_metric else None, device=device)
    if device == "cuda":  # time each epoch between GPU synchronizations (kernels run asynchronously)
        return tb.fit_timed_on_gpu(fastann, model, x, y, epochs, BATCH)
    cpu = []
    clock = fastann.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: cpu.append(-time.process_time()),
                                             on_epoch_end=lambda e, logs: cpu.__setitem__(-1, cpu[-1] + time.process_time()))
    stats = fastann._cpu.gemm_thread_stats()
    hist = model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[clock])
    # how often the GEMMs used threads, found a helper late (a busy core), waited for one, or ran on one thread
    stats = {k: v - stats[k] for k, v in fastann._cpu.gemm_thread_stats().items()}
    return (hist.epoch_seconds[1:], cpu[1:], hist.history["loss"][-1],
            {"simd": fastann.build_info()["simd"], "gemm_thread_stats": stats})


def worker_numpy(n, epochs, threads):
    import numpy as np

    x, y = make_data(n)
    rng = np.random.default_rng(0)

    def glorot(fan_out, fan_in):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32)

    params = [glorot(300, 784), np.zeros(300, np.float32), glorot(100, 300), np.zeros(100, np.float32),
              glorot(10, 100), np.zeros(10, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = np.float32(0.9), np.float32(0.999), np.float32(1e-7)
    step = 0
    times, cpu, loss = [], [], float("nan")
    for epoch in range(epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = rng.permutation(n)
        for lo in range(0, n, BATCH):
            idx = perm[lo:lo + BATCH]
            xb, yb = x[idx], y[idx]
            nb = len(idx)
            w1, c1, w2, c2, w3, c3 = params
            # forward
            z1 = xb @ w1.T + c1
            h1 = np.maximum(z1, 0)
            z2 = h1 @ w2.T + c2
            h2 = np.maximum(z2, 0)
            z3 = h2 @ w3.T + c3
            z3 -= z3.max(axis=1, keepdims=True)
            p = np.exp(z3)
            p /= p.sum(axis=1, keepdims=True)
            loss = -np.log(p[np.arange(nb), yb]).mean()
            # backward
            dz3 = p
            dz3[np.arange(nb), yb] -= 1
            dz3 /= nb
            dh2 = dz3 @ w3
            dz2 = dh2 * (z2 > 0)
            dh1 = dz2 @ w2
            dz1 = dh1 * (z1 > 0)
            grads = [dz1.T @ xb, dz1.sum(0), dz2.T @ h1, dz2.sum(0), dz3.T @ h2, dz3.sum(0)]
            # Adam (Kingma & Ba), in place
            step += 1
            corr1 = 1 - b1 ** step
            corr2 = 1 - b2 ** step
            for prm, g, mi, vi in zip(params, grads, m, v):
                mi *= b1
                mi += (1 - b1) * g
                vi *= b2
                vi += (1 - b2) * g * g
                prm -= np.float32(LR / corr1) * mi / (np.sqrt(vi / corr2) + eps)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy: no dict form
        blas = "?"
    return times[1:], cpu[1:], float(loss), {"numpy": np.__version__, "blas": blas}


def worker_torch(n, epochs, threads, device):
    import torch

    if device == "cuda":  # fp32 math like fastann's kernels, not TF32 tensor cores
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(threads)
        sync = lambda: None  # noqa: E731
    torch.manual_seed(0)
    x, y = make_data(n)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100),
                                torch.nn.ReLU(), torch.nn.Linear(100, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    times, cpu, loss = [], [], None
    for epoch in range(epochs + 1):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n, device=device)
        for lo in range(0, n, BATCH):
            idx = perm[lo:lo + BATCH]
            xb, yb = xt[idx], yt[idx]
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


def worker_breakdown(n, epochs, threads):
    """The kernels one fit step of fastann's MLP calls, in fit's order, each timed (median µs over the steps of
    the timed epochs): the batch gather (x by the row-gather kernel, y by np.take), the three linear layers'
    forwards (relu fused), the fused softmax cross-entropy with its gradient, the three backwards (relu mask
    and bias gradient fused; the first layer computes no input gradient) and Adam over the six arrays."""
    import numpy as np

    import fastann
    from fastann import ops

    fastann.set_num_threads(threads)
    cpu = fastann._cpu
    x, y = make_data(n)
    rng = np.random.default_rng(0)
    sizes = [(784, 300), (300, 100), (100, 10)]
    weights = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32) for i, o in sizes]
    biases = [np.zeros(o, np.float32) for _, o in sizes]
    params = [a for w, b in zip(weights, biases) for a in (w, b)]
    grads = [np.empty_like(a) for a in params]
    m, v = [np.zeros_like(a) for a in params], [np.zeros_like(a) for a in params]
    xb, yb = np.empty((BATCH, 784), np.float32), np.empty(BATCH, np.int64)
    acts = [np.empty((BATCH, o), np.float32) for _, o in sizes]
    dacts = [None] + [np.empty((BATCH, i), np.float32) for i, _ in sizes[1:]]
    names = ["gather", "linear 1", "linear 2", "linear 3", "cross-entropy", "backward 3", "backward 2",
             "backward 1", "adam"]
    spans = {k: [] for k in names}
    times, cpus, loss, step = [], [], float("nan"), 0
    clock = time.perf_counter
    for epoch in range(epochs + 1):
        t0, c0 = clock(), time.process_time()
        order = rng.permutation(n)
        for lo in range(0, n - BATCH + 1, BATCH):
            t = [clock()]
            cpu.embedding_forward(xb, x, order[lo:lo + BATCH])
            np.take(y, order[lo:lo + BATCH], out=yb)
            t.append(clock())
            h = xb
            for i in range(3):
                cpu.linear_forward(acts[i], h, weights[i], biases[i], "relu" if i < 2 else None)
                h = acts[i]
                t.append(clock())
            loss_value, g = ops.cross_entropy_with_grad(acts[2], yb)
            t.append(clock())
            for i in (2, 1, 0):
                cpu.linear_backward(dacts[i], grads[2 * i], grads[2 * i + 1], g, acts[i - 1] if i else xb,
                                    weights[i], acts[i] if i < 2 else None, "relu" if i < 2 else None)
                g = dacts[i]
                t.append(clock())
            step += 1
            ops.adam_step_multi(params, grads, m, v, step=step, lr=LR)
            t.append(clock())
            if epoch > 0:
                for k, a, b in zip(names, t, t[1:]):
                    spans[k].append(b - a)
            loss = float(loss_value)
        times.append(clock() - t0)
        cpus.append(time.process_time() - c0)
    medians = {k: float(np.median(d)) * 1e6 for k, d in spans.items()}
    return times[1:], cpus[1:], loss, {"breakdown_us": medians}


WORKERS = {
    "fastann": lambda a: worker_fastann(a.n, a.epochs, a.threads, False, a.device),
    "fastann+accuracy": lambda a: worker_fastann(a.n, a.epochs, a.threads, True, a.device),
    "numpy": lambda a: worker_numpy(a.n, a.epochs, a.threads),
    "torch": lambda a: worker_torch(a.n, a.epochs, a.threads, a.device),
    "breakdown": lambda a: worker_breakdown(a.n, a.epochs, a.threads),
}


# ---- driver ----------------------------------------------------------------------------------------
def print_thread_scaling(runs):
    """fastann's 2-thread samples/s over its 1-thread samples/s (the issue's scaling measure), when both ran."""
    one, two = runs.get("1", {}).get("fastann", {}), runs.get("2", {}).get("fastann", {})
    if "samples_per_s" in one and "samples_per_s" in two:
        print(f"\nfastann 2 threads / 1 thread: {two['samples_per_s'] / one['samples_per_s']:.2f}x (samples/s)")


def print_breakdown(threads_list, n, epochs):
    """--breakdown: where a training step's time goes, per kernel, at each thread count (fresh processes)."""
    cols = {}
    for threads in threads_list:
        r = tb.measure(__file__, "breakdown", threads, n, epochs)
        if "error" in r:
            print(f"breakdown at {threads} thread(s) failed: {r['error']}")
            return
        cols[threads] = r
    names = list(next(iter(cols.values()))["breakdown_us"])
    print(f"\nOne step's kernels (batch {BATCH}), median µs over the steps of {epochs} epochs of {n} samples:")
    print(f"{'kernel':<15}" + "".join(f"{f'{t} thread(s)':>14}" for t in cols))
    for k in names:
        print(f"{k:<15}" + "".join(f"{c['breakdown_us'][k]:>14.1f}" for c in cols.values()))
    print(f"{'sum':<15}" + "".join(f"{sum(c['breakdown_us'].values()):>14.1f}" for c in cols.values()))
    print(f"{'samples/s':<15}" + "".join(f"{c['samples_per_s']:>14,.0f}" for c in cols.values()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="12800-sample epochs, 3 timed")
    p.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default 1 2)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every contender at every thread count this many times, alternating, and report the "
                        "medians with each round's ratio (for a machine whose second core comes and goes)")
    p.add_argument("--breakdown", action="store_true",
                   help="instead of the comparison: fastann's step kernel by kernel (median µs each), the kernels "
                        "called as fit calls them")
    p.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cpu (default): fastann vs NumPy and PyTorch CPU at each thread count; cuda: fastann on "
                        "GPU 0 vs PyTorch CUDA, --threads ignored, exit status 2 when no GPU is usable")
    p.add_argument("--worker", choices=sorted(WORKERS), default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help="results JSON (default benchmarks/results/bench_mlp.json, "
                                               "bench_mlp_cuda.json with --device cuda)")
    a = p.parse_args()
    if a.worker:
        a.threads = a.threads[0] if a.threads else None
        return tb.run_worker(WORKERS, a)
    if a.out is None:
        a.out = os.path.join(HERE, "results", "bench_mlp.json" if a.device == "cpu" else "bench_mlp_cuda.json")

    n = a.n or (12800 if a.quick else 54000)
    epochs = a.epochs or (3 if a.quick else 5)
    if a.breakdown:
        if a.device != "cpu":
            p.error("--breakdown times the CPU kernels")
        import _machine  # noqa: PLC0415

        print("\n".join(_machine.describe()[0]))
        return print_breakdown(a.threads or [1, 2], n, epochs)
    if a.device == "cuda":
        gpu = tb.gpu_name_or_exit("bench_mlp")
        threads_list = [None]  # one run: thread settings do not apply on the GPU
        contenders = ["fastann", "fastann+accuracy", "torch"]
        print(f"MLP 784-300-100-10 ReLU, Adam, batch {BATCH}, float32, on {gpu}: fastann vs PyTorch CUDA "
              f"(TF32 off); {n} samples per epoch, median of {epochs} epochs after 1 warm-up; each contender in "
              "a fresh subprocess.")
    else:
        threads_list = a.threads or [1, 2]
        try:
            import torch  # noqa: F401
            contenders = ["fastann", "fastann+accuracy", "numpy", "torch"]
        except ImportError:
            contenders = ["fastann", "fastann+accuracy", "numpy"]
            print("(torch is not installed: PyTorch peer skipped; pip install '.[bench]')")
        print(f"MLP 784-300-100-10 ReLU, Adam, batch {BATCH}, float32; {n} samples per epoch, median of {epochs} "
              f"epochs after 1 warm-up; each contender in a fresh subprocess.")
        print("NumPy peer: native OpenBLAS (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in its environment).")
    import _machine  # noqa: PLC0415

    machine_lines, machine = _machine.describe()
    print("\n".join(machine_lines))
    results = {"n": n, "epochs": epochs, "batch": BATCH, "machine": machine, "runs": {}}
    if a.device == "cuda":
        results.update(device="cuda", gpu=gpu)
    rounds = []
    for r in range(a.rounds):
        if a.rounds > 1:
            print(f"\n#### round {r + 1} of {a.rounds}")
        runs = {}
        for threads in threads_list:
            print(f"\n== {threads} thread(s) ==" if threads else f"\n== {gpu} ==")
            row = tb.measure_row(__file__, contenders, threads, n, epochs, a.device, name_width=18, epoch_ms=True,
                                 timeout=1800, native_openblas=True)
            for c, res in row.items():
                st = res.get("gemm_thread_stats")
                if st and threads and threads > 1:
                    print(f"{c}: GEMM calls threaded {st['threaded']:,}, with a late helper {st['late']:,}, waited "
                          f"for a helper {st['waited']:,}, kept on one thread by the back-off {st['backed_off']:,}")
            tb.add_ratios(row, ("numpy", "torch"), "ratio_to_faster_peer", a.device)
            runs[str(threads) if threads else "cuda"] = row
        print_thread_scaling(runs)
        rounds.append(runs)
    if a.rounds > 1:
        print(f"\n#### medians of the {a.rounds} rounds (samples/s of each contender: the median of its rounds)")
        runs = {}
        for key in rounds[0]:
            print(f"\n== {key} thread(s) ==" if key != "cuda" else f"\n== {gpu} ==")
            row = tb.median_row([rd[key] for rd in rounds])
            tb.print_header(18, True)
            for c, res in row.items():
                tb.print_row(c, res, 18, True)
            tb.add_ratios(row, ("numpy", "torch"), "ratio_to_faster_peer", a.device)
            per_round = [rd[key]["fastann"].get("ratio_to_faster_peer") for rd in rounds if "fastann" in rd[key]]
            if all(x is not None for x in per_round):
                print("fastann vs the faster peer, each round: " + " ".join(f"{x:.2f}x" for x in per_round))
            runs[key] = row
        print_thread_scaling(runs)
        results["rounds"] = rounds
    results["runs"] = runs
    tb.write_results(a.out, results)


if __name__ == "__main__":
    main()
