"""Models (``keras.models``): ``Sequential``, a linear stack of layers.

    sequential  the Sequential class: construction, build, device moves, compile, fit/evaluate/predict,
                weights
    _data       input checks and casts, the validation split, mini-batches (host-to-device feeding)
    _trainer    the one batch loop fit, evaluate and predict share, and their steps
    _fusion     runs of layers executed as one fused kernel (BatchNormalization -> ReLU [-> MaxPooling2D])
    _summary    the summary table
    _saving     weight files: .npz (fastann's), the suffix rules; .weights.h5 and .keras are fastann.saving's
    _keras      Keras' argument conventions: unimplemented arguments, verbose, get_layer, compile's metrics
"""
from __future__ import annotations

from ..saving import load_model, register_model_class
from .sequential import Sequential

register_model_class(Sequential)

__all__ = ["Sequential", "load_model"]
