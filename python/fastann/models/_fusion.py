"""Layer fusion in ``Sequential``: runs of layers that execute as one fused kernel.

A BatchNormalization -> Activation("relu") [-> MaxPooling2D(2)] run of layers on (N, C, H, W) data (the tail
of a Conv-BN-ReLU-Pool block) runs as ONE ``ops.batch_norm_relu`` in training and inference: two sweeps over
the conv output instead of five or six, and no ReLU output or int64 pool indices written. The results are
those of the separate layers (tests compare them); the layers keep their parameters, names and summary.
The match asks the layers public questions only (``BatchNormalization.trainable``/``input_shape``,
``Activation.is_plain_relu``, ``MaxPooling2D.is_2x2_stride_2``). The fused kernel is CPU only.
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

    def __init__(self, bn, pooled: bool, count: int):
        self.bn, self.pooled, self.count = bn, pooled, count
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
        pooled = isinstance(pool, MaxPooling2D) and pool.is_2x2_stride_2
        return FusedBatchNormReLU(bn, pooled, 3 if pooled else 2)

    def forward(self, x, training=False):
        bn = self.bn
        s = bn.params
        args = (x, s["moving_mean"], s["moving_variance"], s.get("gamma"), s.get("beta"))
        if not training:
            self._saved = None
            return ops.batch_norm_relu(*args, training=False, eps=bn.epsilon, max_pool=self.pooled)
        y, mean, invstd, window_index = ops.batch_norm_relu(*args, training=True, momentum=1.0 - bn.momentum,
                                                            eps=bn.epsilon, max_pool=self.pooled)
        self._saved = (x, y, mean, invstd, window_index)
        return y

    def backward(self, grad_output):
        bn = self.bn
        x, y, mean, invstd, window_index = self._saved
        dx, dgamma, dbeta = ops.batch_norm_relu_backward(grad_output, y, x, bn.params.get("gamma"),
                                                         bn.params.get("beta"), mean, invstd, window_index)
        if bn.scale:
            bn.grads["gamma"] = dgamma
        if bn.center:
            bn.grads["beta"] = dbeta
        return dx if bn.need_input_grad else None


def plan_stages(layers, fuse: bool) -> list:
    """``layers`` as ``(index of its first layer, stage)`` pairs to run in order; a stage is a single layer
    or, with ``fuse``, a FusedBatchNormReLU standing in for the run of layers it matched."""
    stages, i = [], 0
    while i < len(layers):
        stage = FusedBatchNormReLU.match(layers, i) if fuse else None
        stages.append((i, stage or layers[i]))
        i += stage.count if stage else 1
    return stages
