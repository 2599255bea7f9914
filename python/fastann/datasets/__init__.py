"""fastann.datasets: MNIST and Fashion-MNIST as uint8 NumPy arrays, like ``keras.datasets``.

    (x_train, y_train), (x_test, y_test) = fastann.datasets.fashion_mnist.load_data()

``load_idx(path)`` reads any IDX file (raw or gzip), strictly: a corrupt or truncated file is a ValueError.
"""
from . import fashion_mnist, mnist
from ._idx import load_idx, save_idx

#: Dataset name (as the CLI spells it) -> module with load_data().
DATASETS = {"mnist": mnist, "fashion-mnist": fashion_mnist, "fashion_mnist": fashion_mnist}

__all__ = ["DATASETS", "fashion_mnist", "load_idx", "mnist", "save_idx"]
