"""Fuzz: the dense families (activation, softmax, gemm / linear, losses, dropout, optimizers) against the
float64 reference, with finite values ("valid"), NaN / +-inf ("nonfinite") and values near the dtype's
limit ("huge"). Every kernel call runs in the worker process (see _harness.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import _gen as G
from _check import check_op, fuzz_test, tol_for

VALID = ("normal", "wide", "ties", "tiny")
NONFINITE = ("special",)
HUGE = ("huge",)

ACTIVATIONS = ["linear", "identity", "relu", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh",
               "softplus", "softsign", "relu6", "silu", "swish", "hard_silu", "hard_swish", "gelu", "mish",
               "exponential"]


def _shape(data, max_ndim=3, max_size=300, min_ndim=1):
    nd = data.draw(st.integers(min_ndim, max_ndim))
    dims = []
    left = max_size
    for _ in range(nd):
        d = data.draw(st.integers(1, max(1, min(left, 40 if nd > 1 else max_size))))
        dims.append(d)
        left = max(1, left // d)
    return tuple(dims)


# ---- activation -------------------------------------------------------------------------------------------
def _activation(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    name = data.draw(st.sampled_from(ACTIVATIONS))
    params = {}
    if name == "leaky_relu" and data.draw(st.booleans()):
        params["negative_slope"] = data.draw(st.floats(-2, 2, allow_nan=False))
    if name == "elu" and data.draw(st.booleans()):
        params["alpha"] = data.draw(st.floats(0, 3, allow_nan=False))
    if name == "gelu":
        params["approximate"] = data.draw(st.sampled_from(["none", "tanh"]))
    # The kernels (and PyTorch) use the parameter rounded to the input's dtype, and so does the reference, but
    # the harness hands the reference float64 copies of the inputs: round it here, or a slope below float32's
    # range (0 for the kernel: -inf * 0 = NaN) would be compared with the unrounded one (-inf).
    for k in ("negative_slope", "alpha"):
        if k in params:
            params[k] = float(np.asarray(params[k], dtype=dt))
    shape = _shape(data)
    # huge: a decade and a half below the limit, so that the reference's x * relu6(x + 3) / 6 and the like
    # do not overflow where the result does not
    x = G.fill(rng, shape, dt, G.regime(data, regimes), scale=3.0, huge_exp=np.log10(np.finfo(dt).max) - 1.5)
    tol = tol_for("elementwise", dt) * 4
    if data.draw(st.booleans(), label="backward"):
        g = G.fill(rng, shape, dt, G.regime(data, regimes if regimes != HUGE else ("normal",)))
        if data.draw(st.booleans(), label="generic"):
            check_op("activation_backward", [name, g, x], params, dtype=dt, tol=tol)
        else:
            check_op(f"{name}_backward", [g, x], params, dtype=dt, tol=tol)
    elif data.draw(st.booleans(), label="generic"):
        check_op("activation", [name, x], params, dtype=dt, tol=tol)
    else:
        check_op(name, [x], params, dtype=dt, tol=tol)


test_fuzz_activation_valid = fuzz_test("test_fuzz_activation_valid", lambda d: _activation(d, VALID))
test_fuzz_activation_nonfinite = fuzz_test("test_fuzz_activation_nonfinite", lambda d: _activation(d, NONFINITE))
test_fuzz_activation_huge = fuzz_test("test_fuzz_activation_huge", lambda d: _activation(d, HUGE))


# ---- softmax ----------------------------------------------------------------------------------------------
def _softmax(data, regimes):
    from fastann import reference as R
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    op = data.draw(st.sampled_from(["softmax", "log_softmax"]))
    shape = _shape(data, max_size=400)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = G.fill(rng, shape, dt, G.regime(data, regimes), scale=4.0)
    tol = tol_for("reduction", dt)
    if data.draw(st.booleans(), label="backward"):
        with np.errstate(all="ignore"):
            y = getattr(R, op)(x, dim).astype(dt)
        g = G.fill(rng, shape, dt, G.regime(data, regimes if regimes != HUGE else ("normal",)))
        # the backward subtracts a sum from each g: judge its error against the terms' magnitudes
        g64, y64 = np.abs(g.astype(np.float64)), y.astype(np.float64)
        with np.errstate(all="ignore"):
            if op == "softmax":
                sc = np.abs(y64) * (g64 + np.sum(g64 * np.abs(y64), axis=dim, keepdims=True))
            else:
                sc = g64 + np.exp(y64) * np.sum(g64, axis=dim, keepdims=True)
        check_op(op + "_backward", [g, y, dim], dtype=dt, tol=tol, scales=[sc])
    else:
        check_op(op, [x, dim], dtype=dt, tol=tol, elementwise=True)


test_fuzz_softmax_valid = fuzz_test("test_fuzz_softmax_valid", lambda d: _softmax(d, VALID))
test_fuzz_softmax_nonfinite = fuzz_test("test_fuzz_softmax_nonfinite", lambda d: _softmax(d, NONFINITE))
test_fuzz_softmax_huge = fuzz_test("test_fuzz_softmax_huge", lambda d: _softmax(d, HUGE))


# ---- gemm / linear ----------------------------------------------------------------------------------------
def _gemm_exp(dt):
    """Largest decimal exponent of the inputs of a product with up to ~100 terms that cannot overflow."""
    return 17.0 if dt == np.float32 else 150.0


def _gemm(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    big = data.draw(st.booleans())
    M, N, K = (data.draw(st.integers(1, 80 if big else 12)) for _ in range(3))
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    reg = G.regime(data, regimes)
    a = G.fill(rng, (K, M) if ta else (M, K), dt, reg, huge_exp=_gemm_exp(dt))
    b = G.fill(rng, (N, K) if tb else (K, N), dt, G.regime(data, regimes), huge_exp=_gemm_exp(dt))
    kw = dict(alpha=data.draw(st.sampled_from([1.0, -0.5, 2.0, 0.0])), trans_a=ta, trans_b=tb,
              rung=data.draw(st.sampled_from([None, 1, 2, 3, 4])))
    args = [a, b]
    if data.draw(st.booleans(), label="with c"):
        kw["beta"] = data.draw(st.sampled_from([0.0, 1.0, -2.0]))
        args.append(G.fill(rng, (M, N), dt, G.regime(data, regimes), huge_exp=_gemm_exp(dt)))
    check_op("gemm", args, kw, dtype=dt, tol=tol_for("gemm", dt), threads=G.threads(data), abs_scale=True)


def _linear(data, regimes):
    from fastann import reference as R
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    n, i, o = (data.draw(st.integers(1, 40)) for _ in range(3))
    e = _gemm_exp(dt)
    x = G.fill(rng, (n, i), dt, G.regime(data, regimes), huge_exp=e)
    w = G.fill(rng, (o, i), dt, G.regime(data, regimes), huge_exp=e)
    b = G.fill(rng, (o,), dt, G.regime(data, regimes), huge_exp=e) if data.draw(st.booleans()) else None
    act = data.draw(st.sampled_from([None, "relu"]))
    th = G.threads(data)
    if data.draw(st.booleans(), label="backward"):
        with np.errstate(all="ignore"):
            y = R.linear(x, w, b, act).astype(dt)
        g = G.fill(rng, (n, o), dt, G.regime(data, regimes), huge_exp=e)
        kw = dict(output=y if act or data.draw(st.booleans()) else None, activation=act,
                  need_input_grad=data.draw(st.booleans()), need_bias_grad=data.draw(st.booleans()))
        check_op("linear_backward", [g, x, w], kw, dtype=dt, tol=tol_for("gemm", dt), threads=th, abs_scale=True)
    else:
        check_op("linear", [x, w, b, act], dtype=dt, tol=tol_for("gemm", dt), threads=th, abs_scale=True)


test_fuzz_gemm_valid = fuzz_test("test_fuzz_gemm_valid", lambda d: _gemm(d, VALID))
test_fuzz_gemm_nonfinite = fuzz_test("test_fuzz_gemm_nonfinite", lambda d: _gemm(d, NONFINITE))
test_fuzz_gemm_huge = fuzz_test("test_fuzz_gemm_huge", lambda d: _gemm(d, HUGE))
test_fuzz_linear_valid = fuzz_test("test_fuzz_linear_valid", lambda d: _linear(d, VALID))
test_fuzz_linear_nonfinite = fuzz_test("test_fuzz_linear_nonfinite", lambda d: _linear(d, NONFINITE))


# ---- losses -----------------------------------------------------------------------------------------------
def _grad_output(data, regimes):
    if regimes == NONFINITE and data.draw(st.booleans()):
        return data.draw(st.sampled_from([float("inf"), float("-inf"), float("nan")]))
    return data.draw(st.sampled_from([1.0, 0.5, -3.0, 1e-3]))


def _pointwise_loss(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    op = data.draw(st.sampled_from(["mse_loss", "l1_loss", "binary_cross_entropy",
                                    "binary_cross_entropy_with_logits"]))
    shape = _shape(data, max_size=500)
    reg = G.regime(data, regimes)
    e = 17.0 if dt == np.float32 else 150.0  # squares and sums of up to 500 stay finite
    if op == "binary_cross_entropy" and reg != "special" and data.draw(st.booleans()):
        x = rng.uniform(0, 1, shape).astype(dt)
    else:
        x = G.fill(rng, shape, dt, reg, huge_exp=e)
    t = rng.uniform(0, 1, shape).astype(dt) if "binary" in op else G.fill(rng, shape, dt, G.regime(data, regimes),
                                                                          huge_exp=e)
    kw = {}
    if op == "binary_cross_entropy" and data.draw(st.booleans()):
        kw["eps"] = data.draw(st.sampled_from([0.0, 1e-12, 1e-3, 0.25]))
    tol = tol_for("reduction", dt)
    if data.draw(st.booleans(), label="backward"):
        kw["grad_output"] = _grad_output(data, regimes)
        check_op(op + "_backward", [x, t], kw, dtype=dt, tol=tol)
    else:
        check_op(op, [x, t], kw, dtype=dt, tol=tol)


def _class_loss(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    N, C = data.draw(st.integers(1, 24)), data.draw(st.integers(1, 40))
    probs = data.draw(st.booleans(), label="categorical_crossentropy")
    reg = G.regime(data, regimes)
    if probs and reg not in ("special", "huge"):
        x = rng.uniform(0, 1, (N, C)).astype(dt)
    elif probs:  # probabilities are >= 0; a row of 40 huge ones still sums to a finite number
        x = np.abs(G.fill(rng, (N, C), dt, reg, huge_exp=36.0 if dt == np.float32 else 306.0))
    else:
        x = G.fill(rng, (N, C), dt, reg, scale=3.0)
    if data.draw(st.booleans(), label="labels"):
        t = rng.integers(0, C, N).astype(data.draw(st.sampled_from([np.int32, np.int64])))
    else:
        t = rng.uniform(0, 1, (N, C))
        t = (t / t.sum(1, keepdims=True)).astype(dt)
    tol = tol_for("reduction", dt)
    kind = data.draw(st.sampled_from(["forward", "backward", "with_grad"] if not probs else ["forward", "backward"]))
    base = "categorical_crossentropy" if probs else "cross_entropy"
    kw = {}
    if probs and data.draw(st.booleans()):
        kw["eps"] = data.draw(st.sampled_from([0.0, 1e-12, 1e-3]))
    if kind == "forward":
        check_op(base, [x, t], kw, dtype=dt, tol=tol)
    elif kind == "backward":
        kw["grad_output"] = _grad_output(data, regimes)
        check_op(base + "_backward", [x, t], kw, dtype=dt, tol=tol)
    else:
        check_op("cross_entropy_with_grad", [x, t], dtype=dt, tol=tol)


test_fuzz_loss_valid = fuzz_test("test_fuzz_loss_valid", lambda d: _pointwise_loss(d, VALID))
test_fuzz_loss_nonfinite = fuzz_test("test_fuzz_loss_nonfinite", lambda d: _pointwise_loss(d, NONFINITE))
test_fuzz_loss_huge = fuzz_test("test_fuzz_loss_huge", lambda d: _pointwise_loss(d, HUGE))
test_fuzz_class_loss_valid = fuzz_test("test_fuzz_class_loss_valid", lambda d: _class_loss(d, VALID))
test_fuzz_class_loss_nonfinite = fuzz_test("test_fuzz_class_loss_nonfinite", lambda d: _class_loss(d, NONFINITE))
test_fuzz_class_loss_huge = fuzz_test("test_fuzz_class_loss_huge", lambda d: _class_loss(d, HUGE))


# ---- dropout ----------------------------------------------------------------------------------------------
def _dropout(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    shape = _shape(data, max_size=600)
    x = G.fill(rng, shape, dt, G.regime(data, regimes))
    p = data.draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.999]))
    seed = data.draw(st.integers(0, 2**64 - 1))
    tol = tol_for("elementwise", dt)
    if data.draw(st.booleans(), label="backward"):
        check_op("dropout_backward", [x], dict(p=p, seed=seed), dtype=dt, tol=tol)
    else:
        check_op("dropout", [x], dict(p=p, seed=seed, training=data.draw(st.booleans())), dtype=dt, tol=tol)


test_fuzz_dropout_valid = fuzz_test("test_fuzz_dropout_valid", lambda d: _dropout(d, VALID))
test_fuzz_dropout_nonfinite = fuzz_test("test_fuzz_dropout_nonfinite", lambda d: _dropout(d, NONFINITE))


# ---- optimizers -------------------------------------------------------------------------------------------
OPTIMIZERS = {  # name: (state arrays (name, non-negative?), step?, hyper-parameter strategies)
    "sgd_step": ([("momentum_buffer", False)], False,
                 dict(lr=st.floats(1e-4, 1.0), momentum=st.sampled_from([0.0, 0.5, 0.9]),
                      dampening=st.sampled_from([0.0, 0.1]), nesterov=st.booleans(),
                      weight_decay=st.sampled_from([0.0, 1e-2]))),
    "adam_step": ([("exp_avg", False), ("exp_avg_sq", True)], True,
                  dict(lr=st.floats(1e-4, 1.0), weight_decay=st.sampled_from([0.0, 1e-2]))),
    "adamw_step": ([("exp_avg", False), ("exp_avg_sq", True)], True,
                   dict(lr=st.floats(1e-4, 1.0), weight_decay=st.sampled_from([0.0, 4e-3]))),
    "rmsprop_step": ([("square_avg", True)], False,
                     dict(lr=st.floats(1e-4, 1.0), rho=st.sampled_from([0.9, 0.5]),
                          weight_decay=st.sampled_from([0.0, 1e-2]))),
    "adagrad_step": ([("accumulator", True)], False, dict(lr=st.floats(1e-4, 1.0))),
    "adadelta_step": ([("accum_grad", True), ("accum_update", True)], False,
                      dict(lr=st.floats(1e-4, 1.0), rho=st.sampled_from([0.95, 0.5]))),
    "adamax_step": ([("exp_avg", False), ("exp_inf", True)], True, dict(lr=st.floats(1e-4, 1.0))),
    "nadam_step": ([("exp_avg", False), ("exp_avg_sq", True)], True, dict(lr=st.floats(1e-4, 1.0))),
}


def _optim(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    op = data.draw(st.sampled_from(sorted(OPTIMIZERS)))
    states, has_step, hyper = OPTIMIZERS[op]
    shape = _shape(data, max_ndim=2, max_size=300)
    reg = G.regime(data, regimes)
    e = 17.0 if dt == np.float32 else 150.0  # g^2 stays finite
    param = G.fill(rng, shape, dt, reg, huge_exp=e)
    grad = G.fill(rng, shape, dt, G.regime(data, regimes), huge_exp=e)
    kw = {k: data.draw(v) for k, v in hyper.items()}
    if op == "sgd_step" and kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0):
        kw["nesterov"] = False
    args = [param, grad]
    for name, nonneg in states:
        s = G.fill(rng, shape, dt, "normal", scale=0.1)
        args.append(np.abs(s) if nonneg else s)
    if op == "rmsprop_step":
        if data.draw(st.booleans()):
            kw["momentum"] = 0.9
            args.append(G.fill(rng, shape, dt, "normal", scale=0.1))
        else:
            args.append(None)
        if data.draw(st.booleans()):
            kw["centered"] = True
            args.append(np.zeros(shape, dt))
    if op in ("adam_step", "adamw_step") and data.draw(st.booleans()):
        kw["max_exp_avg_sq"] = np.abs(G.fill(rng, shape, dt, "normal", scale=0.1))
    if has_step:
        hi = 10**9 if regimes == HUGE and data.draw(st.booleans()) else 1000
        kw["step"] = data.draw(st.integers(1, hi))
    inplace = [i for i, a in enumerate(args) if a is not None and i != 1] + \
        [k for k, v in kw.items() if isinstance(v, np.ndarray)]
    check_op(op, args, kw, dtype=dt, tol=tol_for("reduction", dt), inplace=inplace, threads=G.threads(data))


test_fuzz_optim_valid = fuzz_test("test_fuzz_optim_valid", lambda d: _optim(d, VALID))
test_fuzz_optim_nonfinite = fuzz_test("test_fuzz_optim_nonfinite", lambda d: _optim(d, NONFINITE))
test_fuzz_optim_huge = fuzz_test("test_fuzz_optim_huge", lambda d: _optim(d, HUGE))
