"""fastann.ops: the pool family."""
from __future__ import annotations

__all__: list[str] = []
