"""Normalization layers: BatchNormalization (``ops.batch_norm``), LayerNormalization (``ops.layer_norm``)."""
from __future__ import annotations

import numbers

from .. import initializers, ops
from .base import ImageLayer, Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


class BatchNormalization(ImageLayer):
    """Batch normalization over the feature axis ``axis`` (Ioffe & Szegedy 2015; ``ops.batch_norm``).

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel. In training (``fit``) mean and var are
    the batch's (over N, H, W) and the moving statistics are updated:
    ``moving = momentum * moving + (1 - momentum) * batch_stat`` (Keras' momentum; PyTorch's momentum is
    1 - this), the variance with the unbiased batch estimate as PyTorch does. In inference (``evaluate``,
    ``predict``, or a layer with ``trainable=False``, as Keras 2+) the moving statistics are used.

    Args:
        axis: the feature axis, an int (Keras' default -1, the last axis), normalized at build to a positive
            axis of the input: of (N, C) axis 1 (1 or -1); of images (N, H, W, C) axis 3 (3 or -1, channels
            last) and of (N, C, H, W) axis 1 (1 or -3, channels first; write ``axis=1`` after channels_first
            layers, as in Keras); of 3-D inputs (N, A, B) axis 2 (2 or -1: B features, the others averaged)
            or axis 1 (1 or -2: A features). Any other axis is a ValueError at build. A 4-D input makes this
            an image layer: ``data_format`` is "channels_last" for the last axis, else "channels_first"
            (a channels_last one computes on NCHW, see ``ImageLayer``).
        momentum (0.99), epsilon (1e-3): Keras defaults.
        center, scale: learn beta / gamma (else they are 0 / 1 and not created).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer.
    Shapes: x (N, C), (N, H, W, C), (N, C, H, W) or (N, A, B), float32/float64; gamma, beta, moving_mean,
        moving_variance (C,). Trainable: gamma, beta; non-trainable: moving_mean, moving_variance (in
        get_weights/set_weights and the model's parameter count, in that order, like Keras).
    gamma_regularizer, beta_regularizer, gamma_constraint, beta_constraint: as Dense's kernel_regularizer
    and kernel_constraint. ``synchronized`` is NotImplementedError unless False; other keywords are the base
    layer's.
    Raises ValueError for bad arguments, an unsupported axis, or a training batch with a single value per
    channel.
    """

    _PREFIX = "batch_normalization"
    _UNIMPLEMENTED = {"synchronized": (False,)}
    _WEIGHT_ARGS = {"gamma": ("gamma_regularizer", "gamma_constraint"), "beta": ("beta_regularizer", "beta_constraint")}

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, trainable=True, input_shape=None, **kwargs):
        if "data_format" in kwargs:  # Keras's BatchNormalization has none: its axis says where the channels are
            raise ValueError(f"Unrecognized keyword arguments passed to BatchNormalization: "
                             f"{{'data_format': {kwargs['data_format']!r}}}")
        super().__init__(name, trainable=trainable, input_shape=input_shape, data_format="channels_first",
                         **kwargs)
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
            raise ValueError(f"{self.name}: expects (N, C), (N, A, B) or images (N, H, W, C) / (N, C, H, W), got "
                             f"per-sample shape {input_shape}")
        ndim = len(input_shape) + 1
        allowed = (1, ndim - 1) if ndim > 2 else (1,)
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if axis not in allowed:
            raise ValueError(f"{self.name}: fastann normalizes axis 1 or the last axis ({ndim - 1}) of inputs of "
                             f"shape (N, {', '.join(map(str, input_shape))}); got axis={self.axis}")
        self.axis = axis
        # 4-D: channels_last (N, H, W, C) computes on NCHW; 3-D: the last axis as (N*A, B), axis 1 as
        # (N, A, B, 1) = NCHW with A channels; 2-D: (N, C) as it is.
        self.data_format = "channels_last" if ndim == 4 and axis == 3 else "channels_first"
        c = input_shape[axis - 1]
        if self.scale:
            self.add_weight("gamma", (c,), self.initializers["gamma"], rng)
        if self.center:
            self.add_weight("beta", (c,), self.initializers["beta"], rng)
        for k in ("moving_mean", "moving_variance"):
            self.add_weight(k, (c,), self.initializers[k], rng, trainable=False)

    def _nc(self, x):
        """The input as ops.batch_norm takes it: (N, C) or NCHW with the normalized axis as C."""
        if x.ndim == 4:
            return self._enter(x)
        self._io = (False, False)
        if x.ndim == 3:
            n, a, b = x.shape
            return x.reshape(n * a, b) if self.axis == 2 else x.reshape(n, a, b, 1)
        return x

    def _back(self, y, x):
        """ops.batch_norm's result -> the layout of the input ``x`` (or of the next layer's plan)."""
        return self._leave(y) if x.ndim == 4 else y.reshape(x.shape)

    def forward(self, x, training=False):
        xin = self._nc(x)
        s = self.params
        gamma, beta = self.params.get("gamma"), self.params.get("beta")
        if training and self.trainable:
            y, mean, invstd = ops.batch_norm(xin, s["moving_mean"], s["moving_variance"], gamma, beta,
                                             training=True, momentum=1.0 - self.momentum, eps=self.epsilon,
                                             return_stats=True)
            self._saved, self._frozen_scale = (xin, mean, invstd, x.shape), None
        else:
            y = ops.batch_norm(xin, s["moving_mean"], s["moving_variance"], gamma, beta, training=False,
                               eps=self.epsilon)
            self._saved = self._frozen_scale = None
            self._x_shape = x.shape
            if training:  # a frozen layer inside a model being trained: an affine map per channel
                scale = 1.0 / self.xp.sqrt(s["moving_variance"] + self.epsilon)
                self._frozen_scale = scale if gamma is None else scale * gamma
        return self._back(y, x)

    def _grad_nc(self, g, x_shape):
        """An output gradient -> the (N, C) / NCHW form of the forward's input."""
        if len(x_shape) == 4:
            return self._grad_enter(g)
        if len(x_shape) == 3:
            n, a, b = x_shape
            return g.reshape(n * a, b) if self.axis == 2 else g.reshape(n, a, b, 1)
        return g

    def _grad_back(self, dx, x_shape):
        return self._grad_leave(dx) if len(x_shape) == 4 else dx.reshape(x_shape)

    def backward(self, grad_output):
        if self._saved is None:
            if self._frozen_scale is None:
                raise ValueError(f"{self.name}: backward needs a forward with training=True first")
            if not self.need_input_grad:
                return None
            # y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta: dx = dy * that factor
            g = self._grad_nc(grad_output, self._x_shape)
            shape = (1, -1) + (1,) * (g.ndim - 2)
            dx = g * self._frozen_scale.reshape(shape).astype(g.dtype, copy=False)
            return self._grad_back(dx, self._x_shape)
        xin, mean, invstd, x_shape = self._saved
        g = self._grad_nc(grad_output, x_shape)
        dx, dgamma, dbeta = ops.batch_norm_backward(g, xin, self.params.get("gamma"), mean, invstd)
        if self.scale:
            self.grads["gamma"] = dgamma
        if self.center:
            self.grads["beta"] = dbeta
        if not self.need_input_grad:
            return None
        return self._grad_back(dx, x_shape)


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
    gamma_regularizer, beta_regularizer, gamma_constraint, beta_constraint: as BatchNormalization's.
    Keras's ``rms_scaling=True`` is NotImplementedError. Raises TypeError for a non-int axis, ValueError for an
    axis out of range, the batch axis, a repeated axis or epsilon <= 0.
    """

    _UNIMPLEMENTED = {"rms_scaling": (False,)}
    _WEIGHT_ARGS = {"gamma": ("gamma_regularizer", "gamma_constraint"), "beta": ("beta_regularizer", "beta_constraint")}

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
