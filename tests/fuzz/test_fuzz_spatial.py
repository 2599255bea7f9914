"""Fuzz: the spatial families (conv2d on every rung, conv_transpose2d, upsample2d, pooling, batch norm)
against the float64 reference, with finite values, NaN / +-inf and huge values, on random geometry
(stride, padding incl. "same"/"valid" and reflect/replicate, dilation, groups, ceil_mode, output_padding)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import _gen as G
from _check import Fail, check_op, compare, fuzz_test, tol_for

VALID = ("normal", "wide", "ties")
NONFINITE = ("special",)
HUGE = ("huge",)


def _exp(dt):
    return 17.0 if dt == np.float32 else 150.0


def _conv_geometry(data, winograd_bias):
    g = data.draw(st.sampled_from([1, 1, 2, 3]))
    C, OC = g * data.draw(st.integers(1, 3)), g * data.draw(st.integers(1, 3))
    if winograd_bias and data.draw(st.booleans()):
        K, s, d = (3, 3), 1, 1
    else:
        K = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
        s = data.draw(st.sampled_from([1, 1, 2, 3, (1, 2)]))
        d = data.draw(st.sampled_from([1, 1, 2, (2, 1)]))
    pad = data.draw(st.sampled_from([0, 1, 2, (1, 0), "same", "valid"]))
    mode = data.draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate"]))
    N, H, W = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 10)), data.draw(st.integers(1, 10))
    return dict(N=N, C=C, OC=OC, H=H, W=W, K=K, stride=s, padding=pad, dilation=d, groups=g, padding_mode=mode)


def _conv(data, regimes):
    from fastann import reference as R
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    geo = _conv_geometry(data, True)
    kw = {k: geo[k] for k in ("stride", "padding", "dilation", "groups", "padding_mode")}
    rung = data.draw(st.sampled_from([None, 1, 2, 3, 4]))
    winograd_geo = geo["K"] == (3, 3) and kw["stride"] == 1 and kw["dilation"] == 1
    valid = False if (rung == 4 and not winograd_geo) else None
    x = G.fill(rng, (geo["N"], geo["C"], geo["H"], geo["W"]), dt, G.regime(data, regimes), huge_exp=_exp(dt))
    w = G.fill(rng, (geo["OC"], geo["C"] // geo["groups"]) + geo["K"], dt, G.regime(data, regimes),
               huge_exp=_exp(dt))
    try:
        yshape = R.conv2d(np.zeros(x.shape), np.zeros(w.shape), None, **kw).shape
    except (TypeError, ValueError):  # invalid geometry: the op must refuse it as the reference does
        check_op("conv2d", [x, w], kw, ops_kwargs=dict(rung=rung), dtype=dt, tol=1.0)
        return
    tol = tol_for("gemm", dt) * (10 if rung in (4, None) and dt == np.float32 else 1)
    th = G.threads(data)
    which = data.draw(st.sampled_from(["forward", "input", "weight", "all"]))
    gy = G.fill(rng, yshape, dt, G.regime(data, regimes), huge_exp=_exp(dt))
    common = dict(dtype=dt, tol=tol, threads=th, abs_scale=True, valid=valid, ops_kwargs=dict(rung=rung))
    if which == "forward":
        b = G.fill(rng, (geo["OC"],), dt, G.regime(data, regimes), huge_exp=_exp(dt)) \
            if data.draw(st.booleans()) else None
        check_op("conv2d", [x, w, b], kw, **common)
    elif which == "input":
        check_op("conv2d_backward_input", [gy, w, x.shape], kw, **common)
    else:
        spread = regimes == NONFINITE and winograd_geo and rung in (None, 4)
        if which == "weight":
            res = check_op("conv2d_backward_weight", [gy, x, w.shape], kw, skip_outputs=(0,) if spread else (),
                           **common)
            dw_index = 0
        else:
            kw2 = dict(kw, need_input_grad=data.draw(st.booleans()), need_bias_grad=data.draw(st.booleans()))
            res = check_op("conv2d_backward", [gy, x, w], kw2, skip_outputs=(1,) if spread else (), **common)
            dw_index = 1
        if spread and res.ok:
            with np.errstate(all="ignore"):
                ref = R.conv2d_backward_weight(gy.astype(np.float64), x.astype(np.float64), w.shape, **kw)
            _winograd_spread_check(np.asarray(res.value if dw_index == 0 else res.value[1]), ref, dt, tol,
                                   f"conv2d weight gradient rung {rung} {geo}")


def _winograd_spread_check(out, ref, dt, tol, case):
    """docs/conv.md: rung 4's weight gradient spreads a non-finite input over every tap of its (output,
    input) channel pair. Where the reference has a non-finite tap, the kernel's tap must be non-finite
    too; a pair whose reference taps are all finite must match it as usual."""
    bad = ~np.isfinite(ref)
    spread_pairs = bad.any(axis=(2, 3))
    if np.any(bad & np.isfinite(out)):
        raise Fail(f"WRONG RESULT: a non-finite weight-gradient tap came out finite for {case}")
    keep = ~spread_pairs
    if keep.any():
        try:
            compare("weight gradient (pairs without non-finite taps)", out[keep], ref[keep], dt, tol)
        except Fail as e:
            raise Fail(f"WRONG RESULT: {e} for {case}") from None


test_fuzz_conv_valid = fuzz_test("test_fuzz_conv_valid", lambda d: _conv(d, VALID))
test_fuzz_conv_nonfinite = fuzz_test("test_fuzz_conv_nonfinite", lambda d: _conv(d, NONFINITE))
test_fuzz_conv_huge = fuzz_test("test_fuzz_conv_huge", lambda d: _conv(d, HUGE))


# ---- conv_transpose2d / upsample2d ------------------------------------------------------------------------
def _transpose(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    g = data.draw(st.sampled_from([1, 1, 2]))
    Cin, Cout = g * data.draw(st.integers(1, 3)), g * data.draw(st.integers(1, 3))
    K = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    s, d = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    p, op_ = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    N, H, W = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7))
    OH = (H - 1) * s - 2 * p + d * (K[0] - 1) + op_ + 1
    OW = (W - 1) * s - 2 * p + d * (K[1] - 1) + op_ + 1
    # PyTorch: output_padding must be smaller than either stride or dilation; the output must be non-empty.
    valid = op_ < max(s, d) and OH >= 1 and OW >= 1
    x = G.fill(rng, (N, Cin, H, W), dt, G.regime(data, regimes), huge_exp=_exp(dt))
    w = G.fill(rng, (Cin, Cout // g) + K, dt, G.regime(data, regimes), huge_exp=_exp(dt))
    kw = dict(stride=s, padding=p, output_padding=op_, groups=g, dilation=d)
    common = dict(dtype=dt, tol=tol_for("gemm", dt), abs_scale=True, valid=valid, threads=G.threads(data))
    if valid and data.draw(st.booleans(), label="backward"):
        gy = G.fill(rng, (N, Cout, OH, OW), dt, G.regime(data, regimes), huge_exp=_exp(dt))
        check_op("conv_transpose2d_backward", [gy, x, w], kw, **common)
    else:
        b = G.fill(rng, (Cout,), dt, "normal") if data.draw(st.booleans()) else None
        check_op("conv_transpose2d", [x, w, b], kw, **common)


def _upsample(data, regimes):
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    N, C, H, W = (data.draw(st.integers(1, 6)) for _ in range(4))
    sf = data.draw(st.sampled_from([1, 2, 3, (2, 1), (1, 3)]))
    mode = data.draw(st.sampled_from(["nearest", "bilinear"]))
    kw = dict(scale_factor=sf, mode=mode)
    if mode == "bilinear":
        kw["align_corners"] = data.draw(st.booleans())
    sh, sw = (sf, sf) if isinstance(sf, int) else sf
    tol = tol_for("reduction", dt)
    if data.draw(st.booleans(), label="backward"):
        gy = G.fill(rng, (N, C, H * sh, W * sw), dt, G.regime(data, regimes), huge_exp=_exp(dt))
        check_op("upsample2d_backward", [gy, (N, C, H, W)], kw, dtype=dt, tol=tol, abs_scale=True)
    else:
        x = G.fill(rng, (N, C, H, W), dt, G.regime(data, regimes), huge_exp=_exp(dt))
        check_op("upsample2d", [x], kw, dtype=dt, tol=tol, abs_scale=True)


test_fuzz_conv_transpose_valid = fuzz_test("test_fuzz_conv_transpose_valid", lambda d: _transpose(d, VALID))
test_fuzz_conv_transpose_nonfinite = fuzz_test("test_fuzz_conv_transpose_nonfinite",
                                               lambda d: _transpose(d, NONFINITE))
test_fuzz_upsample_valid = fuzz_test("test_fuzz_upsample_valid", lambda d: _upsample(d, VALID))
test_fuzz_upsample_nonfinite = fuzz_test("test_fuzz_upsample_nonfinite", lambda d: _upsample(d, NONFINITE))


# ---- pooling ----------------------------------------------------------------------------------------------
def _pool(data, regimes):
    from fastann import reference as R
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    N, C = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    H, W = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))
    # huge: capped so that a sum over a 12x12 plane cannot overflow in any order
    x = G.fill(rng, (N, C, H, W), dt, G.regime(data, regimes), huge_exp=np.log10(np.finfo(dt).max) - 2.5)
    kind = data.draw(st.sampled_from(["max", "avg", "global"]))
    tol = tol_for("reduction", dt)
    if kind == "global":
        if data.draw(st.booleans(), label="backward"):
            check_op("global_avg_pool2d_backward", [G.fill(rng, (N, C), dt, G.regime(data, regimes)), x.shape],
                     dtype=dt, tol=tol)
        else:
            check_op("global_avg_pool2d", [x], dtype=dt, tol=tol, abs_scale=True)
        return
    k = data.draw(st.sampled_from([1, 2, 2, 3, (2, 3)]))
    kw = dict(kernel_size=k, stride=data.draw(st.sampled_from([None, 1, 2, 3])),
              padding=data.draw(st.sampled_from([0, 0, 1])), ceil_mode=data.draw(st.booleans()))
    if kind == "max":
        kw["dilation"] = data.draw(st.sampled_from([1, 1, 2]))
        rung = data.draw(st.sampled_from([None, 1, 2, 3]))
        two = k == 2 and kw["stride"] in (None, 2) and kw["padding"] == 0 and kw["dilation"] == 1 and \
            not (kw["ceil_mode"] and (H % 2 or W % 2))  # rung 2: no partial edge window
        valid = False if rung == 3 or (rung == 2 and not two) else None  # rung 3 runs on CUDA only
        if data.draw(st.booleans(), label="backward"):
            try:
                _, idx = R.max_pool2d(x, **kw)
            except (TypeError, ValueError):
                check_op("max_pool2d", [x], kw, dtype=dt, tol=tol)
                return
            g = G.fill(rng, idx.shape, dt, G.regime(data, regimes))
            check_op("max_pool2d_backward", [g, idx, x.shape], dtype=dt, tol=tol)
        else:
            check_op("max_pool2d", [x], kw, dtype=dt, tol=tol, exact_outputs=(1,), valid=valid,
                     ops_kwargs=dict(rung=rung), threads=G.threads(data))
    else:
        kw["count_include_pad"] = data.draw(st.booleans())
        if data.draw(st.booleans(), label="backward"):
            try:
                shape = R.avg_pool2d(x, **kw).shape
            except (TypeError, ValueError):
                check_op("avg_pool2d", [x], kw, dtype=dt, tol=tol)
                return
            g = G.fill(rng, shape, dt, G.regime(data, regimes))
            check_op("avg_pool2d_backward", [g, x.shape], kw, dtype=dt, tol=tol, abs_scale=True)
        else:
            check_op("avg_pool2d", [x], kw, dtype=dt, tol=tol, abs_scale=True)


test_fuzz_pool_valid = fuzz_test("test_fuzz_pool_valid", lambda d: _pool(d, VALID))
test_fuzz_pool_nonfinite = fuzz_test("test_fuzz_pool_nonfinite", lambda d: _pool(d, NONFINITE))
test_fuzz_pool_huge = fuzz_test("test_fuzz_pool_huge", lambda d: _pool(d, HUGE))


# ---- batch norm -------------------------------------------------------------------------------------------
def _norm(data, regimes):
    from fastann import reference as R
    dt, rng = G.dtype(data), np.random.default_rng(G.seed(data))
    fused = data.draw(st.booleans(), label="batch_norm_relu")
    four = fused or data.draw(st.booleans())
    N, C = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 5))
    H, W = (data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))) if four else (1, 1)
    if fused and data.draw(st.booleans()):
        H, W = max(H, 2), max(W, 2)
    shape = (N, C, H, W) if four else (N, C)
    if N * H * W == 1:
        N = 2
        shape = (N,) + shape[1:]
    reg = G.regime(data, regimes)
    if reg == "huge":  # every value huge: a few huge values among small ones make M - 1 - xhat^2 cancel
        x = (G.fill(rng, shape, dt, "normal") * (10.0 ** (_exp(dt) - 1))).astype(dt)
    else:
        x = G.fill(rng, shape, dt, reg, scale=3.0)
    training = data.draw(st.booleans())
    weight = G.fill(rng, (C,), dt, "normal") if data.draw(st.booleans()) else None
    bias = G.fill(rng, (C,), dt, "normal") if data.draw(st.booleans()) else None
    rm, rv = G.fill(rng, (C,), dt, "normal"), np.abs(G.fill(rng, (C,), dt, "normal")) + 0.1
    if training and data.draw(st.booleans()):
        rm = rv = None
    kw = dict(training=training, momentum=data.draw(st.sampled_from([0.1, 0.0, 1.0, 0.01])),
              eps=data.draw(st.sampled_from([1e-5, 1e-3])))
    tol = tol_for("reduction", dt) * 10
    inplace = (1, 2) if training and rm is not None else ()
    pool = fused and H >= 2 and W >= 2 and data.draw(st.booleans())
    backward = training and data.draw(st.booleans(), label="backward")
    if not backward:
        if fused:
            check_op("batch_norm_relu", [x, rm, rv, weight, bias], dict(kw, max_pool=pool), dtype=dt, tol=tol,
                     inplace=inplace, skip_outputs=(3,), threads=G.threads(data))
        else:
            kw["return_stats"] = training and data.draw(st.booleans())
            check_op("batch_norm", [x, rm, rv, weight, bias], kw, dtype=dt, tol=tol, inplace=inplace,
                     threads=G.threads(data))
        return
    g = G.fill(rng, shape if not pool else (N, C, H // 2, W // 2), dt, G.regime(data, regimes),
               huge_exp=_exp(dt) - 3)
    with np.errstate(all="ignore"):
        if fused:
            y, m, s, wi = R.batch_norm_relu(x, None, None, weight, bias, training=True, max_pool=pool)
            args = [g, y.astype(dt), x, weight, bias, m.astype(dt), s.astype(dt), wi]
        else:
            _, m, s = R.batch_norm(x, None, None, weight, bias, training=True, return_stats=True)
            args = [g, x, weight, m.astype(dt), s.astype(dt)]
        # dx = w invstd / M (M dz - sum dz - xhat sum(dz xhat)) cancels; judge it against its terms' size
        axes = (0, 2, 3) if x.ndim == 4 else (0,)
        bshape = (1, C) + (1,) * (x.ndim - 2)
        xhat = (x.astype(np.float64) - m.reshape(bshape)) * s.reshape(bshape)
        dz = np.abs(g.astype(np.float64))
        if pool:
            dz = np.repeat(np.repeat(dz, 2, axis=2), 2, axis=3)
            dz = np.pad(dz, [(0, 0), (0, 0), (0, H - dz.shape[2]), (0, W - dz.shape[3])])
        M = x.size // C
        wa = np.ones(C) if weight is None else np.abs(weight.astype(np.float64))
        sx = (wa * s).reshape(bshape) * (dz + (dz.sum(axes, keepdims=True) +
                                              np.abs(xhat) * (dz * np.abs(xhat)).sum(axes, keepdims=True)) / M)
        # dweight = sum(dz xhat) and dbias = sum(dz) cancel as well: judged against sum(|dz| |xhat|), sum(|dz|)
        sw, sb = (dz * np.abs(xhat)).sum(axes), dz.sum(axes)
    check_op("batch_norm_relu_backward" if fused else "batch_norm_backward", args, dtype=dt, tol=tol,
             threads=G.threads(data), scales=[sx, sw, sb])


def _norm_huge_no_nan(data):
    """Finite float64 inputs up to 1e300 (squares overflow): the output has no NaN."""
    import _harness as H
    rng = np.random.default_rng(G.seed(data))
    N, C, H_, W = data.draw(st.integers(2, 4)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), \
        data.draw(st.integers(1, 4))
    x = G.fill(rng, (N, C, H_, W), np.float64, "huge", huge_exp=300.0)
    res = H.call("ops", "batch_norm", [x, None, None], dict(training=True))
    if not res.ok:
        raise Fail(f"VALID REFUSED: {res.describe()} for batch_norm(<float64 {x.shape} max|x|~1e300>)")
    if np.isnan(res.value).any():
        raise Fail(f"WRONG RESULT: NaN in batch_norm output for finite float64 input of magnitude ~1e300 "
                   f"(shape {x.shape})")


test_fuzz_norm_valid = fuzz_test("test_fuzz_norm_valid", lambda d: _norm(d, ("normal", "ties", "wide")))
test_fuzz_norm_nonfinite = fuzz_test("test_fuzz_norm_nonfinite", lambda d: _norm(d, NONFINITE))
test_fuzz_norm_huge = fuzz_test("test_fuzz_norm_huge", lambda d: _norm(d, HUGE))
test_fuzz_norm_huge_float64_no_nan = fuzz_test("test_fuzz_norm_huge_float64_no_nan", _norm_huge_no_nan)
