"""The image arguments of the layers: ``data_format`` (Keras's, with ``fastann.config``'s default), the per-sample
shape as (C, H, W), Keras's padding names and TensorFlow's "same" split. ``fastann.layers.base`` re-exports
them for the layer families."""
from __future__ import annotations

from .. import config
from .._args.common import nonneg_int, pair

__all__ = ["DATA_FORMATS", "data_format_arg", "image_shape", "padding_arg", "same_pads"]

DATA_FORMATS = ("channels_last", "channels_first")


def data_format_arg(owner: str, data_format) -> str:
    """Keras' ``data_format`` argument: None -> ``fastann.config.image_data_format()``; "channels_last" or
    "channels_first" (any case) as given; anything else is a ValueError naming ``owner`` and the argument."""
    if data_format is None:
        return config.image_data_format()
    if isinstance(data_format, str) and data_format.lower() in DATA_FORMATS:
        return data_format.lower()
    raise ValueError(f"{owner}: data_format must be 'channels_last', 'channels_first' or None "
                     f"(fastann.config.image_data_format()), got {data_format!r}")


def image_shape(name: str, input_shape, data_format: str = "channels_first") -> tuple:
    """Per-sample shape in ``data_format`` -> (C, H, W): (H, W) is one channel; (H, W, C) for channels_last,
    (C, H, W) for channels_first; any other rank is a ValueError."""
    input_shape = tuple(input_shape)
    if len(input_shape) == 2:
        return (1,) + input_shape
    if len(input_shape) == 3:
        if data_format == "channels_last":
            return (input_shape[2], input_shape[0], input_shape[1])
        return input_shape
    form = "(N, H, W, C)" if data_format == "channels_last" else "(N, C, H, W)"
    raise ValueError(f"{name}: expects images {form} or (N, H, W) (one channel), got per-sample shape "
                     f"{input_shape}")


def padding_arg(name: str, padding, allow_int: bool):
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


def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's "same" padding along one axis: output ceil(n/s); the smaller half goes first."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2
