"""Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747): 70000 28x28 grey images of 10 clothing classes.

Debian and Ubuntu ship the official files in the package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``): that copy's .gz files differ from the download only in the gzip
header (Debian strips the stored file name and timestamp); the IDX data inside is the same. Otherwise the
files come from Zalando's official S3 bucket, checked against the SHA-256 published in tensorflow/datasets
(``tensorflow_datasets/url_checksums/fashion_mnist.txt``).

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag,
9 Ankle boot.
"""
from __future__ import annotations

from ._fetch import DatasetSpec, load

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

SPEC = DatasetSpec(
    name="fashion-mnist",
    base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    sha256={
        "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    how_to_get="on Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist`",
)


def load_data(path=None, download: bool = True):
    """Load Fashion-MNIST like ``keras.datasets.fashion_mnist.load_data()``.

    Args:
        path: optional directory holding the four IDX files (``train-images-idx3-ubyte[.gz]`` ...);
            searched first, before ``$FASTANN_DATA/fashion-mnist/``, ``~/.cache/fastann/fashion-mnist/``
            and Debian's ``/usr/share/datasets/fashion-mnist/``.
        download: fetch the official files into the cache when no directory has them.
    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 arrays of shapes (60000, 28, 28), (60000,),
        (10000, 28, 28), (10000,); pixels 0..255, labels 0..9 (see CLASS_NAMES).
    Raises:
        FileNotFoundError: the files are nowhere and could not be downloaded (the message lists where it
            looked and how to install them); ValueError: a corrupt or truncated file, or a download with
            the wrong SHA-256.
    """
    return load(SPEC, path, download)
