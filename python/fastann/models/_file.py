"""Whole-model files and configs of the models (``save``, ``get_config``, ``from_config``), delegated to
``fastann.saving``; a mixin so the model classes stay small."""
from __future__ import annotations

from .. import saving
from ..saving import _model_io

__all__ = ["ModelFileMixin"]


class ModelFileMixin:
    """``save`` / ``get_config`` / ``from_config`` for a model class (Keras's ``Model`` methods)."""

    #: Keras writes its models under the module "keras" (``fastann._serialize``).
    _KERAS_MODULE = "keras"
    #: ``fastann._serialize.deserialize`` hands a model's config to ``from_config`` as it is (with
    #: custom_objects): the model deserializes its layers itself.
    _RAW_CONFIG = True

    def get_config(self) -> dict:
        """Keras's model config (``fastann.saving``): name, trainable, dtype, the layers as serialized objects
        (the InputLayer included), build_input_shape, and fastann's seed. ``from_config`` rebuilds the model
        (built when the config gives its input shape, weights freshly initialized)."""
        return _model_io.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model ``config`` describes; ValueError naming what is wrong."""
        return _model_io.model_from_config(cls, config, custom_objects, f"{cls.__name__}.from_config")

    def save(self, filepath, overwrite=True, zipped=None, **kwargs) -> None:
        """Write the whole model (config, weights, compile config, optimizer and random state) as Keras 3's
        ``.keras`` file (``fastann.saving``); ``fastann.models.load_model`` reads it back and Keras 3 opens
        it. ValueError for a name not ending in .keras, an unbuilt model, or overwrite=False over an existing
        file; zipped=False and other keywords are NotImplementedError."""
        if zipped not in (None, True):
            raise NotImplementedError(f"{type(self).__name__}.save: fastann writes zipped .keras files only, got "
                                      f"zipped={zipped!r}")
        if kwargs:
            raise NotImplementedError(f"{type(self).__name__}.save: fastann does not implement the arguments "
                                      f"{sorted(kwargs)}")
        saving.save_model(self, filepath, overwrite=overwrite)
