"""Layout plan of a model's layers: where channels_last images travel as NCHW between layers.

The image kernels are NCHW; a channels_last image layer converts at its boundary (``ImageLayer``). Inside a
model, consecutive channels_last image layers skip those conversions: the array between them stays NCHW,
so a run of image layers converts once at its entry (NHWC -> NCHW, in the first layer) and once at its
exit (in its last layer, or in the Flatten that ends it, which flattens in Keras's (H, W, C) order), and
the gradients likewise in backward. Elementwise layers (``layer.elementwise``: Activation other than
softmax, Dropout) between two such layers run on the NCHW array as they are.

``plan_layout(layers)`` decides it from the layers' public properties only; ``apply_layout`` writes the
decision into the layers' ``_nchw_in`` / ``_nchw_out``. Any model that runs a list of layers in order
(``Sequential``, a graph of layers along each chain) calls both after building them.
"""
from __future__ import annotations

from ..layers.base import ImageLayer

__all__ = ["apply_layout", "plan_layout"]


def _channels_last_image(layer) -> bool:
    """A built channels_last image layer (its kernels run on NCHW)."""
    return isinstance(layer, ImageLayer) and layer.built and layer.channels_last and \
        len(layer.input_shape) == 3


def _gives_nchw(layer) -> bool:
    """The layer can hand its output over in NCHW (a channels_last image layer with an image output)."""
    return _channels_last_image(layer) and layer.layout_image_output and len(layer.output_shape) == 3


def plan_layout(layers) -> list:
    """``nchw[i]`` for each boundary after ``layers[i]``: True when the array from ``layers[i]`` to
    ``layers[i + 1]`` travels in NCHW instead of the public channels_last layout. The output of the last
    layer is always public (False)."""
    n = len(layers)
    nchw = [False] * n
    for i in range(n - 1):
        if not _gives_nchw(layers[i]):
            continue
        j = i + 1
        while j < n - 1 and getattr(layers[j], "elementwise", False):
            j += 1  # elementwise layers pass NCHW on (not the model's last layer: its output is public)
        if _channels_last_image(layers[j]) and not getattr(layers[j], "elementwise", False):
            for k in range(i, j):
                nchw[k] = True
    return nchw


def apply_layout(layers, nchw=None) -> list:
    """Set ``_nchw_in`` / ``_nchw_out`` of the image layers in ``layers`` from ``nchw`` (default
    ``plan_layout(layers)``) and of the elementwise layers (which read nothing of it: a fused stage standing
    in for a run that ends in one reads it) and return the plan; other layers are left alone."""
    nchw = plan_layout(layers) if nchw is None else nchw
    for i, layer in enumerate(layers):
        if isinstance(layer, ImageLayer) or getattr(layer, "elementwise", False):
            layer._nchw_in = i > 0 and nchw[i - 1]
            layer._nchw_out = nchw[i]
    return nchw
