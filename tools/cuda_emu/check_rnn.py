"""check_rnn.py: run the CUDA recurrent kernels (csrc/cuda/rnn_*.cu, their GEMMs on the emulated gemm.cu) on the
emulator (built by run.sh) against fastann's NumPy float64 reference, without a GPU.

    bash tools/cuda_emu/run.sh rnn [--quick]   (builds, then runs this file)
    python3 tools/cuda_emu/check_rnn.py --big  (after a build: H = 260, the GEMMs' split-K path)

Every mode, both rungs, both directions, both dtypes, with and without biases and initial states; forward
(output, h_n, c_n, saved) and backward (every gradient). Outputs are NaN-filled first, so an unwritten element
fails. What it cannot prove: anything about real GPU execution (see README.md).
"""
import ctypes, os, sys, time
import numpy as np
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
from fastann import reference as RR
L = ctypes.CDLL(os.environ.get("FASTANN_EMU_LIB", os.path.join(ROOT, "build", "cuda_emu", "libemu_rnn.so")))
P = lambda a: a.ctypes.data_as(ctypes.c_void_p) if a is not None else None
SFX = {np.float32: "f32", np.float64: "f64"}
TOL = {np.float32: 2e-5, np.float64: 1e-11}
MODES = {"rnn_tanh": (0, 1, 1), "rnn_relu": (1, 1, 1), "lstm": (2, 4, 5), "gru": (3, 3, 4), "gru_reset_before": (4, 3, 4)}


def rel(a, b):
    a = np.asarray(a, np.float64); b = np.asarray(b, np.float64)
    if not np.all(np.isfinite(a)): return np.inf
    d = np.linalg.norm(b); return np.linalg.norm(a - b) / (d if d > 0 else 1)


def case(mode, dt, shape, gb, rung, bias, state, rng):
    N, T, F, H = shape
    cell, G, S = MODES[mode]
    f = lambda *s, k=1.0: (rng.standard_normal(s) * k).astype(dt)  # noqa: E731
    x, wi, wh = f(N, T, F), f(G * H, F, k=0.5), f(G * H, H, k=0.5)
    bi, bh = (f(G * H, k=0.3), f(G * H, k=0.3)) if bias else (None, None)
    h0 = f(N, H) if state else None
    c0 = f(N, H) if state and mode == "lstm" else None
    go, ghn, gcn = f(N, T, H), f(N, H), (f(N, H) if mode == "lstm" else None)
    d = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    R = RR.rnn(d(x), d(wi), d(wh), d(bi), d(bh), d(h0), d(c0), mode=mode, go_backwards=gb)
    RB = RR.rnn_backward(d(go), d(ghn), d(gcn), d(x), d(wi), d(wh), R[0], R[3], d(h0), d(c0), mode=mode,
                         go_backwards=gb)
    nan = lambda *s: np.full(s, np.nan, dt)  # noqa: E731
    out, hn, saved = nan(N, T, H), nan(N, H), nan(N, T, S * H)
    cn = nan(N, H) if mode == "lstm" else None
    s = np.array(shape, np.int64)
    fwd = getattr(L, f"rnn_fwd_{SFX[dt]}")
    assert fwd(P(out), P(hn), P(cn), P(saved), P(x), P(h0), P(c0), P(wi), P(wh), P(bi), P(bh), cell, P(s), int(gb),
               rung) == 0
    errs = [rel(o, r) for o, r in zip((out, hn, cn, saved), R) if r is not None]
    dx, dh0, dwi, dwh, dbi, dbh = nan(N, T, F), nan(N, H), nan(G * H, F), nan(G * H, H), nan(G * H), nan(G * H)
    dc0 = nan(N, H) if mode == "lstm" else None
    bwd = getattr(L, f"rnn_bwd_{SFX[dt]}")
    assert bwd(P(dx), P(dh0), P(dc0), P(dwi), P(dwh), P(dbi), P(dbh), P(go), P(ghn), P(gcn), P(out), P(saved), P(x),
               P(h0), P(c0), P(wi), P(wh), cell, P(s), int(gb), rung) == 0
    errs += [rel(o, r) for o, r in zip((dx, dh0, dc0, dwi, dwh, dbi, dbh), RB) if r is not None]
    ok = max(errs) < TOL[dt] * 10
    print(("ok  " if ok else "FAIL"), mode, dt.__name__, shape, "gb" if gb else "  ", "rung", rung,
          "bias" if bias else "    ", "state" if state else "     ", f"max rel {max(errs):.1e}", flush=True)
    return ok


quick, big = "--quick" in sys.argv, "--big" in sys.argv
rng = np.random.default_rng(3)
t0 = time.time()
fails = 0
shapes = [(3, 4, 5, 6)] if quick else [(3, 4, 5, 6), (1, 1, 3, 1), (5, 3, 2, 33)]
if big:
    # H = 260: the per-step GEMMs (K = H, and K = G*H for d h_prev with beta = 1) take the split-K path of the
    # auto GEMM (float32, small output, K >= 256)
    for mode in ("lstm", "gru_reset_before"):
        fails += not case(mode, np.float32, (2, 2, 3, 260), True, 2, True, True, rng)
else:
    for mode in MODES:
        for i, shape in enumerate(shapes):
            for dt in (np.float32, np.float64):
                for rung in (1, 2):
                    for gb in (False, True):
                        bias = state = (gb == (rung == 1)) if not quick else True
                        fails += not case(mode, dt, shape, gb, rung, bias, state, rng)
print(f"rnn: {fails} failing, {time.time() - t0:.0f} s")
sys.exit(1 if fails else 0)
