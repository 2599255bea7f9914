"""Learning-rate schedules (fastann.optimizers.schedules), optimizers built with one, and the
LearningRateScheduler callback."""
import math

import numpy as np
import pytest

import fastann
from fastann import callbacks, layers, optimizers
from fastann.optimizers import schedules


def test_cosine_decay_values():
    lr0, steps, alpha = 0.3, 40, 0.1
    sched = schedules.CosineDecay(lr0, steps, alpha=alpha)
    s = np.arange(0, 61)
    # the same curve written as an interpolation between the end points: lr_end + (lr0 - lr_end) * cos²(pi s / 2T)
    lr_end = alpha * lr0
    want = lr_end + (lr0 - lr_end) * np.cos(np.pi * np.minimum(s, steps) / (2 * steps)) ** 2
    np.testing.assert_allclose([sched(int(i)) for i in s], want, rtol=1e-12, atol=1e-15)
    assert sched(0) == lr0 and sched(steps) == pytest.approx(lr_end) and sched(10 * steps) == pytest.approx(lr_end)
    assert schedules.CosineDecay(1e-3, 7)(7) == pytest.approx(0.0, abs=1e-18)


def test_cosine_decay_warmup():
    sched = schedules.CosineDecay(0.0, 10, warmup_target=0.5, warmup_steps=4)
    assert [sched(i) for i in range(5)] == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5])
    assert sched(4 + 5) == pytest.approx(0.25)     # halfway down the decay, counted from the warmup's end
    assert sched(4 + 10) == pytest.approx(0.0, abs=1e-15)


def test_exponential_and_piecewise():
    e = schedules.ExponentialDecay(0.1, decay_steps=10.0, decay_rate=0.5)   # float steps, as Keras allows
    assert e(0) == 0.1 and e(5) == pytest.approx(0.1 * 0.5 ** 0.5) and e(20) == pytest.approx(0.025)
    st = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [st(i) for i in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    pw = schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.1])
    assert [pw(i) for i in range(10)] == [1.0] * 4 + [0.5] * 4 + [0.1] * 2   # values[i] up to boundary i inclusive


@pytest.mark.parametrize("make, msg", [
    (lambda: schedules.CosineDecay(-1.0, 10), "initial_learning_rate"),
    (lambda: schedules.CosineDecay(1e-3, 0), "decay_steps"),
    (lambda: schedules.CosineDecay(1e-3, float("inf")), "decay_steps"),
    (lambda: schedules.ExponentialDecay(1e-3, -2, 0.5), "decay_steps"),
    (lambda: schedules.CosineDecay(1e-3, 10, alpha=1.5), "alpha"),
    (lambda: schedules.CosineDecay(1e-3, 10, warmup_target=1e-2), "warmup"),
    (lambda: schedules.CosineDecay(1e-3, 10, alpha=float("nan")), "alpha"),
    (lambda: schedules.ExponentialDecay(1e-3, 10, -0.5), "decay_rate"),
    (lambda: schedules.PiecewiseConstantDecay([5, 5], [1.0, 0.5, 0.1]), "increase"),
    (lambda: schedules.PiecewiseConstantDecay([5], [1.0]), "one more"),
    (lambda: schedules.CosineDecay(1e-3, 10)(-1), "step"),
])
def test_schedule_bad_arguments(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_optimizer_follows_its_schedule():
    """The update at step s (0-based, counted before the update) uses schedule(s), as in Keras."""
    sched = schedules.PiecewiseConstantDecay([1], [0.5, 0.1])
    opt = optimizers.SGD(learning_rate=sched)
    assert opt.learning_rate == 0.5
    p = np.zeros(2)
    used = []
    for _ in range(4):
        opt.apply_gradients([p], [np.ones(2)])
        used.append(opt.learning_rate)
    assert used == [0.5, 0.5, 0.1, 0.1]
    np.testing.assert_allclose(p, -(0.5 + 0.5 + 0.1 + 0.1))
    assert opt.get_config()["learning_rate"] is sched and "PiecewiseConstantDecay" in repr(opt)
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.01
    plain = optimizers.Adam(learning_rate=0.01)
    plain.learning_rate = 0.02
    assert plain.learning_rate == 0.02 and plain.get_config()["learning_rate"] == 0.02
    for bad in (0.0, -1.0, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="learning_rate"):
            plain.learning_rate = bad


def _tiny_model(rng):
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = fastann.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")], seed=0)
    return model, x, y


def test_cosine_schedule_in_fit_reaches_zero(rng):
    model, x, y = _tiny_model(rng)
    steps = 3 * math.ceil(40 / 8)
    model.compile(optimizers.Adam(learning_rate=schedules.CosineDecay(1e-2, steps)),
                  "sparse_categorical_crossentropy")
    seen = []
    model.fit(x, y, batch_size=8, epochs=3, verbose=0,
              callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(
                  model.optimizer.learning_rate))])
    assert model.optimizer.iterations == steps
    # the rate of each epoch's last step: cos falls through the half period, ending one step short of 0
    want = [1e-2 * 0.5 * (1 + math.cos(math.pi * (5 * (e + 1) - 1) / steps)) for e in range(3)]
    assert seen == pytest.approx(want, rel=1e-12)


def test_learning_rate_scheduler_callback(rng):
    model, x, y = _tiny_model(rng)
    model.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    seen = []
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    probe = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.optimizer.learning_rate))
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[sched, probe])
    assert seen == [0.1, 0.05, 0.025]

    bad = callbacks.LearningRateScheduler(lambda epoch, lr: -lr)
    with pytest.raises(ValueError, match="finite number > 0"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[bad])
    with pytest.raises(TypeError, match="callable"):
        callbacks.LearningRateScheduler(0.1)
    model.compile(optimizers.SGD(learning_rate=schedules.CosineDecay(0.1, 10)), "sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="schedule"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda e, lr: lr)])


def test_learning_rate_scheduler_logs_the_rate(rng):
    # Keras adds the epoch's rate to the logs; History (run after the user's callbacks) records it.
    model, x, y = _tiny_model(rng)
    model.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    hist = model.fit(x, y, batch_size=8, epochs=3, verbose=0,
                     callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3], rel=1e-15)


class _ScriptedLoss(callbacks.Callback):
    """Overwrites logs["loss"] at each epoch end with the next scripted value (ReduceLROnPlateau input)."""

    def __init__(self, values):
        super().__init__()
        self.values = list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs["loss"] = self.values[epoch]


def _plateau_rates(rng, losses, **kwargs):
    model, x, y = _tiny_model(rng)
    model.compile(optimizers.SGD(learning_rate=1.0), "sparse_categorical_crossentropy")
    rates = []
    probe = callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: rates.append(model.optimizer.learning_rate))
    plateau = callbacks.ReduceLROnPlateau(monitor="loss", **kwargs)
    hist = model.fit(x, y, batch_size=20, epochs=len(losses), verbose=0,
                     callbacks=[probe, _ScriptedLoss(losses), plateau])
    return rates, hist.history["learning_rate"]


def test_reduce_lr_on_plateau_follows_keras(rng):
    # Hand-traced against keras.callbacks.ReduceLROnPlateau: the best loss is 1.0 after epoch 0; epochs 1
    # and 2 do not beat it by more than min_delta (1.0 - 0.5e-4 is within 1e-4), so after patience=2 the
    # rate halves at the end of epoch 2. cooldown=2 leaves epoch 3 uncounted (Keras decrements the cooldown
    # before judging an epoch, so epoch 4 counts); 4 and 5 reduce again; epoch 6 improves, epoch 7 counts 1.
    losses = [1.0, 1.0 - 0.5e-4, 1.2, 1.1, 1.1, 1.1, 0.5, 0.6]
    rates, logged = _plateau_rates(rng, losses, factor=0.5, patience=2, cooldown=2, min_delta=1e-4)
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert logged == rates  # the rate of each epoch, logged before any reduction


def test_reduce_lr_on_plateau_floor_and_max_mode(rng):
    # patience=0: every epoch without improvement reduces; min_lr floors the rate and then stops it.
    rates, _ = _plateau_rates(rng, [1.0] * 6, factor=0.1, patience=0, min_lr=0.005)
    assert rates == pytest.approx([1.0, 1.0, 0.1, 0.01, 0.005, 0.005], rel=1e-12)  # epoch 0 sets the best
    # mode="max": a rising value is an improvement; a falling one is not.
    rates, _ = _plateau_rates(rng, [0.1, 0.2, 0.3, 0.2, 0.1, 0.1], factor=0.5, patience=1, mode="max")
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25]


@pytest.mark.parametrize("kwargs,match", [({"factor": 1.0}, "factor"), ({"factor": 0.0}, "factor"),
                                          ({"patience": -1}, "patience"), ({"cooldown": -2}, "cooldown"),
                                          ({"min_lr": -1e-3}, "min_lr"), ({"min_delta": float("nan")}, "min_delta"),
                                          ({"mode": "up"}, "mode")])
def test_reduce_lr_on_plateau_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.ReduceLROnPlateau(**kwargs)


def test_reduce_lr_on_plateau_bad_use(rng):
    model, x, y = _tiny_model(rng)
    model.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="'val_loss' is not in the logs"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ReduceLROnPlateau()])
    model.compile(optimizers.SGD(learning_rate=schedules.CosineDecay(0.1, 10)), "sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="schedule"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ReduceLROnPlateau(monitor="loss")])
