"""Fuzz: argument handling of fastann.ops and of the compiled bindings (_cpu, _cuda) called directly.

Valid templates (_templates.py) are mutated one argument at a time: a wrong dtype must be a TypeError, a
wrong layout (strided, negative strides, empty, an extra axis) a ValueError, a read-only output a
ValueError; an output overlapping an input must be refused (ValueError) or give the result of the same
call without the overlap; optimizer arguments must not share memory; scalar arguments are checked
(booleans and values out of range refused as TypeError / ValueError, NumPy scalars accepted like Python
numbers); class labels outside [0, C) are a ValueError. Every call runs in the worker process.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume, strategies as st

import _gen as G
import _harness as H
import _wire
from _check import Fail, check_op, compare, describe, expect_refused, fuzz_test, tol_for
from _templates import TEMPLATES

BAD_DTYPES = [np.float16, np.int32, np.int64, np.complex64, np.bool_, np.uint8]


def _template(data, names=None):
    pool = [t for t in TEMPLATES if names is None or t[0] in names]
    op, build = data.draw(st.sampled_from(pool), label="template")
    dt = G.dtype(data)
    args, kwargs = build(np.random.default_rng(G.seed(data)), dt)
    return op, list(args), dict(kwargs), dt


def _array_slots(args, kwargs):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray)] + \
        [k for k, v in kwargs.items() if isinstance(v, np.ndarray)]


def _strided(a, rng):
    """A non-contiguous view with a's values: every other element of a bigger array, or negative strides."""
    if a.ndim and rng.random() < 0.5 and a.shape[-1] > 1:
        return a[..., ::-1]
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],) if a.ndim else (2,), a.dtype)
    v = big[..., ::2] if a.ndim else big[::2][0:1].reshape(())
    v[...] = a
    return v


def _mutate(data, a, rng, kinds):
    """(mutated array or object, exception classes allowed, what)."""
    kind = data.draw(st.sampled_from(kinds), label="mutation")
    if kind == "dtype":
        bad = data.draw(st.sampled_from(BAD_DTYPES if a.dtype.kind == "f" else
                                        [d for d in (np.float16, np.float32, np.int8, np.uint8) if d != a.dtype]))
        if a.dtype.kind in "iu" and np.dtype(bad).kind in "iu" and np.dtype(bad).itemsize >= 4:
            bad = np.float16
        # an integer array where a float one was: TypeError, or ValueError when the argument also takes
        # integer labels of another shape (a class target)
        allow = ("TypeError", "ValueError") if np.dtype(bad).kind in "iu" and a.dtype.kind == "f" else ("TypeError",)
        return a.astype(bad), allow, f"dtype {np.dtype(bad)}"
    if kind == "other_float":
        if a.dtype.kind != "f":
            return a.astype(np.float16), ("TypeError",), "dtype float16"
        return a.astype(np.float64 if a.dtype == np.float32 else np.float32), ("TypeError",), "mixed dtypes"
    if kind == "strided":
        if a.ndim == 0 or a.size < 2:
            return np.expand_dims(a, 0), ("ValueError",), "an extra axis"
        return _strided(a, rng), ("ValueError",), "non-contiguous view"
    if kind == "empty":
        shape = list(a.shape) or [1]
        shape[int(rng.integers(0, len(shape)))] = 0
        return np.zeros(shape, a.dtype), ("ValueError",), "empty array"
    if kind == "ndim":
        return a.reshape((1,) + a.shape), ("ValueError",), "an extra axis"
    if kind == "list":
        return a.tolist(), ("TypeError",), "a list instead of an array"
    raise AssertionError(kind)


ANY_NDIM = {"relu", "activation", "softmax", "dropout", "mse_loss"}


# ---- fastann.ops with one bad array ----------------------------------------------------------------------
def _ops_invalid_array(data):
    op, args, kwargs, dt = _template(data)
    slot = data.draw(st.sampled_from(_array_slots(args, kwargs)), label="slot")
    a = args[slot] if isinstance(slot, int) else kwargs[slot]
    rng = np.random.default_rng(G.seed(data))
    floats = [x for x in list(args) + list(kwargs.values()) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    # ops that take any ndim accept a lone array with an extra axis
    kinds = ["dtype", "strided", "empty", "list"] + (["ndim"] if len(floats) > 1 or op not in ANY_NDIM else []) + \
        (["other_float"] if a.dtype.kind == "f" and len(floats) > 1 else [])
    bad, allow, why = _mutate(data, a, rng, kinds)
    if isinstance(slot, int):
        args[slot] = bad
    else:
        kwargs[slot] = bad
    expect_refused("ops", op, args, kwargs, why=f"argument {slot}: {why}", allow=allow)


test_fuzz_ops_invalid_arrays = fuzz_test("test_fuzz_ops_invalid_arrays", _ops_invalid_array)


# ---- the compiled binding called directly ----------------------------------------------------------------
def _recorded(data):
    """A compiled call an ops template makes: (fn, args, kwargs, written positions) decoded here."""
    op, args, kwargs, dt = _template(data)
    res = H.call("ops", op, args, kwargs, record=True)
    if not res.ok or not res.calls:
        raise Fail(f"VALID REFUSED: {res.describe()} for {describe(op, args, kwargs)} (template)")
    c = data.draw(st.sampled_from(res.calls), label="compiled call")
    roots = _wire.make_roots(c["roots"])
    return c["fn"], _wire.dec(c["args"], roots), _wire.dec(c["kwargs"], roots), c["written"]


def _cpu_invalid_array(data):
    fn, args, kwargs, written = _recorded(data)
    rng = np.random.default_rng(G.seed(data))
    slots = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    slot = data.draw(st.sampled_from(slots), label="slot")
    a = args[slot]
    kinds = ["dtype", "strided", "ndim", "list"] + (["empty"] if a.ndim else [])
    kinds += ["readonly"] * 2 if slot in written else []
    kind = data.draw(st.sampled_from(kinds), label="kind")
    if kind == "readonly":
        bad = a.copy()
        bad.flags.writeable = False
        allow, why = ("ValueError",), "read-only output"
    else:
        bad, allow, why = _mutate(data, a, rng, [kind])
    args[slot] = bad
    expect_refused("cpu", fn, args, kwargs, why=f"argument {slot}: {why}", allow=allow)


def _cpu_overlap(data):
    """An output that overlaps an input (the same memory, or shifted by one element): refused, or the
    result of the call without the overlap."""
    fn, args, kwargs, written = _recorded(data)
    ins = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and i not in written and a.dtype.kind == "f"]
    outs = [i for i in written if args[i].dtype.kind == "f"]
    if not ins or not outs:
        return
    o, i = data.draw(st.sampled_from(outs)), data.draw(st.sampled_from(ins))
    out_a, in_a = args[o], args[i]
    shift = data.draw(st.sampled_from([0, 1]))
    if in_a.dtype != out_a.dtype or (shift == 0 and in_a.shape != out_a.shape):
        return
    # One buffer holding the input; the output is a view of it at `shift` elements (same size as out).
    n = max(in_a.size, out_a.size + shift)
    buf = np.zeros(n + 1, in_a.dtype)
    buf[:in_a.size] = in_a.ravel()
    alias_in = buf[:in_a.size].reshape(in_a.shape)
    alias_out = buf[shift:shift + out_a.size].reshape(out_a.shape)
    alias_out[...] = out_a if shift == 0 else alias_out  # keep the input's values where they overlap
    clean_args = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    clean_args[i] = alias_in.copy()  # the input's values as the aliased call sees them
    clean_args[o] = alias_out.copy()
    base = H.call("cpu", fn, clean_args, kwargs)
    aliased = list(args)
    aliased[i], aliased[o] = alias_in, alias_out
    case = describe(f"_cpu.{fn}", aliased, kwargs, f"(output {o} overlaps input {i}, shift {shift})")
    try:
        res = H.call("cpu", fn, aliased, kwargs)
    except H.WorkerDied as e:
        raise Fail(f"{e} for {case}") from None
    if not res.ok:
        if res.exc_type != "ValueError":
            raise Fail(f"WRONG EXCEPTION: {res.describe()} (expected ValueError) for {case}")
        return
    if not base.ok:
        return
    dt = out_a.dtype
    try:
        compare(f"output {o}", res.post_args[o], base.post_args[o], dt, tol_for("reduction", dt) * 10)
    except Fail as e:
        raise Fail(f"OVERLAP ACCEPTED WITH A WRONG RESULT: {e} for {case}") from None


test_fuzz_cpu_invalid_arrays = fuzz_test("test_fuzz_cpu_invalid_arrays", _cpu_invalid_array)
test_fuzz_cpu_overlap_refused_or_correct = fuzz_test("test_fuzz_cpu_overlap_refused_or_correct", _cpu_overlap)


# ---- _cuda bindings through fake device arrays -------------------------------------------------------------
def _fake(a, strides=None, readonly=False, ptr=None):
    return _wire.FakeDevice(a.shape, a.dtype.str, strides, readonly, 0xDEAD0000 if ptr is None else ptr)


def _cuda_invalid(data):
    if not (H.WORKER.info or H.WORKER.start() or H.WORKER.info).get("cuda"):
        import pytest
        pytest.skip("fastann._cuda is not built (no nvcc at build time); its argument checks are not fuzzed")
    fn, args, kwargs, written = _recorded(data)
    assume(fn in H.WORKER.info["cuda_functions"])  # CPU-only kernels (fused BN+ReLU, RNN) have no _cuda twin
    rng = np.random.default_rng(G.seed(data))
    base = 0x7F0000000000
    fakes = []
    for j, a in enumerate(args):
        fakes.append(_fake(a, ptr=base + j * (1 << 24)) if isinstance(a, np.ndarray) else a)
    slots = [j for j, a in enumerate(args) if isinstance(a, np.ndarray)]
    j = data.draw(st.sampled_from(slots))
    a = args[j]
    kind = data.draw(st.sampled_from(["dtype", "strided", "readonly", "host", "overlap"]))
    if kind == "dtype":
        fakes[j], allow = _wire.FakeDevice(a.shape, "<f2", None, False, base + j * (1 << 24)), ("TypeError",)
    elif kind == "strided" and a.ndim and a.size > 1:
        st_ = list(np.zeros(a.shape, a.dtype).strides)
        st_[-1] *= 2
        fakes[j], allow = _fake(a, strides=st_, ptr=base + j * (1 << 24)), ("ValueError",)
    elif kind == "readonly" and j in written:
        fakes[j], allow = _fake(a, readonly=True, ptr=base + j * (1 << 24)), ("ValueError",)
    elif kind == "overlap" and j in written and len(slots) > 1:
        other = data.draw(st.sampled_from([s for s in slots if s != j]))
        # activation_forward documents out = input (the same buffer) as allowed: overlap it shifted by one
        # element there, which must be refused like any other overlap
        shift = a.dtype.itemsize if fn == "activation_forward" and args[other].size > 1 else 0
        fakes[j], allow = _fake(a, ptr=base + other * (1 << 24) + shift), ("ValueError",)
    else:
        fakes[j], allow = a, ("TypeError",)  # a host array among device arrays
    expect_refused("cuda", fn, fakes, kwargs, why=f"_cuda argument {j}: {kind}", allow=allow)


test_fuzz_cuda_invalid_arrays = fuzz_test("test_fuzz_cuda_invalid_arrays", _cuda_invalid)


# ---- optimizers: arguments sharing memory -----------------------------------------------------------------
OPTIM = [t for t in TEMPLATES if t[0].endswith("_step")]


def _optim_aliasing(data):
    op, args, kwargs, dt = _template(data, {t[0] for t in OPTIM})
    slots = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    i, j = data.draw(st.sampled_from([(a, b) for a in slots for b in slots if a < b]))
    args[j] = args[i]
    expect_refused("ops", op, args, kwargs, why=f"arguments {i} and {j} are the same array", allow=("ValueError",))


test_fuzz_optim_aliasing_refused = fuzz_test("test_fuzz_optim_aliasing_refused", _optim_aliasing)


# ---- scalar arguments ------------------------------------------------------------------------------------
REAL_HYPER = {  # op: real-valued keyword arguments it takes
    "sgd_step": ["lr", "weight_decay"], "adam_step": ["lr", "eps", "beta1", "beta2", "weight_decay"],
    "adamw_step": ["lr", "eps", "weight_decay"], "rmsprop_step": ["lr", "rho", "eps"],
    "adagrad_step": ["lr", "eps"], "adadelta_step": ["lr", "rho", "eps"], "adamax_step": ["lr", "beta1"],
    "nadam_step": ["lr", "beta1", "beta2"], "dropout": ["p"], "gemm": ["beta"],
    "binary_cross_entropy_backward": ["grad_output"], "batch_norm": ["momentum", "eps"],
}
INT_ARGS = {"adam_step": ["step"], "nadam_step": ["step"], "adamax_step": ["step"], "adamw_step": ["step"],
            "dropout": ["seed"], "softmax": ["dim"], "conv2d": ["padding"], "conv_transpose2d": ["stride"]}


def _scalars_refused(data):
    op, args, kwargs, dt = _template(data, set(REAL_HYPER) | set(INT_ARGS))
    names = [(n, "real") for n in REAL_HYPER.get(op, [])] + [(n, "int") for n in INT_ARGS.get(op, [])]
    name, kind = data.draw(st.sampled_from(names))
    bad = data.draw(st.sampled_from([True, "1", 10**400] if kind == "real" else [True, 1.5, "2", 2**80]))
    kwargs[name] = bad
    expect_refused("ops", op, args, kwargs, why=f"{name}={bad!r:.20}")


def _numpy_scalars_accepted(data):
    op, args, kwargs, dt = _template(data, set(REAL_HYPER) | set(INT_ARGS))
    names = [(n, "real") for n in REAL_HYPER.get(op, []) if n in kwargs or n != "beta"] + \
        [(n, "int") for n in INT_ARGS.get(op, []) if n in kwargs]
    if not names:
        return
    name, kind = data.draw(st.sampled_from(names))
    if name not in kwargs:
        return
    v = kwargs[name]
    kwargs[name] = (data.draw(st.sampled_from([np.float64, np.float32])) if kind == "real" else
                    data.draw(st.sampled_from([np.int64, np.int32, np.intp])))(v)
    inplace = [i for i, a in enumerate(args) if op.endswith("_step") and isinstance(a, np.ndarray) and i != 1]
    check_op(op, args, kwargs, dtype=dt, tol=tol_for("gemm", dt) * (10 if kind == "real" else 1), inplace=inplace,
             valid=True)


def _set_num_threads(data):
    """fastann.set_num_threads takes an int >= 1 (NumPy integers included) and refuses anything else with
    TypeError / ValueError; fastann._cpu.set_num_threads the same."""
    fn = data.draw(st.sampled_from(["set_num_threads", "_cpu.set_num_threads"]))
    v = data.draw(st.sampled_from([1, 2, 3, np.int64(2), np.int32(1), 0, -1, True, 2**70, 1.0, "2", None]))
    valid = isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= 2**31 - 1
    case = f"fastann.{fn}({v!r})"
    try:
        res = H.call("module", fn, [v])
        if res.ok:
            H.call("module", "_cpu.set_num_threads", [2])
    except H.WorkerDied as e:
        raise Fail(f"{e} for {case}") from None
    if valid and not res.ok:
        raise Fail(f"VALID REFUSED: {res.describe()} for {case}")
    if not valid and (res.ok or res.exc_type not in ("TypeError", "ValueError")):
        raise Fail(f"{'INVALID ACCEPTED' if res.ok else 'WRONG EXCEPTION'}: {res.describe()} for {case}")
    if not valid and isinstance(v, int) and res.exc_type != "ValueError":
        raise Fail(f"WRONG EXCEPTION: {res.describe()} (an int out of range is a ValueError) for {case}")


test_fuzz_scalar_args_refused = fuzz_test("test_fuzz_scalar_args_refused", _scalars_refused)
test_fuzz_numpy_scalars_accepted = fuzz_test("test_fuzz_numpy_scalars_accepted", _numpy_scalars_accepted)
test_fuzz_set_num_threads_args = fuzz_test("test_fuzz_set_num_threads_args", _set_num_threads)


# ---- class labels ----------------------------------------------------------------------------------------
def _labels(data):
    dt = G.dtype(data)
    rng = np.random.default_rng(G.seed(data))
    N, C = data.draw(st.integers(1, 10)), data.draw(st.integers(1, 8))
    x = rng.uniform(0.1, 1, (N, C)).astype(dt)
    t = rng.integers(0, C, N)
    kind = data.draw(st.sampled_from(["high", "negative", "huge", "dtype", "float1d", "shape"]))
    j = int(rng.integers(0, N))
    ldt = data.draw(st.sampled_from([np.int32, np.int64]))
    t = t.astype(ldt)
    allow = ("ValueError",)
    if kind == "high":
        t[j] = C + int(rng.integers(0, 3))
    elif kind == "negative":
        t[j] = -int(rng.integers(1, 3))
    elif kind == "huge":
        t[j] = np.iinfo(ldt).max if rng.random() < 0.5 else np.iinfo(ldt).min
    elif kind == "dtype":
        t, allow = t.astype(data.draw(st.sampled_from([np.int8, np.uint8, np.int16, np.uint32]))), ("TypeError",)
    elif kind == "float1d":
        t, allow = t.astype(dt), ("TypeError",)
    else:
        t = np.concatenate([t, t[:1]])
    op = data.draw(st.sampled_from(["cross_entropy", "cross_entropy_backward", "cross_entropy_with_grad",
                                    "categorical_crossentropy", "categorical_crossentropy_backward"]))
    expect_refused("ops", op, [x, t], why=f"labels: {kind}", allow=allow)


test_fuzz_labels_refused = fuzz_test("test_fuzz_labels_refused", _labels)


# ---- arrays that went through pickle ---------------------------------------------------------------------
def _pickled(data):
    op, args, kwargs, dt = _template(data)
    slot = data.draw(st.sampled_from(_array_slots(args, kwargs)), label="slot")
    ref_args = list(args)
    if isinstance(slot, int):
        args[slot] = _wire.Pickled(args[slot])
    else:
        kwargs[slot] = _wire.Pickled(kwargs[slot])
    case = describe(op, ref_args, kwargs, f"(argument {slot} unpickled)")
    try:
        res = H.call("ops", op, args, kwargs)
    except H.WorkerDied as e:
        raise Fail(f"{e} for {case}") from None
    if not res.ok:
        raise Fail(f"VALID REFUSED: {res.describe()} for {case}")


test_fuzz_pickled_arrays_accepted = fuzz_test("test_fuzz_pickled_arrays_accepted", _pickled)


# ---- determinism -----------------------------------------------------------------------------------------
def _deterministic(data):
    op, args, kwargs, dt = _template(data)
    th = data.draw(st.sampled_from([1, 2, 3]))
    runs = [H.call("ops", op, [a.copy() if isinstance(a, np.ndarray) else a for a in args], kwargs, threads=th)
            for _ in range(2)]
    case = describe(op, args, kwargs, f"threads={th}")
    if not all(r.ok for r in runs):
        raise Fail(f"VALID REFUSED: {runs[0].describe()} for {case}")
    a, b = runs
    for x, y in zip(_wire_flat(a.value) + _wire_flat(a.post_args), _wire_flat(b.value) + _wire_flat(b.post_args)):
        if isinstance(x, np.ndarray) and not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            raise Fail(f"NONDETERMINISTIC: two identical calls differ for {case}")


def _wire_flat(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


test_fuzz_repeat_bit_identical = fuzz_test("test_fuzz_repeat_bit_identical", _deterministic)
