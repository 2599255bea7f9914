"""Layer normalization (forward and backward) against fastann.reference.layer_norm, on both backends."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, assert_close, check_at_simd, gradcheck, raises_both, to_numpy

CPU = fastann._backend.cpu
DTYPES = [np.float32, np.float64]
CASES = [  # (input shape, normalized_shape)
    ((7, 13), 13),
    ((1, 1), 1),              # one value per row: var 0
    ((3, 5, 6), (5, 6)),      # two normalized dimensions
    ((2, 3, 4, 5), (3, 4, 5)),
    ((4, 37), [37]),          # a list, odd length
    ((600, 33), 33),          # enough rows to split over threads
    ((2, 3, 1031), 1031),     # long rows, odd length
    ((16,), 16),              # 1-D: one row
]


def _scale(x, mean, invstd, w, b, ns):
    """|x - mean| * invstd * |w| + |b| plus |mean| * invstd * |w|: the sizes of the output's terms."""
    N = int(np.prod(ns))
    x = np.asarray(x, np.float64).reshape(-1, N)
    m, s = np.asarray(mean, np.float64)[:, None], np.asarray(invstd, np.float64)[:, None]
    wa = np.ones(N) if w is None else np.abs(np.asarray(w, np.float64)).reshape(N)
    ba = np.zeros(N) if b is None else np.abs(np.asarray(b, np.float64)).reshape(N)
    return ((np.abs(x) + np.abs(m)) * s * wa + ba)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, ns", CASES)
def test_forward_and_backward(xp, rng, shape, ns, dtype, affine):
    nsT = (ns,) if isinstance(ns, int) else tuple(ns)
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    w = rng.uniform(0.5, 1.5, nsT).astype(dtype) if affine else None
    b = rng.standard_normal(nsT).astype(dtype) if affine else None
    X = xp.asarray(x)
    W, B = (None, None) if w is None else (xp.asarray(w), xp.asarray(b))
    out, mean, invstd = ops.layer_norm(X, ns, W, B, eps=1e-4, return_stats=True)
    r, rmean, rinvstd = ref.layer_norm(x, ns, w, b, eps=1e-4, return_stats=True)
    tol = TOL_REDUCTION[dtype]
    assert out.dtype == dtype and out.shape == shape and mean.shape == (x.size // int(np.prod(nsT)),)
    assert_close(mean, rmean, tol, "mean", scale=np.abs(x).reshape(len(rmean), -1).max(axis=1))
    assert_close(invstd, rinvstd, tol, "invstd")
    assert_close(to_numpy(out).reshape(len(rmean), -1), r.reshape(len(rmean), -1), tol, "output",
                 scale=_scale(x, rmean, rinvstd, w, b, nsT))
    g = rng.standard_normal(shape).astype(dtype)
    dx, dw, db = ops.layer_norm_backward(xp.asarray(g), X, ns, W, mean, invstd)
    rdx, rdw, rdb = ref.layer_norm_backward(g, x, ns, w, to_numpy(mean), to_numpy(invstd))
    # dx is a difference of three terms of the size of |g| * invstd * |w|: measured against that
    wN = 1.0 if w is None else np.abs(w.astype(np.float64))
    assert_close(dx, rdx, 5 * tol, "dinput", scale=np.abs(g) * wN * np.asarray(rinvstd).max())
    assert_close(db, rdb, tol, "dbias", scale=np.abs(g).sum(axis=tuple(range(g.ndim - len(nsT)))))
    if affine:
        assert dw.shape == nsT
        assert_close(dw, rdw, tol, "dweight", scale=np.abs(g).sum(axis=tuple(range(g.ndim - len(nsT))))
                     * np.abs(np.asarray(rinvstd)).max() * (np.abs(x).max() + 1))
    else:
        assert dw is None


@pytest.mark.parametrize("shape, ns", [((3, 5), 5), ((2, 3, 4), (3, 4)), ((4, 2), 2)])
def test_gradcheck(rng, shape, ns):
    nsT = (ns,) if isinstance(ns, int) else ns
    x = rng.standard_normal(shape)
    w, b = rng.uniform(0.5, 1.5, nsT), rng.standard_normal(nsT)

    def fwd(x, w, b):
        return ops.layer_norm(x, ns, w, b, eps=1e-3)

    def bwd(g, x, w, b):
        _, m, s = ops.layer_norm(x, ns, w, b, eps=1e-3, return_stats=True)
        return ops.layer_norm_backward(g, x, ns, w, m, s)

    gradcheck(fwd, bwd, [x, w, b], rng, tol=1e-6, names=["input", "weight", "bias"])


def test_gradcheck_reference(rng):
    x = rng.standard_normal((3, 6))

    def bwd(g, x):
        _, m, s = ref.layer_norm(x, 6, return_stats=True)
        return ref.layer_norm_backward(g, x, 6, None, m, s)[0]

    gradcheck(lambda x: ref.layer_norm(x, 6), bwd, [x], rng, tol=1e-6)


def test_large_mean_is_accurate(rng):
    # The shifted sums keep the variance accurate when |mean| >> std.
    x = (1e4 + rng.standard_normal((8, 64))).astype(np.float32)
    out = ops.layer_norm(x, 64)
    assert_close(out, ref.layer_norm(x, 64), 1e-3, "output")


def test_nan_stays_in_its_row(rng):
    x = rng.standard_normal((3, 8))
    x[1, 2] = np.nan
    out = ops.layer_norm(x, 8)
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()


@pytest.mark.parametrize("shape", [(4096, 64), (64, 4096)])
def test_same_result_for_any_thread_count(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(shape[1]).astype(np.float32)
    old = fastann.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            fastann.set_num_threads(n)
            y, m, s = ops.layer_norm(x, shape[1], w, return_stats=True)
            results.append((y, m, s) + ops.layer_norm_backward(g, x, shape[1], w, m, s))
    finally:
        fastann.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_reference_matches_torch_if_installed(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 5))
    w, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    yt = torch.nn.functional.layer_norm(xt, (3, 5), wt, bt, eps=1e-4)
    y, m, s = ref.layer_norm(x, (3, 5), w, b, eps=1e-4, return_stats=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(x.shape)
    yt.backward(torch.from_numpy(g))
    dx, dw, db = ref.layer_norm_backward(g, x, (3, 5), w, m, s)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-10)


# ---- bad input -------------------------------------------------------------------------------------------

X = np.zeros((4, 3, 5), np.float32)
W5 = np.ones(5, np.float32)
BAD = [
    ("int dtype", TypeError, dict(input=X.astype(np.int32), normalized_shape=5)),
    ("list input", TypeError, dict(input=X.tolist(), normalized_shape=5)),
    ("shape mismatch", ValueError, dict(input=X, normalized_shape=4)),
    ("too many dims", ValueError, dict(input=X, normalized_shape=(1, 4, 3, 5))),
    ("empty normalized_shape", ValueError, dict(input=X, normalized_shape=())),
    ("float normalized_shape", TypeError, dict(input=X, normalized_shape=5.0)),
    ("str normalized_shape", TypeError, dict(input=X, normalized_shape="5")),
    ("weight shape", ValueError, dict(input=X, normalized_shape=5, weight=np.ones(4, np.float32))),
    ("bias shape", ValueError, dict(input=X, normalized_shape=(3, 5), bias=W5)),
    ("mixed dtype", TypeError, dict(input=X, normalized_shape=5, weight=np.ones(5))),
    ("eps 0", ValueError, dict(input=X, normalized_shape=5, eps=0.0)),
    ("eps nan", ValueError, dict(input=X, normalized_shape=5, eps=float("nan"))),
    ("eps str", TypeError, dict(input=X, normalized_shape=5, eps="1e-5")),
    ("non-contiguous", ValueError, dict(input=np.zeros((4, 10), np.float32)[:, ::2], normalized_shape=5)),
    ("empty", ValueError, dict(input=np.zeros((0, 5), np.float32), normalized_shape=5)),
    ("0-D", ValueError, dict(input=np.ones((), np.float32), normalized_shape=())),
]


@pytest.mark.parametrize("desc,exc,kwargs", BAD, ids=[c[0] for c in BAD])
def test_bad_input(desc, exc, kwargs):
    raises_both(exc, lambda m: m.layer_norm(**kwargs), match="layer_norm")


S4 = np.zeros(12, np.float32)
BAD_BACKWARD = [
    ("grad shape", ValueError, (np.zeros((4, 3, 4), np.float32), X, 5, None, S4, S4)),
    ("grad dtype", TypeError, (X.astype(np.float64), X, 5, None, S4, S4)),
    ("weight shape", ValueError, (X, X, 5, np.ones(3, np.float32), S4, S4)),
    ("save_mean shape", ValueError, (X, X, 5, None, np.zeros(4, np.float32), S4)),
    ("save_invstd missing", TypeError, (X, X, 5, None, S4, None)),
    ("normalized_shape mismatch", ValueError, (X, X, 3, None, S4, S4)),
]


@pytest.mark.parametrize("desc,exc,args", BAD_BACKWARD, ids=[c[0] for c in BAD_BACKWARD])
def test_bad_input_backward(desc, exc, args):
    raises_both(exc, lambda m: m.layer_norm_backward(*args), match="layer_norm_backward")


def _fwd(out=None, sm=None, si=None, inp=X, ns=(5,), w=None, b=None, eps=1e-5):
    return CPU.layer_norm_forward(np.zeros_like(X) if out is None else out,
                                  np.zeros(12, np.float32) if sm is None else sm,
                                  np.zeros(12, np.float32) if si is None else si, inp, ns, w, b, eps)


BAD_DIRECT = [
    ("input dtype", TypeError, lambda: _fwd(inp=X.astype(np.int32))),
    ("normalized_shape not a list", TypeError, lambda: _fwd(ns=5)),
    ("normalized_shape mismatch", ValueError, lambda: _fwd(ns=[4])),
    ("normalized_shape too long", ValueError, lambda: _fwd(ns=[1, 4, 3, 5])),
    ("save_mean shape", ValueError, lambda: _fwd(sm=np.zeros(4, np.float32))),
    ("out overlaps input", ValueError, lambda: _fwd(out=X)),
    ("read-only out", ValueError, lambda: _fwd(out=np.broadcast_to(np.float32(0), X.shape))),
    ("eps negative", ValueError, lambda: _fwd(eps=-1.0)),
    ("weight dtype", TypeError, lambda: _fwd(w=np.ones(5))),
]


@pytest.mark.parametrize("desc,exc,call", BAD_DIRECT, ids=[c[0] for c in BAD_DIRECT])
def test_bad_input_direct_cpu(desc, exc, call):
    with pytest.raises(exc, match="layer_norm"):
        call()


_SIMD_SNIPPET = """
worst = 0.0
for M, N in ((7, 13), (5, 1031), (300, 33)):
    x, g = rng.standard_normal((M, N)) + 2, rng.standard_normal((M, N))
    w, b = rng.uniform(0.5, 1.5, N), rng.standard_normal(N)
    y, m, s = ops.layer_norm(x.astype(np.float32), N, w.astype(np.float32), b.astype(np.float32), return_stats=True)
    worst = max(worst, np.linalg.norm(y - ref.layer_norm(x, N, w, b)) / np.linalg.norm(ref.layer_norm(x, N, w, b)))
    got = ops.layer_norm_backward(g.astype(np.float32), x.astype(np.float32), N, w.astype(np.float32), m, s)
    want = ref.layer_norm_backward(g, x, N, w, m.astype(np.float64), s.astype(np.float64))
    for a, r in zip(got, want):
        worst = max(worst, np.linalg.norm(a - r) / np.linalg.norm(r))
for shape in ((1003,), (17, 33)):
    p0 = rng.standard_normal(shape)
    st = lambda dt: ([np.zeros(shape[:-1], dt), np.zeros(shape[-1:], dt), None] if len(shape) == 2
                     else [None, None, np.zeros(shape, dt)])
    p, s32, pr, s64 = p0.astype(np.float32), st(np.float32), p0.copy(), st(np.float64)
    for t in (1, 2, 3):
        g = rng.standard_normal(shape)
        ops.adafactor_step(p, g.astype(np.float32), *s32, step=t, lr=0.1)
        ref.adafactor_step(pr, g, *s64, step=t, lr=0.1)
    worst = max(worst, np.linalg.norm(p - pr) / np.linalg.norm(pr))
assert worst < 1e-5, worst
"""


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_lower_simd_paths_match_reference(level):
    # layer_norm's and Adafactor's loops are compiled per ISA and picked once per process: FASTANN_SIMD forces
    # a lower path, run here in a subprocess.
    check_at_simd(level, _SIMD_SNIPPET)
