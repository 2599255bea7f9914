"""Global settings that Keras keeps in ``keras.config``: the default image data format.

    fastann.config.image_data_format()                   # "channels_last" (Keras' default)
    fastann.config.set_image_data_format("channels_first")

Every image layer (``Conv2D``, the pooling layers, ``Flatten``, ...) created with ``data_format=None`` (the
default) reads ``image_data_format()`` when it is constructed, as Keras' layers do.
"""
from __future__ import annotations

__all__ = ["image_data_format", "set_image_data_format"]

_FORMATS = ("channels_last", "channels_first")
_image_data_format = "channels_last"


def image_data_format() -> str:
    """The default layout of images: "channels_last" (N, H, W, C) or "channels_first" (N, C, H, W)."""
    return _image_data_format


def set_image_data_format(data_format) -> None:
    """Set the default image layout of layers created afterwards: "channels_last" or "channels_first".
    ValueError naming the argument for any other value (Keras' check)."""
    global _image_data_format
    if not isinstance(data_format, str) or data_format.lower() not in _FORMATS:
        raise ValueError(f"set_image_data_format: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    _image_data_format = data_format.lower()
