"""The recurrent family (ops.rnn / rnn_backward) against fastann.reference.rnn: every mode, rung, direction
and dtype; finite-difference checks of the reference and of each rung's backward; NaN; bad input from Python
and at the C++ boundary."""
from __future__ import annotations

import numpy as np
import pytest

from fastann import _backend, ops
from fastann import reference as ref

from helpers import assert_close

MODES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
TOL = {np.float32: 2e-5, np.float64: 1e-11}


def make(mode, dt, N=3, T=5, F=4, H=6, seed=0, bias=True, state=True):
    r = np.random.default_rng(seed)
    G = MODES[mode]
    f = lambda *s, k=1.0: (r.standard_normal(s) * k).astype(dt)  # noqa: E731
    a = dict(input=f(N, T, F), weight_ih=f(G * H, F, k=0.5), weight_hh=f(G * H, H, k=0.5),
             bias_ih=f(G * H, k=0.3) if bias else None, bias_hh=f(G * H, k=0.3) if bias else None,
             h0=f(N, H) if state else None, c0=f(N, H) if state and mode == "lstm" else None)
    grads = dict(grad_output=f(N, T, H), grad_h_n=f(N, H), grad_c_n=f(N, H) if mode == "lstm" else None)
    return a, grads


def scalar_loss(out, grads):
    """sum(grad * output) over every output: its gradient w.r.t. the outputs is exactly `grads`."""
    o, hn, cn, _ = out
    s = (o * grads["grad_output"]).sum() + (hn * grads["grad_h_n"]).sum()
    return s + ((cn * grads["grad_c_n"]).sum() if cn is not None else 0.0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("rung", [None, 1, 2, 3])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("shape", [(3, 5, 4, 6), (1, 1, 3, 1), (7, 3, 1, 17)])
def test_matches_reference(mode, rung, go_backwards, dt, shape):
    N, T, F, H = shape
    for bias, state in [(True, True), (False, False)]:
        a, g = make(mode, dt, N, T, F, H, bias=bias, state=state)
        R = ref.rnn(**a, mode=mode, go_backwards=go_backwards)
        O = ops.rnn(**a, mode=mode, go_backwards=go_backwards, rung=rung)
        for name, o, r_ in zip(["output", "h_n", "c_n", "saved"], O, R):
            assert (o is None) == (r_ is None), name
            if o is not None:
                assert o.dtype == dt
                assert_close(o, r_, TOL[dt], f"{mode} {name}")
        a64 = {k: None if v is None else v.astype(np.float64) for k, v in a.items()}
        g64 = {k: None if v is None else v.astype(np.float64) for k, v in g.items()}
        RB = ref.rnn_backward(**g64, input=a64["input"], weight_ih=a64["weight_ih"], weight_hh=a64["weight_hh"],
                              output=R[0], saved=R[3], h0=a64["h0"], c0=a64["c0"], mode=mode,
                              go_backwards=go_backwards)
        B = ops.rnn_backward(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=O[0],
                             saved=O[3], h0=a["h0"], c0=a["c0"], mode=mode, go_backwards=go_backwards, rung=rung)
        names = ["dinput", "dh0", "dc0", "dweight_ih", "dweight_hh", "dbias_ih", "dbias_hh"]
        for name, b, r_ in zip(names, B, RB):
            assert (b is None) == (r_ is None), name
            if b is not None:
                assert_close(b, r_, 10 * TOL[dt], f"{mode} {name}")


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_reference_gradient_by_finite_differences(mode, go_backwards):
    """The reference's BPTT is the derivative of its forward (central differences, every argument)."""
    a, g = make(mode, np.float64, N=2, T=4, F=3, H=3, seed=1)
    out = ref.rnn(**a, mode=mode, go_backwards=go_backwards)
    B = ref.rnn_backward(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=out[0],
                         saved=out[3], h0=a["h0"], c0=a["c0"], mode=mode, go_backwards=go_backwards)
    grads = dict(input=B[0], h0=B[1], c0=B[2], weight_ih=B[3], weight_hh=B[4], bias_ih=B[5], bias_hh=B[6])
    eps = 1e-6
    for name, analytic in grads.items():
        if analytic is None:
            continue
        x = a[name]
        num = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + eps
            up = scalar_loss(ref.rnn(**a, mode=mode, go_backwards=go_backwards), g)
            x[i] = old - eps
            down = scalar_loss(ref.rnn(**a, mode=mode, go_backwards=go_backwards), g)
            x[i] = old
            num[i] = (up - down) / (2 * eps)
        assert_close(analytic, num, 1e-7, f"{mode} d{name}")


@pytest.mark.parametrize("rung", [1, 2, 3])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_kernel_gradient_by_finite_differences(mode, go_backwards, rung):
    """Each rung's float64 backward against central differences of the same rung's forward (a sample of
    elements of every argument)."""
    a, g = make(mode, np.float64, N=2, T=4, F=3, H=3, seed=2)
    run = lambda: ops.rnn(**a, mode=mode, go_backwards=go_backwards, rung=rung)  # noqa: E731
    out = run()
    B = ops.rnn_backward(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=out[0],
                         saved=out[3], h0=a["h0"], c0=a["c0"], mode=mode, go_backwards=go_backwards, rung=rung)
    grads = dict(input=B[0], h0=B[1], c0=B[2], weight_ih=B[3], weight_hh=B[4], bias_ih=B[5], bias_hh=B[6])
    r = np.random.default_rng(3)
    for name, analytic in grads.items():
        if analytic is None:
            continue
        x = a[name]
        for _ in range(4):
            i = tuple(int(r.integers(s)) for s in x.shape)
            old = x[i]
            x[i] = old + 1e-6
            up = scalar_loss(run(), g)
            x[i] = old - 1e-6
            down = scalar_loss(run(), g)
            x[i] = old
            num = (up - down) / 2e-6
            assert abs(analytic[i] - num) <= 1e-6 * max(1.0, abs(num)), (name, i, analytic[i], num)


@pytest.mark.parametrize("rung", [1, 2, 3])
@pytest.mark.parametrize("mode", list(MODES))
def test_nan_propagates(mode, rung):
    a, g = make(mode, np.float32)
    a["input"][1, 2, 0] = np.nan
    o, hn, cn, _ = ops.rnn(**a, mode=mode, rung=rung)
    assert np.isnan(o[1, 2:]).all() and np.isfinite(o[0]).all() and np.isnan(hn[1]).all()
    B = ops.rnn_backward(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=o,
                         saved=_, h0=a["h0"], c0=a["c0"], mode=mode, rung=rung)
    assert np.isnan(B[3]).any() and np.isfinite(B[0][0]).all()
    a, _g = make(mode, np.float32)
    a["weight_hh"][0, 0] = np.nan
    assert np.isnan(ops.rnn(**a, mode=mode, rung=rung)[0][:, 1:]).all()


def test_go_backwards_reads_reversed_input():
    a, _ = make("lstm", np.float64)
    fwd = ops.rnn(**dict(a, input=np.ascontiguousarray(a["input"][:, ::-1])), mode="lstm")
    bwd = ops.rnn(**a, mode="lstm", go_backwards=True)
    np.testing.assert_allclose(bwd[0], fwd[0], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mod", [ops, ref])
def test_bad_input_from_python(mod):
    a, _ = make("lstm", np.float32)
    cases = [
        (dict(input=a["input"][0]), ValueError, "input must be 3-D"),
        (dict(input=np.zeros((3, 0, 4), np.float32)), ValueError, "input is empty"),
        (dict(input=a["input"].astype(np.int32)), TypeError, "input must be float32 or float64"),
        (dict(h0=np.zeros((3, 5), np.float32)), ValueError, r"h0 must have shape \(3, 6\)"),
        (dict(c0=np.zeros((2, 6), np.float32)), ValueError, r"c0 must have shape \(3, 6\)"),
        (dict(weight_hh=np.zeros((24, 5), np.float32)), ValueError, "weight_hh must have shape"),
        (dict(weight_ih=np.zeros((24, 3), np.float32)), ValueError, "weight_ih must have shape"),
        (dict(bias_ih=np.zeros(23, np.float32)), ValueError, "bias_ih must have shape"),
        (dict(h0=a["h0"].astype(np.float64)), TypeError, "one dtype"),
        (dict(mode="rnn"), ValueError, "mode must be one of"),
        (dict(rung=4), ValueError, "rung must be"),
        (dict(mode="gru"), ValueError, "weight_hh must have shape"),
        (dict(input=[[[1.0]]]), TypeError, "input must be a numpy"),
    ]
    for change, exc, msg in cases:
        kw = dict(a, mode="lstm")
        kw.update(change)
        with pytest.raises(exc, match=msg):
            mod.rnn(**kw)
    g = make("gru", np.float32)[0]
    with pytest.raises(ValueError, match="c0 is an LSTM's"):
        mod.rnn(**dict(g, c0=a["c0"]), mode="gru")


def test_bad_input_at_the_cpp_boundary():
    k = _backend.cpu
    f = lambda *s, dt=np.float32: np.zeros(s, dt)  # noqa: E731
    x, wi, wh = f(2, 3, 4), f(8, 4), f(8, 2)

    def fwd(**kw):
        args = dict(mode="lstm", output=f(2, 3, 2), h_n=f(2, 2), c_n=f(2, 2), saved=f(2, 3, 10), input=x, h0=None,
                    c0=None, weight_ih=wi, weight_hh=wh, bias_ih=None, bias_hh=None, go_backwards=False, rung=0)
        args.update(kw)
        k.rnn_forward(**args)

    fwd()
    for kw, exc, msg in [
        (dict(input=f(2, 3)), ValueError, "rnn_forward: input must be 3-D"),
        (dict(input=f(2, 0, 4)), ValueError, "rnn_forward: input is empty"),
        (dict(input=x.astype(np.int64)), TypeError, "rnn_forward: input must be float32 or float64"),
        (dict(h0=f(3, 2)), ValueError, r"rnn_forward: h0 must have shape \(2, 2\)"),
        (dict(c_n=None), ValueError, "c_n must be an"),
        (dict(saved=f(2, 3, 8)), ValueError, "saved must have shape"),
        (dict(weight_hh=f(8, 2, dt=np.float64)), TypeError, "weight_hh has dtype float64"),
        (dict(mode="nope"), ValueError, "mode must be"),
        (dict(rung=4), ValueError, "rung must be in"),
        (dict(output=x), ValueError, "output must have shape"),
    ]:
        with pytest.raises(exc, match=msg):
            fwd(**kw)
    out = f(2, 3, 2)
    with pytest.raises(ValueError, match="share memory"):
        fwd(output=out, h_n=out[0, :2])
    with pytest.raises(ValueError, match="dc0 must be None"):
        k.rnn_backward("gru", f(2, 3, 4), f(2, 2), f(2, 2), f(6, 4), f(6, 2), None, None, None, None, None, x, None,
                       None, f(6, 4), f(6, 2), f(2, 3, 2), f(2, 3, 8), False, 0)


def _run_all(mode, a, g, rung, go_backwards=False):
    O = ops.rnn(**a, mode=mode, go_backwards=go_backwards, rung=rung)
    B = ops.rnn_backward(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=O[0],
                         saved=O[3], h0=a["h0"], c0=a["c0"], mode=mode, go_backwards=go_backwards, rung=rung)
    return [x for x in list(O) + list(B) if x is not None]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_rung3_threads_match_reference_and_one_thread(mode, go_backwards):
    """Rung 3 on a shape large enough to spread its steps over 2 threads (items pulled from one counter):
    against the reference, and bit for bit the same as on 1 thread (each element is computed by one item in
    a fixed order). N = 50 leaves a partial micro-tile and a partial row chunk; H = 40 a partial panel."""
    import fastann

    a, g = make(mode, np.float32, N=50, T=4, F=9, H=40, seed=4)
    R = ref.rnn(**a, mode=mode, go_backwards=go_backwards)
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(1)
        one = _run_all(mode, a, g, 3, go_backwards)
        fastann.set_num_threads(2)
        two = _run_all(mode, a, g, 3, go_backwards)
    finally:
        fastann.set_num_threads(before)
    for x, y in zip(one, two):
        np.testing.assert_array_equal(x, y)
    for name, o, r_ in zip(["output", "h_n", "c_n", "saved"], [x for x in two[:4]], [r for r in R if r is not None]):
        assert_close(o, r_, TOL[np.float32], f"{mode} {name}")


@pytest.mark.parametrize("level", ["avx2", "scalar"])
def test_rung3_without_avx512_matches_reference(level):
    """Rung 3 on CPUs without AVX-512 (forced with FASTANN_SIMD in a fresh process) runs its portable micro-
    kernel; the auto choice there is rung 2."""
    from helpers import check_at_simd

    check_at_simd(level, """
        from helpers import rel_err
        G = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
        for mode in G:
            for dt, tol in ((np.float32, 2e-5), (np.float64, 1e-11)):
                for N, T, F, H in ((3, 5, 4, 6), (50, 3, 7, 21)):
                    f = lambda *s: (rng.standard_normal(s) * 0.5).astype(dt)
                    x, wi, wh, bi, bh = f(N, T, F), f(G[mode] * H, F), f(G[mode] * H, H), f(G[mode] * H), f(G[mode] * H)
                    R = ref.rnn(x, wi, wh, bi, bh, mode=mode, go_backwards=True)
                    O = ops.rnn(x, wi, wh, bi, bh, mode=mode, go_backwards=True, rung=3)
                    go = f(N, T, H)
                    d = lambda v: v.astype(np.float64)
                    RB = ref.rnn_backward(d(go), None, None, d(x), d(wi), d(wh), R[0], R[3], mode=mode, go_backwards=True)
                    B = ops.rnn_backward(go, None, None, x, wi, wh, O[0], O[3], mode=mode, go_backwards=True, rung=3)
                    errs = [rel_err(o, r) for o, r in zip(list(O) + list(B), list(R) + list(RB)) if r is not None]
                    assert max(errs) < 10 * tol, (mode, dt, N, errs)
        """)


@pytest.mark.parametrize("rung", [None, 1, 2, 3])
@pytest.mark.parametrize("mod", [ops, ref])
def test_need_input_grad_false_skips_dinput(mod, rung):
    """need_input_grad=False: dinput is None and every other gradient is the same, bit for bit."""
    a, g = make("lstm", np.float64)
    O = mod.rnn(**a, mode="lstm", rung=rung)
    kw = dict(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=O[0], saved=O[3],
              h0=a["h0"], c0=a["c0"], mode="lstm", rung=rung)
    full, part = mod.rnn_backward(**kw), mod.rnn_backward(**kw, need_input_grad=False)
    assert full[0] is not None and part[0] is None
    for x, y in zip(full[1:], part[1:]):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(TypeError, match="need_input_grad must be a bool"):
        mod.rnn_backward(**kw, need_input_grad=None)
