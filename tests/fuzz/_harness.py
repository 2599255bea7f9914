"""Parent side of the fuzz harness: the worker process, the case counter and the checks.

Every call of a fastann kernel made by a fuzz test goes through :func:`call` into one long-lived worker
process (``_worker.py``); the float64 NumPy reference runs here. A worker that dies (segfault, abort) or
does not answer within the time limit is reported as a failure naming the case and replaced by a fresh one.
"""
from __future__ import annotations

import json
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

import _wire

HERE = os.path.dirname(os.path.abspath(__file__))

#: Executed cases per test name (one case = one call in the worker), read by conftest's summary.
COUNTS: dict[str, int] = {}
#: Failures per test name: a list of one-line descriptions (the first few are kept in full).
FAILURES: dict[str, list[str]] = {}
CURRENT = {"test": "?"}
#: Hangs per test name: after HANG_LIMIT hangs a test's later calls get HANG_TIMEOUT_S (a known hang then
#: costs seconds, not minutes; the calls that finish take milliseconds).
HANGS: dict[str, int] = {}
HANG_LIMIT, HANG_TIMEOUT_S = 3, 2.0
TIMEOUT_S = float(os.environ.get("FASTANN_FUZZ_TIMEOUT", "10"))


class WorkerDied(Exception):
    """The worker crashed or hung on a case (the message says which and how)."""


class Worker:
    def __init__(self):
        self.proc = None
        self.info = None
        self.restarts = 0  # workers started after a crash or a hang killed the previous one
        self.started = False

    def start(self):
        env = dict(os.environ)
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__import__("fastann").__file__)))
        env["PYTHONPATH"] = os.pathsep.join([pkg, HERE] + [p for p in [env.get("PYTHONPATH")] if p])
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_worker.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.info = self._read(120.0, "start")

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def _stderr_tail(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-600:].strip()

    def _read(self, timeout, what):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise WorkerDied(f"HANG: no answer within {timeout:.0f} s ({what}); worker killed")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                code = self.proc.wait()
                tail = self._stderr_tail()
                self.proc = None
                raise WorkerDied(f"CRASH: worker exited with code {code} ({what}); stderr: {tail!r}")
            buf += chunk
            if len(buf) >= 8 and len(buf) >= 8 + struct.unpack("<Q", buf[:8])[0]:
                return pickle.loads(buf[8:])

    def request(self, req, timeout=TIMEOUT_S):
        if self.proc is None:
            self.restarts += self.started
            self.started = True
            self.start()
        data = pickle.dumps(req, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.stop()
            raise WorkerDied("CRASH: worker pipe closed")
        return self._read(timeout, req["target"] + "." + req["fn"])


WORKER = Worker()


class Result:
    """What one call in the worker gave: ``ok`` with ``value`` (the return value) and ``post`` (the arguments
    after the call, for in-place outputs), or an exception (``exc_type``, ``mro``, ``message``)."""

    def __init__(self, ans, enc_args, enc_kwargs):
        self.status = ans["status"]
        self.value = ans.get("result")
        self.exc_type = ans.get("type")
        self.mro = ans.get("mro", [])
        self.message = ans.get("message", "")
        self.calls = ans.get("calls", [])
        if "post" in ans:
            roots = _wire.make_roots(ans["post"])
            self.post_args = _wire.dec(enc_args, roots)
            self.post_kwargs = _wire.dec(enc_kwargs, roots)

    @property
    def ok(self):
        return self.status == "ok"

    def describe(self):
        if self.ok:
            return "returned normally"
        return f"raised {self.exc_type}: {self.message[:300]}"


def call(target, fn, args=(), kwargs=None, threads=None, record=False, timeout=TIMEOUT_S, raw=None):
    """Run ``target.fn(*args, **kwargs)`` in the worker (target "ops", "cpu", "cuda" or "module"); counts one case.

    Raises WorkerDied (after restarting nothing: the next call starts a new worker) on a crash or a hang.
    ``raw`` = (roots, encoded args, encoded kwargs) sends an already encoded call (a recorded one).
    """
    kwargs = kwargs or {}
    test = CURRENT["test"]
    COUNTS[test] = COUNTS.get(test, 0) + 1
    roots, a, k = raw if raw is not None else _wire.encode(args, kwargs)
    if HANGS.get(test, 0) >= HANG_LIMIT:
        timeout = min(timeout, HANG_TIMEOUT_S)
    try:
        ans = WORKER.request({"target": target, "fn": fn, "roots": roots, "args": a, "kwargs": k,
                              "threads": threads, "record": record}, timeout)
    except WorkerDied as e:
        if str(e).startswith("HANG"):
            HANGS[test] = HANGS.get(test, 0) + 1
        raise
    return Result(ans, a, k)


def write_summary(path, extra):
    data = dict(extra, cases=dict(sorted(COUNTS.items())), total_cases=sum(COUNTS.values()),
                failures={k: v[:5] for k, v in sorted(FAILURES.items()) if v},
                failure_counts={k: len(v) for k, v in sorted(FAILURES.items()) if v},
                worker_restarts=WORKER.restarts, hangs=dict(HANGS))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1, default=str)
    return data
