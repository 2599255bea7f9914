"""fastann.ops: the optim family."""
from __future__ import annotations

__all__: list[str] = []
