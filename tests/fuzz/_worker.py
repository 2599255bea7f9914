"""The fuzz worker: a child process that runs fastann calls, so that a crash or a hang takes down only it.

Protocol (stdin / a private copy of stdout): 8-byte little-endian length + pickle, one request per case::

    {"target": "ops" | "cpu" | "cuda", "fn": name, "roots": [...], "args": [...], "kwargs": {...},
     "threads": int | None, "record": bool}

answered by ``{"status": "ok", "result": ..., "post": [root bytes after the call], "calls": [...]}`` or
``{"status": "exc", "type": name, "module": module, "message": str, ...}``. ``record`` wraps fastann._cpu so
that the compiled calls an op makes come back too (encoded before they ran, with the indices of the array
arguments they wrote). Every output fastann.ops allocates is NaN-filled first (``_common.POISON``), as in
the rest of the suite. Run as ``python _worker.py``; the parent kills and restarts it after a crash or a
timeout.
"""
from __future__ import annotations

import os
import pickle
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import _wire  # noqa: E402


def _read(f):
    head = f.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(f.read(n))


def _write(f, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


class _Recorder:
    """Stands in for fastann._cpu: records each compiled call (encoded before it runs), then makes it."""

    def __init__(self, real):
        self._real = real
        self.calls = []

    def __getattr__(self, name):
        fn = getattr(self._real, name)
        if not callable(fn):
            return fn

        def call(*args, **kwargs):
            roots, a, k = _wire.encode(args, kwargs)
            before = [x.copy() if isinstance(x, np.ndarray) else None for x in args]
            try:
                return fn(*args, **kwargs)
            finally:
                written = [i for i, (x, b) in enumerate(zip(args, before))
                           if b is not None and x.size and not np.array_equal(x, b, equal_nan=x.dtype.kind in "fc")]
                self.calls.append({"fn": name, "roots": roots, "args": a, "kwargs": k, "written": written})
        return call


def _jsonable_result(r):
    """Return values go back pickled; arrays are copied into plain, owned arrays first."""
    if isinstance(r, np.ndarray):
        return np.array(r, copy=True)
    if isinstance(r, (tuple, list)):
        return type(r)(_jsonable_result(v) for v in r)
    return r


def main():
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the kernels or Python print goes to stderr, not into the protocol
    proto_in = os.fdopen(os.dup(0), "rb")

    import fastann  # noqa: F401
    from fastann import _backend, ops, reference  # noqa: F401
    from fastann.ops import _common

    _common.POISON = True
    real_cpu = _backend.cpu
    _write(proto_out, {"status": "ready", "simd": real_cpu.simd_level(), "threads": real_cpu.get_num_threads(),
                       "cuda": _backend.cuda is not None,
                       "cuda_functions": sorted(dir(_backend.cuda)) if _backend.cuda is not None else []})
    while True:
        req = _read(proto_in)
        if req is None:
            return
        if req.get("threads") is not None and real_cpu.get_num_threads() != req["threads"]:
            real_cpu.set_num_threads(int(req["threads"]))
        roots = _wire.make_roots(req["roots"])
        args = _wire.dec(req["args"], roots)
        kwargs = _wire.dec(req["kwargs"], roots)
        target = req["target"]
        rec = None
        if target == "cuda" and _backend.cuda is None:
            _write(proto_out, {"status": "skip", "message": "fastann._cuda is not built"})
            continue
        try:
            if target == "ops":
                fn = getattr(ops, req["fn"])
                if req.get("record"):
                    rec = _Recorder(real_cpu)
                    _backend.cpu = rec
            elif target == "cpu":
                fn = getattr(real_cpu, req["fn"])
            elif target == "cuda":
                fn = getattr(_backend.cuda, req["fn"])
            else:  # "module": a dotted name under fastann, e.g. "cuda.is_available"
                fn = fastann
                for part in req["fn"].split("."):
                    fn = getattr(fn, part)
            r = fn(*args, **kwargs)
            out = {"status": "ok", "result": _jsonable_result(r)}
        except BaseException as e:  # noqa: BLE001 - the parent judges the class
            out = {"status": "exc", "type": type(e).__name__, "module": type(e).__module__,
                   "mro": [c.__name__ for c in type(e).__mro__], "message": str(e)[:2000]}
        finally:
            if rec is not None:
                _backend.cpu = real_cpu
        out["post"] = [bytes(r) for r in roots]
        if rec is not None:
            out["calls"] = rec.calls
        _write(proto_out, out)


if __name__ == "__main__":
    main()
