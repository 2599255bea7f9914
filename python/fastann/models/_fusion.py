"""Layer fusion in ``Sequential``: runs of layers that execute as one fused kernel.

Two kinds of run fuse: the BatchNormalization tail of a Conv-BN-ReLU-Pool block (``FusedBatchNormReLU``) and
the Conv2D(bias, ReLU) -> MaxPooling2D(2) block a model without batch norm is made of
(``FusedConvReLUPool``). Both ask the layers public questions only and give the results of the separate
layers.

A BatchNormalization -> Activation("relu") [-> MaxPooling2D(2)] run of layers on images (the tail of a
Conv-BN-ReLU-Pool block, channels_first or channels_last) runs as ONE ``ops.batch_norm_relu`` in training
and inference: two sweeps over
the conv output instead of five or six, and no ReLU output or int64 pool indices written. The results are
those of the separate layers (tests compare them); the layers keep their parameters, names and summary.
The match asks the layers public questions only (``BatchNormalization.trainable``/``input_shape``,
``Activation.is_plain_relu``, ``MaxPooling2D.is_2x2_stride_2``, the layers' ``data_format``). The fused kernel
is CPU only and NCHW: for channels_last layers it takes and gives the layout the model's layout plan
(``_layout``) gave the first and last layer of the run, converting only where that is NHWC.
"""
from __future__ import annotations

from .. import ops
from ..layers import Activation, BatchNormalization, Conv2D, MaxPooling2D
from ..ops._fused import relu_max_pool2d, relu_max_pool2d_backward

__all__ = ["FusedBatchNormReLU", "FusedConvReLUPool", "plan_stages"]


class FusedBatchNormReLU:
    """A BatchNormalization -> ReLU [-> MaxPooling2D(2, 2)] run of layers as one ``ops.batch_norm_relu``.

    Stands in for the layers in the model's forward and backward; the BatchNormalization layer keeps its
    parameters, moving statistics and gradients (``bn.grads``) exactly as when it runs alone.
    """

    def __init__(self, bn, pooled: bool, count: int, last):
        self.bn, self.pooled, self.count, self.last = bn, pooled, count, last
        self._saved = None

    @staticmethod
    def match(layers, i):
        """The fused stage starting at ``layers[i]``, or None when the layers there do not fuse."""
        bn = layers[i]
        if not (isinstance(bn, BatchNormalization) and bn.trainable and bn.built and len(bn.input_shape) == 3
                and i + 1 < len(layers)):
            return None
        if any(layer.activity_regularizer is not None for layer in layers[i:i + 3]):
            return None  # the penalty needs each layer's own output
        act = layers[i + 1]
        if not (type(act) is Activation and act.is_plain_relu):
            return None
        pool = layers[i + 2] if i + 2 < len(layers) else None
        pooled = isinstance(pool, MaxPooling2D) and pool.is_2x2_stride_2 and pool.data_format == bn.data_format
        return FusedBatchNormReLU(bn, pooled, 3 if pooled else 2, pool if pooled else act)

    @property
    def _nchw_out(self) -> bool:
        """The stage's output leaves in NCHW: channels_first layers, or the plan keeps NCHW after the run."""
        return not self.bn.channels_last or bool(getattr(self.last, "_nchw_out", False))

    def forward(self, x, training=False):
        bn = self.bn
        bn._io = (bn._nchw_in, self._nchw_out)
        x = bn._to_nchw(x, bn._io[0])
        s = bn.params
        args = (x, s["moving_mean"], s["moving_variance"], s.get("gamma"), s.get("beta"))
        if not training:
            self._saved = None
            return bn._from_nchw(ops.batch_norm_relu(*args, training=False, eps=bn.epsilon, max_pool=self.pooled),
                                 bn._io[1])
        y, mean, invstd, window_index = ops.batch_norm_relu(*args, training=True, momentum=1.0 - bn.momentum,
                                                            eps=bn.epsilon, max_pool=self.pooled)
        self._saved = (x, y, mean, invstd, window_index)
        return bn._from_nchw(y, bn._io[1])

    def backward(self, grad_output):
        bn = self.bn
        x, y, mean, invstd, window_index = self._saved
        grad_output = bn._to_nchw(grad_output, bn._io[1])
        dx, dgamma, dbeta = ops.batch_norm_relu_backward(grad_output, y, x, bn.params.get("gamma"),
                                                         bn.params.get("beta"), mean, invstd, window_index)
        if bn.scale:
            bn.grads["gamma"] = dgamma
        if bn.center:
            bn.grads["beta"] = dbeta
        return bn._from_nchw(dx, bn._io[0]) if bn.need_input_grad else None


class FusedConvReLUPool:
    """A Conv2D(activation="relu") -> MaxPooling2D(2, 2) run (or Conv2D -> Activation("relu") ->
    MaxPooling2D(2, 2)) as ``ops.conv2d`` (bias in its store) plus one fused ReLU + pool sweep
    (``ops._fused.relu_max_pool2d``): no full-size ReLU output, no int64 pool indices, and in backward one
    sweep that routes the gradient to each window's winner and applies the ReLU's mask, where the separate
    layers take two (``max_pool2d_backward`` then ``relu_backward``). The conv's input and weight gradients
    and its bias gradient come from the Conv2D's own backward (``Conv2D._conv_backward``), so every result is
    bit for bit the separate layers'.

    Stands in for the layers in the model's forward and backward; the Conv2D layer keeps its parameters
    and gradients (``conv.grads``).
    """

    def __init__(self, conv, count: int, last):
        self.conv, self.count, self.last = conv, count, last
        self._saved = None

    @staticmethod
    def match(layers, i):
        """The fused stage starting at ``layers[i]``, or None when the layers there do not fuse."""
        conv = layers[i]
        if not (isinstance(conv, Conv2D) and conv.built and len(conv.input_shape) == 3
                and len(conv.output_shape) == 3):
            return None
        if conv.activation == "relu" and not conv.activation_params:
            count = 2
        elif conv.activation is None and i + 1 < len(layers) and type(layers[i + 1]) is Activation \
                and layers[i + 1].is_plain_relu:
            count = 3
        else:
            return None
        if i + count > len(layers) or any(layer.activity_regularizer is not None for layer in layers[i:i + count]):
            return None  # the penalty needs each layer's own output
        pool = layers[i + count - 1]
        if not (isinstance(pool, MaxPooling2D) and pool.is_2x2_stride_2 and pool.data_format == conv.data_format):
            return None
        return FusedConvReLUPool(conv, count, pool)

    @property
    def _nchw_out(self) -> bool:
        """The stage's output leaves in NCHW: channels_first layers, or the plan keeps NCHW after the run."""
        return not self.conv.channels_last or bool(getattr(self.last, "_nchw_out", False))

    def forward(self, x, training=False):
        conv = self.conv
        conv._io = (conv._nchw_in, self._nchw_out)
        x4 = conv._to_nchw(x, conv._io[0])
        z = ops.conv2d(x4, conv.params[conv._KERNEL], conv.params.get("bias"), **conv._conv_kwargs())
        y, window_index = relu_max_pool2d(z)
        if training:
            conv._x, conv._x_ndim = x4, x.ndim
            self._saved = (y, window_index, z.shape)
        else:
            self._saved = None
        return conv._from_nchw(y, conv._io[1])

    def backward(self, grad_output):
        conv = self.conv
        y, window_index, z_shape = self._saved
        dz = relu_max_pool2d_backward(conv._to_nchw(grad_output, conv._io[1]), y, window_index, z_shape)
        dx = conv._conv_backward(dz)
        return None if dx is None else conv._grad_leave(dx, conv._x_ndim == 3)


def plan_stages(layers, fuse: bool) -> list:
    """``layers`` as ``(index of its first layer, stage)`` pairs to run in order; a stage is a single layer
    or, with ``fuse``, a FusedBatchNormReLU or FusedConvReLUPool standing in for the run of layers it
    matched."""
    stages, i = [], 0
    while i < len(layers):
        stage = (FusedBatchNormReLU.match(layers, i) or FusedConvReLUPool.match(layers, i)) if fuse else None
        stages.append((i, stage or layers[i]))
        i += stage.count if stage else 1
    return stages
