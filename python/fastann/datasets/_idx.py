"""The IDX file format of MNIST and Fashion-MNIST, read strictly.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE MNIST DATABASE"):

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions, ndim
    then        ndim sizes, each a big-endian uint32
    then        the data, prod(sizes) elements, big-endian, C order

A file may be gzip-compressed (recognised by its own magic bytes 0x1f 0x8b, not by the file name). Every
field is checked and the data must be EXACTLY prod(sizes) elements long: a truncated, padded or corrupt file
is a ValueError naming the path and what is wrong, never a garbage array.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

#: IDX element-type code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; a cut stream is EOFError
        raise ValueError(f"load_idx: {path}: corrupt or truncated gzip data ({exc})") from None


def load_idx(path) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a NumPy array.

    Args:
        path: a file path (str or os.PathLike).
    Returns:
        An array of the file's shape (e.g. (60000, 28, 28) for MNIST training images) and element type in
        native byte order (uint8 for MNIST / Fashion-MNIST images and labels).
    Raises:
        FileNotFoundError: no such file.
        ValueError: bad magic bytes, an unknown element-type code, ndim 0, or a data section that is
            shorter or longer than the header's sizes say (truncated / corrupt file); the message names
            the path and the problem.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"load_idx: {path}: file too short for an IDX header ({len(data)} bytes, need >= 4)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"load_idx: {path}: bad magic number: first two bytes are "
                         f"0x{data[0]:02x} 0x{data[1]:02x}, an IDX file starts with 0x00 0x00")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(f"load_idx: {path}: unknown IDX element type 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise ValueError(f"load_idx: {path}: IDX header says ndim=0")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"load_idx: {path}: truncated header: ndim={ndim} needs {header_len} bytes, "
                         f"file has {len(data)}")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize  # int64: no overflow for real sizes
    got = len(data) - header_len
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(f"load_idx: {path}: data section {what}: shape {shape} of {dtype.newbyteorder('=')} "
                         f"needs {expected} bytes after the {header_len}-byte header, found {got}")
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # native byte order, and a writeable copy


def save_idx(path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress`` or the name ends in '.gz').

    The inverse of :func:`load_idx`; used by the tests to make small synthetic files.
    Raises TypeError for an element type IDX cannot store, ValueError for a 0-d array.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    if array.dtype.newbyteorder("=") not in codes:
        raise TypeError(f"save_idx: IDX cannot store dtype {array.dtype}")
    if array.ndim == 0:
        raise ValueError("save_idx: array must have ndim >= 1")
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.endswith(".gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if compress else payload)
