"""``python -m fastann ...``: the same as the ``fastann`` command (see fastann.cli)."""
import sys

from .cli import main

sys.exit(main())
