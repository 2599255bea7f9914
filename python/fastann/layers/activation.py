"""The Activation layer: a named activation (``fastann.layers.ACTIVATIONS``) as a layer of its own."""
from __future__ import annotations

from .base import Layer, activation_backward, activation_forward, check_activation

__all__ = ["Activation"]


class Activation(Layer):
    """Applies an activation elementwise (softmax/log_softmax: over the last axis).

    ``Activation("relu")``, ``Activation("leaky_relu", negative_slope=0.2)`` (extra keywords go to the op).
    Shapes: any (N, ...) float32/float64, output the same shape.
    """

    def __init__(self, activation, name=None, input_shape=None, **params):
        super().__init__(name, input_shape=input_shape)
        act = check_activation("Activation", activation)
        self.activation = act  # None = identity
        self.activation_params = params
        self._x = self._y = None

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
