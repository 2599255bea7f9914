"""MNIST handwritten digits (LeCun, Cortes, Burges 1998): 60000 training and 10000 test 28x28 grey images.

There is no Debian package for the digits, so unless the files are in one of the search directories
(see :mod:`fastann.datasets._fetch`), they are downloaded from the mirror Keras and TensorFlow Datasets use,
``https://storage.googleapis.com/cvdf-datasets/mnist/``, and checked against the SHA-256 published in
tensorflow/datasets (``tensorflow_datasets/url_checksums/mnist.txt``).
"""
from __future__ import annotations

from ._fetch import DatasetSpec, load

SPEC = DatasetSpec(
    name="mnist",
    base_url="https://storage.googleapis.com/cvdf-datasets/mnist/",
    sha256={
        "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    how_to_get="run once with network access (fastann downloads and caches them)",
)


def load_data(path=None, download: bool = True):
    """Load MNIST digits like ``keras.datasets.mnist.load_data()``.

    Args:
        path: optional directory holding the four IDX files (``train-images-idx3-ubyte[.gz]`` ...);
            searched first, before ``$FASTANN_DATA/mnist/`` and ``~/.cache/fastann/mnist/``.
        download: fetch the official files into the cache when no directory has them.
    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 arrays of shapes (60000, 28, 28), (60000,),
        (10000, 28, 28), (10000,); pixels 0..255, labels 0..9.
    Raises:
        FileNotFoundError: the files are nowhere and could not be downloaded (the message lists where it
            looked); ValueError: a corrupt or truncated file, or a download with the wrong SHA-256.
    """
    return load(SPEC, path, download)
