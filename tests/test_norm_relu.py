"""The fused batch_norm_relu (+ 2x2 max pool) kernels against the reference and the separate ops, and the
Sequential layer fusion that uses them."""
import numpy as np
import pytest

import fastann
from fastann import layers, ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, assert_close, check_at_simd, gradcheck, raises_both

# These tests are written in channels_first (N, C, H, W); tests/test_data_format.py covers channels_last.
pytestmark = pytest.mark.usefixtures("channels_first")

CPU = fastann._backend.cpu
DTYPES = [np.float32, np.float64]
SHAPES = [
    (3, 5, 7, 9),     # odd H and W: the last row / column is in no window
    (2, 3, 28, 28),   # the CNN's first block
    (4, 6, 14, 14),   # the second (OW = 7: every step is a partial one)
    (1, 2, 2, 2),     # batch 1, one window
    (2, 3, 5, 37),    # OW = 18: two steps per output row
    (2, 2, 6, 70),    # OW = 35: three steps, full-width accesses inside the plane
]


def f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _setup(rng, shape, dtype, affine=True):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    w = rng.uniform(-1.5, 1.5, C).astype(dtype) if affine else None  # negative gamma flips the window order
    b = rng.standard_normal(C).astype(dtype) if affine else None
    return x, w, b, np.zeros(C, dtype), np.ones(C, dtype)


def _z(x, mean, invstd, w, b):
    """The normalized values the kernel pools, float64."""
    per = (1, -1, 1, 1)
    z = (f64(x) - f64(mean).reshape(per)) * f64(invstd).reshape(per)
    if w is not None:
        z = z * f64(w).reshape(per) + f64(b).reshape(per)
    return z


@pytest.mark.parametrize("max_pool", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_training_forward_and_backward(rng, shape, dtype, max_pool):
    x, w, b, rm, rv = _setup(rng, shape, dtype)
    rrm, rrv = f64(rm), f64(rv)
    out, mean, invstd, wi = ops.batch_norm_relu(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-3,
                                                max_pool=max_pool)
    rout, rmean, rinvstd, rwi = ref.batch_norm_relu(f64(x), rrm, rrv, f64(w), f64(b), training=True,
                                                    momentum=0.2, eps=1e-3, max_pool=max_pool)
    tol = TOL_REDUCTION[dtype]
    assert out.dtype == dtype and out.shape == rout.shape
    assert_close(out, rout, tol, "output")
    assert_close(mean, rmean, tol, "save_mean")
    assert_close(invstd, rinvstd, tol, "save_invstd")
    assert_close(rm, rrm, tol, "running_mean")
    assert_close(rv, rrv, tol, "running_var")
    if max_pool:
        assert wi.dtype == np.uint8 and wi.shape == out.shape and wi.max() <= 3
        # Each index names a tap that attains its window's maximum (exact ties aside, the reference's).
        z = _z(x, mean, invstd, w, b)
        N, C, OH, OW = out.shape
        taps = np.stack([z[:, :, r:2 * OH:2, c:2 * OW:2] for r in (0, 1) for c in (0, 1)])
        picked = np.take_along_axis(taps, wi[None].astype(np.int64), 0)[0]
        assert np.allclose(picked, taps.max(0), rtol=10 * tol, atol=10 * tol)
        assert (wi == rwi).mean() > 0.99
    else:
        assert wi is None

    g = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = ops.batch_norm_relu_backward(g, out, x, w, b, mean, invstd, wi)
    # The reference routes the gradient with the kernel's own window_index (near-ties may pick another tap).
    rdx, rdw, rdb = ref.batch_norm_relu_backward(f64(g), out, f64(x), f64(w), f64(b), f64(mean), f64(invstd), wi)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_close(dx, rdx, 10 * tol, "dinput")
    assert_close(dw, rdw, 10 * tol, "dweight")
    assert_close(db, rdb, 10 * tol, "dbias")


@pytest.mark.parametrize("max_pool", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_inference(rng, dtype, max_pool):
    x, w, b, _, _ = _setup(rng, (3, 4, 9, 12), dtype)
    rm, rv = rng.standard_normal(4).astype(dtype), rng.uniform(0.5, 2, 4).astype(dtype)
    out = ops.batch_norm_relu(x, rm, rv, w, b, training=False, eps=1e-3, max_pool=max_pool)
    rout = ref.batch_norm_relu(f64(x), f64(rm), f64(rv), f64(w), f64(b), training=False, eps=1e-3,
                               max_pool=max_pool)
    assert_close(out, rout, TOL_REDUCTION[dtype], "inference output")


@pytest.mark.parametrize("max_pool", [False, True])
def test_matches_the_separate_ops(rng, max_pool):
    x, w, b, rm, rv = _setup(rng, (4, 8, 10, 12), np.float32)
    rm2, rv2 = rm.copy(), rv.copy()
    out, mean, invstd, wi = ops.batch_norm_relu(x, rm, rv, w, b, training=True, max_pool=max_pool)
    y, mean2, invstd2 = ops.batch_norm(x, rm2, rv2, w, b, training=True, return_stats=True)
    r = ops.relu(y)
    expect = ops.max_pool2d(r, 2)[0] if max_pool else r
    assert_close(out, expect, 1e-6, "fused vs separate output")
    assert_close(rm, rm2, 1e-6, "running_mean")
    g = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, db = ops.batch_norm_relu_backward(g, out, x, w, b, mean, invstd, wi)
    gz = ops.max_pool2d_backward(g, ops.max_pool2d(r, 2)[1], r.shape) if max_pool else g
    gz = ops.relu_backward(gz, y)
    dx2, dw2, db2 = ops.batch_norm_backward(gz, x, w, mean2, invstd2)
    assert_close(dx, dx2, 1e-4, "dinput")
    assert_close(dw, dw2, 1e-4, "dweight")
    assert_close(db, db2, 1e-4, "dbias")


@pytest.mark.parametrize("max_pool", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_sums_from_output_and_from_input(rng, dtype, max_pool):
    """The backward takes sum(dz*xhat) from output - bias where |bias| <= 16*|weight|, and from the input
    elsewhere: one channel of each kind (including weight 0 and a negative weight) against the reference."""
    w = np.array([1.3, -0.8, 1e-3, 0.0, 0.5], dtype)  # output, output (negative), input, input (0), output
    b = np.array([0.4, 0.2, 5.0, 0.5, -8.0], dtype)   # |b| <= 16|w| for channels 0, 1 and 4 only
    x = (3.0 + 2.0 * rng.standard_normal((3, 5, 6, 10))).astype(dtype)  # mean far from 0
    out, mean, invstd, wi = ops.batch_norm_relu(x, None, None, w, b, training=True, max_pool=max_pool)
    g = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = ops.batch_norm_relu_backward(g, out, x, w, b, mean, invstd, wi)
    rdx, rdw, rdb = ref.batch_norm_relu_backward(f64(g), out, f64(x), f64(w), f64(b), f64(mean), f64(invstd), wi)
    tol = 10 * TOL_REDUCTION[dtype]
    assert_close(dx, rdx, tol, "dinput")
    assert_close(dw, rdw, tol, "dweight")
    assert_close(db, rdb, tol, "dbias")


@pytest.mark.parametrize("max_pool", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(rng, max_pool, affine):
    C = 3
    x = rng.standard_normal((2, C, 4, 5))
    w, b = (rng.uniform(0.5, 1.5, C), rng.standard_normal(C)) if affine else (None, None)

    def forward(x, *wb):
        return ops.batch_norm_relu(x, None, None, *wb, training=True, eps=1e-3, max_pool=max_pool)[0]

    def backward(g, x, *wb):
        out, mean, invstd, wi = ops.batch_norm_relu(x, None, None, *wb, training=True, eps=1e-3,
                                                    max_pool=max_pool)
        dx, dw, db = ops.batch_norm_relu_backward(g, out, x, *(wb or (None, None)), mean, invstd, wi)
        return (dx, dw, db) if wb else dx

    inputs = [x, w, b] if affine else [x]
    gradcheck(forward, backward, inputs, rng, tol=1e-5, names=["input", "weight", "bias"])


def test_nan_propagates(rng):
    x = rng.standard_normal((2, 2, 4, 4))
    x[1, 0, 2, 3] = np.nan
    out = ops.batch_norm_relu(x, None, None, training=True, max_pool=True)[0]
    assert np.isnan(out[1, 0]).all() and np.isnan(out[0, 0]).all()  # the channel's statistics are NaN
    assert not np.isnan(out[:, 1]).any()
    rm, rv = np.zeros(2), np.ones(2)
    x[...] = 1.0
    x[0, 1, 0, 1] = np.nan
    out = ops.batch_norm_relu(x, rm, rv, training=False, max_pool=True)
    assert np.isnan(out[0, 1, 0, 0]) and np.isnan(out).sum() == 1  # the NaN wins its window only


@pytest.mark.parametrize("level", ["avx2", "scalar"])
def test_lower_simd_paths(level):
    check_at_simd(level, """
        for shape in [(2, 3, 7, 9), (2, 2, 6, 70)]:
            for mp in (False, True):
                x = rng.standard_normal(shape).astype(np.float32)
                out, m, s, wi = ops.batch_norm_relu(x, None, None, training=True, max_pool=mp)
                r = ref.batch_norm_relu(x.astype(np.float64), None, None, training=True, max_pool=mp)[0]
                assert np.abs(out - r).max() < 1e-5
                g = rng.standard_normal(out.shape).astype(np.float32)
                dx = ops.batch_norm_relu_backward(g, out, x, None, None, m, s, wi)[0]
                rdx = ref.batch_norm_relu_backward(g.astype(np.float64), out, x.astype(np.float64), None, None, m, s, wi)[0]
                assert np.abs(dx - rdx).max() < 1e-4 * max(1.0, np.abs(rdx).max())
        """)


# ---- bad input ---------------------------------------------------------------------------------------
def _args(**over):
    a = dict(input=np.zeros((2, 3, 4, 4), np.float32), running_mean=np.zeros(3, np.float32),
             running_var=np.ones(3, np.float32), weight=None, bias=None, training=True, max_pool=True)
    a.update(over)
    return a


@pytest.mark.parametrize("desc, exc, over", [
    ("2-D input", ValueError, dict(input=np.zeros((4, 3), np.float32))),
    ("3-D input", ValueError, dict(input=np.zeros((4, 3, 5), np.float32))),
    ("H < 2 with a pool", ValueError, dict(input=np.zeros((2, 3, 1, 4), np.float32))),
    ("channel mismatch", ValueError, dict(running_mean=np.zeros(4, np.float32))),
    ("int input", TypeError, dict(input=np.zeros((2, 3, 4, 4), np.int32))),
    ("mixed dtypes", TypeError, dict(running_var=np.ones(3))),
    ("one value per channel", ValueError, dict(input=np.zeros((1, 3, 1, 1), np.float32), max_pool=False)),
    ("max_pool not a bool", TypeError, dict(max_pool=2)),
    ("inference without running stats", ValueError, dict(training=False, running_mean=None)),
])
def test_bad_input(desc, exc, over):
    raises_both(exc, lambda m: m.batch_norm_relu(**_args(**over)))


def _fwd_bwd(max_pool=True):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(np.float32)
    out, mean, invstd, wi = ops.batch_norm_relu(x, None, None, training=True, max_pool=max_pool)
    return x, out, mean, invstd, wi


def test_bad_input_backward():
    x, out, mean, invstd, wi = _fwd_bwd()
    with pytest.raises(ValueError, match="window_index"):
        ops.batch_norm_relu_backward(out, out, x, None, None, mean, invstd, (wi + 4).astype(np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        ops.batch_norm_relu_backward(out, out, x, None, None, mean, invstd, wi.astype(np.int64))
    with pytest.raises(ValueError, match="shape"):
        ops.batch_norm_relu_backward(out[:, :, :1], out, x, None, None, mean, invstd, wi)
    with pytest.raises(ValueError):  # an unpooled gradient with a window_index
        ops.batch_norm_relu_backward(np.zeros_like(x), np.zeros_like(x), x, None, None, mean, invstd, wi)
    with pytest.raises(TypeError):
        ops.batch_norm_relu_backward(out.astype(np.float64), out, x, None, None, mean, invstd, wi)
    with pytest.raises(ValueError, match="bias"):
        ops.batch_norm_relu_backward(out, out, x, None, np.zeros(4, np.float32), mean, invstd, wi)
    with pytest.raises(ValueError, match="bias"):
        ref.batch_norm_relu_backward(out, out, x, None, np.zeros(4), mean, invstd, wi)
    with pytest.raises(TypeError):
        ops.batch_norm_relu_backward(out, out, x, None, np.zeros(3), mean, invstd, wi)
    with pytest.raises(ValueError, match="window_index"):
        ref.batch_norm_relu_backward(out, out, x, None, None, mean, invstd, (wi + 4).astype(np.uint8))


def test_bad_input_direct_cpu():
    """The compiled module checks for itself (a caller that skips fastann.ops gets exceptions, no crash)."""
    x, out, mean, invstd, wi = _fwd_bwd()
    C = x.shape[1]
    fwd = CPU.batch_norm_relu_forward
    with pytest.raises(ValueError, match="pool"):
        fwd(np.empty_like(out), wi, mean, invstd, None, None, x, None, None, True, 0.1, 1e-5, 3)
    with pytest.raises(ValueError, match="window_index"):  # pool=2 without window_index
        fwd(np.empty_like(out), None, mean, invstd, None, None, x, None, None, True, 0.1, 1e-5, 2)
    with pytest.raises(ValueError, match="shape"):
        fwd(np.empty_like(x), wi, mean, invstd, None, None, x, None, None, True, 0.1, 1e-5, 2)
    with pytest.raises(ValueError, match="save_mean"):
        fwd(np.empty_like(out), wi, None, invstd, None, None, x, None, None, True, 0.1, 1e-5, 2)
    with pytest.raises(ValueError, match="running_mean"):
        fwd(np.empty_like(out), wi, None, None, None, None, x, None, None, False, 0.1, 1e-5, 2)
    with pytest.raises(TypeError):
        fwd(np.empty_like(out), wi.astype(np.int32), mean, invstd, None, None, x, None, None, True, 0.1, 1e-5, 2)
    with pytest.raises(ValueError, match="4-D"):
        fwd(np.empty((2, C), np.float32), None, mean, invstd, None, None, x[:, :, 0, 0].copy(), None, None, True,
            0.1, 1e-5, 1)
    bwd = CPU.batch_norm_relu_backward
    d = np.empty_like(x), np.empty(C, np.float32), np.empty(C, np.float32)
    with pytest.raises(ValueError, match="0..3"):
        bwd(*d, out, out, np.full_like(wi, 7), x, None, None, mean, invstd, 2)
    with pytest.raises(ValueError, match="shape"):
        bwd(*d, out, out, wi, x, None, None, mean, invstd, 1)
    with pytest.raises(ValueError, match="bias"):  # the backward reads bias (output - bias), so it checks it
        bwd(*d, out, out, wi, x, None, np.zeros(C + 1, np.float32), mean, invstd, 2)
    with pytest.raises(TypeError, match="bias"):
        bwd(*d, out, out, wi, x, None, np.zeros(C, np.float64), mean, invstd, 2)


def test_cuda_arrays_are_refused_clearly():
    cupy = pytest.importorskip("cupy")
    if not fastann.cuda.is_available():
        pytest.skip("no usable GPU")
    x = cupy.zeros((2, 3, 4, 4), cupy.float32)
    with pytest.raises(NotImplementedError, match="CUDA"):
        ops.batch_norm_relu(x, None, None, training=True)


# ---- Sequential's fusion -----------------------------------------------------------------------------
def _cnn(seed, fuse, pool_padding="valid", dtype="float32"):
    m = fastann.Sequential([
        layers.Input((1, 10, 12)),
        layers.Conv2D(6, 3, padding="same", use_bias=False), layers.BatchNormalization(axis=1),
        layers.Activation("relu"), layers.MaxPooling2D(2, padding=pool_padding),
        # (no conv bias before a BN: its gradient is only rounding noise, which Adam would amplify)
        layers.Conv2D(4, 3, padding="same", use_bias=False), layers.BatchNormalization(axis=1),
        layers.Activation("relu"), layers.Flatten(), layers.Dense(5, activation="softmax"),
    ], seed=seed, dtype=dtype)
    m.fuse_layers = fuse
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_fusion_matches_separate_layers(rng, dtype):
    x = rng.random((40, 1, 10, 12)).astype(dtype)
    y = rng.integers(0, 5, 40)
    runs = []
    for fuse in (True, False):
        m = _cnn(3, fuse, dtype=dtype)
        hist = m.fit(x, y, batch_size=16, epochs=2, verbose=0)
        kinds = [type(s).__name__ for _, s in m._stages]
        assert (kinds.count("FusedBatchNormReLU") == 2) == fuse, kinds
        runs.append((hist.history["loss"], m.get_weights(), m.predict(x), m.evaluate(x, y, verbose=0)))
    (l1, w1, p1, e1), (l2, w2, p2, e2) = runs
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.allclose(l1, l2, rtol=tol)
    for a, b in zip(w1, w2):  # parameters and BN moving statistics
        assert np.allclose(a, b, rtol=tol, atol=tol)
    assert np.allclose(p1, p2, rtol=tol, atol=tol)
    assert np.allclose(e1, e2, rtol=tol)


def test_sequential_fusion_only_where_it_applies():
    m = _cnn(0, True, pool_padding="same")  # even 10x12: "same" is the same windows, still fused
    assert [type(s).__name__ for _, s in m._stages].count("FusedBatchNormReLU") == 2
    m = fastann.Sequential([layers.Input((2, 5, 5)), layers.BatchNormalization(axis=1), layers.Activation("relu"),
                            layers.MaxPooling2D(2, padding="same"), layers.Flatten(), layers.Dense(2)])
    stages = [s for _, s in m._stages]
    assert type(stages[1]).__name__ == "FusedBatchNormReLU" and not stages[1].pooled  # odd 5x5 "same": no pool
    m = fastann.Sequential([layers.Input((2, 4, 4)), layers.BatchNormalization(axis=1), layers.Activation("tanh"),
                            layers.Flatten(), layers.Dense(2)])
    assert not any(type(s).__name__ == "FusedBatchNormReLU" for _, s in m._stages)
