"""Reshaping layers: Flatten, Reshape, UpSampling2D, ZeroPadding2D, Cropping2D.

Flatten and Reshape take any (N, ...) input; UpSampling2D, ZeroPadding2D and Cropping2D take images (N, C, H, W) or
(N, H, W) and keep the input's rank (see ``fastann.layers.base`` for the image layout).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from .._args.common import nonneg_int, pair
from .base import Layer, as_nchw, image_shape, like_input

__all__ = ["Cropping2D", "Flatten", "Reshape", "UpSampling2D", "ZeroPadding2D"]


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...), a view of C-contiguous input (no copy)."""

    _UNIMPLEMENTED = {"data_format": (None, "channels_first")}  # Keras arguments accepted only at these values

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

    def __init__(self, target_shape, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
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


class UpSampling2D(Layer):
    """Upsample images by integer factors (``ops.upsample2d``).

    Args: size: int or (sh, sw); interpolation: "nearest" (repeat each pixel) or "bilinear" (half-pixel
        centres, as Keras / tf.image.resize and torch's align_corners=False).
    Shapes: x (N, C, H, W) -> (N, C, H*sh, W*sw); x (N, H, W) -> (N, H*sh, W*sw); float32/float64.
    Raises ValueError for a non-positive size or an unknown interpolation.
    """

    _PREFIX = "up_sampling2d"

    _UNIMPLEMENTED = {"data_format": (None, "channels_first")}  # Keras arguments accepted only at these values (NCHW)

    def __init__(self, size=2, interpolation="nearest", name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        self.size = pair("UpSampling2D", "size", size)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        c, h, w = image_shape(self.name, input_shape)
        hw = (h * self.size[0], w * self.size[1])
        return hw if len(input_shape) == 2 else (c,) + hw

    def forward(self, x, training=False):
        x4 = as_nchw(x)
        y = ops.upsample2d(x4, self.size, self.interpolation)
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return like_input(y, x.ndim)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        dx = ops.upsample2d_backward(as_nchw(grad_output), self._x_shape, self.size, self.interpolation)
        return like_input(dx, self._x_ndim)


class ZeroPadding2D(Layer):
    """Pad images with zeros (rows at the top/bottom, columns at the left/right).

    Args: padding: int p (all four sides), (ph, pw) (symmetric), or ((top, bottom), (left, right)).
    Shapes: x (N, C, H, W) -> (N, C, H+top+bottom, W+left+right); x (N, H, W) likewise without C.
    Backward: the gradient's interior (the padded border gets none). Raises ValueError for negative or
    malformed padding.
    """

    _PREFIX = "zero_padding2d"

    _UNIMPLEMENTED = {"data_format": (None, "channels_first")}  # Keras arguments accepted only at these values (NCHW)

    def __init__(self, padding=1, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        op = "ZeroPadding2D"
        if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(isinstance(p, (tuple, list))
                                                                           for p in padding):
            (t, b), (l, r) = (pair(op, "padding", p, check=nonneg_int) for p in padding)
        else:
            (t, l) = pair(op, "padding", padding, check=nonneg_int)
            b, r = t, l
        self.padding = ((t, b), (l, r))

    def compute_output_shape(self, input_shape):
        c, h, w = image_shape(self.name, input_shape)
        (t, b), (l, r) = self.padding
        hw = (h + t + b, w + l + r)
        return hw if len(input_shape) == 2 else (c,) + hw

    def forward(self, x, training=False):
        (t, b), (l, r) = self.padding
        h, w = x.shape[-2:]
        out = self.xp.zeros((x.shape[0],) + self.output_shape, dtype=x.dtype)
        out[..., t:t + h, l:l + w] = x
        return out

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        (t, _), (l, _) = self.padding
        h, w = self.input_shape[-2:]
        return self.xp.ascontiguousarray(grad_output[..., t:t + h, l:l + w])


class Cropping2D(Layer):
    """Crop rows at the top/bottom and columns at the left/right of images (``keras.layers.Cropping2D``).

    Args: cropping: int c (all four sides), (ch, cw) (symmetric), or ((top, bottom), (left, right)).
    Shapes: x (N, C, H, W) -> (N, C, H-top-bottom, W-left-right); x (N, H, W) likewise without C.
    Backward: the gradient placed back in the uncropped frame (the cropped border gets zero). Raises
    ValueError for negative or malformed cropping, or a cropping that leaves no row or column.
    """

    _PREFIX = "cropping2d"

    _UNIMPLEMENTED = {"data_format": (None, "channels_first")}  # Keras arguments accepted only at these values (NCHW)

    def __init__(self, cropping=((0, 0), (0, 0)), name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        op = "Cropping2D"
        if isinstance(cropping, (tuple, list)) and len(cropping) == 2 and all(isinstance(p, (tuple, list))
                                                                             for p in cropping):
            (t, b), (l, r) = (pair(op, "cropping", p, check=nonneg_int) for p in cropping)
        else:
            (t, l) = pair(op, "cropping", cropping, check=nonneg_int)
            b, r = t, l
        self.cropping = ((t, b), (l, r))

    def compute_output_shape(self, input_shape):
        c, h, w = image_shape(self.name, input_shape)
        (t, b), (l, r) = self.cropping
        hw = (h - t - b, w - l - r)
        if hw[0] <= 0 or hw[1] <= 0:
            raise ValueError(f"{self.name}: cropping {self.cropping} leaves nothing of {h}x{w} images")
        return hw if len(input_shape) == 2 else (c,) + hw

    def forward(self, x, training=False):
        (t, _), (l, _) = self.cropping
        h, w = self.output_shape[-2:]
        return self.xp.ascontiguousarray(x[..., t:t + h, l:l + w])

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        (t, _), (l, _) = self.cropping
        h, w = grad_output.shape[-2:]
        dx = self.xp.zeros((grad_output.shape[0],) + tuple(self.input_shape), dtype=grad_output.dtype)
        dx[..., t:t + h, l:l + w] = grad_output
        return dx
