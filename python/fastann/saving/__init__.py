"""Whole models in Keras 3's ``.keras`` format, weights in Keras's ``.weights.h5`` layout (``keras.saving``).

    model.save("model.keras")
    model = fastann.saving.load_model("model.keras")      # also fastann.models.load_model
    model.fit(x, y, epochs=4, initial_epoch=2)            # continues exactly where the saved run stopped

A ``.keras`` file is a zip of ``metadata.json`` (Keras version, date), ``config.json`` (the model in Keras's
serialization schema: ``module``, ``class_name``, ``config``, ``registered_name``, ``build_config``,
``compile_config``) and ``model.weights.h5`` (every weight in Keras's layout, ``layers/<key>/vars/<i>``), so
Keras 3 opens a fastann model and fastann opens a Keras model built from the layers it has. fastann adds
what an exact resume needs where Keras does not look: the zip member ``fastann/state.json`` (random state,
optimizer step count) and the h5 group ``fastann/optimizer`` (the optimizer's arrays).

Loading never runs code from the file and never trusts it: no pickle, class names resolve only through
fastann's registry (a user's class only through an explicit ``custom_objects``), Python functions in a
config are refused, every weight's shape and dtype is checked against the rebuilt model, unknown and
missing entries are errors, HDF5 soft/external links and external data are refused, zip member names and
sizes are checked before anything is decompressed, and nothing is extracted to disk. docs/saving.md
describes the format and the rules.
"""
from __future__ import annotations

from .. import _serialize
from ._model_io import load_model, register_model_class, save_model

__all__ = ["load_model", "save_model", "serialize_keras_object", "deserialize_keras_object",
           "register_model_class"]


def serialize_keras_object(obj):
    """``keras.saving.serialize_keras_object``: a fastann object as Keras's JSON-ready dict."""
    return _serialize.serialize(obj)


def deserialize_keras_object(config, custom_objects=None):
    """``keras.saving.deserialize_keras_object``: the object a serialized dict describes, resolved only
    through fastann's registry and ``custom_objects``. ValueError for anything else."""
    return _serialize.deserialize(config, custom_objects, None, "deserialize_keras_object")
