"""Convolutional layers with Keras names and arguments (``keras.layers``), re-exported by ``fastann.layers``.

Conv2D, DepthwiseConv2D, Conv2DTranspose, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
BatchNormalization, UpSampling2D and ZeroPadding2D. Each one's ``forward`` calls ``fastann.ops`` (the conv,
pool and norm kernel families) and keeps what its ``backward`` needs; ``backward`` calls the matching
``ops.*_backward``. Arrays are created through ``layer.xp`` (NumPy now, CuPy for the CUDA backend).

Layout (differs from Keras' default channels_last): images are **NCHW**, channels first, like PyTorch, and
conv weights are stored as PyTorch stores them: Conv2D ``kernel`` (filters, C_in/groups, kH, kW),
DepthwiseConv2D ``depthwise_kernel`` (C_in*depth_multiplier, 1, kH, kW), Conv2DTranspose ``kernel``
(C_in, filters, kH, kW).

Input images may come as (N, C, H, W) or as (N, H, W): a 2-D per-sample shape (H, W) is read as ONE channel,
i.e. as (N, 1, H, W) (a view, no copy), so ``Conv2D(32, 3)`` takes Fashion-MNIST's (N, 28, 28) images as they
are. Layers that change the channel count (the convolutions, global pooling) return (N, C_out, ...); layers
that keep the channels (pooling, upsampling, zero padding, batch normalization) keep the input's rank, so an
(N, H, W) input gives an (N, H', W') output. Gradients come back in the input's shape.

Padding names follow Keras: ``"valid"`` (none) and ``"same"`` (output ceil(H / stride); the total padding is
split with the smaller half first, as TensorFlow does); Conv2D also takes an int or a pair (symmetric).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import initializers, ops
from ._args.common import nonneg_int, pair, positive_int
from ._args.conv import conv2d_args
from .layers import Layer, _activation_backward, _activation_forward, _auto_name, _check_activation

__all__ = ["Conv2D", "DepthwiseConv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
           "GlobalAveragePooling2D", "BatchNormalization", "UpSampling2D", "ZeroPadding2D"]


# ---- helpers ---------------------------------------------------------------------------------------
def _image_shape(name: str, input_shape) -> tuple:
    """Per-sample shape -> (C, H, W): (H, W) is one channel; anything else than 2-D/3-D is a ValueError."""
    input_shape = tuple(input_shape)
    if len(input_shape) == 2:
        return (1,) + input_shape
    if len(input_shape) == 3:
        return input_shape
    raise ValueError(f"{name}: expects images (N, C, H, W) or (N, H, W) (one channel), got per-sample shape "
                     f"{input_shape}")


def _as_nchw(x):
    """(N, H, W) -> (N, 1, H, W) view; (N, C, H, W) unchanged."""
    return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]) if x.ndim == 3 else x


def _like_input(g, input_ndim):
    """A (N, C, H, W) gradient or output back to the rank of a 3-D (N, H, W) input (C is 1 there)."""
    return g.reshape(g.shape[0], g.shape[2], g.shape[3]) if input_ndim == 3 else g


def _padding_arg(name: str, padding, allow_int: bool):
    """Keras padding: "valid"/"same" (any case) or, where allowed, an int or pair (symmetric)."""
    if isinstance(padding, str):
        p = padding.lower()
        if p in ("valid", "same"):
            return p
        raise ValueError(f"{name}: padding must be 'valid' or 'same'{' or an int/pair' if allow_int else ''}, "
                         f"got {padding!r}")
    if not allow_int:
        raise ValueError(f"{name}: padding must be 'valid' or 'same', got {padding!r}")
    return pair(name, "padding", padding, check=nonneg_int)


def _same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: output ceil(n/s); the smaller half goes first."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _keras_name(layer, name):
    """The given name, or Keras' default ("conv2d", "max_pooling2d_1", ...) from the class's _PREFIX."""
    return name or _auto_name(layer._PREFIX)


class _ConvBase(Layer):
    """What Conv2D, DepthwiseConv2D and Conv2DTranspose share: argument checks, activation, bias."""

    def __init__(self, kernel_size, strides, padding, dilation_rate, activation, use_bias, bias_initializer,
                 name, input_shape, activation_params, allow_int_padding=True):
        super().__init__(_keras_name(self, name), input_shape=input_shape)
        kind = type(self).__name__
        self.kernel_size = pair(kind, "kernel_size", kernel_size)
        self.strides = pair(kind, "strides", strides)
        self.dilation_rate = pair(kind, "dilation_rate", dilation_rate)
        self.padding = _padding_arg(kind, padding, allow_int_padding)
        self.activation = _check_activation(kind, activation)
        self.activation_params = activation_params
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self._x_ndim = 4
        self._x = self._z = self._y = None

    def _activate(self, z, training):
        """Apply the activation; keep z (pre-activation) and y for its backward when training."""
        y = z if self.activation is None else _activation_forward(self.activation, self.activation_params, z)
        if training:
            self._z, self._y = z, y
        return y

    def _activation_grad(self, grad_output):
        if self.activation is None:
            return grad_output
        return _activation_backward(self.activation, self.activation_params, grad_output, self._z, self._y)


# ---- convolutions ----------------------------------------------------------------------------------
class Conv2D(_ConvBase):
    """2-D convolution (cross-correlation) layer: y = activation(conv2d(x, kernel) + bias) (``ops.conv2d``).

    Args:
        filters: output channels C_out (positive int, divisible by ``groups``).
        kernel_size: int or (kH, kW).
        strides: int or pair, >= 1.
        padding: "valid", "same" (output ceil(H/stride), TensorFlow's split for stride > 1), or an int /
            pair of symmetric zero (or ``padding_mode``) padding.
        dilation_rate: int or pair, >= 1.
        groups: C_in and filters split into ``groups`` independent convolutions (groups == C_in with
            filters == C_in is a depthwise convolution).
        activation: None/"linear" or a name of ``fastann.layers.ACTIVATIONS`` (not softmax).
        use_bias: add a bias (filters,).
        kernel_initializer, bias_initializer: names or Initializers (glorot_uniform, zeros), with fans
            computed from the (filters, C_in/groups, kH, kW) layout (the same numbers as Keras').
        padding_mode: "zeros" (Keras), "reflect" or "replicate" (PyTorch's modes).
    Shapes: x (N, C_in, H, W) or (N, H, W) (one channel) float32/float64 -> (N, filters, OH, OW) with
        OH = (H + pad_top + pad_bottom - dilation*(kH-1) - 1) // stride + 1. kernel (filters, C_in/groups, kH,
        kW), bias (filters,).
    Backward: ``ops.conv2d_backward``; the input gradient is skipped when ``need_input_grad`` is False (the
        model sets that for a first layer, whose input gradient nobody needs).
    Raises ValueError for bad arguments, for channels not divisible by groups, or for a kernel larger than
        the padded input (at build time); TypeError for a non-float input dtype.
    Math: Goodfellow et al., *Deep Learning*, sec. 9.5 (see ``fastann.ops.conv2d``).
    """

    _PREFIX = "conv2d"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 padding_mode="zeros", name=None, input_shape=None, **activation_params):
        super().__init__(kernel_size, strides, padding, dilation_rate, activation, use_bias, bias_initializer,
                         name, input_shape, activation_params)
        self.filters = positive_int("Conv2D", "filters", filters)
        self.groups = positive_int("Conv2D", "groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: groups={self.groups} does not divide filters={self.filters}")
        if padding_mode not in ("zeros", "reflect", "replicate"):
            raise ValueError(f"Conv2D: padding_mode must be 'zeros', 'reflect' or 'replicate', got {padding_mode!r}")
        if self.activation in ("softmax", "log_softmax"):
            raise ValueError(f"Conv2D: activation {self.activation!r} acts over the last axis; use an Activation "
                             "layer after a Flatten instead")
        self.padding_mode = padding_mode
        self.kernel_initializer = initializers.get(kernel_initializer)

    def _weight_shape(self, c_in):
        return (self.filters, c_in // self.groups) + self.kernel_size

    def _geometry(self, chw):
        """Validate against a per-sample (C, H, W); return ops.conv2d's resolved numbers."""
        return conv2d_args(self.name, (1,) + chw, self._weight_shape(chw[0]), self.strides, self.padding,
                           self.dilation_rate, self.groups, self.padding_mode)

    def _build(self, input_shape, rng):
        chw = _image_shape(self.name, input_shape)
        if chw[0] % self.groups:
            raise ValueError(f"{self.name}: groups={self.groups} does not divide the input channels C={chw[0]}")
        self._geometry(chw)
        self.add_weight("kernel", self._weight_shape(chw[0]), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        a = self._geometry(_image_shape(self.name, input_shape))
        return (a["OC"], a["OH"], a["OW"])

    def _conv_kwargs(self):
        return dict(stride=self.strides, padding=self.padding, dilation=self.dilation_rate, groups=self.groups,
                    padding_mode=self.padding_mode)

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        z = ops.conv2d(x4, self.params["kernel"], self.params.get("bias"), **self._conv_kwargs())
        if training:
            self._x, self._x_ndim = x4, x.ndim
        return self._activate(z, training)

    def backward(self, grad_output):
        g = self._activation_grad(grad_output)
        dx, dw, db = ops.conv2d_backward(g, self._x, self.params["kernel"], need_input_grad=self.need_input_grad,
                                         need_bias_grad=self.use_bias, **self._conv_kwargs())
        self.grads["kernel"] = dw
        if self.use_bias:
            self.grads["bias"] = db
        return None if dx is None else _like_input(dx, self._x_ndim)


class DepthwiseConv2D(Conv2D):
    """Depthwise convolution: each input channel convolved with its own ``depth_multiplier`` filters
    (Chollet 2017, "Xception"), i.e. ``ops.conv2d`` with groups = C_in.

    Args: kernel_size, strides, padding, dilation_rate, activation, use_bias as Conv2D; depth_multiplier
        (output channels per input channel); depthwise_initializer, bias_initializer.
    Shapes: x (N, C, H, W) or (N, H, W) -> (N, C*depth_multiplier, OH, OW); ``depthwise_kernel``
        (C*depth_multiplier, 1, kH, kW) (PyTorch's grouped layout: output channel c*m + j reads input c),
        bias (C*depth_multiplier,). Initializer fans follow that layout (fan_in = kH*kW), as PyTorch's.
    Raises as Conv2D.
    """

    _PREFIX = "depthwise_conv2d"

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 padding_mode="zeros", name=None, input_shape=None, **activation_params):
        self.depth_multiplier = positive_int("DepthwiseConv2D", "depth_multiplier", depth_multiplier)
        super().__init__(1, kernel_size, strides, padding, dilation_rate, 1, activation, use_bias,
                         depthwise_initializer, bias_initializer, padding_mode, name, input_shape,
                         **activation_params)

    def _build(self, input_shape, rng):
        c = _image_shape(self.name, input_shape)[0]
        self.groups, self.filters = c, c * self.depth_multiplier  # known once the input channels are
        self._geometry(_image_shape(self.name, input_shape))
        self.add_weight("depthwise_kernel", self._weight_shape(c), self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        z = ops.conv2d(x4, self.params["depthwise_kernel"], self.params.get("bias"), **self._conv_kwargs())
        if training:
            self._x, self._x_ndim = x4, x.ndim
        return self._activate(z, training)

    def backward(self, grad_output):
        g = self._activation_grad(grad_output)
        dx, dw, db = ops.conv2d_backward(g, self._x, self.params["depthwise_kernel"],
                                         need_input_grad=self.need_input_grad, need_bias_grad=self.use_bias,
                                         **self._conv_kwargs())
        self.grads["depthwise_kernel"] = dw
        if self.use_bias:
            self.grads["bias"] = db
        return None if dx is None else _like_input(dx, self._x_ndim)


class Conv2DTranspose(_ConvBase):
    """Transposed convolution (Dumoulin & Visin 2016, "A guide to convolution arithmetic"): the adjoint
    (input gradient) of a Conv2D, used to upsample in decoders and GAN generators.

    Args:
        filters: output channels; kernel_size, strides, dilation_rate: int or pair.
        padding: "valid" or "same" (Keras' output sizes, below) or an int / pair (PyTorch's ``padding``).
        output_padding: None, or int / pair < strides: extra rows/columns at the bottom/right.
        activation, use_bias, kernel_initializer, bias_initializer: as Conv2D.
    Shapes: x (N, C_in, H, W) or (N, H, W) -> (N, filters, OH, OW); kernel (C_in, filters, kH, kW) as PyTorch
        stores it; bias (filters,). With K = dilation*(kH-1)+1 (the dilated kernel extent):
        output_padding None: "valid" OH = H*stride + max(K - stride, 0); "same" OH = H*stride;
        otherwise OH = (H-1)*stride + K - 2*pad + output_padding with pad = K//2 ("same"), 0 ("valid") or the
        int given (Keras' ``deconv_output_length``).
    Computation: y is exactly the input gradient of ``conv2d(y_shape, kernel, strides, padding)``, so the
        forward runs ``ops.conv2d_backward_input``, the backward ``ops.conv2d`` (input gradient) and
        ``ops.conv2d_backward_weight`` with the roles of x and the gradient swapped; "same" with a stride
        uses the TensorFlow split of conv2d's "same", which is what Keras computes.
    Raises ValueError for bad arguments and output_padding >= strides; TypeError for a non-float input.
    """

    _PREFIX = "conv2d_transpose"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 name=None, input_shape=None, **activation_params):
        super().__init__(kernel_size, strides, padding, dilation_rate, activation, use_bias, bias_initializer,
                         name, input_shape, activation_params)
        self.filters = positive_int("Conv2DTranspose", "filters", filters)
        self.output_padding = None if output_padding is None else pair("Conv2DTranspose", "output_padding",
                                                                       output_padding, check=nonneg_int)
        if self.output_padding is not None and any(o >= s for o, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"Conv2DTranspose: output_padding {self.output_padding} must be smaller than "
                             f"strides {self.strides}")
        if self.activation in ("softmax", "log_softmax"):
            raise ValueError(f"Conv2DTranspose: activation {self.activation!r} acts over the last axis; use an "
                             "Activation layer after a Flatten instead")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self._conv_padding = None  # the padding argument of the conv2d this layer is the adjoint of

    def _out_hw(self, hw):
        """Output (OH, OW) and the padding argument of the adjoint conv2d."""
        out, pads = [], []
        for n, k, s, d, i in zip(hw, self.kernel_size, self.strides, self.dilation_rate, range(2)):
            extent = d * (k - 1) + 1
            if self.output_padding is None and self.padding == "valid":
                out.append(n * s + max(extent - s, 0))
            elif self.output_padding is None and self.padding == "same":
                out.append(n * s)
            else:
                op = 0 if self.output_padding is None else self.output_padding[i]
                pad = {"same": extent // 2, "valid": 0}.get(self.padding) if isinstance(self.padding, str) \
                    else self.padding[i]
                pads.append(pad)
                out.append((n - 1) * s + extent - 2 * pad + op)
        if min(out) <= 0:
            raise ValueError(f"{self.name}: output size {tuple(out)} is not positive for input {tuple(hw)}")
        if isinstance(self.padding, str) and self.output_padding is None:
            return tuple(out), self.padding  # conv2d's own "valid"/"same" maps OH back onto H
        return tuple(out), tuple(pads)

    def _build(self, input_shape, rng):
        c, h, w = _image_shape(self.name, input_shape)
        (oh, ow), self._conv_padding = self._out_hw((h, w))
        a = conv2d_args(self.name, (1, self.filters, oh, ow), (c, self.filters) + self.kernel_size, self.strides,
                        self._conv_padding, self.dilation_rate, 1, "zeros")
        if (a["OH"], a["OW"]) != (h, w):  # cannot happen for valid arguments; a guard against silent errors
            raise ValueError(f"{self.name}: no conv2d maps {(oh, ow)} onto {(h, w)} with these arguments")
        self.add_weight("kernel", (c, self.filters) + self.kernel_size, self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        c, h, w = _image_shape(self.name, input_shape)
        return (self.filters,) + self._out_hw((h, w))[0]

    def _conv_kwargs(self):
        return dict(stride=self.strides, padding=self._conv_padding, dilation=self.dilation_rate)

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        out_shape = (x4.shape[0],) + self.output_shape
        z = ops.conv2d_backward_input(x4, self.params["kernel"], out_shape, **self._conv_kwargs())
        if self.use_bias:
            z += self.params["bias"].reshape(1, -1, 1, 1)
        if training:
            self._x, self._x_ndim = x4, x.ndim
        return self._activate(z, training)

    def backward(self, grad_output):
        g = self._activation_grad(grad_output)
        kw = self._conv_kwargs()
        kernel = self.params["kernel"]
        # y = conv2d's input gradient of x: dL/dx = conv2d(g) and dL/dkernel = conv2d's weight gradient with
        # x in the role of conv2d's output gradient and g in the role of its input.
        self.grads["kernel"] = ops.conv2d_backward_weight(self._x, g, kernel.shape, **kw)
        if self.use_bias:
            self.grads["bias"] = g.sum(axis=(0, 2, 3))
        if not self.need_input_grad:
            return None
        return _like_input(ops.conv2d(g, kernel, None, **kw), self._x_ndim)


# ---- pooling ---------------------------------------------------------------------------------------
class _Pool2D(Layer):
    """MaxPooling2D / AveragePooling2D: Keras arguments mapped onto ops.max_pool2d / ops.avg_pool2d.

    "same" (TensorFlow): output ceil(H/stride), padding split with the smaller half first, padded elements
    take no part (max ignores them, the average divides by the real elements only). ops' pooling pads
    symmetrically; "same" maps onto padding = smaller half with ceil_mode=True (which adds the larger half's
    extra row at the bottom/right), except for odd total paddings at stride 1, which pad explicitly.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(_keras_name(self, name), input_shape=input_shape)
        kind = type(self).__name__
        self.pool_size = pair(kind, "pool_size", pool_size)
        self.strides = self.pool_size if strides is None else pair(kind, "strides", strides)
        self.padding = _padding_arg(kind, padding, allow_int=False)
        self._explicit = None  # (top, bottom, left, right) when "same" needs an explicitly padded input
        self._x_shape = None

    def _resolve(self, hw):
        """(padding pair, ceil_mode, explicit pads or None) for input (H, W)."""
        if self.padding == "valid":
            return (0, 0), False, None
        pads = [_same_pads(n, k, s) for n, k, s in zip(hw, self.pool_size, self.strides)]
        if all(s > 1 or lo == hi for (lo, hi), s in zip(pads, self.strides)):
            return (pads[0][0], pads[1][0]), True, None
        return (0, 0), False, (pads[0][0], pads[0][1], pads[1][0], pads[1][1])

    def _build(self, input_shape, rng):
        c, h, w = _image_shape(self.name, input_shape)
        self._pad, self._ceil, self._explicit = self._resolve((h, w))

    def _padded_hw(self, h, w):
        if self._explicit is None:
            return h, w
        t, b, l, r = self._explicit
        return h + t + b, w + l + r

    def compute_output_shape(self, input_shape):
        chw = self._pool_shape(_image_shape(self.name, input_shape))
        return chw[1:] if len(input_shape) == 2 else chw

    def _pool_shape(self, chw):
        from ._args.pool import pool2d_geometry  # noqa: PLC0415 - the shared argument checks

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
        (output ceil(H/stride); padded elements never win).
    Shapes: x (N, C, H, W) -> (N, C, OH, OW); x (N, H, W) -> (N, OH, OW); float32/float64.
    Backward: ``ops.max_pool2d_backward`` with the argmax indices kept from the forward.
    Raises ValueError for bad arguments or windows larger than the input ("valid").
    """

    _PREFIX = "max_pooling2d"

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        xin = x4 if self._explicit is None else self._pad_input(x4, -np.inf)
        y, idx = ops.max_pool2d(xin, self.pool_size, self.strides, self._pad, 1, self._ceil)
        if training:
            self._indices, self._x_shape, self._x_ndim = idx, tuple(xin.shape), x.ndim
        return _like_input(y, x.ndim)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        dx = ops.max_pool2d_backward(_as_nchw(grad_output), self._indices, self._x_shape)
        if self._explicit is not None:
            dx = self._crop_grad(dx)
        return _like_input(dx, self._x_ndim)


class AveragePooling2D(_Pool2D):
    """Average pooling over pool_size windows (``ops.avg_pool2d``).

    Args: pool_size, strides, padding as MaxPooling2D. With "same" the average is over the real input
        elements of each window (padding not counted), as Keras/TensorFlow compute it.
    Shapes: x (N, C, H, W) -> (N, C, OH, OW); x (N, H, W) -> (N, OH, OW); float32/float64.
    Raises ValueError for bad arguments or windows larger than the input ("valid").
    """

    _PREFIX = "average_pooling2d"

    def _build(self, input_shape, rng):
        super()._build(input_shape, rng)
        self._scale = None
        if self._explicit is not None:
            # Explicit zero padding is averaged with count_include_pad; rescale each output by
            # window_size / (real elements in its window) to exclude the padding from the divisor.
            _, h, w = _image_shape(self.name, input_shape)
            ones = np.ones((1, 1, h, w))
            t, b, l, r = self._explicit
            padded = np.pad(ones, ((0, 0), (0, 0), (t, b), (l, r)))
            count = ops.avg_pool2d(padded, self.pool_size, self.strides) * (self.pool_size[0] * self.pool_size[1])
            scale = (self.pool_size[0] * self.pool_size[1]) / count
            self._scale = self.xp.asarray(scale.astype(self.dtype))

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        if self._explicit is None:
            y = ops.avg_pool2d(x4, self.pool_size, self.strides, self._pad, self._ceil, count_include_pad=False)
        else:
            y = ops.avg_pool2d(self._pad_input(x4, 0.0), self.pool_size, self.strides) * self._scale
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return _like_input(y, x.ndim)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        g = _as_nchw(grad_output)
        if self._explicit is None:
            dx = ops.avg_pool2d_backward(g, self._x_shape, self.pool_size, self.strides, self._pad, self._ceil,
                                         count_include_pad=False)
        else:
            n, c, h, w = self._x_shape
            ph, pw = self._padded_hw(h, w)
            dx = self._crop_grad(ops.avg_pool2d_backward(self.xp.ascontiguousarray(g * self._scale),
                                                         (n, c, ph, pw), self.pool_size, self.strides))
        return _like_input(dx, self._x_ndim)


class GlobalAveragePooling2D(Layer):
    """Mean over each channel's (H, W) plane (``ops.global_avg_pool2d``; Lin et al. 2014, "Network in
    Network").

    Args: keepdims: keep (N, C, 1, 1) instead of (N, C).
    Shapes: x (N, C, H, W) or (N, H, W) (one channel) -> (N, C) or (N, C, 1, 1); float32/float64.
    Raises ValueError for inputs that are not images.
    """

    _PREFIX = "global_average_pooling2d"

    def __init__(self, keepdims=False, name=None, input_shape=None):
        super().__init__(_keras_name(self, name), input_shape=input_shape)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        c = _image_shape(self.name, input_shape)[0]
        return (c, 1, 1) if self.keepdims else (c,)

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        y = ops.global_avg_pool2d(x4)
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return y.reshape(y.shape + (1, 1)) if self.keepdims else y

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        g = grad_output.reshape(grad_output.shape[:2])
        return _like_input(ops.global_avg_pool2d_backward(g, self._x_shape), self._x_ndim)


# ---- normalization ---------------------------------------------------------------------------------
class BatchNormalization(Layer):
    """Batch normalization over the channel axis 1 (Ioffe & Szegedy 2015; ``ops.batch_norm``).

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel. In training (``fit``) mean and var are
    the batch's (over N, H, W) and the moving statistics are updated:
    ``moving = momentum * moving + (1 - momentum) * batch_stat`` (Keras' momentum; PyTorch's momentum is
    1 - this), the variance with the unbiased batch estimate as PyTorch does. In inference (``evaluate``,
    ``predict``, or a layer with ``trainable=False``, as Keras 2+) the moving statistics are used.

    Args:
        axis: the channel axis; only 1 (NCHW, or (N, C) features) is supported.
        momentum (0.99), epsilon (1e-3): Keras defaults.
        center, scale: learn beta / gamma (else they are 0 / 1 and not created).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer.
    Shapes: x (N, C), (N, C, H, W) or (N, H, W) (one channel), float32/float64; gamma, beta, moving_mean,
        moving_variance (C,). Trainable: gamma, beta; non-trainable: moving_mean, moving_variance (in
        get_weights/set_weights and the model's parameter count, in that order, like Keras).
    Raises ValueError for bad arguments, or a training batch with a single value per channel.
    """

    _PREFIX = "batch_normalization"

    def __init__(self, axis=1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, trainable=True, input_shape=None):
        super().__init__(_keras_name(self, name), trainable=trainable, input_shape=input_shape)
        if axis not in (1,):
            raise ValueError(f"BatchNormalization: fastann is channels-first (NCHW); axis must be 1, got {axis!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = 1, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self._saved = self._frozen_scale = None
        self.initializers = {k: initializers.get(v) for k, v in (
            ("gamma", gamma_initializer), ("beta", beta_initializer), ("moving_mean", moving_mean_initializer),
            ("moving_variance", moving_variance_initializer))}

    def _build(self, input_shape, rng):
        if len(input_shape) not in (1, 2, 3):
            raise ValueError(f"{self.name}: expects (N, C), (N, C, H, W) or (N, H, W), got per-sample shape "
                             f"{input_shape}")
        c = input_shape[0] if len(input_shape) != 2 else 1
        if self.scale:
            self.add_weight("gamma", (c,), self.initializers["gamma"], rng)
        if self.center:
            self.add_weight("beta", (c,), self.initializers["beta"], rng)
        for k in ("moving_mean", "moving_variance"):
            self.add_weight(k, (c,), self.initializers[k], rng, trainable=False)

    def _nc(self, x):
        return _as_nchw(x) if x.ndim == 3 else x

    def forward(self, x, training=False):
        xin = self._nc(x)
        s = self.params
        gamma, beta = self.params.get("gamma"), self.params.get("beta")
        if training and self.trainable:
            y, mean, invstd = ops.batch_norm(xin, s["moving_mean"], s["moving_variance"], gamma, beta,
                                             training=True, momentum=1.0 - self.momentum, eps=self.epsilon,
                                             return_stats=True)
            self._saved, self._frozen_scale = (xin, mean, invstd, x.ndim), None
        else:
            y = ops.batch_norm(xin, s["moving_mean"], s["moving_variance"], gamma, beta, training=False,
                               eps=self.epsilon)
            self._saved = self._frozen_scale = None
            if training:  # a frozen layer inside a model being trained: an affine map per channel
                scale = 1.0 / self.xp.sqrt(s["moving_variance"] + self.epsilon)
                self._frozen_scale = scale if gamma is None else scale * gamma
        return y.reshape(x.shape) if x.ndim == 3 else y

    def backward(self, grad_output):
        if self._saved is None:
            if self._frozen_scale is None:
                raise ValueError(f"{self.name}: backward needs a forward with training=True first")
            if not self.need_input_grad:
                return None
            # y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta: dx = dy * that factor
            shape = (1, -1) + (1,) * (grad_output.ndim - 2) if grad_output.ndim != 3 else (1, 1, 1)
            return grad_output * self._frozen_scale.reshape(shape).astype(grad_output.dtype, copy=False)
        xin, mean, invstd, ndim = self._saved
        g = grad_output.reshape(xin.shape)
        dx, dgamma, dbeta = ops.batch_norm_backward(g, xin, self.params.get("gamma"), mean, invstd)
        if self.scale:
            self.grads["gamma"] = dgamma
        if self.center:
            self.grads["beta"] = dbeta
        if not self.need_input_grad:
            return None
        return dx.reshape(grad_output.shape)


# ---- resizing --------------------------------------------------------------------------------------
class UpSampling2D(Layer):
    """Upsample images by integer factors (``ops.upsample2d``).

    Args: size: int or (sh, sw); interpolation: "nearest" (repeat each pixel) or "bilinear" (half-pixel
        centres, as Keras / tf.image.resize and torch's align_corners=False).
    Shapes: x (N, C, H, W) -> (N, C, H*sh, W*sw); x (N, H, W) -> (N, H*sh, W*sw); float32/float64.
    Raises ValueError for a non-positive size or an unknown interpolation.
    """

    _PREFIX = "up_sampling2d"

    def __init__(self, size=2, interpolation="nearest", name=None, input_shape=None):
        super().__init__(_keras_name(self, name), input_shape=input_shape)
        self.size = pair("UpSampling2D", "size", size)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        c, h, w = _image_shape(self.name, input_shape)
        hw = (h * self.size[0], w * self.size[1])
        return hw if len(input_shape) == 2 else (c,) + hw

    def forward(self, x, training=False):
        x4 = _as_nchw(x)
        y = ops.upsample2d(x4, self.size, self.interpolation)
        if training:
            self._x_shape, self._x_ndim = tuple(x4.shape), x.ndim
        return _like_input(y, x.ndim)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        dx = ops.upsample2d_backward(_as_nchw(grad_output), self._x_shape, self.size, self.interpolation)
        return _like_input(dx, self._x_ndim)


class ZeroPadding2D(Layer):
    """Pad images with zeros (rows at the top/bottom, columns at the left/right).

    Args: padding: int p (all four sides), (ph, pw) (symmetric), or ((top, bottom), (left, right)).
    Shapes: x (N, C, H, W) -> (N, C, H+top+bottom, W+left+right); x (N, H, W) likewise without C.
    Backward: the gradient's interior (the padded border gets none). Raises ValueError for negative or
    malformed padding.
    """

    _PREFIX = "zero_padding2d"

    def __init__(self, padding=1, name=None, input_shape=None):
        super().__init__(_keras_name(self, name), input_shape=input_shape)
        op = "ZeroPadding2D"
        if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(isinstance(p, (tuple, list))
                                                                           for p in padding):
            (t, b), (l, r) = (pair(op, "padding", p, check=nonneg_int) for p in padding)
        else:
            (t, l) = pair(op, "padding", padding, check=nonneg_int)
            b, r = t, l
        self.padding = ((t, b), (l, r))

    def compute_output_shape(self, input_shape):
        c, h, w = _image_shape(self.name, input_shape)
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
