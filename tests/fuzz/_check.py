"""The properties a fuzz case is judged by, and the factory that turns a case generator into a test.

* A valid call (the float64 reference accepts it) returns what the reference returns: the same shapes, NaN
  and +-inf at exactly the positions of the reference rounded to the kernel's dtype, and the finite rest
  within a relative tolerance (the norm-wise error of tests/helpers.py; optionally element-wise too).
* An invalid call raises TypeError or ValueError (the class the reference raises, when it judges the case).
* Nothing crashes or hangs (the worker, see _harness).
"""
from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import _harness as H
from fastann import reference

TOL = {"elementwise": {np.float32: 8e-6, np.float64: 1e-12}, "reduction": {np.float32: 2e-5, np.float64: 1e-11},
       "gemm": {np.float32: 1e-4, np.float64: 1e-10}}
ARG_ERRORS = ("TypeError", "ValueError")


class Fail(Exception):
    """A property does not hold for a case (the message names the case and what differs)."""


def tol_for(kind, dtype):
    return TOL[kind][np.dtype(dtype).type]


# ---- describing a case ----------------------------------------------------------------------------------
def _short(x):
    if isinstance(x, np.ndarray):
        extra = "" if x.flags.c_contiguous else f" strides={x.strides}"
        extra += "" if x.flags.writeable else " read-only"
        if x.dtype.kind == "f" and x.size:
            nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
            fin = x[np.isfinite(x)]
            mx = float(np.abs(fin).max()) if fin.size else 0.0
            extra += f" max|x|={mx:.3g}" + (f" nan={nan}" if nan else "") + (f" inf={inf}" if inf else "")
        return f"<{x.dtype} {x.shape}{extra}>"
    if isinstance(x, (list, tuple)) and len(x) > 6:
        return f"{type(x).__name__}(len {len(x)})"
    if isinstance(x, (list, tuple)):
        return type(x)(_short(v) for v in x).__repr__() if isinstance(x, list) else \
            "(" + ", ".join(str(_short(v)) for v in x) + ("," if len(x) == 1 else "") + ")"
    return repr(x)


def describe(op, args, kwargs, extra=""):
    parts = [str(_short(a)) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{op}({', '.join(parts)}){' ' + extra if extra else ''}"


# ---- comparing arrays -----------------------------------------------------------------------------------
def compare(what, out, ref, dtype, tol, elementwise=False, exact=False, scale=None):
    """Raise Fail unless ``out`` (kernel) matches ``ref`` (float64 reference) as the module docstring says."""
    if ref is None or out is None:
        if (ref is None) != (out is None):
            raise Fail(f"{what}: kernel gave {type(out).__name__}, reference {type(ref).__name__}")
        return
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        raise Fail(f"{what}: shape {out.shape} != reference {ref.shape}")
    if exact or out.dtype.kind in "iub":
        if not np.array_equal(out, ref):
            bad = np.argwhere(out != ref)[:3].tolist()
            raise Fail(f"{what}: differs from the reference at {bad}")
        return
    dt = np.dtype(dtype)
    if out.dtype != dt:
        raise Fail(f"{what}: dtype {out.dtype}, expected {dt}")
    ref = ref.astype(np.float64)
    o = out.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        expect = ref.astype(dt).astype(np.float64)
    big = np.finfo(dt).max
    # Where the exact result sits at the edge of the dtype's range, either rounding is right.
    edge = np.isfinite(ref) & (np.abs(ref) > big * (1 - 8 * np.finfo(dt).eps))
    for name, f in (("NaN", np.isnan), ("+inf", lambda a: a == np.inf), ("-inf", lambda a: a == -np.inf)):
        bad = (f(o) != f(expect)) & ~edge
        if bad.any():
            idx = tuple(np.argwhere(bad)[0])
            raise Fail(f"{what}: {name} positions differ from the reference, first at {list(idx)}: "
                       f"kernel {o[idx]!r}, reference {ref[idx]!r} ({int(bad.sum())} of {bad.size})")
    both = np.isfinite(o) & np.isfinite(ref) & ~edge
    if not both.any():
        return
    d, r = o[both], ref[both]
    if scale is not None:  # a sum's rounding error is bounded by the sum of its terms' magnitudes (helpers.py)
        sc = np.asarray(scale, dtype=np.float64)[both]
        den = _norm(np.where(np.isfinite(sc), sc, np.abs(r)))
    else:
        den = _norm(r)
    # Differences below the dtype's normal range (underflow to subnormals or zero) are not judged.
    floor = float(np.finfo(dt).tiny) * 1024
    den = max(den, floor)
    diff = np.abs(d - r)
    diff[diff < floor] = 0.0
    err = _norm(diff) / den
    if not err <= tol:
        i = int(np.argmax(np.abs(d - r)))
        raise Fail(f"{what}: relative error {err:.3e} > {tol:.1e} (worst: kernel {d[i]!r}, reference {r[i]!r})")
    if elementwise:
        e = np.abs(d - r) / (np.abs(r) + 1.0)
        if e.max() > tol:
            i = int(np.argmax(e))
            raise Fail(f"{what}: element-wise error {e[i]:.3e} > {tol:.1e} (kernel {d[i]!r}, reference {r[i]!r})")


def _norm(v):
    """2-norm without overflow or underflow (scaled by the largest magnitude)."""
    m = np.max(np.abs(v)) if v.size else 0.0
    return float(m * np.linalg.norm(v / m)) if m > 0 and np.isfinite(m) else float(m)


class _ReferenceTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _ReferenceTimeout()


def run_reference(fn, args, kwargs, case):
    """The reference call, stopped after H.TIMEOUT_S (SIGALRM, main thread): a slow spec is a failure too."""
    import signal
    test = H.CURRENT["test"]
    limit = H.HANG_TIMEOUT_S if H.HANGS.get(test, 0) >= H.HANG_LIMIT else H.TIMEOUT_S
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return fn(*args, **kwargs)
    except _ReferenceTimeout:
        H.HANGS[test] = H.HANGS.get(test, 0) + 1
        raise Fail(f"REFERENCE HANG: no result within {limit:.0f} s for {case}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _to64(x):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return np.array(x, dtype=np.float64, copy=True)
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, tuple):
        return tuple(_to64(v) for v in x)
    if isinstance(x, list):
        return [_to64(v) for v in x]
    if isinstance(x, dict):
        return {k: _to64(v) for k, v in x.items()}
    return x


def _flat(v):
    if isinstance(v, (tuple, list)):
        return list(v)
    return [v]


def check_op(op, args, kwargs=None, *, dtype, tol, inplace=(), threads=None, elementwise=False, exact_outputs=(),
             skip_outputs=(), valid=None, ref_op=None, ops_kwargs=None, abs_scale=False,
             scales=None):
    """Run ``fastann.ops.<op>`` in the worker and ``fastann.reference.<op>`` here; judge the pair.

    ``inplace``: positions (int) / keywords (str) of arguments the op updates in place; their final values
    are compared too. ``abs_scale``: judge each output's error relative to the reference on |arguments| (the
    magnitude of a sum's terms); ``scales``: such magnitudes given per output (None entries: the output's own).
    ``valid``: None to follow the reference (it accepts -> must match it; it raises
    TypeError/ValueError -> the kernel must raise the same class); False: the call is invalid whatever the
    reference says (the kernel must raise TypeError or ValueError); True: valid whatever the reference says.
    Returns the worker's Result.
    """
    kwargs = kwargs or {}
    case = describe(op, args, dict(kwargs, **(ops_kwargs or {})), f"threads={threads}" if threads else "")
    rargs, rkwargs = _to64(list(args)), _to64(dict(kwargs))
    ref_exc = None
    with np.errstate(all="ignore"):
        try:
            ref_val = run_reference(getattr(reference, ref_op or op), rargs, rkwargs, case)
        except (TypeError, ValueError) as e:
            ref_exc = e
        except Fail:
            raise
        except Exception as e:  # noqa: BLE001
            raise Fail(f"REFERENCE raised {type(e).__name__}: {e} for {case}") from None
    try:
        res = H.call("ops", op, args, dict(kwargs, **(ops_kwargs or {})), threads=threads)
    except H.WorkerDied as e:
        raise Fail(f"{e} for {case}") from None
    if valid is False or (valid is None and ref_exc is not None):
        want = (type(ref_exc).__name__,) if (ref_exc is not None and valid is None) else ARG_ERRORS
        if res.ok:
            raise Fail(f"INVALID ACCEPTED: expected {'/'.join(want)} "
                       f"({ref_exc if ref_exc else 'invalid by the harness rule'}), kernel returned normally for {case}")
        if res.exc_type not in want:
            raise Fail(f"WRONG EXCEPTION: {res.exc_type}: {res.message[:200]} (expected {'/'.join(want)}) for {case}")
        return res
    if not res.ok:
        raise Fail(f"VALID REFUSED: {res.describe()} for {case}")
    if ref_exc is not None:  # valid=True but the reference refuses: the reference is wrong
        raise Fail(f"REFERENCE REFUSED A VALID CALL: {type(ref_exc).__name__}: {ref_exc} for {case}")
    if abs_scale:  # the reference on |arguments|: the magnitude of the terms of each sum
        sargs = [np.abs(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in rargs]
        skw = {k: (np.abs(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else
                   abs(v) if k in ("alpha", "beta") else v) for k, v in rkwargs.items()}
        with np.errstate(all="ignore"):
            scales = _flat(getattr(reference, ref_op or op)(*sargs, **skw))
    try:
        outs, refs = _flat(res.value), _flat(ref_val)
        if len(outs) != len(refs):
            raise Fail(f"returned {len(outs)} values, reference {len(refs)}")
        for i, (o, r) in enumerate(zip(outs, refs)):
            if i in skip_outputs:
                continue
            compare(f"output {i}", o, r, dtype, tol, elementwise, exact=i in exact_outputs,
                    scale=None if scales is None or i >= len(scales) else scales[i])
        for key in inplace:
            post = res.post_args[key] if isinstance(key, int) else res.post_kwargs[key]
            want = rargs[key] if isinstance(key, int) else rkwargs[key]
            compare(f"in-place argument {key}", post, want, dtype, tol, elementwise)
    except Fail as e:
        raise Fail(f"WRONG RESULT: {e} for {case}") from None
    return res


def expect_refused(target, fn, args, kwargs=None, *, why, allow=ARG_ERRORS, threads=None):
    """The call must raise one of ``allow`` (TypeError / ValueError), not crash, hang or return."""
    kwargs = kwargs or {}
    case = describe(f"{target}.{fn}", args, kwargs)
    try:
        res = H.call(target, fn, args, kwargs, threads=threads)
    except H.WorkerDied as e:
        raise Fail(f"{e} for {case} ({why})") from None
    if res.status == "skip":
        return res
    if res.ok:
        raise Fail(f"INVALID ACCEPTED ({why}): returned normally for {case}")
    if res.exc_type not in allow:
        raise Fail(f"WRONG EXCEPTION ({why}): {res.exc_type}: {res.message[:200]} "
                   f"(expected {'/'.join(allow)}) for {case}")
    return res


# ---- turning a case generator into a test ----------------------------------------------------------------
def fuzz_test(name, gen):
    """The pytest test ``name`` that runs ``gen(data)`` under the active hypothesis profile (conftest.py).

    Each example's failures are collected rather than raised, so one failing case does not hide the others
    and the case count of the long profile is the number of cases run; the test fails at the end listing
    the distinct failures (the first of each kind, with its case)."""

    def test():
        H.CURRENT["test"] = name
        failures = H.FAILURES.setdefault(name, [])

        @settings(database=None)
        @given(st.data())
        def run(data):
            try:
                gen(data)
            except Fail as e:
                failures.append(str(e))

        run()
        if failures:
            kinds = {}
            for f in failures:
                kinds.setdefault(f.split(" for ")[0][:90], f)
            lines = "\n".join(f"  - {v[:700]}" for v in list(kinds.values())[:8])
            raise AssertionError(f"{len(failures)} failing cases, {len(kinds)} kinds; first of each:\n{lines}")

    test.__name__ = test.__qualname__ = name
    test.__doc__ = gen.__doc__
    return test


PROFILE = os.environ.get("FASTANN_FUZZ", "quick")
