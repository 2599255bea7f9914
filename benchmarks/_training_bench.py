"""What bench_mlp.py and bench_cnn.py share: each contender runs as a worker subprocess of the calling script
that prints one JSON line of per-epoch timings; the driver sets the worker's threads and import path, and turns
the timings into medians. Also the GPU checks and the GPU-synchronised epoch clock of the fastann workers."""
from __future__ import annotations

import glob
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_worker(workers, args):
    """Worker side: run ``workers[args.worker](args)`` and print its timings as one JSON line."""
    times, cpu, loss, extra = workers[args.worker](args)
    print(json.dumps({"epoch_seconds": times, "epoch_cpu_seconds": cpu, "final_loss": loss, **extra}))


def fit_timed_on_gpu(fastann, model, x, y, epochs, batch_size):
    """fit with one warm-up epoch; wall and process-CPU seconds per epoch, each between two GPU syncs."""
    wall, cpu = [], []

    def begin(epoch, logs):
        fastann.cuda.synchronize()
        wall.append(-time.perf_counter())
        cpu.append(-time.process_time())

    def end(epoch, logs):
        fastann.cuda.synchronize()
        wall[-1] += time.perf_counter()
        cpu[-1] += time.process_time()

    clock = fastann.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)
    hist = model.fit(x, y, batch_size=batch_size, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[clock])
    return wall[1:], cpu[1:], hist.history["loss"][-1], {"gpu": fastann.cuda.get_device_name(0)}


def source_python():
    """The source checkout's python/ folder when it holds an in-place build of fastann, else None (then the
    installed fastann is used, e.g. after `pip install .` on a GPU machine)."""
    src = os.path.join(os.path.dirname(HERE), "python")
    return src if glob.glob(os.path.join(src, "fastann", "_cpu*.so")) else None


def worker_env(threads, native_openblas=False):
    """The worker's environment: its thread count (None on the GPU: thread settings do not apply), the source
    checkout on PYTHONPATH when it has a build, and with ``native_openblas`` OPENBLAS_CORETYPE /
    OPENBLAS_L2_SIZE removed so NumPy's OpenBLAS uses its native kernels."""
    env = dict(os.environ)
    if native_openblas:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    if threads is not None:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    src = source_python()
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cuda_unavailable_reason():
    """None when fastann, CuPy and PyTorch can all use a GPU, else why not (imports the fastann the workers
    will import)."""
    src = source_python()
    if src:
        sys.path.insert(0, src)
    import fastann

    why = fastann.cuda.why_unavailable()
    if why is not None:
        return f"fastann ({os.path.dirname(fastann.__file__)}) cannot use a GPU: {why}"
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        return f"CuPy is not installed ({exc}); pip install fastann[cuda]"
    try:
        import torch
    except ImportError:
        return "PyTorch, the peer, is not installed; pip install '.[bench]'"
    if not torch.cuda.is_available():
        return f"PyTorch {torch.__version__} cannot use CUDA (a CPU-only build, or no driver/device)"
    return None


def gpu_name_or_exit(prog):
    """The name of GPU 0 when the --device cuda run can go ahead; else print why not (``prog: reason``) and
    exit with status 2."""
    why = cuda_unavailable_reason()
    if why is not None:
        print(f"{prog} --device cuda: {why}", file=sys.stderr)
        sys.exit(2)
    import fastann

    return fastann.cuda.get_device_name(0)


def measure(script, worker, threads, n, epochs, device="cpu", timeout=3600, native_openblas=False):
    """Driver side: run ``script --worker worker`` in a fresh process; its timings plus median samples/s
    (wall clock and per process-CPU second), or {"error": last stderr line}."""
    cmd = [sys.executable, os.path.abspath(script), "--worker", worker, "--n", str(n), "--epochs", str(epochs)]
    if device == "cpu":
        cmd += ["--threads", str(threads)]
    else:
        cmd += ["--device", device]
    out = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(threads, native_openblas),
                         timeout=timeout)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"rc={out.returncode}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["samples_per_s"] = n / statistics.median(res["epoch_seconds"])
    res["samples_per_cpu_s"] = n / statistics.median(res["epoch_cpu_seconds"])
    return res


def print_header(name_width, epoch_ms):
    """The column heads of the rows print_row prints."""
    unit = "ms/epoch" if epoch_ms else "s/epoch"
    print(f"{'contender':<{name_width}}{'samples/s':>12}{unit:>10}{'samples/cpu-s':>15}{'final loss':>12}")


def print_row(c, r, name_width, epoch_ms):
    """One table row: contender ``c``'s samples/s, median epoch time (ms when ``epoch_ms``, else s), samples
    per CPU-second and final loss, or its error."""
    if "error" in r:
        print(f"{c:<{name_width}}  failed: {r['error']}")
        return
    epoch = statistics.median(r["epoch_seconds"]) * (1e3 if epoch_ms else 1.0)
    print(f"{c:<{name_width}}{r['samples_per_s']:>12,.0f}{epoch:>10.{1 if epoch_ms else 2}f}"
          f"{r['samples_per_cpu_s']:>15,.0f}{r['final_loss']:>12.4f}", flush=True)


def measure_row(script, contenders, threads, n, epochs, device, name_width, epoch_ms, **measure_kw):
    """Measure each contender at ``threads`` (fresh subprocesses, see measure) and print one table row each:
    samples/s, median epoch time (ms when ``epoch_ms``, else s), samples per CPU-second, final loss.
    Returns {contender: measure's result}."""
    print_header(name_width, epoch_ms)
    row = {}
    for c in contenders:
        row[c] = measure(script, c, threads, n, epochs, device, **measure_kw)
        print_row(c, row[c], name_width, epoch_ms)
    return row


def median_row(rows):
    """One row from several rounds' rows of the same contenders (each round's contenders run one after the
    other, so a slow spell of a shared machine falls on one round, not on one contender): per contender the
    median over the rounds of samples/s and of samples per CPU-second (each already a median over its
    epochs), each round's median epoch time as ``epoch_seconds``, the last round's loss, and the rounds' samples/s as
    ``rounds_samples_per_s``. A contender that failed in any round is reported with that round's error."""
    out = {}
    for c in rows[0]:
        rs = [row[c] for row in rows]
        failed = [r for r in rs if "error" in r]
        if failed:
            out[c] = failed[0]
            continue
        out[c] = dict(rs[-1], epoch_seconds=[statistics.median(r["epoch_seconds"]) for r in rs],
                      samples_per_s=statistics.median(r["samples_per_s"] for r in rs),
                      samples_per_cpu_s=statistics.median(r["samples_per_cpu_s"] for r in rs),
                      rounds_samples_per_s=[r["samples_per_s"] for r in rs])
    return out


def add_ratios(row, peers, key, device):
    """Ratios of fastann's rows (with and without the accuracy metric) to the fastest peer that ran: stored in
    each fastann result as ``key`` (wall clock) and ``key + "_cpu"`` (samples per CPU-second, each against
    the peer best by that measure; not on CUDA, where host CPU time says nothing of GPU speed), and printed."""
    ok = [c for c in peers if c in row and "error" not in row[c]]
    if not ok:
        return
    best = max(ok, key=lambda c: row[c]["samples_per_s"])
    best_cpu = max(ok, key=lambda c: row[c]["samples_per_cpu_s"])
    for c in ("fastann", "fastann+accuracy"):
        if c not in row or "error" in row[c]:
            continue
        r = row[c]
        r[key] = r["samples_per_s"] / row[best]["samples_per_s"]
        if device == "cuda":
            print(f"{c}: {r[key]:.2f}x {best} CUDA (samples/s)")
            continue
        r[key + "_cpu"] = r["samples_per_cpu_s"] / row[best_cpu]["samples_per_cpu_s"]
        print(f"{c}: {r[key]:.2f}x {best} (wall clock), {r[key + '_cpu']:.2f}x {best_cpu} per CPU-second")


def ratios_to_best_peer(row, peers, contenders):
    """Each of ``contenders`` that ran against the fastest of ``peers`` that ran: ``ratio_to_best_torch``
    (samples/s, wall clock) and ``ratio_to_best_torch_cpu`` (samples per CPU-second, against the peer best by
    that measure), stored in the contender's result and printed."""
    ok = [c for c in peers if c in row and "error" not in row[c]]
    if not ok:
        return
    best = max(ok, key=lambda t: row[t]["samples_per_s"])
    best_cpu = max(ok, key=lambda t: row[t]["samples_per_cpu_s"])
    for c in contenders:
        if c not in row or "error" in row[c]:
            continue
        r = row[c]
        r["ratio_to_best_torch"] = r["samples_per_s"] / row[best]["samples_per_s"]
        r["ratio_to_best_torch_cpu"] = r["samples_per_cpu_s"] / row[best_cpu]["samples_per_cpu_s"]
        print(f"{c}: {r['ratio_to_best_torch']:.2f}x {best} (wall clock), "
              f"{r['ratio_to_best_torch_cpu']:.2f}x {best_cpu} per CPU-second")


def write_results(path, results):
    """The run's results as indented JSON at ``path`` (its folder created)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwrote {path}")
