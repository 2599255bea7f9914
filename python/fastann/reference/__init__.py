"""fastann.reference: every fastann op in plain NumPy float64, forward and backward.

This is the executable specification: tests and benchmarks compare the kernels against it, and it is the
version to read first. Each function computes in float64 whatever dtype comes in and returns float64.
It validates arguments like fastann.ops does, so the same bad input raises the same exception class.
"""
from .gemm import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .layer_norm import *  # noqa: F401,F403
from .prelu import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
