"""Layers with Keras names and arguments (``keras.layers``), each with an explicit forward and backward.

There is no autograd: a layer's ``forward(x, training)`` calls ``fastann.ops`` and keeps what its backward
needs (only when ``training``); ``backward(grad_output)`` calls the matching ``ops.*_backward``, stores the
parameter gradients in ``layer.grads`` (same keys as ``layer.params``) and returns the gradient with respect
to its input (None when ``need_input_grad`` is False: the model turns it off for the first layers, whose
input gradient nobody uses; the first Dense then skips a whole GEMM).

Layers build lazily: the first input fixes the per-sample input shape (``x.shape[1:]``), the dtype (float32,
or float64 for gradient checks) and the array module ``layer.xp`` (NumPy now, CuPy later); all parameter
arrays are created through that module, so a layer never mixes devices. Subclasses override
``_build(input_shape, rng)`` (create parameters with ``add_weight``), ``compute_output_shape``, ``forward``
and ``backward``; that is all a new layer (Conv2D, MaxPooling2D, ...) needs to plug into ``Sequential``.

Shapes: N is the batch. Dense takes (N, in_features) and gives (N, units); its kernel is stored as PyTorch
does, (units, in_features), so ``ops.linear`` computes y = x·Wᵀ + b without a transpose.
"""
from __future__ import annotations

import itertools
import numbers
from collections import defaultdict

import numpy as np

from . import _device, initializers, ops
from ._args.common import is_cupy

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "ACTIVATIONS",
           "Conv2D", "DepthwiseConv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
           "GlobalAveragePooling2D", "BatchNormalization", "UpSampling2D", "ZeroPadding2D"]

#: Activation names a Dense or Activation layer accepts (the ops' names plus Keras aliases). "linear" and
#: None mean identity; "softmax"/"log_softmax" act over the last axis.
ACTIVATIONS = ("linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
               "softsign", "relu6", "silu", "swish", "hard_silu", "hard_swish", "gelu", "mish", "exponential",
               "softmax", "log_softmax")

_name_counters: dict = defaultdict(itertools.count)


def _auto_name(prefix: str) -> str:
    i = next(_name_counters[prefix])
    return prefix if i == 0 else f"{prefix}_{i}"


def _array_module(x):
    if is_cupy(x):
        import cupy  # noqa: PLC0415

        return cupy
    return np


def _check_activation(owner: str, activation):
    if activation is None:
        return None
    if not isinstance(activation, str):
        raise TypeError(f"{owner}: activation must be a name (one of {', '.join(ACTIVATIONS)}) or None, "
                        f"got {activation!r}")
    name = activation.lower()
    if name not in ACTIVATIONS:
        raise ValueError(f"{owner}: unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    return None if name == "linear" else name


def _activation_forward(name, params, z):
    if name == "softmax":
        return ops.softmax(z, dim=-1)
    if name == "log_softmax":
        return ops.log_softmax(z, dim=-1)
    return ops.activation(name, z, **params)


def _activation_backward(name, params, grad_output, z, y):
    """Gradient through an activation: softmax/log_softmax use their output y, the others their input z."""
    if name == "softmax":
        return ops.softmax_backward(grad_output, y, dim=-1)
    if name == "log_softmax":
        return ops.log_softmax_backward(grad_output, y, dim=-1)
    return ops.activation_backward(name, grad_output, z, **params)


class Layer:
    """Base class of all layers.

    Attributes:
        params: dict name -> parameter array (empty for layers without parameters).
        grads: dict name -> gradient of the last backward, for the trainable parameters.
        non_trainable: names in params that are state, not trained (saved with the weights).
        need_input_grad: compute and return the input gradient in backward (the model sets it).
        input_shape / output_shape: per-sample shapes (no batch axis), known once built.
        xp, dtype: array module and float dtype of the parameters, fixed by build.
    """

    def __init__(self, name=None, trainable=True, input_shape=None):
        self.name = name or _auto_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self.params: dict = {}
        self.grads: dict = {}
        self.non_trainable: set = set()  # names in params the optimizer must not touch
        self.need_input_grad = True
        self.xp = np
        self.dtype = np.dtype(np.float32)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = None

    # -- building -----------------------------------------------------------------------------------
    def build(self, input_shape, dtype=np.float32, xp=np, rng=None) -> None:
        """Create the parameters for per-sample ``input_shape``. ``rng``: numpy Generator for the
        initializers (a fresh unseeded one when None)."""
        input_shape = tuple(int(s) for s in input_shape)
        if self.input_shape is not None and not isinstance(self, InputLayer) and input_shape != self.input_shape:
            raise ValueError(f"{self.name}: declared input_shape {self.input_shape} but got inputs of "
                             f"per-sample shape {input_shape}")
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{self.name}: layers compute in float32 or float64, got dtype {dtype}")
        self.input_shape, self.dtype, self.xp = input_shape, dtype, xp
        self._build(input_shape, rng if rng is not None else np.random.default_rng())
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.built = True

    def _build(self, input_shape, rng) -> None:
        """Create parameters (override in layers that have some)."""

    def add_weight(self, name, shape, initializer, rng, trainable=True):
        """Create parameter ``name`` of ``shape`` with ``initializer`` (name or Initializer), on self.xp.

        ``trainable=False`` makes a state array that is saved and restored with the weights but never
        updated by the optimizer (e.g. BatchNormalization's moving mean and variance)."""
        init = initializers.get(initializer)
        value = init(shape, self.dtype, rng)
        arr = self.xp.asarray(value) if self.xp is not np else np.ascontiguousarray(value)
        self.params[name] = arr
        if not trainable:
            self.non_trainable.add(name)
        return arr

    @property
    def trainable_names(self) -> list:
        """Names of the parameters the optimizer updates (none when the layer is frozen)."""
        if not self.trainable:
            return []
        return [k for k in self.params if k not in self.non_trainable]

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    # -- device -------------------------------------------------------------------------------------
    def to(self, device):
        """Move the layer to ``device`` ("cpu", "cuda", "cuda:N") and return it.

        Every array the layer holds moves: parameters, gradients, non-trainable state (BatchNormalization's
        moving statistics), and cached arrays (saved activations, AveragePooling2D's padding scale). The
        copies are exact. A layer not built yet just records the array module; its parameters are then
        created on the device (initialized on the host from the same seeded generator, so the same seed
        gives the same weights on every device). Raises ValueError for an unknown device string and
        RuntimeError (saying why) when CUDA is asked for but not usable."""
        xp, _, index = _device.resolve(f"{self.name}.to", device)
        with _device.context(index, xp):
            self._move_to(xp)
        return self

    def _move_to(self, xp) -> None:
        """Move every array attribute to ``xp`` (numpy or cupy); see :meth:`to`."""
        for k, v in list(vars(self).items()):
            if k != "xp":
                setattr(self, k, _device.move(v, xp))
        self.xp = xp

    # -- running ------------------------------------------------------------------------------------
    def __call__(self, x, training=False):
        """Build on the first call, check the per-sample shape, run forward."""
        if not self.built:
            self.build(x.shape[1:], x.dtype, _array_module(x))
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.name}: expected inputs of shape (N, {', '.join(map(str, self.input_shape))})"
                             f", got {tuple(x.shape)}")
        return self.forward(x, training)

    def forward(self, x, training=False):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- parameters ---------------------------------------------------------------------------------
    def count_params(self) -> int:
        return int(sum(int(np.prod(p.shape)) for p in self.params.values()))

    def get_weights(self) -> list:
        """Copies of the parameters as NumPy arrays, in ``params`` order (kernel, bias for Dense)."""
        return [np.array(p.get() if is_cupy(p) else p) for p in self.params.values()]

    def set_weights(self, weights) -> None:
        """Copy ``weights`` (a list in ``params`` order) into the parameters, in place.
        ValueError on a wrong count or shape."""
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(f"{self.name}: set_weights got {len(weights)} arrays, the layer has "
                             f"{len(self.params)} ({', '.join(self.params)})")
        for (k, p), w in zip(self.params.items(), weights):
            w = _device.move(w if hasattr(w, "shape") else np.asarray(w), self.xp)  # NumPy or CuPy in
            if w.shape != p.shape:
                raise ValueError(f"{self.name}: weight {k!r} has shape {p.shape}, got {w.shape}")
            p[...] = self.xp.asarray(w, dtype=p.dtype)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} output_shape={self.output_shape}>"


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("_layer", "")


class InputLayer(Layer):
    """Declares the per-sample input shape (no batch axis), so a model builds before it sees data:
    ``Sequential([Input((784,)), Dense(10)])``. Its forward and backward pass the arrays through."""

    def __init__(self, shape, name=None):
        if isinstance(shape, numbers.Integral):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape or any(
                isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in shape):
            raise ValueError(f"Input: shape must be a non-empty tuple of positive ints (no batch axis), "
                             f"got {shape!r}")
        super().__init__(name or _auto_name("input"), input_shape=tuple(int(s) for s in shape))

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output if self.need_input_grad else None


def Input(shape, name=None) -> InputLayer:  # noqa: N802 - Keras spelling
    """``keras.Input``: an InputLayer fixing the per-sample shape (e.g. (784,) or (1, 28, 28)); the dtype
    is the model's (``Sequential(dtype=...)``)."""
    return InputLayer(shape, name=name)


class Dense(Layer):
    """Fully connected layer: y = activation(x·Wᵀ + b) (``ops.linear``).

    Args:
        units: output features (positive int).
        activation: None/"linear", or a name from ACTIVATIONS. "relu" runs fused in the GEMM epilogue of
            ``ops.linear`` (and its mask in ``ops.linear_backward``); others run as a separate op.
        use_bias: add the bias b (units,).
        kernel_initializer, bias_initializer: names or Initializers (defaults glorot_uniform, zeros).
    Shapes: x (N, in_features) float32/float64 -> y (N, units); kernel (units, in_features); bias (units,).
    Raises ValueError for inputs that are not 2-D (use Flatten first) and bad arguments.
    """

    _FUSED = (None, "relu")  # activations ops.linear applies in its epilogue

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, input_shape=None, **activation_params):
        super().__init__(name, input_shape=input_shape)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = _check_activation("Dense", activation)
        self.activation_params = activation_params
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._x = self._z = self._y = None

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"{self.name}: Dense takes inputs of shape (N, features), got per-sample shape "
                             f"{input_shape}; put a Flatten layer before it")
        self.add_weight("kernel", (self.units, input_shape[0]), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        return (self.units,)

    def _linear(self, x, fused_activation):
        return ops.linear(x, self.params["kernel"], self.params.get("bias"), activation=fused_activation)

    def forward(self, x, training=False):
        act = self.activation
        if act in self._FUSED:
            y = self._linear(x, act)
            z = None
        else:
            z = self._linear(x, None)
            y = _activation_forward(act, self.activation_params, z)
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
            grad_output = _activation_backward(act, self.activation_params, grad_output, self._z, self._y)
            act = None
        return self._linear_backward(grad_output, act)

    def backward_logits(self, grad_logits):
        """backward from d loss / d logits (the fused softmax + loss gradient)."""
        return self._linear_backward(grad_logits, None)

    def _linear_backward(self, g, fused_activation):
        dx, dw, db = ops.linear_backward(
            g, self._x, self.params["kernel"], output=self._y if fused_activation else None,
            activation=fused_activation, need_input_grad=self.need_input_grad, need_bias_grad=self.use_bias)
        self.grads["kernel"] = dw
        if self.use_bias:
            self.grads["bias"] = db
        return dx


class Activation(Layer):
    """Applies an activation elementwise (softmax/log_softmax: over the last axis).

    ``Activation("relu")``, ``Activation("leaky_relu", negative_slope=0.2)`` (extra keywords go to the op).
    Shapes: any (N, ...) float32/float64, output the same shape.
    """

    def __init__(self, activation, name=None, input_shape=None, **params):
        super().__init__(name, input_shape=input_shape)
        act = _check_activation("Activation", activation)
        self.activation = act  # None = identity
        self.activation_params = params
        self._x = self._y = None

    def forward(self, x, training=False):
        if self.activation is None:
            return x
        y = _activation_forward(self.activation, self.activation_params, x)
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
        return _activation_backward(self.activation, self.activation_params, grad_output, self._x, self._y)

    def backward_logits(self, grad_logits):
        return grad_logits if self.need_input_grad else None


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training, each element is zeroed with probability
    ``rate`` and the kept ones scaled by 1/(1-rate); at inference it is the identity (``ops.dropout``).

    The mask is not stored: ``ops.dropout`` derives it from a counter-based hash of (seed, element index), so
    backward regenerates it. Each training call uses a new seed (base seed + call count); the base comes
    from ``seed`` or, when None, from the model's seeded generator, so the same model seed repeats a run.
    Raises ValueError for a rate outside [0, 1).
    """

    def __init__(self, rate, seed=None, name=None, input_shape=None):
        super().__init__(name, input_shape=input_shape)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self._base_seed = None if seed is None else int(seed)
        self._calls = 0
        self._active_seed = None

    def _build(self, input_shape, rng):
        if self._base_seed is None:
            self._base_seed = int(rng.integers(0, 2**62))

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._active_seed = None
            return x
        self._active_seed = self._base_seed + self._calls
        self._calls += 1
        return ops.dropout(x, p=self.rate, training=True, seed=self._active_seed)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        if self._active_seed is None:
            return grad_output
        return ops.dropout_backward(grad_output, self.rate, self._active_seed)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...), a view of C-contiguous input (no copy)."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        return grad_output.reshape((grad_output.shape[0],) + self.input_shape)


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry of target_shape may be -1 (inferred), like Keras.
    Raises ValueError when the sizes do not match."""

    def __init__(self, target_shape, name=None, input_shape=None):
        super().__init__(name, input_shape=input_shape)
        target_shape = tuple(target_shape)
        if sum(1 for s in target_shape if s == -1) > 1 or any(
                isinstance(s, bool) or not isinstance(s, numbers.Integral) or (s <= 0 and s != -1)
                for s in target_shape):
            raise ValueError(f"Reshape: target_shape must be positive ints with at most one -1, got {target_shape!r}")
        self.target_shape = tuple(int(s) for s in target_shape)

    def compute_output_shape(self, input_shape):
        size = int(np.prod(input_shape))
        known = int(np.prod([s for s in self.target_shape if s != -1]))
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"{self.name}: cannot reshape per-sample shape {input_shape} to {self.target_shape}")
            return tuple(size // known if s == -1 else s for s in self.target_shape)
        if known != size:
            raise ValueError(f"{self.name}: cannot reshape per-sample shape {input_shape} (size {size}) to "
                             f"{self.target_shape} (size {known})")
        return self.target_shape

    def forward(self, x, training=False):
        return x.reshape((x.shape[0],) + self.output_shape)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        return grad_output.reshape((grad_output.shape[0],) + self.input_shape)


from ._conv_layers import *  # noqa: E402,F401,F403 - Conv2D, pooling, BatchNormalization, ... (see that module)
