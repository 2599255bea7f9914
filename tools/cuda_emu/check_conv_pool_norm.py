"""check_conv_pool_norm.py: run the CUDA conv/pool/norm/upsample kernels on the emulator (built by run.sh) against fastann's NumPy
float64 references, without a GPU.

    bash tools/cuda_emu/run.sh conv|pool|up|norm|norm2 [--quick]   (builds, then runs this file)

What this proves: the kernels' index math, tiling, shared-memory staging, barriers, block/warp reductions,
split-K and workspaces compute the reference's results when every thread runs (as a std::thread, one block at
a time). What it cannot prove: anything about real GPU execution (memory model, warp-synchronous timing,
alignment faults, occupancy, speed). Slow by design (a thread per CUDA thread): `conv` takes ~10 minutes on
2 cores, `--quick` ~1.
"""
import ctypes, os, sys, time
import numpy as np
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
from fastann.reference import conv as RC
from fastann._args.conv import conv2d_args
L = ctypes.CDLL(os.environ.get("FASTANN_EMU_LIB", os.path.join(ROOT, "build", "cuda_emu", "libemu_conv_pool_norm.so")))
P = lambda a: a.ctypes.data_as(ctypes.c_void_p) if a is not None else None
MODES = {"zeros": 0, "reflect": 1, "replicate": 2}
SFX = {np.float32: "f32", np.float64: "f64"}
TOL = {np.float32: 1e-5, np.float64: 1e-11}
def rel(a, b):
    a = np.asarray(a, np.float64); b = np.asarray(b, np.float64)
    if not np.all(np.isfinite(a)): return np.inf
    d = np.linalg.norm(b); return np.linalg.norm(a - b) / (d if d > 0 else 1)
def call(name, dt, *args):
    f = getattr(L, f"{name}_{SFX[dt]}")
    conv = []
    for a in args:
        if isinstance(a, np.ndarray) or a is None: conv.append(P(a))
        elif isinstance(a, float): conv.append(ctypes.c_double(a))
        else: conv.append(ctypes.c_int64(a))
    rc = f(*conv); assert rc == 0, name

def conv_case(case, dt, rng, kernels=(1, 2, 3, 0)):
    (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups, mode) = case
    xs, ws = (N, C, H, W), (OC, C // groups, KH, KW)
    a = conv2d_args("t", xs, ws, stride, padding, dilation, groups, mode)
    prm = np.array([N, C, H, W, OC, KH, KW, *a["stride"], *a["pads"], *a["dilation"], groups, MODES[mode]], np.int64)
    x = rng.standard_normal(xs).astype(dt); w = rng.standard_normal(ws).astype(dt); b = rng.standard_normal(OC).astype(dt)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
    ref = RC.conv2d(x, w, b, **kw); g = rng.standard_normal(ref.shape).astype(dt)
    rdx, rdw, rdb = RC.conv2d_backward(g, x, w, **kw)
    for k in kernels:
        out = np.full(ref.shape, np.nan, dt); call("conv_fwd", dt, out, x, w, b, prm, k)
        e1 = rel(out, ref)
        out2 = np.full(ref.shape, np.nan, dt); call("conv_fwd", dt, out2, x, w, None, prm, k)
        e1b = rel(out2, ref - b.reshape(1, -1, 1, 1))
        dx = np.full(xs, np.nan, dt); call("conv_bwi", dt, dx, g, w, prm, k); e2 = rel(dx, rdx)
        dw = np.full(ws, np.nan, dt); db = np.full(OC, np.nan, dt); call("conv_bww", dt, dw, db, g, x, prm, k)
        e3 = rel(dw, rdw); e4 = rel(db, rdb)
        ok = max(e1, e1b, e2, e3, e4) < TOL[dt]
        print(("ok  " if ok else "FAIL"), case, dt.__name__, "k", k, f"{e1:.1e} {e1b:.1e} {e2:.1e} {e3:.1e} {e4:.1e}", flush=True)
        assert ok

src = open(os.path.join(ROOT, "tests", "test_conv.py")).read()
ns = {}; exec(src[src.index("CASES = ["):src.index("IDS =")], ns)   # the CPU tests' shape grid
quick = "--quick" in sys.argv
args = [a for a in sys.argv[1:] if not a.startswith("--")]
rng = np.random.default_rng(7)
t0 = time.time()
which = args[0] if args else "all"
if which in ("all", "conv"):
    for i, case in enumerate(ns["CASES"][::4] if quick else ns["CASES"]):
        conv_case(case, np.float32 if i % 2 == 0 else np.float64, rng)
    if not quick:  # larger: several tiles and split-K with many splits
        conv_case((4, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, "zeros"), np.float32, rng, kernels=(3, 2))
        conv_case((2, 8, 10, 9, 70, 3, 3, 2, 1, 2, 2, "reflect"), np.float64, rng, kernels=(3,))
    print("conv time", time.time() - t0)

from fastann.reference import pool as RP, norm as RN  # noqa: E402
def pool_out(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0); o = num // s + 1
    if ceil and (o - 1) * s >= n + p: o -= 1
    return o
if which in ("all", "pool"):
    t0 = time.time()
    POOL = [((2, 3, 8, 10), (2, 2), (2, 2), (0, 0), (1, 1), False), ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0), (1, 1), False),
            ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), True), ((1, 2, 9, 8), (3, 2), (1, 2), (1, 1), (2, 1), False),
            ((2, 1, 5, 5), (7, 7), (1, 1), (3, 3), (1, 1), False), ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1), False),
            ((1, 2, 6, 6), (3, 3), (3, 3), (1, 1), (1, 1), True), ((1, 3, 10, 6), (2, 2), (2, 2), (0, 0), (1, 1), False)]
    for i, (shape, k, s, p, d, ceil) in enumerate(POOL):
        for dt in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dt)
            if x.size > 1: x.reshape(-1)[::7] = x.reshape(-1)[1]
            if x.size > 5: x.reshape(-1)[5] = np.nan
            if x.size > 12: x.reshape(-1)[12] = -np.inf
            ry, ri = RP.max_pool2d(x, k, s, p, d, ceil)
            OH, OW = pool_out(shape[2], k[0], s[0], p[0], d[0], ceil), pool_out(shape[3], k[1], s[1], p[1], d[1], ceil)
            assert ry.shape[2:] == (OH, OW)
            geo = np.array([*shape, *k, *s, *p, *d, int(ceil)], np.int64)
            is2 = k == (2, 2) and s == (2, 2) and p == (0, 0) and d == (1, 1) and not ceil
            for kern in ([1, 2, 3, 0] if is2 else [1, 0]):
                y = np.full(ry.shape, np.nan, dt); ix = np.full(ry.shape, -1, np.int64)
                call("maxp_fwd", dt, y, ix, x, geo, kern)
                assert np.array_equal(ix, ri), (shape, kern, ix, ri)
                assert np.array_equal(y, ry.astype(dt), equal_nan=True), (shape, kern)
            g = rng.standard_normal(ry.shape).astype(dt)
            rdx = RP.max_pool2d_backward(g, ri, shape)
            dx = np.full(shape, np.nan, dt); call("maxp_bwd", dt, dx, g, ri, geo)
            assert rel(dx, rdx) < TOL[dt], ("maxbwd", shape)
            bad = ri.copy(); bad.reshape(-1)[-1] = shape[2] * shape[3]
            f = getattr(L, f"maxp_bwd_{SFX[dt]}")
            assert f(P(dx), P(g), P(bad), P(geo)) == -1
            if d == (1, 1):
                xa = rng.standard_normal(shape).astype(dt)
                for cip in (True, False):
                    ry2 = RP.avg_pool2d(xa, k, s, p, ceil, cip)
                    y = np.full(ry2.shape, np.nan, dt); call("avgp_fwd", dt, y, xa, geo, int(cip))
                    assert rel(y, ry2) < TOL[dt], ("avg", shape, cip)
                    rdx2 = RP.avg_pool2d_backward(g, shape, k, s, p, ceil, cip)
                    dx = np.full(shape, np.nan, dt); call("avgp_bwd", dt, dx, g, geo, int(cip))
                    assert rel(dx, rdx2) < TOL[dt], ("avgbwd", shape, cip)
            xg = np.nan_to_num(x, nan=0.5, neginf=-1.0)
            rg = RP.global_avg_pool2d(xg); y = np.full(shape[:2], np.nan, dt)
            call("gap_fwd", dt, y, xg, shape[0] * shape[1], shape[2] * shape[3]); assert rel(y, rg) < TOL[dt]
            gg = rng.standard_normal(shape[:2]).astype(dt); rgd = RP.global_avg_pool2d_backward(gg, shape)
            dx = np.full(shape, np.nan, dt); call("gap_bwd", dt, dx, gg, shape[0] * shape[1], shape[2] * shape[3])
            assert rel(dx, rgd) < TOL[dt]
            print("ok pool", shape, k, s, p, d, ceil, dt.__name__, flush=True)
    gx = rng.standard_normal((2, 3, 1, 700)).astype(np.float32)
    y = np.full((2, 3), np.nan, np.float32); call("gap_fwd", np.float32, y, gx, 6, 700)
    assert rel(y, gx.mean(axis=(2, 3))) < 1e-6
    print("pool time", time.time() - t0)

if which in ("all", "up"):
    t0 = time.time()
    for shape, sc, mode, al in [((2, 3, 5, 7), (2, 2), "nearest", False), ((1, 2, 4, 3), (3, 1), "nearest", False),
                                ((2, 3, 5, 7), (2, 2), "bilinear", False), ((1, 2, 4, 3), (3, 2), "bilinear", True),
                                ((1, 1, 1, 1), (2, 3), "bilinear", True), ((1, 1, 1, 2), (2, 2), "bilinear", False)]:
        for dt in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dt)
            r = RC.upsample2d(x, sc, mode, al)
            y = np.full(r.shape, np.nan, dt); call("up_fwd", dt, y, x, *shape, *sc, int(mode == "bilinear"), int(al))
            assert rel(y, r) < TOL[dt], (shape, mode, al)
            g = rng.standard_normal(r.shape).astype(dt)
            rd = RC.upsample2d_backward(g, shape, sc, mode, al)
            dx = np.full(shape, np.nan, dt); call("up_bwd", dt, dx, g, *shape, *sc, int(mode == "bilinear"), int(al))
            assert rel(dx, rd) < TOL[dt], ("upbwd", shape, mode, al)
    print("upsample ok", time.time() - t0)

NORM_SHAPES = [(16, 3, 20, 20), (128, 2, 7, 7)] if which == "norm2" else [(8, 5), (3, 4, 5, 7), (64, 8, 6, 6), (2, 3, 1, 1), (700, 3), (1, 2, 1, 3000)]
if which in ("all", "norm", "norm2"):
    t0 = time.time()
    for shape in NORM_SHAPES:
        for dt in (np.float32, np.float64):
            C = shape[1]
            for affine in (True, False):
                w = rng.standard_normal(C).astype(dt) if affine else None
                b = rng.standard_normal(C).astype(dt) if affine else None
                rm, rv = np.zeros(C, dt), np.ones(C, dt)
                rrm, rrv = np.zeros(C), np.ones(C)
                HW = int(np.prod(shape[2:])) if len(shape) == 4 else 1
                for step in range(3):
                    x = (rng.standard_normal(shape) * 0.1 + 100 + step).astype(dt)
                    f64 = lambda a: None if a is None else a.astype(np.float64)
                    ry, rsm, rsi = RN.batch_norm(f64(x), rrm, rrv, f64(w), f64(b), training=True, momentum=0.1, eps=1e-5, return_stats=True)
                    y = np.full(shape, np.nan, dt); sm = np.full(C, np.nan, dt); si = np.full(C, np.nan, dt)
                    call("bn_train", dt, y, sm, si, rm, rv, x, w, b, shape[0], C, HW, 0.1, 1e-5)
                    assert rel(y, ry) < (1e-3 if dt == np.float32 else 1e-9), ("bn y", shape, rel(y, ry))
                    assert rel(sm, rsm) < TOL[dt] and rel(rm, rrm) < TOL[dt] and rel(rv, rrv) < 1e-4, ("bn stats", shape)
                    assert rel(si, rsi) < (1e-3 if dt == np.float32 else 1e-8), ("bn invstd", shape, rel(si, rsi))
                g = rng.standard_normal(shape).astype(dt)
                rdx, rdw, rdb = RN.batch_norm_backward(f64(g), f64(x), f64(w), sm.astype(np.float64), si.astype(np.float64))
                dx = np.full(shape, np.nan, dt); dw = np.full(C, np.nan, dt); db = np.full(C, np.nan, dt)
                call("bn_bwd", dt, dx, dw, db, g, x, w, sm, si, shape[0], C, HW)
                tol = 1e-3 if dt == np.float32 else 1e-8
                assert rel(dx, rdx) < tol and rel(db, rdb) < TOL[dt], ("bn bwd", shape, rel(dx, rdx), rel(db, rdb))
                if affine: assert rel(dw, rdw) < tol, ("bn dw", shape, rel(dw, rdw))
                ri = RN.batch_norm(f64(x), rm.astype(np.float64), rv.astype(np.float64), f64(w), f64(b), training=False, eps=1e-5)
                y = np.full(shape, np.nan, dt); call("bn_infer", dt, y, x, rm, rv, w, b, shape[0], C, HW, 1e-5)
                assert rel(y, ri) < 1e-5, ("bn infer", shape, rel(y, ri))
            print("ok bn", shape, dt.__name__, flush=True)
    x = np.ones((4, 2, 3, 3), np.float32); x[1, 0, 2, 2] = np.nan
    y = np.empty_like(x); sm = np.empty(2, np.float32); si = np.empty(2, np.float32)
    call("bn_train", np.float32, y, sm, si, None, None, x, None, None, 4, 2, 9, 0.1, 1e-5)
    assert np.isnan(y[:, 0]).all() and not np.isnan(y[:, 1]).any()
    # float64 values near 1e200: the squared deviations overflow; the kernel sums the channel again scaled
    for shape in [(4, 3, 5, 5), (64, 3)]:
        x = 1e200 * (1 + 0.1 * rng.standard_normal(shape))
        HW = int(np.prod(shape[2:])) if len(shape) == 4 else 1
        ry, rsm, rsi = RN.batch_norm(x, None, None, training=True, return_stats=True)
        y = np.full(shape, np.nan); sm = np.full(3, np.nan); si = np.full(3, np.nan); rm = np.zeros(3); rv = np.ones(3)
        call("bn_train", np.float64, y, sm, si, rm, rv, x, None, None, shape[0], 3, HW, 0.1, 1e-5)
        assert rel(y, ry) < 1e-12 and rel(si, rsi) < 1e-12 and np.isinf(rv).all(), ("bn 1e200", shape, rel(y, ry))
    print("norm time", time.time() - t0)
