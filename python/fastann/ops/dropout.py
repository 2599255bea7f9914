"""fastann.ops: the dropout family."""
from __future__ import annotations

__all__: list[str] = []
