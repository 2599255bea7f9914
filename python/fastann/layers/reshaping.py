"""Reshaping layers: Flatten, Reshape, UpSampling2D, ZeroPadding2D, Cropping2D.

Flatten and Reshape take any (N, ...) input; UpSampling2D, ZeroPadding2D and Cropping2D take images in their
``data_format`` ((N, H, W, C) channels_last, the default, or (N, C, H, W)) or (N, H, W) and keep the input's
rank (see ``fastann.layers.base`` for the image layout).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from .._args.common import nonneg_int, pair
from .base import ImageLayer, Layer

__all__ = ["Flatten", "Reshape", "UpSampling2D", "ZeroPadding2D", "Cropping2D"]


class Flatten(ImageLayer):
    """(N, d1, d2, ...) -> (N, d1·d2·...), as ``keras.layers.Flatten``.

    Args: data_format ("channels_last", "channels_first" or None: ``fastann.config.image_data_format()``).
    The flattened order is always channels-last, as Keras's: a channels_last Flatten flattens its input in
    the order of its axes ((H, W, C) for an image), and a channels_first Flatten first moves the channel
    axis 1 to the end ((N, C, H, W) -> (N, H, W, C)), so a Dense after it has Keras's weights either way.
    Inside a model whose channels_last image layers pass NCHW arrays to it (``_nchw_in``), that same
    transpose is the one exit conversion of the run. The gradient is transposed back.
    Shapes: any (N, ...) float array -> (N, prod(...)).
    """

    layout_image_output = False

    def __init__(self, data_format=None, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        self._absorber, self._absorbed, self._orders = None, False, {}

    def absorb_into(self, dense) -> None:
        """Let ``dense`` (the Dense this Flatten feeds, or None) take the channel move: when the move would
        transpose more values than the Dense's kernel holds (units < N), the Flatten passes the (N, C, H, W)
        array flattened as it is, and the Dense reads its kernel's columns in that order (and puts its kernel
        gradient back in Keras's): the same products, the batch's transpose replaced by a gather of the
        kernel. Set by the model that runs the two in a row (Sequential)."""
        if self._absorber is not None and self._absorber is not dense:
            self._absorber._input_order = None
        self._absorber = dense
        self._orders = {}

    def _channel_order(self, chw):
        """Index array (on the layer's device): feature j of a (C, H, W)-flattened image is feature order[j]
        of its (H, W, C) flattening."""
        if chw not in self._orders:
            c, h, w = chw
            self._orders[chw] = self.xp.asarray(np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1))
        return self._orders[chw]

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def _moves_channels(self, ndim: int) -> bool:
        """Whether the (N, C, ...) array it gets has its channel axis 1 moved to the end before flattening."""
        return ndim > 2 and (not self.channels_last or (self._nchw_in and ndim == 4))

    def forward(self, x, training=False):
        self._moved = self._moves_channels(x.ndim)
        dense, self._absorbed = self._absorber, False
        if dense is not None:
            dense._input_order = None
            if self._moved and x.ndim == 4 and dense.built and dense.units < x.shape[0]:
                dense._input_order = self._channel_order(tuple(x.shape[1:]))
                self._absorbed = True
                return x.reshape(x.shape[0], -1)
        if self._moved:
            return self.xp.ascontiguousarray(self.xp.moveaxis(x, 1, -1)).reshape(x.shape[0], -1)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        n = grad_output.shape[0]
        if self._absorbed:  # the Dense gave it in the (C, H, W) order of the array this Flatten passed on
            c, h, w = self.input_shape if not self.channels_last else \
                (self.input_shape[2], self.input_shape[0], self.input_shape[1])
            return grad_output.reshape(n, c, h, w)
        if self._moved:
            shape = self.input_shape if not self.channels_last else \
                (self.input_shape[2], self.input_shape[0], self.input_shape[1])  # NCHW of its (H, W, C)
            moved = (n,) + shape[1:] + shape[:1]
            return self.xp.ascontiguousarray(self.xp.moveaxis(grad_output.reshape(moved), -1, 1))
        return grad_output.reshape((n,) + self.input_shape)


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


class UpSampling2D(ImageLayer):
    """Upsample images by integer factors (``ops.upsample2d``).

    Args: size: int or (sh, sw); data_format ("channels_last", "channels_first" or None:
        ``fastann.config.image_data_format()``); interpolation: "nearest" (repeat each pixel) or "bilinear"
        (half-pixel centres, as Keras / tf.image.resize and torch's align_corners=False).
    Shapes: x (N, H, W, C) -> (N, H*sh, W*sw, C) (channels_last); (N, C, H, W) -> (N, C, H*sh, W*sw)
        (channels_first); x (N, H, W) -> (N, H*sh, W*sw); float32/float64.
    Raises ValueError for a non-positive size or an unknown interpolation.
    """

    _PREFIX = "up_sampling2d"

    def __init__(self, size=2, data_format=None, interpolation="nearest", name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        self.size = pair("UpSampling2D", "size", size)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        c, h, w = self._chw(input_shape)
        return self._public((c, h * self.size[0], w * self.size[1]), input_shape)

    def forward(self, x, training=False):
        x4 = self._enter(x)
        y = ops.upsample2d(x4, self.size, self.interpolation)
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return self._leave(y, x.ndim == 3)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        dx = ops.upsample2d_backward(self._grad_enter(grad_output), self._x_shape, self.size, self.interpolation)
        return self._grad_leave(dx, self._x_ndim == 3)


class ZeroPadding2D(ImageLayer):
    """Pad images with zeros (rows at the top/bottom, columns at the left/right).

    Args: padding: int p (all four sides), (ph, pw) (symmetric), or ((top, bottom), (left, right));
        data_format ("channels_last", "channels_first" or None: ``fastann.config.image_data_format()``).
    Shapes: x (N, H, W, C) -> (N, H+top+bottom, W+left+right, C) (channels_last); (N, C, H, W) likewise
        (channels_first); x (N, H, W) without C.
    Backward: the gradient's interior (the padded border gets none). Raises ValueError for negative or
    malformed padding.
    """

    _PREFIX = "zero_padding2d"

    def __init__(self, padding=1, data_format=None, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        op = "ZeroPadding2D"
        if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(isinstance(p, (tuple, list))
                                                                           for p in padding):
            (t, b), (l, r) = (pair(op, "padding", p, check=nonneg_int) for p in padding)
        else:
            (t, l) = pair(op, "padding", padding, check=nonneg_int)
            b, r = t, l
        self.padding = ((t, b), (l, r))

    def compute_output_shape(self, input_shape):
        c, h, w = self._chw(input_shape)
        (t, b), (l, r) = self.padding
        return self._public((c, h + t + b, w + l + r), input_shape)

    def forward(self, x, training=False):
        (t, b), (l, r) = self.padding
        x4 = self._enter(x)
        n, c, h, w = x4.shape
        out = self.xp.zeros((n, c, h + t + b, w + l + r), dtype=x.dtype)
        out[:, :, t:t + h, l:l + w] = x4
        self._x_ndim = x.ndim
        return self._leave(out, x.ndim == 3)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        (t, _), (l, _) = self.padding
        g = self._grad_enter(grad_output)
        h, w = g.shape[2] - sum(self.padding[0]), g.shape[3] - sum(self.padding[1])
        return self._grad_leave(self.xp.ascontiguousarray(g[:, :, t:t + h, l:l + w]), self._x_ndim == 3)


class Cropping2D(ImageLayer):
    """Crop images: remove rows at the top/bottom and columns at the left/right (Keras ``Cropping2D``).

    Args: cropping: int p (all four sides), (ph, pw) (symmetric), or ((top, bottom), (left, right));
        data_format ("channels_last", "channels_first" or None: ``fastann.config.image_data_format()``).
    Shapes: x (N, H, W, C) -> (N, H-top-bottom, W-left-right, C) (channels_last); (N, C, H, W) likewise
        (channels_first); x (N, H, W) without C.
    Backward: the gradient in the kept window, zeros on the cropped border. Raises ValueError for negative
    or malformed cropping, or one that leaves no row or column (at build).
    """

    _PREFIX = "cropping2d"

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        op = "Cropping2D"
        if isinstance(cropping, (tuple, list)) and len(cropping) == 2 and all(isinstance(p, (tuple, list))
                                                                             for p in cropping):
            (t, b), (l, r) = (pair(op, "cropping", p, check=nonneg_int) for p in cropping)
        else:
            (t, l) = pair(op, "cropping", cropping, check=nonneg_int)
            b, r = t, l
        self.cropping = ((t, b), (l, r))

    def compute_output_shape(self, input_shape):
        c, h, w = self._chw(input_shape)
        (t, b), (l, r) = self.cropping
        if h - t - b <= 0 or w - l - r <= 0:
            raise ValueError(f"{self.name}: cropping {self.cropping} leaves nothing of images {h}x{w}")
        return self._public((c, h - t - b, w - l - r), input_shape)

    def forward(self, x, training=False):
        (t, b), (l, r) = self.cropping
        x4 = self._enter(x)
        h, w = x4.shape[2] - t - b, x4.shape[3] - l - r
        self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return self._leave(self.xp.ascontiguousarray(x4[:, :, t:t + h, l:l + w]), x.ndim == 3)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        (t, _), (l, _) = self.cropping
        g = self._grad_enter(grad_output)
        dx = self.xp.zeros(self._x_shape, dtype=g.dtype)
        dx[:, :, t:t + g.shape[2], l:l + g.shape[3]] = g
        return self._grad_leave(dx, self._x_ndim == 3)
