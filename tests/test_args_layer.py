"""The argument-check layer (fastann._args): ops never imports reference, and every public op refuses a None
array and a huge output the same way from fastann.ops and fastann.reference."""
import ast
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import fastann
from fastann import ops, reference as ref
from fastann._args import common

PKG = os.path.dirname(fastann.__file__)
FAMILIES = ["gemm", "activation", "softmax", "loss", "dropout", "optim", "conv", "pool", "norm", "rnn",
            "embedding"]


def public_functions(mod):
    return sorted(n for n in dir(mod) if not n.startswith("_") and isinstance(getattr(mod, n), types.FunctionType))


# ---- ops does not depend on reference --------------------------------------------------------------------
def test_ops_modules_load_without_reference():
    """Importing fastann and every fastann.ops module in a fresh interpreter loads no fastann.reference module."""
    code = ("import sys, importlib\n"
            "import fastann\n"
            f"for f in {FAMILIES!r}:\n"
            "    importlib.import_module('fastann.ops.' + f)\n"
            "import fastann.ops\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('fastann.reference'))\n"
            "assert not loaded, loaded\n"
            "import fastann.reference\n"  # the check can fail: the import below must show up
            "assert 'fastann.reference.gemm' in sys.modules\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(PKG), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def _imported_modules(path, package):
    """Absolute names of every module a source file imports (relative imports resolved against package)."""
    tree = ast.parse(open(path).read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            names.append(mod)
            names += [f"{mod}.{a.name}" for a in node.names]  # from .. import reference
    return names


@pytest.mark.parametrize("layer,forbidden", [("ops", "fastann.reference"), ("reference", "fastann.ops")])
def test_no_import_between_ops_and_reference(layer, forbidden):
    """Static check: no module under fastann/ops imports fastann.reference (nor the other way round)."""
    folder = os.path.join(PKG, layer)
    files = sorted(f for f in os.listdir(folder) if f.endswith(".py"))
    assert len(files) >= len(FAMILIES)
    for f in files:
        package = "fastann." + layer  # a module's package; relative level 1 is that package
        bad = [m for m in _imported_modules(os.path.join(folder, f), package)
               if m == forbidden or m.startswith(forbidden + ".")]
        assert not bad, f"{layer}/{f} imports {bad}"


def test_static_check_sees_relative_imports():
    """The resolver behind the static check maps `from ..reference import x` to fastann.reference."""
    src = "from ..reference.gemm import gemm\nfrom .. import reference\nimport fastann.reference.pool\n"
    path = os.path.join(os.path.dirname(__file__), "_tmp_static_check.py")
    try:
        with open(path, "w") as fh:
            fh.write(src)
        names = _imported_modules(path, "fastann.ops")
    finally:
        os.remove(path)
    assert "fastann.reference.gemm" in names and "fastann.reference" in names and "fastann.reference.pool" in names


# ---- a valid call of every public op -------------------------------------------------------------------
ACTIVATIONS = sorted(n for n in sys.modules["fastann.ops.activation"].__all__
                     if n not in ("activation", "activation_backward") and not n.endswith("_backward"))


def _specs(dt):
    """name -> (kwargs of a valid call, the required array arguments)."""
    r = np.random.default_rng(0)

    def f(*shape):
        return r.standard_normal(shape).astype(dt)

    x2, x4 = f(4, 3), f(2, 3, 6, 6)
    lab = np.array([0, 2, 1, 1], np.int64)
    p = (r.random((4, 3)) * 0.8 + 0.1).astype(dt)
    s = {
        "gemm": (dict(a=f(4, 5), b=f(5, 3)), ["a", "b"]),
        "linear": (dict(input=x2, weight=f(5, 3)), ["input", "weight"]),
        "linear_backward": (dict(grad_output=f(4, 5), input=x2, weight=f(5, 3)), ["grad_output", "input", "weight"]),
        "activation": (dict(name="relu", input=x2), ["input"]),
        "activation_backward": (dict(name="relu", grad_output=x2, input=x2), ["grad_output", "input"]),
        "softmax": (dict(input=x2), ["input"]),
        "log_softmax": (dict(input=x2), ["input"]),
        "softmax_backward": (dict(grad_output=x2, output=x2), ["grad_output", "output"]),
        "log_softmax_backward": (dict(grad_output=x2, output=x2), ["grad_output", "output"]),
        "dropout": (dict(input=x2, p=0.5, seed=1), ["input"]),
        "dropout_backward": (dict(grad_output=x2, p=0.5, seed=1), ["grad_output"]),
        "cross_entropy": (dict(input=x2, target=lab), ["input", "target"]),
        "cross_entropy_backward": (dict(input=x2, target=lab), ["input", "target"]),
        "cross_entropy_with_grad": (dict(input=x2, target=lab), ["input", "target"]),
        "categorical_crossentropy": (dict(input=p, target=lab), ["input", "target"]),
        "categorical_crossentropy_backward": (dict(input=p, target=lab), ["input", "target"]),
        "conv2d": (dict(input=x4, weight=f(4, 3, 3, 3)), ["input", "weight"]),
        "conv2d_backward": (dict(grad_output=f(2, 4, 4, 4), input=x4, weight=f(4, 3, 3, 3)),
                            ["grad_output", "input", "weight"]),
        "conv2d_backward_input": (dict(grad_output=f(2, 4, 4, 4), weight=f(4, 3, 3, 3), input_shape=x4.shape),
                                  ["grad_output", "weight"]),
        "conv2d_backward_weight": (dict(grad_output=f(2, 4, 4, 4), input=x4, weight_shape=(4, 3, 3, 3)),
                                   ["grad_output", "input"]),
        "conv_transpose2d": (dict(input=x4, weight=f(3, 2, 3, 3)), ["input", "weight"]),
        "conv_transpose2d_backward": (dict(grad_output=f(2, 2, 8, 8), input=x4, weight=f(3, 2, 3, 3)),
                                      ["grad_output", "input", "weight"]),
        "upsample2d": (dict(input=x4), ["input"]),
        "upsample2d_backward": (dict(grad_output=f(2, 3, 12, 12), input_shape=x4.shape), ["grad_output"]),
        "max_pool2d": (dict(input=x4, kernel_size=2), ["input"]),
        "max_pool2d_backward": (dict(grad_output=f(2, 3, 3, 3), indices=np.zeros((2, 3, 3, 3), np.int64),
                                     input_shape=x4.shape), ["grad_output", "indices"]),
        "avg_pool2d": (dict(input=x4, kernel_size=2), ["input"]),
        "avg_pool2d_backward": (dict(grad_output=f(2, 3, 3, 3), input_shape=x4.shape, kernel_size=2), ["grad_output"]),
        "global_avg_pool2d": (dict(input=x4), ["input"]),
        "global_avg_pool2d_backward": (dict(grad_output=f(2, 3), input_shape=x4.shape), ["grad_output"]),
        "batch_norm": (dict(input=x4, running_mean=np.zeros(3, dt), running_var=np.ones(3, dt)), ["input"]),
        "batch_norm_backward": (dict(grad_output=x4, input=x4, weight=None, save_mean=np.zeros(3, dt),
                                     save_invstd=np.ones(3, dt)), ["grad_output", "input", "save_mean", "save_invstd"]),
        "batch_norm_relu": (dict(input=x4, running_mean=np.zeros(3, dt), running_var=np.ones(3, dt)), ["input"]),
        "batch_norm_relu_backward": (dict(grad_output=x4, output=x4, input=x4, weight=None, bias=None,
                                          save_mean=np.zeros(3, dt), save_invstd=np.ones(3, dt)),
                                     ["grad_output", "output", "input", "save_mean", "save_invstd"]),
    }
    xs, wi, wh = f(2, 3, 4), f(8, 4), f(8, 2)  # an LSTM: (N,T,F) = (2,3,4), H = 2
    s["rnn"] = (dict(input=xs, weight_ih=wi, weight_hh=wh), ["input", "weight_ih", "weight_hh"])
    s["rnn_backward"] = (dict(grad_output=None, grad_h_n=f(2, 2), grad_c_n=None, input=xs, weight_ih=wi,
                              weight_hh=wh, output=f(2, 3, 2), saved=f(2, 3, 10)),
                         ["input", "weight_ih", "weight_hh", "output", "saved"])
    idx = np.array([[0, 2], [1, 1]], np.int64)
    s["embedding"] = (dict(input=idx, weight=f(3, 4)), ["input", "weight"])
    s["embedding_backward"] = (dict(grad_output=f(2, 2, 4), input=idx, num_weights=3), ["grad_output", "input"])
    for n in ("mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "huber_loss",
              "kl_divergence", "hinge_loss", "squared_hinge_loss", "log_cosh_loss", "poisson_loss"):
        s[n] = (dict(input=p, target=p), ["input", "target"])
        s[n + "_backward"] = (dict(input=p, target=p), ["input", "target"])
    for n in ACTIVATIONS:
        s[n] = (dict(input=x2), ["input"])
        s[n + "_backward"] = (dict(grad_output=x2, input=x2), ["grad_output", "input"])
    z = lambda: np.zeros((4, 3), dt)  # noqa: E731
    s["sgd_step"] = (dict(param=z(), grad=z(), lr=0.1), ["param", "grad"])
    s["adagrad_step"] = (dict(param=z(), grad=z(), accumulator=z(), lr=0.1), ["param", "grad", "accumulator"])
    s["adadelta_step"] = (dict(param=z(), grad=z(), accum_grad=z(), accum_update=z()),
                          ["param", "grad", "accum_grad", "accum_update"])
    s["rmsprop_step"] = (dict(param=z(), grad=z(), square_avg=z(), lr=0.1), ["param", "grad", "square_avg"])
    for n in ("adam_step", "adamw_step", "nadam_step"):
        s[n] = (dict(param=z(), grad=z(), exp_avg=z(), exp_avg_sq=z(), step=1, lr=0.1),
                ["param", "grad", "exp_avg", "exp_avg_sq"])
    for n in ("adam_step_multi", "adamw_step_multi"):
        s[n] = (dict(params=[z(), z()], grads=[z(), z()], exp_avgs=[z(), z()], exp_avg_sqs=[z(), z()], step=1,
                     lr=0.1), ["params", "grads", "exp_avgs", "exp_avg_sqs"])
    s["adamax_step"] = (dict(param=z(), grad=z(), exp_avg=z(), exp_inf=z(), step=1, lr=0.1),
                        ["param", "grad", "exp_avg", "exp_inf"])
    s["lion_step"] = (dict(param=z(), grad=z(), exp_avg=z()), ["param", "grad", "exp_avg"])
    s["ftrl_step"] = (dict(param=z(), grad=z(), accumulator=z() + 0.1, linear=z()),
                      ["param", "grad", "accumulator", "linear"])
    s["adafactor_step"] = (dict(param=z(), grad=z(), row_var=np.zeros(4, dt), col_var=np.zeros(3, dt), step=1),
                           ["param", "grad", "row_var", "col_var"])
    s["prelu"] = (dict(input=x4, weight=np.full(3, 0.25, dt)), ["input", "weight"])
    s["prelu_backward"] = (dict(grad_output=x4, input=x4, weight=np.full(1, 0.25, dt)),
                           ["grad_output", "input", "weight"])
    s["layer_norm"] = (dict(input=x4, normalized_shape=(6, 6)), ["input"])
    s["layer_norm_backward"] = (dict(grad_output=x4, input=x4, normalized_shape=6, weight=None,
                                     save_mean=np.zeros(36, dt), save_invstd=np.ones(36, dt)),
                                ["grad_output", "input", "save_mean", "save_invstd"])
    return s


def test_every_public_op_has_a_spec():
    """The table below covers every public function of fastann.ops (a new op must be added to it)."""
    assert sorted(_specs(np.float32)) == public_functions(ops)
    assert set(public_functions(ops)) <= set(public_functions(ref))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", public_functions(ops))
def test_valid_call_spec_runs(name, dt):
    """Each spec is a valid call of both layers (so the None tests below change one thing only)."""
    kwargs, _ = _specs(dt)[name]
    for mod in (ops, ref):
        getattr(mod, name)(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()})


NONE_CASES = [(name, arg) for name in public_functions(ops) for arg in _specs(np.float32)[name][1]]


@pytest.mark.parametrize("layer", ["ops", "reference"])
@pytest.mark.parametrize("name,arg", NONE_CASES, ids=[f"{n}-{a}" for n, a in NONE_CASES])
def test_none_array_is_a_type_error_naming_it(name, arg, layer):
    kwargs, _ = _specs(np.float32)[name]
    kwargs = dict(kwargs, **{arg: None})
    mod = ops if layer == "ops" else ref
    with pytest.raises(TypeError, match=rf"\b{arg} must be .*got NoneType"):
        getattr(mod, name)(**kwargs)


# ---- outputs too large to allocate ---------------------------------------------------------------------
def _huge_calls():
    """Well-formed calls whose output needs far more memory than any machine has (2^40 to 2^64 bytes)."""
    x = np.ones((1, 1, 2, 2), np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    one = np.ones((1, 1, 1, 1), np.float32)
    big = 2**31
    col, row = np.ones((2**20, 1), np.float32), np.ones((1, 2**20), np.float32)
    return {
        "gemm": lambda M: M.gemm(col, row),
        "linear": lambda M: M.linear(col, np.ones((2**20, 1), np.float32)),
        "conv2d_padding": lambda M: M.conv2d(x, w, padding=big),
        "conv_transpose2d_stride": lambda M: M.conv_transpose2d(x, w, stride=big),
        "upsample2d_scale": lambda M: M.upsample2d(x, scale_factor=big),
        "conv2d_backward_input_shape": lambda M: M.conv2d_backward_input(one, w, (1, 1, big, big), stride=big),
        "max_pool2d_backward_shape": lambda M: M.max_pool2d_backward(one, np.zeros((1, 1, 1, 1), np.int64),
                                                                     (1, 1, big, big)),
        "avg_pool2d_backward_shape": lambda M: M.avg_pool2d_backward(one, (1, 1, 2**30, 2**30), kernel_size=2**30),
        "global_avg_pool2d_backward_shape": lambda M: M.global_avg_pool2d_backward(np.ones((1, 1), np.float32),
                                                                                   (1, 1, big, big)),
    }


@pytest.mark.parametrize("layer", ["ops", "reference"])
@pytest.mark.parametrize("case", sorted(_huge_calls()))
def test_huge_output_is_a_value_error(layer, case):
    """A well-formed request whose output cannot fit in memory is a ValueError saying so, from both layers,
    before any allocation (not a MemoryError or numpy's 'array is too big')."""
    with pytest.raises(ValueError, match="output too large"):
        _huge_calls()[case](ops if layer == "ops" else ref)


def test_output_size_limits():
    assert common.output_size("op", (3, 4), np.float32) == (3, 4)
    with pytest.raises(ValueError, match="op: output too large: output of shape"):
        common.output_size("op", (2**62, 4), np.float32)  # past 2^63 - 1 bytes
    with pytest.raises(ValueError, match="dinput"):
        common.output_size("op", (2**40, 2**10), np.float64, name="dinput")  # 8 PiB: past this machine's memory
