"""Shared test helpers: relative error, finite-difference gradient checks."""
from __future__ import annotations

import numpy as np


def to_numpy(a):
    """NumPy copy of a NumPy or CuPy array."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def rel_err(out, ref, scale=None) -> float:
    """||out - ref|| / ||scale|| in float64, scale defaulting to ref (absolute error when it is all zeros).

    NaN anywhere in out but not in ref -> inf. A sum's rounding error is bounded by the sum of the
    magnitudes of its terms, not by the sum itself (Higham, "Accuracy and Stability of Numerical
    Algorithms", 2nd ed., §4.2), so a test of a few-term sum whose terms may cancel passes that as scale:
    otherwise a near-zero output turns a correct float32 rounding into a large relative error.
    """
    out = to_numpy(out).astype(np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert out.shape == ref.shape, f"shape {out.shape} != reference shape {ref.shape}"
    if not np.all(np.isfinite(out)) and np.all(np.isfinite(ref)):
        return float("inf")
    den = np.linalg.norm(ref if scale is None else np.asarray(scale, dtype=np.float64))
    num = np.linalg.norm(out - ref)
    return float(num / den) if den > 0 else float(num)


def assert_close(out, ref, tol: float, what: str = "", scale=None) -> None:
    e = rel_err(out, ref, scale)
    assert e <= tol, f"{what} relative error {e:.3e} > {tol:.1e}"


# float32 / float64 tolerances of docs/architecture.md: elementwise well under 1e-5, reductions / GEMM under 1e-4.
TOL_ELEMENTWISE = {np.float32: 2e-6, np.float64: 1e-12}
TOL_REDUCTION = {np.float32: 1e-5, np.float64: 1e-11}


def numerical_grad(f, x: np.ndarray, g: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d/dx of sum(f(x) * g) by central differences (x float64, perturbed in place and restored)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = float(np.sum(np.asarray(f(), dtype=np.float64) * g))
        flat[i] = old - eps
        fm = float(np.sum(np.asarray(f(), dtype=np.float64) * g))
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return grad


def gradcheck(forward, backward, inputs, rng, eps: float = 1e-6, tol: float = 1e-6, names=None):
    """Check a backward against central differences of its forward, in float64.

    ``forward(*inputs) -> out``; ``backward(grad_output, *inputs) -> grads`` (a tuple in input order, an
    entry None to skip that input, or a single array for one input). The scalar checked is
    ``sum(out * G)`` for a fixed random ``G``, so every output element's gradient path is exercised.
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    out = np.asarray(to_numpy(forward(*inputs)), dtype=np.float64)
    g = rng.standard_normal(out.shape)
    grads = backward(g, *inputs)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    checked = 0
    for i, (x, ga) in enumerate(zip(inputs, grads)):
        if ga is None:
            continue
        num = numerical_grad(lambda: to_numpy(forward(*inputs)), x, g, eps)
        name = names[i] if names else f"input {i}"
        assert_close(ga, num, tol, f"gradient of {name}:")
        checked += 1
    assert checked, "gradcheck checked no gradient"


def raises_both(exc, call, match=None) -> None:
    """`call(module)` raises `exc` (message matching `match`) for both fastann.ops and fastann.reference.

    The ops and the float64 reference validate with the same checks (fastann._args), so bad input must give
    the same exception class (and message) through either."""
    import pytest

    from fastann import ops, reference

    for mod in (ops, reference):
        with pytest.raises(exc, match=match):
            call(mod)


def run_with_simd(level: str, code: str):
    """Run Python `code` in a fresh interpreter with FASTANN_SIMD=`level`; returns the CompletedProcess.

    simd_level() is fixed at the first kernel call of a process, so a lower ISA path (scalar, avx2) can
    only be forced in a new process. Skips the calling test when this CPU cannot run `level` (only
    "scalar" always runs). The interpreter finds this checkout's fastann and the tests folder."""
    import os
    import subprocess
    import sys

    import pytest

    import fastann

    if fastann._cpu.simd_level() == "scalar" and level != "scalar":
        pytest.skip(f"this CPU has no {level}")
    env = dict(os.environ, FASTANN_SIMD=level)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(fastann.__file__)),
                                         os.path.dirname(os.path.abspath(__file__))] +
                                        [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


_SIMD_PRELUDE = """\
import numpy as np
import fastann
from fastann import ops, reference as ref
assert fastann._cpu.simd_level() == {level!r}, f"FASTANN_SIMD={level} ran {{fastann._cpu.simd_level()}}"
rng = np.random.default_rng(0)
"""


def check_at_simd(level: str, body: str) -> None:
    """Run the test code `body` on the CPU path `level` ("scalar" or "avx2": each kernel's loops are compiled
    per ISA and the path is picked once per process, so a lower one runs in a fresh interpreter, see
    run_with_simd). `body` (dedented) runs after ``import numpy as np``, ``import fastann``, ``from fastann
    import ops, reference as ref`` and ``rng = np.random.default_rng(0)``, once the process has confirmed it
    runs `level`; it can import from the tests folder. The calling test fails, with the subprocess's output,
    when `body` raises; it is skipped where this CPU cannot run `level`."""
    import textwrap

    r = run_with_simd(level, _SIMD_PRELUDE.format(level=level) + textwrap.dedent(body) + "\nprint('ok')\n")
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout + r.stderr)[-3000:]


def conv_operands(case, dtype, rng):
    """Random conv2d operands for a test case (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups,
    padding_mode): x (N, C, H, W), weight (OC, C/groups, KH, KW), bias (OC,) as ``dtype``, standard normal,
    and the keyword arguments of ``ops.conv2d``."""
    N, C, H, W, OC, KH, KW, stride, padding, dilation, groups, mode = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((OC, C // groups, KH, KW)).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
    return x, w, b, kw
