"""fastann.ops: the gemm family."""
from __future__ import annotations

__all__: list[str] = []
