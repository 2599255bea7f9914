"""The ``.keras`` zip: writing it atomically, and reading it without trusting it.

Reading checks, before anything is decompressed: the file is a zip; the member names are exactly the ones a
``.keras`` file has (``metadata.json``, ``config.json``, ``model.weights.h5``, and fastann's
``fastann/state.json``) with no path in them that could leave the archive (absolute, ``..``, backslashes)
and no duplicates; each member's declared size is within its bound and its compression ratio plausible (a
decompression bomb is refused from its header); members are read into memory in bounded chunks (a header
that lies about the size stops at the bound), never extracted to disk. Every failure is a ValueError naming
the file and the member.
"""
from __future__ import annotations

import io
import os
import tempfile
import zipfile

__all__ = ["MEMBERS", "MAX_SIZES", "write_archive", "read_archive"]

#: Member name -> required (True) or optional (False).
MEMBERS = {"metadata.json": True, "config.json": True, "model.weights.h5": True, "fastann/state.json": False}
#: Largest uncompressed size accepted per member, in bytes (the weights: 4 GiB).
MAX_SIZES = {"metadata.json": 1 << 20, "config.json": 64 << 20, "model.weights.h5": 4 << 30,
             "fastann/state.json": 16 << 20}
#: Largest uncompressed/compressed ratio accepted for a member over 1 MiB (zlib's own limit is about 1032).
MAX_RATIO = 200
_CHUNK = 1 << 20


def write_archive(filepath, members: dict) -> None:
    """Write ``members`` ({name: bytes}) as a zip at ``filepath``: to a temporary file in the same directory,
    then renamed over it (atomic; the temporary file is removed on failure). JSON members are deflated, the
    HDF5 weights stored (as Keras writes them)."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(suffix=".keras.part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as z:
            for name, data in members.items():
                method = zipfile.ZIP_STORED if name.endswith(".h5") else zipfile.ZIP_DEFLATED
                z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=method)
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _bad_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in name or "\x00" in name


def read_archive(filepath) -> dict:
    """The members of the ``.keras`` file at ``filepath`` as {name: bytes}, after the checks of the module
    docstring. ValueError naming the file and what is wrong."""
    name = os.fspath(filepath)
    try:
        z = zipfile.ZipFile(name, "r")
    except zipfile.BadZipFile as e:
        raise ValueError(f"load_model: {name!r} is not a .keras file (not a zip archive, or truncated: {e})") from None
    except OSError as e:
        raise ValueError(f"load_model: cannot read {name!r}: {e}") from None
    with z:
        infos = z.infolist()
        if len(infos) > 2 * len(MEMBERS):
            raise ValueError(f"load_model: {name!r} has {len(infos)} members; a .keras file has at most "
                             f"{len(MEMBERS)}")
        seen = set()
        for info in infos:
            if _bad_name(info.filename):
                raise ValueError(f"load_model: {name!r} has a member with a path outside the archive "
                                 f"({info.filename!r}); refused")
            if info.filename in seen:
                raise ValueError(f"load_model: {name!r} has the member {info.filename!r} twice")
            seen.add(info.filename)
            if info.filename not in MEMBERS:
                raise ValueError(f"load_model: {name!r} has an unknown member {info.filename!r} (a .keras file "
                                 f"holds {', '.join(MEMBERS)})")
            limit = MAX_SIZES[info.filename]
            if info.file_size > limit:
                raise ValueError(f"load_model: {name!r}: member {info.filename!r} declares {info.file_size} "
                                 f"bytes, over the limit of {limit}")
            if info.file_size > _CHUNK and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise ValueError(f"load_model: {name!r}: member {info.filename!r} expands {info.compress_size} "
                                 f"bytes to {info.file_size} (ratio over {MAX_RATIO}): refused as a "
                                 f"decompression bomb")
            if info.flag_bits & 0x1:
                raise ValueError(f"load_model: {name!r}: member {info.filename!r} is encrypted")
        missing = [m for m, required in MEMBERS.items() if required and m not in seen]
        if missing:
            raise ValueError(f"load_model: {name!r} lacks {', '.join(missing)}: not a complete .keras file")
        out = {}
        for info in infos:
            out[info.filename] = _read_member(z, info, name)
        return out


def _read_member(z, info, name) -> bytes:
    limit = min(info.file_size, MAX_SIZES[info.filename])
    buf = io.BytesIO()
    try:
        with z.open(info) as f:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                buf.write(chunk)
                if buf.tell() > limit:
                    raise ValueError(f"load_model: {name!r}: member {info.filename!r} expands past its declared "
                                     f"size {info.file_size}; refused")
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as e:
        raise ValueError(f"load_model: {name!r}: member {info.filename!r} is corrupt or truncated ({e})") from None
    except Exception as e:  # zlib.error and the like: a damaged stream
        if isinstance(e, ValueError) and str(e).startswith("load_model"):
            raise
        raise ValueError(f"load_model: {name!r}: member {info.filename!r} is corrupt ({type(e).__name__}: {e})") \
            from None
    return buf.getvalue()
