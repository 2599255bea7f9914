"""Batch normalization (training / inference forward, fused backward) against fastann.reference.norm."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_ELEMENTWISE, TOL_REDUCTION, assert_close, gradcheck, to_numpy

CPU = fastann._backend.cpu
DTYPES = [np.float32, np.float64]
SHAPES = [
    (7, 5),           # (N,C): the column-block path
    (2, 1),           # smallest training batch
    (33, 70),         # more columns than one vector step
    (4, 3, 5, 7),     # odd H, W
    (1, 2, 3, 3),     # batch 1
    (3, 6, 1, 1),     # 4-D with H*W == 1
    (8, 16, 14, 14),  # enough channels to split over threads
]


def f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _output_scale(x, mean, invstd, w, b):
    """(|x| + |mean|) * invstd * |gamma| + |beta|, float64: the sizes of the terms of the output
    (x - mean) * invstd * gamma + beta, which cancel when x is near the mean (few values per channel, or a
    running_mean near x in inference). The output's error is measured against it (see helpers.rel_err)."""
    x = f64(x)
    C = x.shape[1]
    per_channel = (1, -1) + (1,) * (x.ndim - 2)
    gamma = np.ones(C) if w is None else np.abs(f64(w))
    beta = np.zeros(C) if b is None else np.abs(f64(b))
    return ((np.abs(x) + np.abs(f64(mean)).reshape(per_channel)) * (f64(invstd) * gamma).reshape(per_channel)
            + beta.reshape(per_channel))


def _params(rng, C, dtype, affine):
    if not affine:
        return None, None
    return (rng.uniform(0.5, 1.5, C).astype(dtype), rng.standard_normal(C).astype(dtype))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_training_forward_and_backward(xp, rng, shape, dtype, affine):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    w, b = _params(rng, C, dtype, affine)
    rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    rrm, rrv = rm.astype(np.float64), rv.astype(np.float64)
    X = xp.asarray(x)
    W, B = (None, None) if w is None else (xp.asarray(w), xp.asarray(b))
    RM, RV = xp.asarray(rm), xp.asarray(rv)
    out, mean, invstd = ops.batch_norm(X, RM, RV, W, B, training=True, momentum=0.3, eps=1e-3,
                                       return_stats=True)
    # The reference takes float64 copies (it checks dtypes agree, as ops does, and updates rrm/rrv in place).
    rout, rmean, rinvstd = ref.batch_norm(f64(x), rrm, rrv, f64(w), f64(b), training=True, momentum=0.3,
                                          eps=1e-3, return_stats=True)
    assert out.dtype == dtype and mean.dtype == dtype and invstd.dtype == dtype
    tol = TOL_REDUCTION[dtype]
    assert_close(out, rout, tol, "batch_norm output", scale=_output_scale(x, rmean, rinvstd, w, b))
    assert_close(mean, rmean, tol, "save_mean")
    assert_close(invstd, rinvstd, tol, "save_invstd")
    assert_close(RM, rrm, tol, "running_mean")
    assert_close(RV, rrv, tol, "running_var")

    g = rng.standard_normal(shape).astype(dtype)
    dx, dw, db = ops.batch_norm_backward(xp.asarray(g), X, W, mean, invstd)
    rdx, rdw, rdb = ref.batch_norm_backward(f64(g), f64(x), f64(w), f64(to_numpy(mean)), f64(to_numpy(invstd)))
    assert dx.dtype == dtype
    # dx is a difference of terms of size |gamma * invstd * dy| that cancel almost exactly when M is tiny
    # (for M = 2 it is only eps's doing), so its error is measured against the size of those terms.
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    gamma = np.ones(C) if w is None else f64(w)
    scale = np.linalg.norm(f64(g) * (gamma * f64(to_numpy(invstd))).reshape(per_channel))
    err = np.linalg.norm(f64(to_numpy(dx)) - rdx) / scale
    assert err <= tol, f"dinput error {err:.3e} (relative to |gamma*invstd*dy|) > {tol:.1e}"
    if shape[0] * int(np.prod(shape[2:])) > 2:
        assert_close(dx, rdx, 10 * tol, "dinput")
    assert_close(db, rdb, tol, "dbias")
    if affine:
        assert_close(dw, rdw, tol, "dweight")
    else:
        assert dw is None and rdw is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_inference(xp, rng, shape, dtype):
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    w, b = _params(rng, C, dtype, True)
    rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    out = ops.batch_norm(xp.asarray(x), xp.asarray(rm), xp.asarray(rv), xp.asarray(w), xp.asarray(b))
    assert out.dtype == dtype
    assert_close(out, ref.batch_norm(x, rm, rv, w, b), TOL_ELEMENTWISE[dtype] * 2, "batch_norm inference",
                 scale=_output_scale(x, rm, 1 / np.sqrt(f64(rv) + 1e-5), w, b))
    out = ops.batch_norm(xp.asarray(x), xp.asarray(rm), xp.asarray(rv), eps=0.1)
    assert_close(out, ref.batch_norm(x, rm, rv, eps=0.1), TOL_ELEMENTWISE[dtype] * 2, "batch_norm no affine",
                 scale=_output_scale(x, rm, 1 / np.sqrt(f64(rv) + 0.1), None, None))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(16, 6), (5, 4, 6, 6)])
def test_running_stats_after_several_steps(xp, rng, shape, dtype):
    C = shape[1]
    rm, rv = xp.zeros(C, dtype=dtype), xp.ones(C, dtype=dtype)
    rrm, rrv = np.zeros(C), np.ones(C)
    for step in range(5):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        ops.batch_norm(xp.asarray(x), rm, rv, training=True, momentum=0.1)
        ref.batch_norm(f64(x), rrm, rrv, training=True, momentum=0.1)
    assert_close(rm, rrm, TOL_REDUCTION[dtype], "running_mean")
    assert_close(rv, rrv, TOL_REDUCTION[dtype], "running_var")
    # Inference then uses them.
    x = rng.standard_normal(shape).astype(dtype)
    assert_close(ops.batch_norm(xp.asarray(x), rm, rv), ref.batch_norm(f64(x), rrm, rrv), TOL_REDUCTION[dtype],
                 "inference with the running statistics")


def test_running_stats_formula():
    # One step by hand: unbiased variance in running_var, biased in the normalisation.
    x = np.array([[1.0], [2.0], [4.0], [5.0]])  # mean 3, biased var 2.5, unbiased var 10/3
    rm, rv = np.array([1.0]), np.array([1.0])
    y = ops.batch_norm(x, rm, rv, training=True, momentum=0.25, eps=0.0 + 1e-300)
    np.testing.assert_allclose(rm, [0.75 * 1 + 0.25 * 3])
    np.testing.assert_allclose(rv, [0.75 * 1 + 0.25 * 10 / 3])
    np.testing.assert_allclose(y[:, 0], (x[:, 0] - 3) / np.sqrt(2.5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_mean_is_accurate(rng, dtype):
    # |mean| >> std: a naive sum/sum-of-squares would cancel; the shifted sums keep the variance.
    x = (1000 + rng.standard_normal((64, 3, 5, 5))).astype(dtype)
    out, mean, invstd = ops.batch_norm(x, None, None, training=True, return_stats=True)
    rout, rmean, rinvstd = ref.batch_norm(x, None, None, training=True, return_stats=True)
    assert_close(invstd, rinvstd, 1e-5 if dtype == np.float32 else 1e-11, "save_invstd")
    assert_close(out, rout, 1e-3 if dtype == np.float32 else 1e-10, "output")


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 3)])
def test_gradcheck(rng, shape):
    C = shape[1]
    x = rng.standard_normal(shape)
    w, b = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)

    def forward(x, w, b):
        return ops.batch_norm(x, None, None, w, b, training=True, eps=1e-3)

    def backward(g, x, w, b):
        _, mean, invstd = ops.batch_norm(x, None, None, w, b, training=True, eps=1e-3, return_stats=True)
        return ops.batch_norm_backward(g, x, w, mean, invstd)

    gradcheck(forward, backward, [x, w, b], rng, tol=1e-5, names=["input", "weight", "bias"])


def test_gradcheck_no_weight(rng):
    x = rng.standard_normal((4, 3, 2, 2))

    def backward(g, x):
        _, mean, invstd = ops.batch_norm(x, None, None, training=True, return_stats=True)
        return ops.batch_norm_backward(g, x, None, mean, invstd)[0]

    gradcheck(lambda x: ops.batch_norm(x, None, None, training=True), backward, [x], rng, tol=1e-5)


def test_nan_propagates_within_its_channel(rng):
    x = rng.standard_normal((4, 3, 5, 5))
    x[2, 1, 3, 3] = np.nan
    rm, rv = np.zeros(3), np.ones(3)
    y = ops.batch_norm(x, rm, rv, training=True)
    assert np.isnan(y[:, 1]).all() and np.isnan(rm[1]) and np.isnan(rv[1])
    assert not np.isnan(y[:, [0, 2]]).any() and not np.isnan(rm[[0, 2]]).any()
    y = ops.batch_norm(x, np.zeros(3), np.ones(3))
    assert np.isnan(y[2, 1, 3, 3]) and np.isnan(y).sum() == 1


# ---- bad input -------------------------------------------------------------------------------------------

X = np.zeros((4, 3, 5, 5), np.float32)
C3 = np.zeros(3, np.float32)
O3 = np.ones(3, np.float32)


def _bn(**kw):
    args = dict(input=X, running_mean=C3.copy(), running_var=O3.copy(), training=True)
    args.update(kw)
    return args


BAD = [
    ("int dtype", TypeError, _bn(input=X.astype(np.int32))),
    ("ndim 3", ValueError, _bn(input=X[0])),
    ("ndim 1", ValueError, _bn(input=C3)),
    ("running_mean shape", ValueError, _bn(running_mean=np.zeros(4, np.float32))),
    ("running_var shape", ValueError, _bn(running_var=np.ones((3, 1), np.float32))),
    ("weight shape", ValueError, _bn(weight=np.ones(2, np.float32))),
    ("bias shape", ValueError, _bn(bias=np.ones(5, np.float32))),
    ("mixed dtype", TypeError, _bn(weight=np.ones(3))),
    ("running stats dtype", TypeError, _bn(running_mean=np.zeros(3))),
    ("one value per channel", ValueError, _bn(input=np.zeros((1, 3, 1, 1), np.float32))),
    ("one row (N,C)", ValueError, _bn(input=np.zeros((1, 3), np.float32))),
    ("momentum > 1", ValueError, _bn(momentum=1.5)),
    ("momentum negative", ValueError, _bn(momentum=-0.1)),
    ("eps 0", ValueError, _bn(eps=0.0)),
    ("eps nan", ValueError, _bn(eps=float("nan"))),
    ("non-contiguous", ValueError, _bn(input=np.zeros((4, 3, 5, 10), np.float32)[..., ::2])),
    ("negative stride", ValueError, _bn(input=X[::-1])),
    ("empty", ValueError, _bn(input=np.zeros((0, 3, 5, 5), np.float32))),
    ("inference without running stats", ValueError, _bn(training=False, running_mean=None)),
    ("return_stats in inference", ValueError, _bn(training=False, return_stats=True)),
    ("training not bool", TypeError, _bn(training="yes")),
    ("read-only running_var", ValueError, _bn(running_var=np.broadcast_to(np.float32(1), (3,)))),
    ("list input", TypeError, _bn(input=X.tolist())),
]


@pytest.mark.parametrize("desc,exc,kwargs", BAD, ids=[c[0] for c in BAD])
@pytest.mark.parametrize("module", ["ops", "reference"])
def test_bad_input(desc, exc, kwargs, module):
    m = ops if module == "ops" else ref
    with pytest.raises(exc, match="batch_norm"):
        m.batch_norm(**kwargs)


G = np.zeros_like(X)
BAD_BACKWARD = [
    ("grad shape", ValueError, (np.zeros((4, 3, 5, 4), np.float32), X, None, C3, O3)),
    ("grad dtype", TypeError, (G.astype(np.float64), X, None, C3, O3)),
    ("weight shape", ValueError, (G, X, np.ones(4, np.float32), C3, O3)),
    ("save_mean shape", ValueError, (G, X, None, np.zeros(2, np.float32), O3)),
    ("save_invstd missing", TypeError, (G, X, None, C3, None)),
    ("ndim 3", ValueError, (G[0], X[0], None, C3, O3)),
    ("int input", TypeError, (G, X.astype(np.int64), None, C3, O3)),
]


@pytest.mark.parametrize("desc,exc,args", BAD_BACKWARD, ids=[c[0] for c in BAD_BACKWARD])
@pytest.mark.parametrize("module", ["ops", "reference"])
def test_bad_input_backward(desc, exc, args, module):
    m = ops if module == "ops" else ref
    with pytest.raises(exc, match="batch_norm_backward"):
        m.batch_norm_backward(*args)


def _train(out=None, sm=None, si=None, rm=C3, rv=O3, inp=X, w=None, b=None, momentum=0.1, eps=1e-5):
    out = np.zeros_like(X) if out is None else out
    sm = np.zeros(3, np.float32) if sm is None else sm
    si = np.zeros(3, np.float32) if si is None else si
    return CPU.batch_norm_forward_training(out, sm, si, rm.copy() if rm is not None else None,
                                           rv.copy() if rv is not None else None, inp, w, b, momentum, eps)


BAD_DIRECT = [
    ("input dtype", TypeError, lambda: _train(inp=X.astype(np.int32))),
    ("input ndim", ValueError, lambda: _train(inp=X[0])),
    ("out shape", ValueError, lambda: _train(out=np.zeros((4, 3, 5, 4), np.float32))),
    ("out dtype", TypeError, lambda: _train(out=np.zeros(X.shape))),
    ("save_mean shape", ValueError, lambda: _train(sm=np.zeros(4, np.float32))),
    ("running_mean shape", ValueError, lambda: _train(rm=np.zeros(2, np.float32))),
    ("running_var dtype", TypeError, lambda: _train(rv=np.ones(3))),
    ("weight shape", ValueError, lambda: _train(w=np.ones(4, np.float32))),
    ("bias dtype", TypeError, lambda: _train(b=np.ones(3))),
    ("one value per channel", ValueError, lambda: _train(inp=np.zeros((1, 3, 1, 1), np.float32),
                                                          out=np.zeros((1, 3, 1, 1), np.float32))),
    ("momentum", ValueError, lambda: _train(momentum=2.0)),
    ("eps", ValueError, lambda: _train(eps=-1.0)),
    ("non-contiguous", ValueError, lambda: _train(inp=np.zeros((4, 3, 5, 10), np.float32)[..., ::2])),
    ("read-only out", ValueError, lambda: _train(out=np.broadcast_to(np.float32(0), X.shape))),
    ("empty", ValueError, lambda: _train(inp=np.zeros((0, 3, 5, 5), np.float32),
                                         out=np.zeros((0, 3, 5, 5), np.float32))),
    ("inference running_var shape", ValueError, lambda: CPU.batch_norm_forward_inference(
        np.zeros_like(X), X, C3, np.ones(4, np.float32), None, None, 1e-5)),
    ("inference dtype", TypeError, lambda: CPU.batch_norm_forward_inference(
        np.zeros_like(X), X, np.zeros(3), O3, None, None, 1e-5)),
    ("inference eps", ValueError, lambda: CPU.batch_norm_forward_inference(
        np.zeros_like(X), X, C3, O3, None, None, 0.0)),
    ("backward dweight shape", ValueError, lambda: CPU.batch_norm_backward(
        np.zeros_like(X), np.zeros(4, np.float32), np.zeros(3, np.float32), G, X, None, C3, O3)),
    ("backward grad shape", ValueError, lambda: CPU.batch_norm_backward(
        np.zeros_like(X), np.zeros(3, np.float32), np.zeros(3, np.float32), G[:2], X, None, C3, O3)),
    ("backward save dtype", TypeError, lambda: CPU.batch_norm_backward(
        np.zeros_like(X), np.zeros(3, np.float32), np.zeros(3, np.float32), G, X, None, np.zeros(3), O3)),
]


@pytest.mark.parametrize("desc,exc,call", BAD_DIRECT, ids=[c[0] for c in BAD_DIRECT])
def test_bad_input_direct_cpu(desc, exc, call):
    with pytest.raises(exc, match="batch_norm"):
        call()


def test_reference_matches_torch_if_installed(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 3, 4, 5))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    yt = torch.nn.functional.batch_norm(xt, trm, trv, wt, bt, training=True, momentum=0.2, eps=1e-4)
    y, mean, invstd = ref.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-4, return_stats=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), atol=1e-12)
    np.testing.assert_allclose(rv, trv.numpy(), atol=1e-12)
    g = rng.standard_normal(x.shape)
    yt.backward(torch.from_numpy(g))
    dx, dw, db = ref.batch_norm_backward(g, x, w, mean, invstd)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("shape", [(64, 8, 16, 16), (2048, 64)])  # big enough to split
def test_same_result_for_any_thread_count(rng, shape):
    # Each thread owns whole channels, so the sums (and every output bit) do not depend on the threads.
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    C = shape[1]
    old = fastann.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            fastann.set_num_threads(n)
            rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
            y, m, s = ops.batch_norm(x, rm, rv, training=True, return_stats=True)
            dx, _, db = ops.batch_norm_backward(g, x, None, m, s)
            results.append((y, m, s, rm, rv, dx, db))
    finally:
        fastann.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
