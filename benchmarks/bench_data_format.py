"""Training speed of the CLI's CNN with channels_last layers (Keras's default) against channels_first (the
kernels' own NCHW layout), in the same run.

    python benchmarks/bench_data_format.py               # 2 rounds x 2 contenders, 30 timed batches each
    python benchmarks/bench_data_format.py --batches 60 --rounds 3 --threads 2

The model is ``fastann.cli.build_cnn`` (Conv32-BN-ReLU-Pool-Conv64-BN-ReLU-Pool-Dense128-Dropout-Dense10,
Adam, batch 128, float32) built with ``data_format="channels_first"`` on (N, 1, 28, 28) images and with
``"channels_last"`` on (N, 28, 28, 1) images: the same numbers in the two layouts (random pixels and labels;
the speed does not depend on the values). A channels_last model converts once at the entry of its image
layers (NHWC -> NCHW) and once at the Flatten, and their gradients back (``fastann.models._layout``); this
benchmark measures what those conversions cost.

Each contender runs ``fit`` in its own fresh subprocess (thread pools and caches cannot leak between them),
the contenders alternate over ``--rounds`` rounds (so a change in the machine's load hits both), and each
reports the median samples/s over its timed batches (after ``--warmup`` batches), in wall-clock time and per
CPU-second of its process (``time.process_time``; steadier on a shared machine). The ratio is channels_last
over channels_first (>= 0.9 is the target). The CPU model (lscpu) is printed with the results.
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
CONTENDERS = ("channels_first", "channels_last")


def worker(data_format, batches, warmup, threads):
    """Fit the CNN for warmup + batches steps; print the per-batch wall and CPU seconds as one JSON line."""
    import numpy as np

    import fastann
    from fastann.cli import build_cnn

    if threads:
        fastann.set_num_threads(threads)
    n = BATCH * (batches + warmup)
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    shape = (28, 28, 1)
    if data_format == "channels_first":
        x, shape = np.ascontiguousarray(x.transpose(0, 3, 1, 2)), (1, 28, 28)
    y = rng.integers(0, 10, n)
    model = build_cnn(shape, 10, seed=0, data_format=data_format)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    wall, cpu = [], []

    def begin(batch, logs):
        wall.append(-time.perf_counter())
        cpu.append(-time.process_time())

    def end(batch, logs):
        wall[-1] += time.perf_counter()
        cpu[-1] += time.process_time()

    clock = fastann.callbacks.LambdaCallback(on_train_batch_begin=begin, on_train_batch_end=end)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    print(json.dumps({"wall": wall[warmup:], "cpu": cpu[warmup:]}))


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (lscpu failed)"
    return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "unknown")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=30, help="timed batches per run")
    p.add_argument("--warmup", type=int, default=3, help="batches before timing starts")
    p.add_argument("--rounds", type=int, default=2, help="runs of each contender, alternating")
    p.add_argument("--threads", type=int, default=None, help="fastann threads (default: fastann's)")
    p.add_argument("--worker", choices=CONTENDERS, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker, a.batches, a.warmup, a.threads)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "..", "python"), env.get("PYTHONPATH", "")])
    samples = {c: {"wall": [], "cpu": []} for c in CONTENDERS}
    for _ in range(a.rounds):
        for c in CONTENDERS:
            cmd = [sys.executable, __file__, "--worker", c, "--batches", str(a.batches), "--warmup", str(a.warmup)]
            if a.threads:
                cmd += ["--threads", str(a.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
            run = json.loads(out.strip().splitlines()[-1])
            for k in ("wall", "cpu"):
                samples[c][k] += run[k]
    print(f"CPU: {cpu_model()}; threads: {a.threads or 'fastann default'}")
    print(f"CLI CNN, Adam, batch {BATCH}, float32; median over {a.rounds} runs x {a.batches} batches per contender, "
          "each run a fresh subprocess")
    rate = {c: {k: BATCH / statistics.median(v) for k, v in samples[c].items()} for c in CONTENDERS}
    for c in CONTENDERS:
        print(f"  {c:15s} {rate[c]['wall']:9.0f} samples/s   {rate[c]['cpu']:9.0f} samples/CPU-s")
    ratio = {k: rate["channels_last"][k] / rate["channels_first"][k] for k in ("wall", "cpu")}
    print(f"  channels_last / channels_first: {ratio['wall']:.3f} (wall), {ratio['cpu']:.3f} (CPU time)")


if __name__ == "__main__":
    main()
