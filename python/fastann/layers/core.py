"""Core layers (``keras.layers`` core): Dense.

Shapes: N is the batch. Dense takes (N, in_features) and gives (N, units); as Keras does, an input of higher
rank (N, ..., in_features) is transformed along its last axis, giving (N, ..., units) (run as one GEMM over
the rows of a (-1, in_features) view). Its kernel is stored as PyTorch does, (units, in_features), so
``ops.linear`` computes y = x·Wᵀ + b without a transpose; ``get_weights``/``set_weights`` and saved files use
Keras's layout (in_features, units).
"""
from __future__ import annotations

import numbers

from .. import initializers, ops
from .base import Layer, activation_backward, activation_forward, check_activation, keras_activation_params

__all__ = ["Dense"]


class Dense(Layer):
    """Fully connected layer: y = activation(x·Wᵀ + b) (``ops.linear``).

    Args:
        units: output features (positive int).
        activation: None/"linear", or a name from ACTIVATIONS, with Keras' parameters ("leaky_relu": negative
            slope 0.2). "relu" runs fused in the GEMM epilogue of ``ops.linear`` (and its mask in
            ``ops.linear_backward``); others run as a separate op.
        use_bias: add the bias b (units,).
        kernel_initializer, bias_initializer: names or Initializers (defaults glorot_uniform, zeros).
        kernel_regularizer, bias_regularizer: None, a name ("l1", "l2", "l1l2") or a
            ``fastann.regularizers.Regularizer``: the penalty is added to the training loss.
        kernel_constraint, bias_constraint: None, a name ("max_norm", "non_neg", "unit_norm", "min_max_norm"),
            a ``fastann.constraints.Constraint`` or a function: applied after each optimizer update.
        Layer keywords (name, trainable, input_shape, input_dim, dtype, activity_regularizer) as ``Layer``;
        lora_rank is NotImplementedError unless None; any other keyword is a ValueError (as in Keras).
    Shapes: x (N, ..., in_features) float32/float64 -> y (N, ..., units); get_weights: kernel (in_features,
        units) (Keras), bias (units,); ``params["kernel"]`` is stored as (units, in_features) (PyTorch).
    Raises ValueError for bad arguments.
    """

    _FUSED = (None, "relu")  # activations ops.linear applies in its epilogue
    supports_masking = True  # Keras: a sequence mask passes through (N, T, F) -> (N, T, units)
    _UNIMPLEMENTED = {"lora_rank": (None,)}
    _WEIGHT_ARGS = {"kernel": ("kernel_regularizer", "kernel_constraint"),
                    "bias": ("bias_regularizer", "bias_constraint")}

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = check_activation("Dense", activation)
        self.activation_params = keras_activation_params(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._x = self._z = self._y = None
        # Set by a Flatten right before each forward it feeds (see Flatten.absorb_into) and consumed by that
        # forward: the input's features come in the order input_order (an index array, feature j is the
        # kernel's column input_order[j]); None: the kernel's.
        self._input_order = None
        self._order_used = self._kernel_used = None

    def _build(self, input_shape, rng):
        if len(input_shape) < 1:
            raise ValueError(f"{self.name}: Dense takes inputs of shape (N, ..., features), got per-sample "
                             f"shape {input_shape}")
        self.add_weight("kernel", (self.units, input_shape[-1]), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _to_keras_layout(self, key, array):
        """kernel (units, in_features) -> Keras's (in_features, units)."""
        return array.T if key == "kernel" else array

    def _from_keras_layout(self, key, array):
        return array.T if key == "kernel" else array

    def _kernel_in_input_order(self):
        """The kernel (units, in_features) with its columns in the order the input's features come in (kept
        for backward)."""
        self._order_used = order = self._input_order
        self._input_order = None  # one forward's: a later call of this layer on its own reads Keras's order
        kernel = self.params["kernel"]
        self._kernel_used = kernel if order is None else self.xp.take(kernel, order, axis=1)
        return self._kernel_used

    def _linear(self, x, fused_activation):
        if x.ndim == 2:
            return ops.linear(x, self._kernel_in_input_order(), self.params.get("bias"), activation=fused_activation)
        rows = x.reshape(-1, x.shape[-1])  # (N, ..., F) -> (N*..., F): the last axis is transformed
        y = ops.linear(rows, self._kernel_in_input_order(), self.params.get("bias"), activation=fused_activation)
        return y.reshape(x.shape[:-1] + (self.units,))

    def forward(self, x, training=False):
        act = self.activation
        if act in self._FUSED:
            y = self._linear(x, act)
            z = None
        else:
            z = self._linear(x, None)
            y = activation_forward(act, self.activation_params, z)
        if training:
            self._x, self._z, self._y = x, z, y
        return y

    def forward_logits(self, x, training=False):
        """forward without a final softmax (the model fuses softmax into the loss); x -> x·Wᵀ + b."""
        z = self._linear(x, None)
        if training:
            self._x, self._z, self._y = x, z, None
        return z

    def backward(self, grad_output):
        act = self.activation
        if act not in self._FUSED:
            grad_output = activation_backward(act, self.activation_params, grad_output, self._z, self._y)
            act = None
        return self._linear_backward(grad_output, act)

    def backward_logits(self, grad_logits):
        """backward from d loss / d logits (the fused softmax + loss gradient)."""
        return self._linear_backward(grad_logits, None)

    def _linear_backward(self, g, fused_activation):
        x, y = self._x, self._y if fused_activation else None
        if x.ndim != 2:  # the row view of forward; the gradients sum over every row
            g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
            y = None if y is None else y.reshape(-1, y.shape[-1])
        order = self._order_used
        dx, dw, db = ops.linear_backward(
            g, x, self._kernel_used, output=y, activation=fused_activation,
            need_input_grad=self.need_input_grad, need_bias_grad=self.use_bias)
        if order is not None:  # back to the kernel's column order
            dw_kernel = self.xp.empty_like(dw)
            dw_kernel[:, order] = dw
            dw = dw_kernel
        self.grads["kernel"] = dw
        if self.use_bias:
            self.grads["bias"] = db
        return dx if dx is None or self._x.ndim == 2 else dx.reshape(self._x.shape)
