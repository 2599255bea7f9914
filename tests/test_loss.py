"""Loss kernels (fastann.ops.loss) against the float64 reference, gradchecks, hand values, bad input."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, assert_close, check_at_simd, gradcheck, raises_both, to_numpy

SHAPES = [(1,), (7,), (4, 5), (3, 2, 17)]
CLASS_SHAPES = [(1, 1), (1, 5), (7, 3), (16, 10), (5, 33)]
DTYPES = [np.float32, np.float64]


def _probs(rng, shape):
    return rng.uniform(0.02, 0.98, size=shape)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _bce_logits_scales(x, t):
    """Sizes of the terms that cancel in BCE with logits, float64 (see helpers.rel_err): the loss
    mean(max(x, 0) - x*t + log(1 + exp(-|x|))) and the gradient (sigmoid(x) - t) / N, per unit grad_output.
    With t near sigmoid(x) (a single element of shape (1,), say) either may be far smaller than its terms."""
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    loss = np.mean(np.maximum(x, 0) + np.abs(x * t) + np.log1p(np.exp(-np.abs(x))))
    return loss, (_sigmoid(x) + np.abs(t)) / x.size


# (name, make input, make target, scales of the loss's and its gradient's terms, or None where the reference
# value itself is the right scale): elementwise losses
ELEMENTWISE = [
    ("mse_loss", lambda r, s: r.standard_normal(s), lambda r, s: r.standard_normal(s), None),
    ("l1_loss", lambda r, s: r.standard_normal(s), lambda r, s: r.standard_normal(s), None),
    ("binary_cross_entropy", _probs, lambda r, s: r.integers(0, 2, s).astype(float), None),
    ("binary_cross_entropy_with_logits", lambda r, s: 3 * r.standard_normal(s), lambda r, s: r.uniform(0, 1, s),
     _bce_logits_scales),
]
EW_IDS = [e[0] for e in ELEMENTWISE]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,make_x,make_t,scales", ELEMENTWISE, ids=EW_IDS)
def test_elementwise_losses_match_reference(xp, rng, name, make_x, make_t, scales, dtype):
    f, fb = getattr(ops, name), getattr(ops, name + "_backward")
    rf, rfb = getattr(ref, name), getattr(ref, name + "_backward")
    for shape in SHAPES:
        x, t = make_x(rng, shape).astype(dtype), make_t(rng, shape).astype(dtype)
        loss_scale, grad_scale = scales(x, t) if scales else (None, None)
        loss = f(xp.asarray(x), xp.asarray(t))
        assert loss.shape == () and loss.dtype == dtype
        assert_close(loss, rf(x, t), TOL_REDUCTION[dtype], f"{name} {shape}", scale=loss_scale)
        d = fb(xp.asarray(x), xp.asarray(t), grad_output=0.7)
        assert d.shape == shape and d.dtype == dtype
        assert_close(d, rfb(x, t, grad_output=0.7), TOL_REDUCTION[dtype], f"{name}_backward {shape}",
                     scale=None if grad_scale is None else 0.7 * grad_scale)


@pytest.mark.parametrize("name,make_x,make_t,scales", ELEMENTWISE, ids=EW_IDS)
def test_elementwise_gradcheck(rng, name, make_x, make_t, scales):
    x, t = make_x(rng, (3, 5)), make_t(rng, (3, 5))
    f, fb = getattr(ops, name), getattr(ops, name + "_backward")
    gradcheck(lambda a: f(a, t), lambda g, a: fb(a, t, grad_output=float(g)), [x], rng, tol=1e-6)


def test_elementwise_hand_values():
    x = np.array([0.5, -1.0, 2.0])
    t = np.array([1.5, -1.0, 0.0])
    assert float(ops.mse_loss(x, t)) == pytest.approx((1 + 0 + 4) / 3, rel=1e-15)
    assert float(ops.l1_loss(x, t)) == pytest.approx((1 + 0 + 2) / 3, rel=1e-15)
    np.testing.assert_allclose(ops.mse_loss_backward(x, t), 2 * (x - t) / 3, rtol=1e-15)
    np.testing.assert_allclose(ops.l1_loss_backward(x, t), [-1 / 3, 0, 1 / 3], rtol=1e-15)  # sign(0) = 0
    p, y = np.array([0.9, 0.2, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    eps = 1e-7  # the clip keeps log finite at p = 0 and p = 1 (Keras)
    want = -np.mean([np.log(0.9), np.log(0.8), np.log(1 - eps), np.log(1 - eps)])
    assert float(ops.binary_cross_entropy(p, y)) == pytest.approx(want, rel=1e-12)
    d = ops.binary_cross_entropy_backward(p, y)
    np.testing.assert_allclose(d, [(0.9 - 1) / (0.9 * 0.1) / 4, 0.2 / (0.2 * 0.8) / 4, 0, 0], rtol=1e-12)
    z = np.array([-800.0, 0.0, 800.0])  # no overflow in the logits form
    l = float(ops.binary_cross_entropy_with_logits(z, np.array([1.0, 1.0, 0.0])))
    assert l == pytest.approx((800 + np.log(2) + 800) / 3, rel=1e-12)


# ---- cross-entropy from logits ---------------------------------------------------------------------
def _targets(rng, n, c, kind, dtype):
    if kind == "int32":
        return rng.integers(0, c, n).astype(np.int32)
    if kind == "int64":
        return rng.integers(0, c, n).astype(np.int64)
    if kind == "onehot":
        return np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    return _softmax(rng.standard_normal((n, c))).astype(dtype)  # soft probabilities


TARGET_KINDS = ["int32", "int64", "onehot", "soft"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_cross_entropy_matches_reference(xp, rng, kind, dtype):
    for n, c in CLASS_SHAPES:
        x = (3 * rng.standard_normal((n, c))).astype(dtype)
        t = _targets(rng, n, c, kind, dtype)
        X, T = xp.asarray(x), xp.asarray(t)
        loss = ops.cross_entropy(X, T)
        assert loss.shape == () and loss.dtype == dtype
        assert_close(loss, ref.cross_entropy(x, t), TOL_REDUCTION[dtype], f"cross_entropy {(n, c)}")
        # The gradient (softmax(x) - t) / N cancels where the target's probability is near 1: its error is
        # measured against (softmax(x) + |t|) / N (see helpers.rel_err).
        onehot = np.eye(c)[t] if t.ndim == 1 else np.abs(t.astype(np.float64))
        grad_scale = (_softmax(x.astype(np.float64)) + onehot) / n
        d = ops.cross_entropy_backward(X, T, grad_output=1.3)
        assert_close(d, ref.cross_entropy_backward(x, t, grad_output=1.3), TOL_REDUCTION[dtype], "backward",
                     scale=1.3 * grad_scale)
        l2, d2 = ops.cross_entropy_with_grad(X, T)
        assert l2.shape == () and d2.shape == (n, c) and d2.dtype == dtype
        assert_close(l2, ref.cross_entropy(x, t), TOL_REDUCTION[dtype], "with_grad loss")
        assert_close(d2, ref.cross_entropy_backward(x, t), TOL_REDUCTION[dtype], "with_grad dinput",
                     scale=grad_scale)


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_cross_entropy_lower_simd_paths(level):
    # The softmax cross-entropy is compiled for baseline x86-64, AVX2 and AVX-512 (cross_entropy_loops.hpp)
    # and picked once per process; FASTANN_SIMD forces a lower path in a subprocess.
    check_at_simd(level, """
        from test_loss import CLASS_SHAPES, TARGET_KINDS, _softmax, _targets
        from helpers import TOL_REDUCTION, assert_close
        for dtype in (np.float32, np.float64):
            for kind in TARGET_KINDS:
                for n, c in CLASS_SHAPES + [(5, 1000)]:
                    x = (3 * rng.standard_normal((n, c))).astype(dtype)
                    t = _targets(rng, n, c, kind, dtype)
                    onehot = np.eye(c)[t] if t.ndim == 1 else np.abs(t.astype(np.float64))
                    l, d = ops.cross_entropy_with_grad(x, t)
                    assert_close(l, ref.cross_entropy(x, t), TOL_REDUCTION[dtype], 'loss')
                    assert_close(ops.cross_entropy(x, t), ref.cross_entropy(x, t), TOL_REDUCTION[dtype], 'loss only')
                    assert_close(d, ref.cross_entropy_backward(x, t), TOL_REDUCTION[dtype], 'dinput',
                                 scale=(_softmax(x.astype(np.float64)) + onehot) / n)
        """)


# (name, input, target) for the elementwise losses whose loops are compiled per ISA (loss_loops.hpp): inputs in
# each loss's domain (probabilities for BCE, KL and Poisson), binary targets for the hinge losses (Keras's -1 / 1
# conversion) and real ones (no conversion)
ELEMENTWISE = [("mse_loss", "real", "real"), ("l1_loss", "real", "real"), ("huber_loss", "real", "real"),
               ("log_cosh_loss", "real", "real"), ("hinge_loss", "real", "binary"), ("hinge_loss", "real", "real"),
               ("squared_hinge_loss", "real", "binary"), ("poisson_loss", "prob", "prob"),
               ("kl_divergence", "prob", "prob"), ("binary_cross_entropy", "prob", "prob"),
               ("binary_cross_entropy_with_logits", "real", "prob")]


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_elementwise_losses_lower_simd_paths(level):
    # The elementwise losses' loops are compiled for baseline x86-64, AVX2 and AVX-512 (loss_loops.hpp) and picked
    # once per process; FASTANN_SIMD forces a lower path in a subprocess.
    check_at_simd(level, """
        from test_loss import ELEMENTWISE
        from helpers import TOL_REDUCTION, assert_close
        draw = {"real": lambda: 3 * rng.standard_normal(1003), "prob": lambda: rng.uniform(0.01, 0.99, 1003),
                "binary": lambda: (rng.uniform(size=1003) > 0.5).astype(float)}
        for dtype in (np.float32, np.float64):
            for name, xk, tk in ELEMENTWISE:
                x, t = draw[xk]().astype(dtype), draw[tk]().astype(dtype)
                assert_close(getattr(ops, name)(x, t), getattr(ref, name)(x, t), TOL_REDUCTION[dtype], name)
                assert_close(getattr(ops, name + '_backward')(x, t), getattr(ref, name + '_backward')(x, t),
                             TOL_REDUCTION[dtype], name + '_backward')
        """)


@pytest.mark.parametrize("kind", ["int64", "soft"])
def test_cross_entropy_gradcheck(rng, kind):
    x = rng.standard_normal((4, 6))
    t = _targets(rng, 4, 6, kind, np.float64)
    gradcheck(lambda a: ops.cross_entropy(a, t), lambda g, a: ops.cross_entropy_backward(a, t, float(g)),
              [x], rng, tol=1e-6)


def test_cross_entropy_hand_values_and_stability():
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    y = np.array([2, 0])
    lse0 = np.log(np.exp(1) + np.exp(2) + np.exp(3))
    want = ((lse0 - 3.0) + np.log1p(np.exp(-1000.0) + np.exp(-2000.0))) / 2  # no overflow at 1000
    assert float(ops.cross_entropy(x, y)) == pytest.approx(want, rel=1e-14)
    sm0 = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(ops.cross_entropy_backward(x, y),
                               [(sm0 - [0, 0, 1]) / 2, [0, 0, 0]], atol=1e-15)
    # one-hot target = the same labels
    oh = np.eye(3)[y]
    assert float(ops.cross_entropy(x, oh)) == pytest.approx(float(ops.cross_entropy(x, y)), rel=1e-14)


def test_cross_entropy_large_batch_threads(rng):
    # many rows: the kernel splits the rows over threads when it has several
    x = rng.standard_normal((30000, 10)).astype(np.float32)
    y = rng.integers(0, 10, 30000).astype(np.int64)
    l, d = ops.cross_entropy_with_grad(x, y)
    assert_close(l, ref.cross_entropy(x, y), 1e-5)
    assert_close(d, ref.cross_entropy_backward(x, y), 1e-5)


# ---- categorical cross-entropy on probabilities (Keras) ------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_categorical_crossentropy_matches_reference(xp, rng, kind, dtype):
    for n, c in CLASS_SHAPES:
        p = _softmax(2 * rng.standard_normal((n, c))).astype(dtype)
        t = _targets(rng, n, c, kind, dtype)
        loss = ops.categorical_crossentropy(xp.asarray(p), xp.asarray(t))
        assert loss.shape == () and loss.dtype == dtype
        assert_close(loss, ref.categorical_crossentropy(p, t), TOL_REDUCTION[dtype], f"cce {(n, c)}")
        d = ops.categorical_crossentropy_backward(xp.asarray(p), xp.asarray(t), grad_output=0.5)
        assert_close(d, ref.categorical_crossentropy_backward(p, t, grad_output=0.5), TOL_REDUCTION[dtype],
                     f"cce backward {(n, c)}")


@pytest.mark.parametrize("kind", ["int32", "soft"])
def test_categorical_crossentropy_gradcheck(rng, kind):
    p = rng.uniform(0.1, 1.0, (3, 5))  # not normalised: the gradient goes through the row sum too
    t = _targets(rng, 3, 5, kind, np.float64)
    gradcheck(lambda a: ops.categorical_crossentropy(a, t),
              lambda g, a: ops.categorical_crossentropy_backward(a, t, float(g)), [p], rng, tol=1e-6)


def test_categorical_crossentropy_hand_values():
    p = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0]])
    y = np.array([0, 0])
    eps = 1e-7
    want = (-np.log(0.7) - np.log(eps)) / 2  # p = 0 is clipped to eps as Keras does
    assert float(ops.categorical_crossentropy(p, y)) == pytest.approx(want, rel=1e-12)
    # equals cross_entropy of the logits whose softmax it is
    x = np.array([[0.3, -1.2, 2.0]])
    assert float(ops.categorical_crossentropy(_softmax(x), np.array([1]))) == pytest.approx(
        float(ops.cross_entropy(x, np.array([1]))), rel=1e-12)


# ---- NaN ----------------------------------------------------------------------------------------------
def test_nan_propagates(xp):
    x = np.array([[np.nan, 1.0, 2.0], [0.5, 0.1, 0.3]], np.float32)
    t = np.array([[0.0, 1.0, 2.0], [0.5, 0.1, 0.3]], np.float32)
    X, T = xp.asarray(x), xp.asarray(t)
    for name in EW_IDS:
        assert np.isnan(float(getattr(ops, name)(X, T))), name
        d = to_numpy(getattr(ops, name + "_backward")(X, T))
        assert np.isnan(d[0, 0]), name
    y = xp.asarray(np.array([1, 0], np.int32))
    l, d = ops.cross_entropy_with_grad(X, y)
    d = to_numpy(d)
    assert np.isnan(float(l)) and np.isnan(d[0]).all() and np.isfinite(d[1]).all()
    assert np.isnan(float(ops.categorical_crossentropy(X, y)))
    assert np.isnan(to_numpy(ops.categorical_crossentropy_backward(X, y))[0]).all()


# ---- bad input ----------------------------------------------------------------------------------------
def test_bad_input_ops_and_reference():
    x = np.ones((4, 3), np.float32)
    raises_both(TypeError, lambda m: m.mse_loss(x, x.astype(np.float64)), "dtype")
    raises_both(TypeError, lambda m: m.mse_loss(x.astype(np.int32), x.astype(np.int32)), "float32 or float64")
    raises_both(ValueError, lambda m: m.l1_loss(x, np.ones((3, 4), np.float32)), "shape")
    raises_both(ValueError, lambda m: m.l1_loss(x[:, ::2], x[:, ::2]), "C-contiguous")
    raises_both(ValueError, lambda m: m.mse_loss(x[::-1], x), "C-contiguous")
    raises_both(ValueError, lambda m: m.mse_loss(np.ones(0, np.float32), np.ones(0, np.float32)), "empty")
    raises_both(ValueError, lambda m: m.binary_cross_entropy(x, x, eps=0.7), "eps")
    raises_both(TypeError, lambda m: m.mse_loss_backward(x, x, grad_output="a"), "grad_output")
    y = np.array([0, 1, 2, 3])
    raises_both(ValueError, lambda m: m.cross_entropy(x, y), r"label 3 at index 3 is out of range \[0, 3\)")
    raises_both(ValueError, lambda m: m.cross_entropy(x, np.array([0, -1, 0, 0])), "label -1 at index 1")
    raises_both(ValueError, lambda m: m.cross_entropy_backward(x, y), "label 3")
    raises_both(ValueError, lambda m: m.categorical_crossentropy(x, y), "label 3")
    raises_both(ValueError, lambda m: m.cross_entropy_with_grad(x, y), "label 3")
    raises_both(TypeError, lambda m: m.cross_entropy(x, np.array([0.0, 1.0, 2.0, 0.0], np.float32)), "integer class labels")
    raises_both(TypeError, lambda m: m.cross_entropy(x, np.array([0, 1, 2, 0], np.uint8)), "int32/int64")
    raises_both(ValueError, lambda m: m.cross_entropy(x, np.array([0, 1, 2])), r"shape \(N,\)")
    raises_both(ValueError, lambda m: m.cross_entropy(x[0], y[:1]), "2-D")
    raises_both(ValueError, lambda m: m.cross_entropy(x, np.ones((4, 4), np.float32)), "shape")
    raises_both(TypeError, lambda m: m.cross_entropy(x, np.ones((4, 3), np.float64)), "dtype")
    raises_both(ValueError, lambda m: m.cross_entropy(np.ones((0, 3), np.float32), np.zeros(0, np.int64)), "empty")
    raises_both(ValueError, lambda m: m.cross_entropy(np.ones((6, 3), np.float32)[::2], np.zeros(3, np.int64)),
          "C-contiguous")
    raises_both(ValueError, lambda m: m.cross_entropy(x, np.zeros(8, np.int64)[::2]), "C-contiguous")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    x = np.ones((4, 3), np.float32)
    out = np.empty((), np.float32)
    d = np.empty_like(x)
    y = np.array([0, 1, 2, 0], np.int64)
    cpu.cross_entropy_with_grad(out, d, x, y, 1.0)
    assert float(out) == pytest.approx(np.log(3), rel=1e-6)
    with pytest.raises(ValueError, match=r"target label 7 at index 2 is out of range \[0, 3\)"):
        cpu.cross_entropy_forward(out, x, np.array([0, 1, 7, 0], np.int32))
    with pytest.raises(ValueError, match="label -2 at index 0"):
        cpu.cross_entropy_with_grad(out, d, x, np.array([-2, 1, 0, 0], np.int64), 1.0)
    with pytest.raises(TypeError, match="1-D target must hold integer class labels"):
        cpu.cross_entropy_forward(out, x, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="int32/int64"):
        cpu.cross_entropy_backward(d, x, np.zeros(4, np.int16), 1.0)
    with pytest.raises(ValueError, match="out must be a 0-d array"):
        cpu.cross_entropy_forward(np.empty(1, np.float32), x, y)
    with pytest.raises(TypeError, match="out has dtype float64"):
        cpu.cross_entropy_forward(np.empty((), np.float64), x, y)
    with pytest.raises(ValueError, match="input must be 2-D"):
        cpu.cross_entropy_forward(out, np.ones(3, np.float32), y)
    with pytest.raises(ValueError, match="dinput must have the shape of input"):
        cpu.cross_entropy_backward(np.empty((3, 4), np.float32), x, y, 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.cross_entropy_backward(d, np.ones((4, 6), np.float32)[:, ::2], y, 1.0)
    with pytest.raises(ValueError, match="empty"):
        cpu.cross_entropy_forward(out, np.ones((0, 3), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="target must have the shape of input"):
        cpu.mse_loss_forward(out, x, np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="target has dtype float64"):
        cpu.l1_loss_backward(d, x, x.astype(np.float64), 1.0)
    with pytest.raises(ValueError, match="empty"):
        cpu.mse_loss_forward(out, np.ones(0, np.float32), np.ones(0, np.float32))
    with pytest.raises(ValueError, match="eps must be in"):
        cpu.binary_cross_entropy_forward(out, x, x, -1.0)
    with pytest.raises(ValueError, match="eps must be in"):
        cpu.categorical_crossentropy_forward(out, x, y, float("nan"))
    ro = np.empty((), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        cpu.mse_loss_forward(ro, x, x)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.binary_cross_entropy_with_logits_forward(out, x[::-1], x)
