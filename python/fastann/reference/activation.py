"""fastann.reference: the activation family in plain NumPy float64."""
from __future__ import annotations

import numpy as np

__all__: list[str] = []
