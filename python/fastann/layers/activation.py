"""Activation layers: ``Activation`` (a named activation of ``fastann.layers.ACTIVATIONS`` as a layer of its
own) and the parametrized ones Keras has as classes, ``LeakyReLU``, ``ELU`` and ``PReLU`` (a learned slope)."""
from __future__ import annotations

import math
import numbers

from .. import initializers, ops
from .base import Layer, activation_backward, activation_forward, check_activation, keras_activation_params

__all__ = ["Activation", "ELU", "LeakyReLU", "PReLU"]


class Activation(Layer):
    """Applies an activation elementwise (softmax/log_softmax: over the last axis), with Keras' parameters
    (``Activation("leaky_relu")`` has negative slope 0.2, as ``keras.activations.leaky_relu``; for another
    slope use ``LeakyReLU(negative_slope=...)``).

    ``Activation("relu")``. Other keywords are the base layer's (name, trainable, input_shape, ...); an
    unknown one is a ValueError, as in Keras.
    Shapes: any (N, ...) float32/float64, output the same shape.
    """

    supports_masking = True  # Keras: a sequence mask passes through

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


class PReLU(Layer):
    """``keras.layers.PReLU`` (He et al. 2015, "Delving Deep into Rectifiers"): y = x for x > 0, ``alpha * x``
    otherwise, with ``alpha`` learned.

    Args:
        alpha_initializer: Keras's default "zeros" (the layer starts as a ReLU).
        shared_axes: None, an int or a list of ints: axes of the full input (1 = the first per-sample axis)
            along which alpha is shared (size 1 there), e.g. ``[1, 2]`` for one alpha per channel of
            (N, H, W, C) images.
    Weights: alpha, of the per-sample input shape with 1 at the shared axes (Keras's layout); trainable.
    Shapes: any (N, ...) float32/float64; the output has the input's shape.
    Math: dx = dy where x > 0 else alpha * dy; dalpha = sum of dy * x where x <= 0 over the batch and the shared
    axes. When alpha is torch's prelu weight in another shape (one value per feature of an (N, F) input, one
    value per channel of an (N, C, ...) input shared over the other axes, or a single value shared by all) the
    layer runs the kernels ``ops.prelu`` / ``ops.prelu_backward``; otherwise the same math on NumPy / CuPy
    element-wise operations.
    Keras's alpha_regularizer and alpha_constraint are NotImplementedError unless None. Raises TypeError for
    shared_axes that are not ints, ValueError for a shared axis that is not a per-sample axis of the input.
    """

    _PREFIX = "p_re_lu"  # Keras's snake case of the class name
    _UNIMPLEMENTED = {"alpha_regularizer": (None,), "alpha_constraint": (None,)}

    def __init__(self, alpha_initializer="zeros", shared_axes=None, name=None, trainable=True, input_shape=None,
                 **kwargs):
        super().__init__(name, trainable=trainable, input_shape=input_shape, **kwargs)
        axes = [] if shared_axes is None else (list(shared_axes) if isinstance(shared_axes, (list, tuple))
                                                else [shared_axes])
        if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"PReLU: shared_axes must be None, an int or a list of ints, got {shared_axes!r}")
        self.shared_axes = [int(a) for a in axes] if shared_axes is not None else None
        self.alpha_initializer = initializers.get(alpha_initializer)
        self._x = None

    def _build(self, input_shape, rng):
        shape = list(input_shape)
        for a in self.shared_axes or []:
            if not 1 <= a <= len(shape):
                raise ValueError(f"{self.name}: shared_axes must be per-sample axes 1..{len(shape)} of inputs "
                                 f"(N, {', '.join(map(str, input_shape))}), got {self.shared_axes}")
            shape[a - 1] = 1
        self._reduce = (0,) + tuple(sorted(set(self.shared_axes or [])))
        self.add_weight("alpha", tuple(shape), self.alpha_initializer, rng)
        # alpha as ops.prelu's weight: all shared (1 value), or non-1 on the first per-sample axis only
        # (torch's channel axis 1); None: the element-wise path
        if all(s == 1 for s in shape):
            self._kernel_weight = (1,)
        elif len(shape) >= 1 and all(s == 1 for s in shape[1:]):
            self._kernel_weight = (shape[0],)
        else:
            self._kernel_weight = None

    def forward(self, x, training=False):
        alpha = self.params["alpha"]
        if training:
            self._x = x
        if self._kernel_weight is not None and alpha.dtype == x.dtype and x.flags.c_contiguous:
            return ops.prelu(x, alpha.reshape(self._kernel_weight))
        return self.xp.where(x > 0, x, alpha.astype(x.dtype, copy=False) * x)

    def backward(self, grad_output):
        if self._x is None:
            raise ValueError(f"{self.name}: backward needs a forward with training=True first")
        x, xp = self._x, self.xp
        alpha = self.params["alpha"]
        if (self._kernel_weight is not None and alpha.dtype == x.dtype == grad_output.dtype
                and x.flags.c_contiguous and grad_output.flags.c_contiguous):
            dx, dw = ops.prelu_backward(grad_output, x, alpha.reshape(self._kernel_weight))
            self.grads["alpha"] = dw.reshape(alpha.shape)
            return dx if self.need_input_grad else None
        pos = x > 0
        self.grads["alpha"] = xp.where(pos, 0, grad_output * x).sum(axis=self._reduce, keepdims=True)[0].astype(
            alpha.dtype, copy=False)
        if not self.need_input_grad:
            return None
        return xp.where(pos, grad_output, alpha.astype(grad_output.dtype, copy=False) * grad_output)
