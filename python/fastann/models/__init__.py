"""Models (``keras.models``): ``Model`` (the Functional API: any graph of layers) and ``Sequential``.

    functional  Model(inputs, outputs): a directed acyclic graph of layers from symbolic inputs
    sequential  Sequential: a chain of layers (a Model), with its plan of stages
    _model      what every model shares: compile, fit/evaluate/predict, the step API, devices, weights
    _nested     a model as a layer of another model (parameters shared, not copied)
    _graph      the functional graph: validation, build, forward in topological order, backward with
                gradient sums at fan-out; the loss of several outputs
    _steps      train_on_batch / test_on_batch / predict_on_batch and the custom-loop ``gradients``
    _data       input checks and casts, the validation split, mini-batches (host-to-device feeding)
    _trainer    the one batch loop fit, evaluate and predict share, and their steps
    _fusion     runs of layers executed as fused kernels (BatchNormalization -> ReLU [-> MaxPooling2D],
                Conv2D(relu) -> MaxPooling2D)
    _summary    the summary table
    _saving     weight files: .npz (fastann's), the suffix rules; .weights.h5 and .keras are fastann.saving's
    _keras      Keras' argument conventions: unimplemented arguments, verbose, get_layer, compile's metrics
"""
from __future__ import annotations

from ..saving import load_model, register_model_class
from .functional import Model
from .sequential import Sequential

register_model_class(Sequential)
register_model_class(Model)
register_model_class(Model, "Functional")  # Keras's class name of a functional model

__all__ = ["Model", "Sequential", "load_model"]
