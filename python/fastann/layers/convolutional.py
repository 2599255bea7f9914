"""Convolution layers with Keras names and arguments: Conv2D, DepthwiseConv2D, Conv2DTranspose.

Each one's ``forward`` calls ``fastann.ops`` (the conv family) and keeps what its ``backward`` needs;
``backward`` calls the matching ``ops.conv2d_backward*``. Images are in the layer's ``data_format``
(channels_last (N, H, W, C) by default, or channels_first (N, C, H, W)), or (N, H, W) read as one channel
(see ``fastann.layers.base``).

Weights: ``get_weights``/``set_weights`` (and saved files) use Keras's layouts whatever the data_format:
Conv2D ``kernel`` (kH, kW, C_in/groups, filters), DepthwiseConv2D ``depthwise_kernel`` (kH, kW, C_in,
depth_multiplier), Conv2DTranspose ``kernel`` (kH, kW, filters, C_in). ``layer.params`` holds them as the
kernels want them, PyTorch's layouts: Conv2D (filters, C_in/groups, kH, kW), DepthwiseConv2D
(C_in*depth_multiplier, 1, kH, kW) (a Conv2D with groups = C_in; output channel c*m + j reads input c),
Conv2DTranspose (C_in, filters, kH, kW).
"""
from __future__ import annotations

from .. import initializers, ops
from .._args.common import nonneg_int, pair, positive_int
from .._args.conv import conv2d_args
from .base import ImageLayer, activation_backward, activation_forward, check_activation, keras_activation_params, \
    padding_arg

__all__ = ["Conv2D", "DepthwiseConv2D", "Conv2DTranspose"]


class _ConvBase(ImageLayer):
    """What Conv2D, DepthwiseConv2D and Conv2DTranspose share: argument checks, activation, bias."""

    # regularizers and constraints (``Layer._WEIGHT_ARGS``): applied to the weights in Keras's layout
    _WEIGHT_ARGS = {"kernel": ("kernel_regularizer", "kernel_constraint"),
                    "bias": ("bias_regularizer", "bias_constraint")}

    def __init__(self, kernel_size, strides, padding, dilation_rate, activation, use_bias, bias_initializer,
                 name, input_shape, layer_kwargs, allow_int_padding=True, data_format=None):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **layer_kwargs)
        kind = type(self).__name__
        self.kernel_size = pair(kind, "kernel_size", kernel_size)
        self.strides = pair(kind, "strides", strides)
        self.dilation_rate = pair(kind, "dilation_rate", dilation_rate)
        self.padding = padding_arg(kind, padding, allow_int_padding)
        self.activation = check_activation(kind, activation)
        self.activation_params = keras_activation_params(self.activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self._x_ndim = 4
        self._x = self._z = self._y = None

    def _activate(self, z, training):
        """Apply the activation; keep z (pre-activation) and y for its backward when training."""
        y = z if self.activation is None else activation_forward(self.activation, self.activation_params, z)
        if training:
            self._z, self._y = z, y
        return y

    def _activation_grad(self, grad_output):
        if self.activation is None:
            return grad_output
        return activation_backward(self.activation, self.activation_params, grad_output, self._z, self._y)


# ---- convolutions ----------------------------------------------------------------------------------
class Conv2D(_ConvBase):
    """2-D convolution (cross-correlation) layer: y = activation(conv2d(x, kernel) + bias) (``ops.conv2d``).

    Args:
        filters: output channels C_out (positive int, divisible by ``groups``).
        kernel_size: int or (kH, kW).
        strides: int or pair, >= 1.
        padding: "valid", "same" (output ceil(H/stride), TensorFlow's split for stride > 1), or an int /
            pair of symmetric zero (or ``padding_mode``) padding.
        data_format: "channels_last" (N, H, W, C), "channels_first" (N, C, H, W), or None:
            ``fastann.config.image_data_format()``.
        dilation_rate: int or pair, >= 1.
        groups: C_in and filters split into ``groups`` independent convolutions (groups == C_in with
            filters == C_in is a depthwise convolution).
        activation: None/"linear" or a name of ``fastann.layers.ACTIVATIONS`` (not softmax).
        use_bias: add a bias (filters,).
        kernel_initializer, bias_initializer: names or Initializers (glorot_uniform, zeros), with fans
            computed from the (filters, C_in/groups, kH, kW) layout (the same numbers as Keras').
        padding_mode: "zeros" (Keras), "reflect" or "replicate" (PyTorch's modes).
        kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint: as Dense's (constraints
            see the kernel in Keras's layout, so MaxNorm's axis means what it means in Keras).
    Shapes: x (N, H, W, C_in) (channels_last), (N, C_in, H, W) (channels_first) or (N, H, W) (one channel),
        float32/float64 -> (N, OH, OW, filters) / (N, filters, OH, OW) with
        OH = (H + pad_top + pad_bottom - dilation*(kH-1) - 1) // stride + 1. get_weights: kernel (kH, kW,
        C_in/groups, filters) (Keras), bias (filters,); stored as (filters, C_in/groups, kH, kW).
    Backward: ``ops.conv2d_backward``; the input gradient is skipped when ``need_input_grad`` is False (the
        model sets that for a first layer, whose input gradient nobody needs).
    Raises ValueError for bad arguments, for channels not divisible by groups, or for a kernel larger than
        the padded input (at build time); TypeError for a non-float input dtype.
    Math: Goodfellow et al., *Deep Learning*, sec. 9.5 (see ``fastann.ops.conv2d``).
    """

    _PREFIX = "conv2d"
    _KERNEL = "kernel"  # the params key of the convolution weights

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", padding_mode="zeros", name=None, input_shape=None, **kwargs):
        super().__init__(kernel_size, strides, padding, dilation_rate, activation, use_bias, bias_initializer,
                         name, input_shape, kwargs, data_format=data_format)
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

    def _set_input_channels(self, c_in):
        """Check the input channel count C_in against groups (DepthwiseConv2D derives its groups from it)."""
        if c_in % self.groups:
            raise ValueError(f"{self.name}: groups={self.groups} does not divide the input channels C={c_in}")

    def _build(self, input_shape, rng):
        chw = self._chw(input_shape)
        self._set_input_channels(chw[0])
        self._geometry(chw)
        self.add_weight(self._KERNEL, self._weight_shape(chw[0]), self.kernel_initializer, rng,
                        keras_shape=self._keras_kernel_shape(chw[0]))
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        a = self._geometry(self._chw(input_shape))
        return self._public((a["OC"], a["OH"], a["OW"]), input_shape, keep_rank=False)

    def _keras_kernel_shape(self, c_in):
        """None: the kernel is drawn in its stored layout (whose initializer fans equal Keras's)."""
        return None

    def _to_keras_layout(self, key, array):
        """kernel (filters, C_in/groups, kH, kW) -> Keras's (kH, kW, C_in/groups, filters)."""
        return array.transpose(2, 3, 1, 0) if key == self._KERNEL else array

    def _from_keras_layout(self, key, array):
        return array.transpose(3, 2, 0, 1) if key == self._KERNEL else array

    def _conv_kwargs(self):
        return dict(stride=self.strides, padding=self.padding, dilation=self.dilation_rate, groups=self.groups,
                    padding_mode=self.padding_mode)

    def forward(self, x, training=False):
        x4 = self._enter(x)
        z = ops.conv2d(x4, self.params[self._KERNEL], self.params.get("bias"), **self._conv_kwargs())
        if training:
            self._x, self._x_ndim = x4, x.ndim
        return self._leave(self._activate(z, training))

    def backward(self, grad_output):
        dx = self._conv_backward(self._activation_grad(self._grad_enter(grad_output)))
        return None if dx is None else self._grad_leave(dx, self._x_ndim == 3)

    def _conv_backward(self, g):
        """The convolution's backward for g = dL/dz (N, OC, OH, OW), z the pre-activation output: the kernel
        and bias gradients into ``self.grads``, and dL/dx (N, C, H, W) or None when ``need_input_grad`` is off.
        A frozen layer (``trainable`` False, e.g. a GAN's discriminator inside the combined model) computes
        only dL/dx: the optimizer does not read its gradients, so its weight-gradient pass is skipped and
        ``grads`` emptied."""
        kernel = self.params[self._KERNEL]
        if not self.trainable:
            self.grads.clear()
            if not self.need_input_grad:
                return None
            return ops.conv2d_backward_input(g, kernel, self._x.shape, **self._conv_kwargs())
        dx, dw, db = ops.conv2d_backward(g, self._x, kernel, need_input_grad=self.need_input_grad,
                                         need_bias_grad=self.use_bias, **self._conv_kwargs())
        self.grads[self._KERNEL] = dw
        if self.use_bias:
            self.grads["bias"] = db
        return dx


class DepthwiseConv2D(Conv2D):
    """Depthwise convolution: each input channel convolved with its own ``depth_multiplier`` filters
    (Chollet 2017, "Xception"), i.e. a Conv2D with groups = C_in and filters = C_in*depth_multiplier, set
    when the layer is built (Conv2D's forward and backward run it; only the weight's name differs).

    Args: kernel_size, strides, padding, dilation_rate, activation, use_bias as Conv2D; depth_multiplier
        (output channels per input channel); depthwise_initializer, bias_initializer; depthwise_regularizer,
        bias_regularizer, depthwise_constraint, bias_constraint (as Conv2D's kernel_* / bias_*).
    Shapes: x (N, H, W, C) / (N, C, H, W) (data_format) or (N, H, W) -> (N, OH, OW, C*depth_multiplier) /
        (N, C*depth_multiplier, OH, OW); get_weights: ``depthwise_kernel`` (kH, kW, C, depth_multiplier)
        (Keras), bias (C*depth_multiplier,), output channel c*m + j from input c and multiplier j; stored as
        (C*depth_multiplier, 1, kH, kW) (PyTorch's grouped layout). The initial kernel is drawn in Keras's
        layout, so its initializer fans are Keras's (fan_in = kH*kW*C, fan_out = kH*kW*depth_multiplier).
    Raises as Conv2D.
    """

    _PREFIX = "depthwise_conv2d"
    _KERNEL = "depthwise_kernel"
    _WEIGHT_ARGS = {"depthwise_kernel": ("depthwise_regularizer", "depthwise_constraint"),
                    "bias": ("bias_regularizer", "bias_constraint")}

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", padding_mode="zeros", name=None, input_shape=None, **kwargs):
        self.depth_multiplier = positive_int("DepthwiseConv2D", "depth_multiplier", depth_multiplier)
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         depthwise_initializer, bias_initializer, padding_mode, name, input_shape,
                         **kwargs)

    def _set_input_channels(self, c_in):
        self.groups, self.filters = c_in, c_in * self.depth_multiplier  # known once the input channels are

    def _keras_kernel_shape(self, c_in):
        """The kernel is drawn in Keras's (kH, kW, C, m): Keras's fans (fan_in kH*kW*C, fan_out kH*kW*m), which
        the stored (C*m, 1, kH, kW) would not give."""
        return self.kernel_size + (c_in, self.depth_multiplier)

    def _to_keras_layout(self, key, array):
        """depthwise_kernel (C*m, 1, kH, kW) -> Keras's (kH, kW, C, m)."""
        if key != self._KERNEL:
            return array
        cm, _, kh, kw = array.shape
        return array.reshape(cm // self.depth_multiplier, self.depth_multiplier, kh, kw).transpose(2, 3, 0, 1)

    def _from_keras_layout(self, key, array):
        if key != self._KERNEL:
            return array
        kh, kw, c, m = array.shape
        return array.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)


class Conv2DTranspose(_ConvBase):
    """Transposed convolution (Dumoulin & Visin 2016, "A guide to convolution arithmetic"): the adjoint
    (input gradient) of a Conv2D, used to upsample in decoders and GAN generators.

    Args:
        filters: output channels; kernel_size, strides, dilation_rate: int or pair.
        padding: "valid" or "same" (Keras' output sizes, below) or an int / pair (PyTorch's ``padding``).
        output_padding: None, or int / pair < strides: extra rows/columns at the bottom/right.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            kernel_constraint, bias_constraint: as Conv2D.
    Shapes: x (N, H, W, C_in) / (N, C_in, H, W) (data_format) or (N, H, W) -> (N, OH, OW, filters) /
        (N, filters, OH, OW); get_weights: kernel (kH, kW, filters, C_in) (Keras), bias (filters,); stored
        as (C_in, filters, kH, kW) (PyTorch). With K = dilation*(kH-1)+1 (the dilated kernel extent):
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

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, input_shape=None, **kwargs):
        super().__init__(kernel_size, strides, padding, dilation_rate, activation, use_bias, bias_initializer,
                         name, input_shape, kwargs, data_format=data_format)
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
        c, h, w = self._chw(input_shape)
        (oh, ow), self._conv_padding = self._out_hw((h, w))
        a = conv2d_args(self.name, (1, self.filters, oh, ow), (c, self.filters) + self.kernel_size, self.strides,
                        self._conv_padding, self.dilation_rate, 1, "zeros")
        if (a["OH"], a["OW"]) != (h, w):  # cannot happen for valid arguments; a guard against silent errors
            raise ValueError(f"{self.name}: no conv2d maps {(oh, ow)} onto {(h, w)} with these arguments")
        self.add_weight("kernel", (c, self.filters) + self.kernel_size, self.kernel_initializer, rng)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        c, h, w = self._chw(input_shape)
        return self._public((self.filters,) + self._out_hw((h, w))[0], input_shape, keep_rank=False)

    def _to_keras_layout(self, key, array):
        """kernel (C_in, filters, kH, kW) -> Keras's (kH, kW, filters, C_in)."""
        return array.transpose(2, 3, 1, 0) if key == "kernel" else array

    def _from_keras_layout(self, key, array):
        return array.transpose(3, 2, 0, 1) if key == "kernel" else array

    def _conv_kwargs(self):
        return dict(stride=self.strides, padding=self._conv_padding, dilation=self.dilation_rate)

    def forward(self, x, training=False):
        x4 = self._enter(x)
        out_shape = (x4.shape[0], self.filters) + self._out_hw(x4.shape[2:])[0]
        z = ops.conv2d_backward_input(x4, self.params["kernel"], out_shape, **self._conv_kwargs())
        if self.use_bias:
            z += self.params["bias"].reshape(1, -1, 1, 1)
        if training:
            self._x, self._x_ndim = x4, x.ndim
        return self._leave(self._activate(z, training))

    def backward(self, grad_output):
        g = self._activation_grad(self._grad_enter(grad_output))
        kw = self._conv_kwargs()
        kernel = self.params["kernel"]
        # y = conv2d's input gradient of x: dL/dx = conv2d(g) and dL/dkernel = conv2d's weight gradient with
        # x in the role of conv2d's output gradient and g in the role of its input. A frozen layer computes
        # dL/dx only (see Conv2D._conv_backward).
        if not self.trainable:
            self.grads.clear()
        else:
            self.grads["kernel"] = ops.conv2d_backward_weight(self._x, g, kernel.shape, **kw)
            if self.use_bias:
                self.grads["bias"] = g.sum(axis=(0, 2, 3))
        if not self.need_input_grad:
            return None
        return self._grad_leave(ops.conv2d(g, kernel, None, **kw), self._x_ndim == 3)
