"""fastann.ops: the norm family."""
from __future__ import annotations

__all__: list[str] = []
