"""Layer fusion in ``Sequential``: runs of layers that execute as one fused kernel.

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
from ..layers import Activation, BatchNormalization, MaxPooling2D

__all__ = ["FusedBatchNormReLU", "plan_stages"]


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


def plan_stages(layers, fuse: bool) -> list:
    """``layers`` as ``(index of its first layer, stage)`` pairs to run in order; a stage is a single layer
    or, with ``fuse``, a FusedBatchNormReLU standing in for the run of layers it matched."""
    stages, i = [], 0
    while i < len(layers):
        stage = FusedBatchNormReLU.match(layers, i) if fuse else None
        stages.append((i, stage or layers[i]))
        i += stage.count if stage else 1
    return stages
