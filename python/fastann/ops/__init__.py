"""fastann.ops: the functional kernels, NumPy (or CuPy) arrays in and out.

Names and arguments follow ``torch.nn.functional``; the backward of ``f`` is ``f_backward(grad_output,
<what it needs>)`` and returns the gradients of ``f``'s differentiable inputs in order. Each function checks
its arguments (TypeError / ValueError naming the problem), picks the backend from the array type (NumPy ->
fastann._cpu, CuPy -> fastann._cuda), allocates the outputs and calls one compiled kernel.
One module per kernel family: gemm, activation, softmax, loss, dropout, optim, conv, pool, norm, layer_norm, prelu,
rnn, embedding.
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
