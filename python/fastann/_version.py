"""``fastann.__version__``: the installed distribution's version, or the source tree's when not installed."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("fastann")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"
