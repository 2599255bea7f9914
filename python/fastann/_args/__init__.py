"""Argument checks shared by :mod:`fastann.ops` and :mod:`fastann.reference` (private).

One module per kernel family (gemm, activation, softmax, loss, dropout, optim, conv, pool, norm) and
``common`` for what they all use. Both layers import from here and never from each other, so the same bad
input raises the same exception class, with the same message, from the kernels and from the reference.
"""
