"""Pooling layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D (``ops`` pool
family).

Images are in the layer's ``data_format`` ((N, H, W, C) channels_last, the default, or (N, C, H, W)
channels_first) or (N, H, W) (one channel); the output keeps the input's rank, except
the global poolings, which give (N, C) (see ``fastann.layers.base`` for the image layout and Keras'
padding names). The kernels run on NCHW; a channels_last layer converts at its boundary (see ImageLayer).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .._args.common import pair
from .._args.pool import pool2d_geometry
from .base import ImageLayer, padding_arg, same_pads

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]


class _Pool2D(ImageLayer):
    """MaxPooling2D / AveragePooling2D: Keras arguments mapped onto ops.max_pool2d / ops.avg_pool2d.

    "same" (TensorFlow): output ceil(H/stride), padding split with the smaller half first, padded elements
    take no part (max ignores them, the average divides by the real elements only). ops' pooling pads
    symmetrically; "same" maps onto padding = smaller half with ceil_mode=True (which adds the larger half's
    extra row at the bottom/right), except for odd total paddings at stride 1, which pad explicitly.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, input_shape=None,
                 **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        kind = type(self).__name__
        self.pool_size = pair(kind, "pool_size", pool_size)
        self.strides = self.pool_size if strides is None else pair(kind, "strides", strides)
        self.padding = padding_arg(kind, padding, allow_int=False)
        self._explicit = None  # (top, bottom, left, right) when "same" needs an explicitly padded input
        self._x_shape = None

    def _resolve(self, hw):
        """(padding pair, ceil_mode, explicit pads or None) for input (H, W)."""
        if self.padding == "valid":
            return (0, 0), False, None
        pads = [same_pads(n, k, s) for n, k, s in zip(hw, self.pool_size, self.strides)]
        if all(s > 1 or lo == hi for (lo, hi), s in zip(pads, self.strides)):
            return (pads[0][0], pads[1][0]), True, None
        return (0, 0), False, (pads[0][0], pads[0][1], pads[1][0], pads[1][1])

    def _build(self, input_shape, rng):
        c, h, w = self._chw(input_shape)
        self._pad, self._ceil, self._explicit = self._resolve((h, w))

    @property
    def is_2x2_stride_2(self) -> bool:
        """True when this built layer pools plain 2x2 windows at stride 2 over its unpadded input: output
        (H // 2, W // 2), output (i, j) from rows 2i, 2i+1 and columns 2j, 2j+1 (an odd last row or column
        is left out). That holds for pool_size = strides = 2 with "valid", and with "same" on even H and W.
        False before the layer is built (the input size decides it). ``Sequential`` asks it to run a
        MaxPooling2D inside ``ops.batch_norm_relu(max_pool=True)``."""
        if not self.built:
            return False
        h, w = self._chw(self.input_shape)[1:]
        return (self.pool_size == (2, 2) and self.strides == (2, 2) and h >= 2 and w >= 2
                and self._explicit is None and tuple(self._pad) == (0, 0)
                and (not self._ceil or (h % 2 == 0 and w % 2 == 0)))

    def _padded_hw(self, h, w):
        if self._explicit is None:
            return h, w
        t, b, l, r = self._explicit
        return h + t + b, w + l + r

    def compute_output_shape(self, input_shape):
        return self._public(self._pool_shape(self._chw(input_shape)), input_shape)

    def _pool_shape(self, chw):
        pad, ceil, explicit = self._resolve(chw[1:])
        h, w = chw[1:]
        if explicit is not None:
            h, w = h + explicit[0] + explicit[1], w + explicit[2] + explicit[3]
        g = pool2d_geometry(self.name, (1, chw[0], h, w), self.pool_size, self.strides, pad, 1, ceil)
        return (chw[0], g.OH, g.OW)

    def _pad_input(self, x4, fill):
        t, b, l, r = self._explicit
        n, c, h, w = x4.shape
        xp = self.xp
        out = xp.full((n, c, h + t + b, w + l + r), fill, dtype=x4.dtype)
        out[:, :, t:t + h, l:l + w] = x4
        return out

    def _crop_grad(self, g):
        t, b, l, r = self._explicit
        h, w = g.shape[2] - t - b, g.shape[3] - l - r
        return self.xp.ascontiguousarray(g[:, :, t:t + h, l:l + w])


class MaxPooling2D(_Pool2D):
    """Max pooling over pool_size windows (``ops.max_pool2d``); NaN in a window propagates.

    Args: pool_size (int or pair, default 2), strides (default pool_size), padding "valid" or "same"
        (output ceil(H/stride); padded elements never win), data_format ("channels_last", "channels_first"
        or None: ``fastann.config.image_data_format()``).
    Shapes: x (N, H, W, C) -> (N, OH, OW, C) (channels_last); (N, C, H, W) -> (N, C, OH, OW)
        (channels_first); x (N, H, W) -> (N, OH, OW); float32/float64.
    Backward: ``ops.max_pool2d_backward`` with the argmax indices kept from the forward.
    Raises ValueError for bad arguments or windows larger than the input ("valid").
    """

    _PREFIX = "max_pooling2d"

    def forward(self, x, training=False):
        x4 = self._enter(x)
        xin = x4 if self._explicit is None else self._pad_input(x4, -np.inf)
        y, idx = ops.max_pool2d(xin, self.pool_size, self.strides, self._pad, 1, self._ceil)
        if training:
            self._indices, self._x_shape, self._x_ndim = idx, tuple(xin.shape), x.ndim
        return self._leave(y, x.ndim == 3)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        dx = ops.max_pool2d_backward(self._grad_enter(grad_output), self._indices, self._x_shape)
        if self._explicit is not None:
            dx = self._crop_grad(dx)
        return self._grad_leave(dx, self._x_ndim == 3)


class AveragePooling2D(_Pool2D):
    """Average pooling over pool_size windows (``ops.avg_pool2d``).

    Args: pool_size, strides, padding, data_format as MaxPooling2D. With "same" the average is over the real
        input elements of each window (padding not counted), as Keras/TensorFlow compute it.
    Shapes: as MaxPooling2D.
    Raises ValueError for bad arguments or windows larger than the input ("valid").
    """

    _PREFIX = "average_pooling2d"

    def _build(self, input_shape, rng):
        super()._build(input_shape, rng)
        self._scale = None
        if self._explicit is not None:
            # Explicit zero padding is averaged with count_include_pad; rescale each output by
            # window_size / (real elements in its window) to exclude the padding from the divisor.
            _, h, w = self._chw(input_shape)
            ones = np.ones((1, 1, h, w))
            t, b, l, r = self._explicit
            padded = np.pad(ones, ((0, 0), (0, 0), (t, b), (l, r)))
            count = ops.avg_pool2d(padded, self.pool_size, self.strides) * (self.pool_size[0] * self.pool_size[1])
            scale = (self.pool_size[0] * self.pool_size[1]) / count
            self._scale = self.xp.asarray(scale.astype(self.dtype))

    def forward(self, x, training=False):
        x4 = self._enter(x)
        if self._explicit is None:
            y = ops.avg_pool2d(x4, self.pool_size, self.strides, self._pad, self._ceil, count_include_pad=False)
        else:
            y = ops.avg_pool2d(self._pad_input(x4, 0.0), self.pool_size, self.strides) * self._scale
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return self._leave(y, x.ndim == 3)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        g = self._grad_enter(grad_output)
        if self._explicit is None:
            dx = ops.avg_pool2d_backward(g, self._x_shape, self.pool_size, self.strides, self._pad, self._ceil,
                                         count_include_pad=False)
        else:
            n, c, h, w = self._x_shape
            ph, pw = self._padded_hw(h, w)
            dx = self._crop_grad(ops.avg_pool2d_backward(self.xp.ascontiguousarray(g * self._scale),
                                                         (n, c, ph, pw), self.pool_size, self.strides))
        return self._grad_leave(dx, self._x_ndim == 3)


class _GlobalPooling2D(ImageLayer):
    """What the global poolings share: ``data_format``, ``keepdims`` and their output shape (N, C), or with
    keepdims (N, 1, 1, C) / (N, C, 1, 1)."""

    layout_image_output = False  # (N, C): the same array in both layouts

    def __init__(self, data_format=None, keepdims=False, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        c = self._chw(input_shape)[0]
        if not self.keepdims:
            return (c,)
        return (1, 1, c) if self.channels_last else (c, 1, 1)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over each channel's (H, W) plane (``ops.global_avg_pool2d``; Lin et al. 2014, "Network in
    Network").

    Args: data_format ("channels_last", "channels_first" or None: ``fastann.config.image_data_format()``),
        keepdims: keep the spatial axes as 1s.
    Shapes: x (N, H, W, C) (channels_last), (N, C, H, W) (channels_first) or (N, H, W) (one channel) ->
        (N, C); with keepdims (N, 1, 1, C) / (N, C, 1, 1); float32/float64.
    Raises ValueError for inputs that are not images.
    """

    _PREFIX = "global_average_pooling2d"
    def forward(self, x, training=False):
        x4 = self._enter(x)
        y = ops.global_avg_pool2d(x4)
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return y.reshape((y.shape[0],) + self.output_shape) if self.keepdims else y

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        g = grad_output.reshape(grad_output.shape[0], -1)
        return self._grad_leave(ops.global_avg_pool2d_backward(g, self._x_shape), self._x_ndim == 3)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over each channel's (H, W) plane: ``ops.max_pool2d`` with one window the size of the image,
    whose argmax indices route the gradient in backward (``ops.max_pool2d_backward``); NaN propagates.

    Args: data_format ("channels_last", "channels_first" or None: ``fastann.config.image_data_format()``),
        keepdims: keep the spatial axes as 1s.
    Shapes: x (N, H, W, C) (channels_last), (N, C, H, W) (channels_first) or (N, H, W) (one channel) ->
        (N, C); with keepdims (N, 1, 1, C) / (N, C, 1, 1); float32/float64.
    Raises ValueError for inputs that are not images.
    """

    _PREFIX = "global_max_pooling2d"
    def forward(self, x, training=False):
        x4 = self._enter(x)
        y, idx = ops.max_pool2d(x4, x4.shape[2:], x4.shape[2:])
        if training:
            self._indices, self._x_shape, self._x_ndim = idx, tuple(x4.shape), x.ndim
        n = x4.shape[0]
        return y.reshape((n,) + self.output_shape) if self.keepdims else y.reshape(n, -1)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        g = self.xp.ascontiguousarray(grad_output.reshape(grad_output.shape[0], -1, 1, 1))
        return self._grad_leave(ops.max_pool2d_backward(g, self._indices, self._x_shape), self._x_ndim == 3)
