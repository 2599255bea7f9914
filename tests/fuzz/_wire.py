"""How a fuzz case crosses the process boundary: arrays as (raw memory, view recipe), everything else pickled.

An array argument is sent as the bytes of the memory block it views (its *root*) plus the recipe of the
view (byte offset, shape, byte strides, dtype, read-only flag). The worker rebuilds every root once per case
and every view on it with ``numpy.ndarray(buffer=...)``, so strided and negative-stride views, read-only
views, misaligned views and arrays sharing memory (aliasing) arrive exactly as the parent built them, with
freshly made dtype objects (not unpickled ones). Objects with a ``__cuda_array_interface__`` travel as
:class:`FakeDevice` descriptions.
"""
from __future__ import annotations

import numpy as np


class FakeDevice:
    """An object with a ``__cuda_array_interface__`` whose pointer must never be used: only calls that a
    binding must refuse are given one."""

    def __init__(self, shape, typestr="<f4", strides=None, readonly=False, ptr=0xDEAD0000):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (int(ptr), readonly),
                                         "strides": None if strides is None else tuple(strides), "version": 3}

    def __repr__(self):
        i = self.__cuda_array_interface__
        return f"FakeDevice(shape={i['shape']}, typestr={i['typestr']!r}, strides={i['strides']}, " \
               f"readonly={i['data'][1]}, ptr={i['data'][0]:#x})"


def root_of(a: np.ndarray) -> np.ndarray:
    r = a
    while isinstance(r.base, np.ndarray):
        r = r.base
    return r


def _extent(r: np.ndarray):
    """(start address, end address) of the memory an array views."""
    lo = hi = r.ctypes.data
    for n, s in zip(r.shape, r.strides):
        if n == 0:
            return lo, lo
        if s > 0:
            hi += (n - 1) * s
        else:
            lo += (n - 1) * s
    return lo, hi + r.itemsize


class Encoder:
    def __init__(self):
        self.roots: list[tuple[int, bytes]] = []  # (start address, bytes)
        self._ids: dict[int, int] = {}

    def _root(self, a: np.ndarray) -> tuple[int, int]:
        r = root_of(a)
        key = id(r)
        if key not in self._ids:
            lo, hi = _extent(r)
            raw = np.ctypeslib.as_array((np.ctypeslib.ctypes.c_uint8 * (hi - lo)).from_address(lo)) \
                if hi > lo else np.zeros(0, np.uint8)
            self._ids[key] = len(self.roots)
            self.roots.append((lo, bytes(raw)))
        i = self._ids[key]
        return i, a.ctypes.data - self.roots[i][0]

    def enc(self, x):
        if isinstance(x, np.ndarray) and not isinstance(x, np.generic):
            i, off = self._root(x)
            return ("__array__", i, off, tuple(x.shape), tuple(x.strides), x.dtype.str, not x.flags.writeable)
        if isinstance(x, tuple):
            return ("__tuple__", [self.enc(v) for v in x])
        if isinstance(x, list):
            return [self.enc(v) for v in x]
        if isinstance(x, dict):
            return {k: self.enc(v) for k, v in x.items()}
        return x


def encode(args, kwargs):
    """(roots, encoded args, encoded kwargs)."""
    e = Encoder()
    a, k = e.enc(list(args)), e.enc(dict(kwargs))
    return [raw for _, raw in e.roots], a, k


def make_roots(raw_roots):
    """Writable, 64-byte aligned copies of the roots (so a view keeps the misalignment its recipe says)."""
    out = []
    for raw in raw_roots:
        buf = np.empty(len(raw) + 64, np.uint8)
        pad = (-buf.ctypes.data) % 64
        r = buf[pad:pad + len(raw)]
        r[:] = np.frombuffer(raw, np.uint8)
        out.append(r)
    return out


class Pickled:
    """An argument sent as its pickle (the worker unpickles it), e.g. an array whose dtype object then
    comes from unpickling, as after multiprocessing or a saved model."""

    def __init__(self, obj):
        import pickle
        self.data = pickle.dumps(obj)


def dec(x, roots):
    if isinstance(x, Pickled):
        import pickle
        return pickle.loads(x.data)
    if isinstance(x, tuple) and x and x[0] == "__array__":
        _, i, off, shape, strides, dt, ro = x
        dtype = np.dtype(dt)
        if any(n == 0 for n in shape):
            a = np.empty(shape, dtype)
        else:
            a = np.ndarray(shape, dtype, buffer=roots[i], offset=off, strides=strides)
        if ro:
            a.flags.writeable = False
        return a
    if isinstance(x, tuple) and x and x[0] == "__tuple__":
        return tuple(dec(v, roots) for v in x[1])
    if isinstance(x, list):
        return [dec(v, roots) for v in x]
    if isinstance(x, dict):
        return {k: dec(v, roots) for k, v in x.items()}
    return x
