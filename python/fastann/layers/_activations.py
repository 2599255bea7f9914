"""The activations a layer can name (Dense, Activation, the convolutions, ...): the accepted names, Keras's
parameters where they differ from the ops' (PyTorch's), and the forward and backward through ``fastann.ops``.
``fastann.layers.base`` re-exports them for the layer families."""
from __future__ import annotations

from .. import ops

__all__ = ["ACTIVATIONS", "check_activation", "keras_activation_params", "activation_forward",
           "activation_backward"]

#: Activation names a Dense, Activation or convolution layer accepts (the ops' names plus Keras aliases).
#: "linear" and None mean identity; "softmax"/"log_softmax" act over the last axis.
ACTIVATIONS = ("linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
               "softsign", "relu6", "silu", "swish", "hard_silu", "hard_swish", "gelu", "mish", "exponential",
               "softmax", "log_softmax")

#: Keras' parameters of the named activations where they differ from the ops' (PyTorch's) defaults:
#: ``keras.activations.leaky_relu`` has negative_slope 0.2, ``torch.nn.functional.leaky_relu`` 0.01.
_KERAS_ACTIVATION_PARAMS = {"leaky_relu": {"negative_slope": 0.2}}

def check_activation(owner: str, activation):
    """``activation`` (None or a name of ACTIVATIONS, any case) as the op name, None for identity.
    TypeError for a non-string, ValueError for an unknown name; ``owner`` (the layer) leads the message."""
    if activation is None:
        return None
    if not isinstance(activation, str):
        raise TypeError(f"{owner}: activation must be a name (one of {', '.join(ACTIVATIONS)}) or None, "
                        f"got {activation!r}")
    name = activation.lower()
    if name not in ACTIVATIONS:
        raise ValueError(f"{owner}: unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    return None if name == "linear" else name


def keras_activation_params(name) -> dict:
    """The op keywords that give activation ``name`` (from check_activation) Keras' meaning: {} for most,
    {"negative_slope": 0.2} for "leaky_relu" (``keras.activations.leaky_relu``'s default)."""
    return dict(_KERAS_ACTIVATION_PARAMS.get(name, {}))


def activation_forward(name, params, z):
    """Activation ``name`` (from check_activation, not None) of z; softmax/log_softmax over the last axis;
    ``params``: the op's keywords (e.g. negative_slope)."""
    if name == "softmax":
        return ops.softmax(z, dim=-1)
    if name == "log_softmax":
        return ops.log_softmax(z, dim=-1)
    return ops.activation(name, z, **params)


def activation_backward(name, params, grad_output, z, y):
    """Gradient through an activation: softmax/log_softmax use their output y, the others their input z."""
    if name == "softmax":
        return ops.softmax_backward(grad_output, y, dim=-1)
    if name == "log_softmax":
        return ops.log_softmax_backward(grad_output, y, dim=-1)
    return ops.activation_backward(name, grad_output, z, **params)
