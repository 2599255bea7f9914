"""Small valid calls of every fastann.ops function, the seeds that the argument fuzzers mutate.

Each template is ``(op, builder)``; ``builder(rng, dt)`` returns ``(args, kwargs)`` of a valid call.
"""
from __future__ import annotations

import numpy as np


def _r(rng, *shape, dt=np.float32):
    return rng.standard_normal(shape).astype(dt)


def _p(rng, *shape, dt=np.float32):
    return rng.uniform(0.05, 0.95, shape).astype(dt)


def _optim(name, states, step):
    def build(rng, dt):
        n = int(rng.integers(1, 40))
        args = [_r(rng, n, dt=dt), _r(rng, n, dt=dt)] + [np.abs(_r(rng, n, dt=dt)) for _ in range(states)]
        kw = dict(lr=0.01)
        if step:
            kw["step"] = int(rng.integers(1, 100))
        return args, kw
    return name, build


TEMPLATES = [
    ("relu", lambda rng, dt: ([_r(rng, 3, 5, dt=dt)], {})),
    ("gelu_backward", lambda rng, dt: ([_r(rng, 17, dt=dt), _r(rng, 17, dt=dt)], {"approximate": "tanh"})),
    ("activation", lambda rng, dt: (["elu", _r(rng, 4, 4, dt=dt)], {"alpha": 0.5})),
    ("softmax", lambda rng, dt: ([_r(rng, 3, 7, dt=dt)], {"dim": 1})),
    ("log_softmax_backward", lambda rng, dt: ([_r(rng, 2, 9, dt=dt), _r(rng, 2, 9, dt=dt)], {})),
    ("gemm", lambda rng, dt: ([_r(rng, 5, 3, dt=dt), _r(rng, 3, 4, dt=dt), _r(rng, 5, 4, dt=dt)],
                              {"beta": 0.5, "rung": int(rng.integers(1, 5))})),
    ("linear", lambda rng, dt: ([_r(rng, 4, 6, dt=dt), _r(rng, 3, 6, dt=dt), _r(rng, 3, dt=dt)], {})),
    ("linear_backward", lambda rng, dt: ([_r(rng, 4, 3, dt=dt), _r(rng, 4, 6, dt=dt), _r(rng, 3, 6, dt=dt)],
                                         {"output": _r(rng, 4, 3, dt=dt), "activation": "relu"})),
    ("mse_loss", lambda rng, dt: ([_r(rng, 6, dt=dt), _r(rng, 6, dt=dt)], {})),
    ("binary_cross_entropy_backward", lambda rng, dt: ([_p(rng, 2, 5, dt=dt), _p(rng, 2, 5, dt=dt)],
                                                       {"grad_output": 0.5})),
    ("cross_entropy", lambda rng, dt: ([_r(rng, 4, 3, dt=dt), rng.integers(0, 3, 4)], {})),
    ("cross_entropy_with_grad", lambda rng, dt: ([_r(rng, 4, 3, dt=dt), _p(rng, 4, 3, dt=dt)], {})),
    ("categorical_crossentropy_backward", lambda rng, dt: ([_p(rng, 3, 4, dt=dt),
                                                            rng.integers(0, 4, 3).astype(np.int32)], {})),
    ("dropout", lambda rng, dt: ([_r(rng, 33, dt=dt)], {"p": 0.3, "seed": 7})),
    _optim("sgd_step", 0, False), _optim("adam_step", 2, True), _optim("adamw_step", 2, True),
    _optim("rmsprop_step", 1, False), _optim("adagrad_step", 1, False), _optim("adadelta_step", 2, False),
    _optim("adamax_step", 2, True), _optim("nadam_step", 2, True),
    ("conv2d", lambda rng, dt: ([_r(rng, 2, 2, 5, 5, dt=dt), _r(rng, 3, 2, 3, 3, dt=dt), _r(rng, 3, dt=dt)],
                                {"padding": 1, "rung": int(rng.integers(1, 5))})),
    ("conv2d_backward", lambda rng, dt: ([_r(rng, 1, 2, 4, 4, dt=dt), _r(rng, 1, 4, 6, 6, dt=dt),
                                          _r(rng, 2, 2, 3, 3, dt=dt)], {"groups": 2, "padding": 0})),
    ("conv2d_backward_input", lambda rng, dt: ([_r(rng, 1, 2, 3, 3, dt=dt), _r(rng, 2, 1, 2, 2, dt=dt),
                                                (1, 1, 6, 6)], {"stride": 2})),
    ("conv_transpose2d", lambda rng, dt: ([_r(rng, 1, 2, 3, 3, dt=dt), _r(rng, 2, 3, 3, 3, dt=dt)],
                                          {"stride": 2})),
    ("upsample2d", lambda rng, dt: ([_r(rng, 1, 2, 3, 3, dt=dt)], {"mode": "bilinear"})),
    ("max_pool2d", lambda rng, dt: ([_r(rng, 2, 3, 6, 6, dt=dt), 2], {"rung": int(rng.integers(1, 3))})),
    ("avg_pool2d_backward", lambda rng, dt: ([_r(rng, 1, 2, 3, 3, dt=dt), (1, 2, 6, 6), 2], {})),
    ("global_avg_pool2d", lambda rng, dt: ([_r(rng, 2, 3, 4, 4, dt=dt)], {})),
    ("batch_norm", lambda rng, dt: ([_r(rng, 4, 3, 2, 2, dt=dt), _r(rng, 3, dt=dt), np.abs(_r(rng, 3, dt=dt)),
                                     _r(rng, 3, dt=dt), _r(rng, 3, dt=dt)], {"training": True})),
    ("batch_norm_backward", lambda rng, dt: ([_r(rng, 4, 3, dt=dt), _r(rng, 4, 3, dt=dt), _r(rng, 3, dt=dt),
                                              _r(rng, 3, dt=dt), np.abs(_r(rng, 3, dt=dt))], {})),
    ("batch_norm_relu", lambda rng, dt: ([_r(rng, 2, 3, 4, 4, dt=dt), _r(rng, 3, dt=dt),
                                          np.abs(_r(rng, 3, dt=dt)) + 0.1], {"max_pool": True})),
]
