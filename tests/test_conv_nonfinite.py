"""conv2d rung 4 (Winograd) with infinities and NaNs: every direction gives exactly rung 3's NaN and +-inf
entries (positions and values) and rung 3's finite values up to rounding, whether rung 4 is asked for
(rung=4) or picked (rung=None). The Winograd transforms mix up to 4 inputs, so without the hand-off to
rung 3 an infinity comes out NaN where the direct sum gives +-inf."""
import numpy as np
import pytest

import fastann
from fastann import ops

_cpu = fastann._cpu

# (N, C, H, W, OC, padding, groups, padding_mode, dtype)
SHAPES = [
    (2, 32, 10, 10, 32, 1, 1, "zeros", np.float32),     # rung=None picks rung 4 here (AVX-512)
    (3, 16, 9, 11, 24, 1, 2, "zeros", np.float32),      # groups, odd sizes: partial tiles
    (2, 8, 7, 8, 12, 1, 1, "reflect", np.float32),      # materialized padding
    (2, 6, 8, 9, 10, 2, 1, "zeros", np.float64),        # the portable loops (float64)
]
IDS = [f"{s[0]}x{s[1]}x{s[2]}x{s[3]}-{s[4]}-g{s[6]}-{s[7]}-{np.dtype(s[8]).name}" for s in SHAPES]
WHERE = ["input", "weight", "grad_output"]
VALUES = {"inf": [np.inf], "-inf": [-np.inf], "nan": [np.nan], "mixed": [np.inf, -np.inf, np.nan]}


def _operands(shape, where, values, rng):
    N, C, H, W, OC, pad, groups, mode, dtype = shape
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((OC, C // groups, 3, 3)).astype(dtype)
    kw = dict(stride=1, padding=pad, dilation=1, groups=groups, padding_mode=mode)
    g = rng.standard_normal(ops.conv2d(x, w, **kw).shape).astype(dtype)
    target = {"input": x, "weight": w, "grad_output": g}[where]
    flat = target.reshape(-1)
    for pos in rng.choice(flat.size, size=3, replace=False):  # three entries, spread over items
        flat[pos] = values[rng.integers(len(values))]
    return x, w, g, kw


def _assert_same_non_finite(got, want, what):
    for test in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(test(got), test(want), err_msg=f"{what}: {test.__name__} entries differ")
    assert (~np.isfinite(want)).any() or what.endswith("unaffected"), f"{what}: the case reaches no output"
    finite = np.isfinite(want)
    scale = np.abs(want[finite]).max() if finite.any() else 1.0
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=1e-4 * scale, err_msg=what)


def _directions(x, w, g, kw, rung):
    return {
        "forward": ops.conv2d(x, w, rung=rung, **kw),
        "input gradient": ops.conv2d_backward_input(g, w, x.shape, rung=rung, **kw),
        "weight gradient": ops.conv2d_backward_weight(g, x, w.shape, rung=rung, **kw),
    }


@pytest.mark.parametrize("values", list(VALUES), ids=list(VALUES))
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_winograd_non_finite_equals_rung3(shape, where, values, rng):
    x, w, g, kw = _operands(shape, where, VALUES[values], rng)
    rung3 = _directions(x, w, g, kw, 3)
    for rung in (4, None):
        for direction, got in _directions(x, w, g, kw, rung).items():
            # each direction reads two of the three operands: the third one's non-finite entries do not reach it
            unaffected = {"forward": "grad_output", "input gradient": "input", "weight gradient": "weight"}
            what = f"rung={rung} {direction}" + (" unaffected" if unaffected[direction] == where else "")
            _assert_same_non_finite(got, rung3[direction], what)


def test_auto_picks_winograd_for_the_first_shape():
    """The first shape is one where rung=None runs rung 4 (with AVX-512), so the test above covers the pick."""
    if _cpu.simd_level() != "avx512":
        pytest.skip("rung 4 is picked only with AVX-512")
    N, C, H, W, OC, pad, groups, mode, dtype = SHAPES[0]
    for direction in (0, 1, 2):
        assert _cpu.conv2d_pick_rung([N, C, H, W], [OC, C, 3, 3], 1, 1, pad, pad, pad, pad, 1, 1, groups, mode,
                                       direction) == 4


def test_single_infinity_stays_infinite(rng):
    """One +inf in a 32-channel 10x10 input: every output it reaches is +-inf (as the direct sum gives), none NaN."""
    x, w, g, kw = _operands(SHAPES[0], "input", [np.inf], np.random.default_rng(1))
    x = np.nan_to_num(x, posinf=0.0)
    x[0, 5, 4, 6] = np.inf
    out = ops.conv2d(x, w, **kw)
    reached = ~np.isfinite(out)
    assert reached.sum() == 9 * out.shape[1] and not np.isnan(out).any()
    dw = ops.conv2d_backward_weight(g, x, w.shape, **kw)
    assert not np.isnan(dw).any() and np.isinf(dw).any()


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("rung", [None, 3])
def test_input_gradient_with_a_non_finite_weight_sums_only_the_products_that_reach(value, rung):
    """Stride 1 with >= 8 input channels (rung 3's flipped-kernel path for finite weights): a non-finite weight
    gives the NaN / +-inf entries of rung 1, which sums exactly the products that reach each input element."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 16, 7, 9)).astype(np.float32)
    w = rng.standard_normal((12, 16, 3, 3)).astype(np.float32)
    w[3, 5, 0, 0] = value          # a corner tap: it meets dout's border for the top-left input elements
    kw = dict(stride=1, padding=1)
    g = rng.standard_normal(ops.conv2d(np.nan_to_num(x), np.nan_to_num(w), **kw).shape).astype(np.float32)
    want = ops.conv2d_backward_input(g, w, x.shape, rung=1, **kw)
    _assert_same_non_finite(ops.conv2d_backward_input(g, w, x.shape, rung=rung, **kw), want, "input gradient")
    assert np.isfinite(want[:, :, 0, :]).any() and not np.isfinite(want).all()
