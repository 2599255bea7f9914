"""The parametric ReLU (ops.prelu, forward and backward) against fastann.reference.prelu, on both backends."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_ELEMENTWISE, TOL_REDUCTION, assert_close, gradcheck, raises_both

CPU = fastann._backend.cpu
CASES = [((7,), 1), ((1,), 1), ((4, 5), 5), ((4, 5), 1), ((2, 3, 4, 5), 3), ((3, 300), 300), ((2, 1, 3, 3), 1),
         ((5, 7, 33), 7)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, C", CASES)
def test_forward_and_backward(xp, rng, shape, C, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[0] = 0.0  # the kink belongs to the negative side, as torch's
    w = rng.standard_normal(C).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y = ops.prelu(xp.asarray(x), xp.asarray(w))
    assert y.dtype == dtype and y.shape == shape
    assert_close(y, ref.prelu(x, w), TOL_ELEMENTWISE[dtype], "output")
    dx, dw = ops.prelu_backward(xp.asarray(dy), xp.asarray(x), xp.asarray(w))
    rdx, rdw = ref.prelu_backward(dy, x, w)
    assert_close(dx, rdx, TOL_ELEMENTWISE[dtype], "dinput")
    scale = np.abs(dy * x).sum() / C * np.ones(C)
    assert dw.shape == (C,)
    assert_close(dw, rdw, TOL_REDUCTION[dtype], "dweight", scale=scale)


@pytest.mark.parametrize("shape, C", [((3, 4), 4), ((2, 3, 2, 2), 3), ((5,), 1), ((2, 3, 2), 1)])
def test_gradcheck(rng, shape, C):
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5
    gradcheck(lambda x, w: ops.prelu(x, w), lambda g, x, w: ops.prelu_backward(g, x, w),
              [x, rng.uniform(0.1, 0.5, C)], rng, names=["input", "weight"])


def test_nan_propagates():
    x = np.array([[1.0, np.nan, -2.0]])
    y = ops.prelu(x, np.array([0.25]))
    assert y[0, 0] == 1.0 and np.isnan(y[0, 1]) and y[0, 2] == -0.5


def test_same_result_for_any_thread_count(rng):
    x = rng.standard_normal((64, 8, 32, 32)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    old = fastann.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastann.set_num_threads(n)
            for w in (np.full(8, 0.2, np.float32), np.array([0.1], np.float32)):
                results.append((n, ops.prelu(x, w)) + ops.prelu_backward(g, x, w))
    finally:
        fastann.set_num_threads(old)
    for i, r in enumerate(results[2:]):
        for a, b in zip(results[i % 2][1:], r[1:]):  # the same weight with 1 thread
            np.testing.assert_array_equal(a, b)


def test_reference_matches_torch_if_installed(rng):
    torch = pytest.importorskip("torch")
    for shape, C in [((4, 3, 5), 3), ((6,), 1), ((2, 4), 1)]:
        x, w, g = rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(shape)
        xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        yt = torch.nn.functional.prelu(xt, wt)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(ref.prelu(x, w), yt.detach().numpy(), atol=1e-14)
        dx, dw = ref.prelu_backward(g, x, w)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-14)
        np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-12)


X = np.zeros((4, 3, 5), np.float32)
W3 = np.ones(3, np.float32)
BAD = [
    ("int input", TypeError, lambda m: m.prelu(X.astype(np.int32), W3)),
    ("list input", TypeError, lambda m: m.prelu(X.tolist(), W3)),
    ("0-D", ValueError, lambda m: m.prelu(np.ones((), np.float32), np.ones(1, np.float32))),
    ("weight size", ValueError, lambda m: m.prelu(X, np.ones(4, np.float32))),
    ("weight 2-D", ValueError, lambda m: m.prelu(X, np.ones((3, 1), np.float32))),
    ("1-D input, C weights", ValueError, lambda m: m.prelu(np.ones(3, np.float32), W3)),
    ("mixed dtype", TypeError, lambda m: m.prelu(X, np.ones(3))),
    ("weight None", TypeError, lambda m: m.prelu(X, None)),
    ("empty", ValueError, lambda m: m.prelu(np.zeros((0, 3), np.float32), W3)),
    ("grad shape", ValueError, lambda m: m.prelu_backward(np.zeros((4, 3, 4), np.float32), X, W3)),
    ("grad dtype", TypeError, lambda m: m.prelu_backward(X.astype(np.float64), X, W3)),
]


@pytest.mark.parametrize("desc,exc,call", BAD, ids=[c[0] for c in BAD])
def test_bad_input(desc, exc, call):
    raises_both(exc, call, match="prelu")


@pytest.mark.parametrize("desc,exc,call", [
    ("out overlaps input", ValueError, lambda: CPU.prelu_forward(X, X, W3)),
    ("weight size", ValueError, lambda: CPU.prelu_forward(np.zeros_like(X), X, np.ones(2, np.float32))),
    ("dweight shape", ValueError, lambda: CPU.prelu_backward(np.zeros_like(X), np.zeros(1, np.float32), X, X, W3)),
    ("read-only dinput", ValueError,
     lambda: CPU.prelu_backward(np.broadcast_to(np.float32(0), X.shape), np.zeros(3, np.float32), X, X, W3)),
], ids=lambda c: c if isinstance(c, str) else "")
def test_bad_input_direct_cpu(desc, exc, call):
    with pytest.raises(exc, match="prelu"):
        call()
