"""Normalization layers: BatchNormalization (``ops.batch_norm``), LayerNormalization (``ops.layer_norm``)."""
from __future__ import annotations

import numbers

from .. import initializers, ops
from .base import Layer, as_nchw

__all__ = ["BatchNormalization", "LayerNormalization"]


class BatchNormalization(Layer):
    """Batch normalization over the channel axis 1 (Ioffe & Szegedy 2015; ``ops.batch_norm``).

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel. In training (``fit``) mean and var are
    the batch's (over N, H, W) and the moving statistics are updated:
    ``moving = momentum * moving + (1 - momentum) * batch_stat`` (Keras' momentum; PyTorch's momentum is
    1 - this), the variance with the unbiased batch estimate as PyTorch does. In inference (``evaluate``,
    ``predict``, or a layer with ``trainable=False``, as Keras 2+) the moving statistics are used.

    Args:
        axis: the channel axis, an int, normalized at build to a positive axis of the input: 1 (the default,
            fastann being channels-first) or its negative equivalent, i.e. axis 1 of (N, C, H, W) (1 or -3)
            and of (N, C) (1 or -1, so Keras' ``axis=-1`` after a Dense normalizes the features). An
            (N, H, W) input is one channel (axis 1 only). Any other axis is a ValueError at build.
        momentum (0.99), epsilon (1e-3): Keras defaults.
        center, scale: learn beta / gamma (else they are 0 / 1 and not created).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer.
    Shapes: x (N, C), (N, C, H, W) or (N, H, W) (one channel), float32/float64; gamma, beta, moving_mean,
        moving_variance (C,). Trainable: gamma, beta; non-trainable: moving_mean, moving_variance (in
        get_weights/set_weights and the model's parameter count, in that order, like Keras).
    Keras' beta/gamma regularizers and constraints and ``synchronized`` are NotImplementedError unless at
    their defaults (None, False); other keywords are the base layer's.
    Raises ValueError for bad arguments, an unsupported axis, or a training batch with a single value per
    channel.
    """

    _PREFIX = "batch_normalization"
    _UNIMPLEMENTED = {"beta_regularizer": (None,), "gamma_regularizer": (None,), "beta_constraint": (None,),
                      "gamma_constraint": (None,), "synchronized": (False,)}

    def __init__(self, axis=1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, trainable=True, input_shape=None, **kwargs):
        super().__init__(name, trainable=trainable, input_shape=input_shape, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"BatchNormalization: axis must be an int (fastann normalizes one channel axis), "
                             f"got {axis!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self._saved = self._frozen_scale = None
        self.initializers = {k: initializers.get(v) for k, v in (
            ("gamma", gamma_initializer), ("beta", beta_initializer), ("moving_mean", moving_mean_initializer),
            ("moving_variance", moving_variance_initializer))}

    def _build(self, input_shape, rng):
        if len(input_shape) not in (1, 2, 3):
            raise ValueError(f"{self.name}: expects (N, C), (N, C, H, W) or (N, H, W), got per-sample shape "
                             f"{input_shape}")
        ndim = len(input_shape) + 1
        allowed = (1,) if ndim == 3 else (1, 1 - ndim)  # (N, H, W) is one channel: only the default axis
        if self.axis not in allowed:
            raise ValueError(f"{self.name}: fastann normalizes the channel axis 1 of (N, C) and (N, C, H, W) "
                             f"inputs (axis 1 or {1 - ndim} here); got axis={self.axis} for inputs of shape "
                             f"(N, {', '.join(map(str, input_shape))})")
        self.axis = 1
        c = input_shape[0] if len(input_shape) != 2 else 1
        if self.scale:
            self.add_weight("gamma", (c,), self.initializers["gamma"], rng)
        if self.center:
            self.add_weight("beta", (c,), self.initializers["beta"], rng)
        for k in ("moving_mean", "moving_variance"):
            self.add_weight(k, (c,), self.initializers[k], rng, trainable=False)

    def _nc(self, x):
        return as_nchw(x) if x.ndim == 3 else x

    def forward(self, x, training=False):
        xin = self._nc(x)
        s = self.params
        gamma, beta = self.params.get("gamma"), self.params.get("beta")
        if training and self.trainable:
            y, mean, invstd = ops.batch_norm(xin, s["moving_mean"], s["moving_variance"], gamma, beta,
                                             training=True, momentum=1.0 - self.momentum, eps=self.epsilon,
                                             return_stats=True)
            self._saved, self._frozen_scale = (xin, mean, invstd, x.ndim), None
        else:
            y = ops.batch_norm(xin, s["moving_mean"], s["moving_variance"], gamma, beta, training=False,
                               eps=self.epsilon)
            self._saved = self._frozen_scale = None
            if training:  # a frozen layer inside a model being trained: an affine map per channel
                scale = 1.0 / self.xp.sqrt(s["moving_variance"] + self.epsilon)
                self._frozen_scale = scale if gamma is None else scale * gamma
        return y.reshape(x.shape) if x.ndim == 3 else y

    def backward(self, grad_output):
        if self._saved is None:
            if self._frozen_scale is None:
                raise ValueError(f"{self.name}: backward needs a forward with training=True first")
            if not self.need_input_grad:
                return None
            # y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta: dx = dy * that factor
            shape = (1, -1) + (1,) * (grad_output.ndim - 2) if grad_output.ndim != 3 else (1, 1, 1)
            return grad_output * self._frozen_scale.reshape(shape).astype(grad_output.dtype, copy=False)
        xin, mean, invstd, ndim = self._saved
        g = grad_output.reshape(xin.shape)
        dx, dgamma, dbeta = ops.batch_norm_backward(g, xin, self.params.get("gamma"), mean, invstd)
        if self.scale:
            self.grads["gamma"] = dgamma
        if self.center:
            self.grads["beta"] = dbeta
        if not self.need_input_grad:
            return None
        return dx.reshape(grad_output.shape)


class LayerNormalization(Layer):
    """``keras.layers.LayerNormalization`` (Ba, Kiros & Hinton 2016; ``ops.layer_norm``): each sample is
    normalized over the axes ``axis`` with its own mean and (biased) variance, in training and inference alike:
    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    Args:
        axis: an int or a list/tuple of ints, axes of the full input (the batch axis 0 excluded; negative
            counts from the end). Default -1: the last axis.
        epsilon (1e-3), center, scale: Keras's meaning and defaults (no beta / gamma when False).
        beta_initializer ("zeros"), gamma_initializer ("ones").
    Weights: gamma then beta (those created), each of shape ``tuple(input_shape[a] for a in sorted(axis))``
        as Keras's (sorted as given, negative axes first; the values are reshaped, not transposed, onto the
        normalized axes in increasing order, as Keras reshapes them); trainable.
    Shapes: any (N, ...) float32/float64; the output has the input's shape. Axes that are not the trailing
        ones are moved to the end for the kernel (one copy each way).
    Keras's ``rms_scaling=True`` and beta/gamma regularizers and constraints are NotImplementedError unless at
    their defaults (False, None). Raises TypeError for a non-int axis, ValueError for an axis out of range,
    the batch axis, a repeated axis or epsilon <= 0.
    """

    _UNIMPLEMENTED = {"rms_scaling": (False,), "beta_regularizer": (None,), "gamma_regularizer": (None,),
                      "beta_constraint": (None,), "gamma_constraint": (None,)}

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", name=None, trainable=True, input_shape=None, **kwargs):
        super().__init__(name, trainable=trainable, input_shape=input_shape, **kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"LayerNormalization: expected an int or a list/tuple of ints for the argument "
                            f"'axis', but received: {axis!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"LayerNormalization: epsilon must be > 0, got {epsilon!r}")
        self.axis = [int(a) for a in axes]
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.initializers = {"gamma": initializers.get(gamma_initializer), "beta": initializers.get(beta_initializer)}
        self._saved = None

    def _build(self, input_shape, rng):
        ndim = len(input_shape) + 1
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(f"{self.name}: axis {a} is out of bounds for inputs of shape "
                                 f"(N, {', '.join(map(str, input_shape))})")
        pos = [a % ndim for a in self.axis]
        if 0 in pos or len(set(pos)) != len(pos):
            raise ValueError(f"{self.name}: axis must name distinct per-sample axes (not the batch axis 0), got "
                             f"{self.axis} for inputs of {ndim} dimensions")
        full = (None,) + tuple(input_shape)
        shape = tuple(full[a] for a in sorted(self.axis))  # Keras sorts the axes as given (negatives first)
        self._axes = sorted(pos)
        self._perm = [d for d in range(ndim) if d not in pos] + self._axes
        self._kernel_shape = tuple(full[a] for a in self._axes)  # normalized_shape in the kernel's order
        if self.scale:
            self.add_weight("gamma", shape, self.initializers["gamma"], rng)
        if self.center:
            self.add_weight("beta", shape, self.initializers["beta"], rng)

    def _moved(self, x):
        """x with the normalized axes last (contiguous), as the kernel takes it."""
        if self._perm == list(range(x.ndim)):
            return x if x.flags.c_contiguous else self.xp.ascontiguousarray(x)
        return self.xp.ascontiguousarray(x.transpose(self._perm))

    def _back(self, y):
        if self._perm == list(range(y.ndim)):
            return y
        inv = [0] * len(self._perm)
        for i, d in enumerate(self._perm):
            inv[d] = i
        return self.xp.ascontiguousarray(y.transpose(inv))

    def _param(self, key):
        p = self.params.get(key)
        return None if p is None else p.reshape(self._kernel_shape)

    def forward(self, x, training=False):
        xt = self._moved(x)
        y, mean, invstd = ops.layer_norm(xt, self._kernel_shape, self._param("gamma"), self._param("beta"),
                                         eps=self.epsilon, return_stats=True)
        self._saved = (xt, mean, invstd) if training else None
        return self._back(y)

    def backward(self, grad_output):
        if self._saved is None:
            raise ValueError(f"{self.name}: backward needs a forward with training=True first")
        xt, mean, invstd = self._saved
        dx, dgamma, dbeta = ops.layer_norm_backward(self._moved(grad_output), xt, self._kernel_shape,
                                                    self._param("gamma"), mean, invstd)
        if self.scale:
            self.grads["gamma"] = dgamma.reshape(self.params["gamma"].shape)
        if self.center:
            self.grads["beta"] = dbeta.reshape(self.params["beta"].shape)
        if not self.need_input_grad:
            return None
        return self._back(dx)
