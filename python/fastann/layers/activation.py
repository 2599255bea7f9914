"""Activation layers: ``Activation`` (a named activation of ``fastann.layers.ACTIVATIONS`` as a layer of its
own) and the parametrized ones Keras has as classes, ``LeakyReLU`` and ``ELU``."""
from __future__ import annotations

import math
import numbers

from .base import Layer, activation_backward, activation_forward, check_activation, keras_activation_params

__all__ = ["Activation", "ELU", "LeakyReLU"]


class Activation(Layer):
    """Applies an activation elementwise (softmax/log_softmax: over the last axis), with Keras' parameters
    (``Activation("leaky_relu")`` has negative slope 0.2, as ``keras.activations.leaky_relu``; for another
    slope use ``LeakyReLU(negative_slope=...)``).

    ``Activation("relu")``. Other keywords are the base layer's (name, trainable, input_shape, ...); an
    unknown one is a ValueError, as in Keras.
    Shapes: any (N, ...) float32/float64, output the same shape.
    """

    def __init__(self, activation, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        act = check_activation("Activation", activation)
        self._set_activation(act, keras_activation_params(act))

    def _set_activation(self, act, params):
        self.activation = act  # None = identity
        self.activation_params = params
        self._x = self._y = None

    @property
    def elementwise(self) -> bool:
        """True unless softmax/log_softmax (which act over the last axis): the layer works on any layout, so
        a model may pass it NCHW images between channels_last image layers (``fastann.models._layout``)."""
        return self.activation not in ("softmax", "log_softmax")

    @property
    def is_plain_relu(self) -> bool:
        """True for ``Activation("relu")`` with no extra keywords: max(x, 0) elementwise. ``Sequential``
        asks it to fuse the layer into ``ops.batch_norm_relu``."""
        return self.activation == "relu" and not self.activation_params

    def forward(self, x, training=False):
        if self.activation is None:
            return x
        y = activation_forward(self.activation, self.activation_params, x)
        if training:
            self._x, self._y = x, y
        return y

    def forward_logits(self, x, training=False):
        """forward without the softmax: the identity (the model fuses softmax into the loss)."""
        return x

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        if self.activation is None:
            return grad_output
        return activation_backward(self.activation, self.activation_params, grad_output, self._x, self._y)

    def backward_logits(self, grad_logits):
        return grad_logits if self.need_input_grad else None


def _finite_real(owner, name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be a finite number, got {v!r}")
    return float(v)


class LeakyReLU(Activation):
    """``keras.layers.LeakyReLU``: y = x for x > 0, ``negative_slope * x`` otherwise (``ops.leaky_relu``).

    Args: negative_slope (Keras' default 0.3; the "leaky_relu" activation's is 0.2, PyTorch's 0.01), and the
    base layer's keywords. Shapes: any (N, ...) float32/float64, output the same shape.
    Raises ValueError for a negative_slope that is not a finite number >= 0 (Keras' check)."""

    _PREFIX = "leaky_re_lu"  # Keras' snake case of the class name

    def __init__(self, negative_slope=0.3, name=None, input_shape=None, **kwargs):
        Layer.__init__(self, name, input_shape=input_shape, **kwargs)
        slope = _finite_real("LeakyReLU", "negative_slope", negative_slope)
        if slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be >= 0, got {negative_slope!r}")
        self.negative_slope = slope
        self._set_activation("leaky_relu", {"negative_slope": slope})


class ELU(Activation):
    """``keras.layers.ELU``: y = x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (``ops.elu``).

    Args: alpha (Keras' default 1.0), and the base layer's keywords. Shapes: any (N, ...) float32/float64,
    output the same shape. Raises ValueError for an alpha that is not a finite number."""

    _PREFIX = "elu"

    def __init__(self, alpha=1.0, name=None, input_shape=None, **kwargs):
        Layer.__init__(self, name, input_shape=input_shape, **kwargs)
        self.alpha = _finite_real("ELU", "alpha", alpha)
        self._set_activation("elu", {"alpha": self.alpha})
