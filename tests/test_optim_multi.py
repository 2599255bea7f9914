"""The multi-tensor Adam steps (ops.adam_step_multi / adamw_step_multi): the bits of one adam_step per
parameter, the float64 reference, the optimizer that uses them, and bad input from Python and the binding."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import raises_both, to_numpy

SHAPES = [(7,), (300, 17), (1,), (3, 5, 2), (1003,)]  # odd sizes: the vector loops' remainders run too
CONFIGS = [
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)),
    ("adam", dict(lr=0.01, amsgrad=True)),
    ("adamw", dict(lr=0.01)),
    ("adamw", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for n, kw in CONFIGS]


def _arrays(xp, rng, dtype, nstate):
    params = [xp.asarray(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    states = [[xp.zeros(s, dtype) for s in SHAPES] for _ in range(nstate)]
    return params, states


def _copy(arrays):
    return [a.copy() for a in arrays]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_same_bits_as_one_call_per_parameter(xp, rng, name, kw, dtype):
    kw = dict(kw)
    amsgrad = kw.pop("amsgrad", False)
    params, states = _arrays(xp, rng, dtype, 3 if amsgrad else 2)
    single_p, single_s = _copy(params), [_copy(s) for s in states]
    multi = getattr(ops, f"{name}_step_multi")
    single = getattr(ops, f"{name}_step")
    for t in range(1, 4):
        grads = [xp.asarray(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
        assert multi(params, grads, states[0], states[1], step=t, max_exp_avg_sqs=states[2] if amsgrad else None,
                     **kw) is None
        for i, (p, g) in enumerate(zip(single_p, grads)):
            single(p, g, single_s[0][i], single_s[1][i], step=t,
                   max_exp_avg_sq=single_s[2][i] if amsgrad else None, **kw)
    for got, want in zip(params + sum(states, []), single_p + sum(single_s, [])):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_matches_reference(rng, name, kw):
    kw = dict(kw)
    amsgrad = kw.pop("amsgrad", False)
    nstate = 3 if amsgrad else 2
    params, states = _arrays(np, rng, np.float32, nstate)
    params_ref, states_ref = [p.astype(np.float64) for p in params], [[a.astype(np.float64) for a in s] for s in states]
    for t in (1, 2):
        grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]   # both sides get these values
        for mod, p, s, g in ((ops, params, states, grads),
                             (ref, params_ref, states_ref, [g.astype(np.float64) for g in grads])):
            getattr(mod, f"{name}_step_multi")(p, g, s[0], s[1], step=t, max_exp_avg_sqs=s[2] if amsgrad else None,
                                               **kw)
    for got, want in zip(params + sum(states, []), params_ref + sum(states_ref, [])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weight_decay,amsgrad", [(None, False), (0.01, True)])
def test_optimizer_gives_the_per_parameter_bits(rng, weight_decay, amsgrad):
    # Adam.apply_gradients makes one multi-tensor call; the base class's loop of _step makes one per parameter.
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    fused, looped = _copy(params), _copy(params)
    opt_fused = fastann.optimizers.Adam(0.01, weight_decay=weight_decay, amsgrad=amsgrad)
    opt_looped = fastann.optimizers.Adam(0.01, weight_decay=weight_decay, amsgrad=amsgrad)
    opt_looped._step_all = lambda ps, gs: fastann.optimizers.Optimizer._step_all(opt_looped, ps, gs)
    for _ in range(3):
        grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        opt_fused.apply_gradients(fused, grads)
        opt_looped.apply_gradients(looped, grads)
    for a, b in zip(fused, looped):
        np.testing.assert_array_equal(a, b)


def _lists(n=3, size=4, dtype=np.float32):
    return [[np.zeros(size, dtype) for _ in range(n)] for _ in range(4)]


def test_bad_input_ops_and_reference():
    p, g, m, v = _lists()
    raises_both(TypeError, lambda M: M.adam_step_multi(p[0], g, m, v, step=1), "params must be a list")
    raises_both(TypeError, lambda M: M.adam_step_multi(p, g, m[0], v, step=1), "exp_avgs must be a list")
    raises_both(ValueError, lambda M: M.adam_step_multi([], [], [], [], step=1), "empty")
    raises_both(ValueError, lambda M: M.adam_step_multi(p, g[:2], m, v, step=1), "one entry per parameter")
    raises_both(ValueError, lambda M: M.adam_step_multi(p, g, m, v, step=1, max_exp_avg_sqs=m[:1]),
                "one entry per parameter")
    bad = _lists()[2]
    bad[1] = np.zeros(5, np.float32)
    raises_both(ValueError, lambda M: M.adam_step_multi(p, g, bad, v, step=1),
                r"exp_avgs\[1\] must have the shape of params\[1\] \(4,\), got \(5,\)")
    bad = _lists()[1]
    bad[2] = bad[2].astype(np.float64)
    raises_both(TypeError, lambda M: M.adam_step_multi(p, bad, m, v, step=1), "dtype")
    raises_both(TypeError, lambda M: M.adamw_step_multi([p[0], p[1].astype(np.float64)], g[:2], m[:2], v[:2],
                                                        step=1), "dtype")
    raises_both(ValueError, lambda M: M.adam_step_multi(p, g, m, v, step=0), "step")
    raises_both(ValueError, lambda M: M.adamw_step_multi(p, g, m, v, step=1, beta2=1.0), "beta2")
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    raises_both(ValueError, lambda M: M.adam_step_multi([p[0], ro, p[2]], g, m, v, step=1), "read-only")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    p, g, m, v = _lists()
    for a in g:
        a[:] = 1.0
    before = [a.copy() for a in p]
    cpu.adam_step_multi(p, m, v, None, g, 1, 1e-3, 0.9, 0.999, 1e-7, 0.0)
    with pytest.raises(TypeError, match="adam_step_multi: params must be a list of arrays, got a single array"):
        cpu.adam_step_multi(p[0], m, v, None, g, 1)
    with pytest.raises(ValueError, match="adam_step_multi: params is empty"):
        cpu.adam_step_multi([], [], [], None, [], 1)
    with pytest.raises(ValueError, match="one entry per parameter, got lengths 3, 3, 3, 2"):
        cpu.adam_step_multi(p, m, v, None, g[:2], 1)
    with pytest.raises(ValueError, match=r"exp_avgs\[1\] must have the shape of params\[1\] \(4,\), got \(5,\)"):
        cpu.adam_step_multi(p, [m[0], np.zeros(5, np.float32), m[2]], v, None, g, 1)
    with pytest.raises(TypeError, match=r"params\[2\] has dtype float64"):
        cpu.adam_step_multi([p[0], p[1], p[2].astype(np.float64)], m, v, None, g, 1)
    with pytest.raises(ValueError, match=r"adamw_step_multi: params\[0\] is empty"):
        cpu.adamw_step_multi([np.zeros(0, np.float32)], [np.zeros(0, np.float32)], [np.zeros(0, np.float32)], None,
                             [np.zeros(0, np.float32)], 1)
    with pytest.raises(ValueError, match=r"max_exp_avg_sqs\[0\].*shape"):
        cpu.adam_step_multi(p, m, v, [np.zeros(3, np.float32)] * 3, g, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.adam_step_multi(p, m, [v[0], v[1], np.zeros(8, np.float32)[::2]], None, g, 1)
    with pytest.raises(ValueError, match="step must be the 1-based"):
        cpu.adam_step_multi(p, m, v, None, g, 0)
    with pytest.raises(ValueError, match="beta1 must be in"):
        cpu.adamw_step_multi(p, m, v, None, g, 1, 0.1, 1.0)
    # within one entry, and across entries: a state or param written twice, or a grad that is written
    with pytest.raises(ValueError, match=r"params\[1\] and exp_avgs\[1\] share memory|overlap"):
        cpu.adam_step_multi(p, [m[0], p[1], m[2]], v, None, g, 1)
    with pytest.raises(ValueError, match=r"exp_avgs\[0\] and exp_avgs\[2\] share memory"):
        cpu.adam_step_multi(p, [m[0], m[1], m[0]], v, None, g, 1)
    with pytest.raises(ValueError, match=r"params\[2\].*grads\[0\]|grads\[0\].*params\[2\]"):
        cpu.adam_step_multi(p, m, v, None, [p[2], g[1], g[2]], 1)
    shared = [g[0]] * 3  # one gradient read by every entry is fine
    cpu.adam_step_multi(p, m, v, None, shared, 2)
    # a failed call writes nothing: every entry is checked before the first update
    after = [a.copy() for a in p]
    with pytest.raises(ValueError):
        cpu.adam_step_multi(p, m, [v[0], v[1], np.zeros(5, np.float32)], None, g, 3)
    for a, b in zip(p, after):
        np.testing.assert_array_equal(a, b)
    assert all((a != b).all() for a, b in zip(after, before))  # the good calls above did update


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_empty_parameter_list_is_a_no_op(name):
    """apply_gradients with no parameters (every layer frozen in a custom loop) changes nothing and does not
    reach the multi-tensor call, which needs at least one entry."""
    opt = fastann.optimizers.get(name)
    opt.apply_gradients([], [])
    opt.apply_gradients(zip([], []))
