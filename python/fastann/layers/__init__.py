"""Layers with Keras names and arguments (``keras.layers``), each with an explicit forward and backward.

One module per family, as Keras lays them out; each family module imports only ``base`` (the ``Layer``
class and the helpers they share), never another family:

    base            Layer, InputLayer, Input, ACTIVATIONS, shared activation and image helpers
    symbolic        KerasTensor and Node, the graph of the Functional API (imports nothing of fastann)
    core            Dense
    activation      Activation, LeakyReLU, ELU, PReLU
    regularization  Dropout, SpatialDropout2D, GaussianNoise
    merging         Add, Subtract, Multiply, Average, Maximum, Concatenate (lists of inputs)
    reshaping       Flatten, Reshape, UpSampling2D, ZeroPadding2D, Cropping2D
    convolutional   Conv2D, DepthwiseConv2D, Conv2DTranspose
    pooling         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D
    normalization   BatchNormalization, LayerNormalization
    preprocessing   Rescaling, Normalization
    recurrent       SimpleRNN, LSTM, GRU
    embedding       Embedding, Masking (the layers that make masks for padded sequences)
    wrappers        Bidirectional, TimeDistributed

``fastann.layers.X`` names every public layer. How a layer works (lazy build, forward/backward, devices) and
the image layout (Keras's ``data_format``, channels_last by default; (N, H, W) is one channel) are described
in ``fastann.layers.base``.
"""
from __future__ import annotations

from .activation import ELU, Activation, LeakyReLU, PReLU
from .base import ACTIVATIONS, Input, InputLayer, KerasTensor, Layer, link_masks
from .convolutional import Conv2D, Conv2DTranspose, DepthwiseConv2D
from .core import Dense
from .embedding import Embedding, Masking
from .normalization import BatchNormalization, LayerNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D
from .preprocessing import Normalization, Rescaling
from .recurrent import GRU, LSTM, SimpleRNN
from .merging import Add, Average, Concatenate, Maximum, Multiply, Subtract
from .regularization import Dropout, GaussianNoise, SpatialDropout2D
from .reshaping import Cropping2D, Flatten, Reshape, UpSampling2D, ZeroPadding2D
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "LeakyReLU", "ELU",
           "Dropout", "Flatten", "Reshape", "ACTIVATIONS",
           "Conv2D", "DepthwiseConv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNormalization", "UpSampling2D", "ZeroPadding2D",
           "Cropping2D", "SpatialDropout2D",
           "SimpleRNN", "LSTM", "GRU", "PReLU", "LayerNormalization", "Rescaling", "Normalization",
           "Embedding", "Masking", "Bidirectional", "TimeDistributed",
           "KerasTensor", "GaussianNoise", "Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate"]
