"""fastann.datasets: the strict IDX reader, the search order, downloads (from local file:// URLs: no network)."""
import gzip
import hashlib
import os
import urllib.error

import numpy as np
import pytest

from fastann import datasets
from fastann.datasets import _fetch, fashion_mnist, load_idx, mnist, save_idx

DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5, 2), (2, 1, 4, 3)])
def test_idx_roundtrip(tmp_path, rng, dtype, shape, compress):
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    p = tmp_path / ("x.idx.gz" if compress else "x.idx")
    save_idx(p, a)
    b = load_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    b[...] = 0  # a writeable copy, native byte order


def test_idx_header_bytes_are_big_endian(tmp_path):
    raw = bytes([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0x01, 0x02, 0xFF, 0xFE])  # int16 (2,1): 258, -2
    p = tmp_path / "be.idx"
    p.write_bytes(raw)
    np.testing.assert_array_equal(load_idx(p), np.array([[258], [-2]], dtype=np.int16))


def _valid_bytes():
    return bytes([0, 0, 0x08, 2, 0, 0, 0, 3, 0, 0, 0, 2]) + bytes(range(6))


@pytest.mark.parametrize("raw, message", [
    (b"", "too short"),
    (b"\x00\x00", "too short"),
    (bytes([1, 0, 8, 1, 0, 0, 0, 1, 7]), "bad magic"),
    (bytes([0, 3, 8, 1, 0, 0, 0, 1, 7]), "bad magic"),
    (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 7]), "unknown IDX element type 0x07"),
    (bytes([0, 0, 8, 0]), "ndim=0"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 1]), "truncated header"),
    (_valid_bytes()[:-1], "truncated"),                 # one data byte missing
    (_valid_bytes()[:12], "truncated"),                 # no data at all
    (_valid_bytes() + b"\x00", "trailing bytes"),       # one byte too many
    (bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + b"\x00" * 7, "truncated"),  # int32: 7 bytes for 2 elements
])
def test_idx_bad_files(tmp_path, raw, message):
    for compress in (False, True):
        p = tmp_path / f"bad{int(compress)}"
        p.write_bytes(gzip.compress(raw) if compress else raw)
        with pytest.raises(ValueError, match=message) as exc:
            load_idx(p)
        assert str(p) in str(exc.value)


def test_idx_corrupt_gzip(tmp_path):
    good = gzip.compress(_valid_bytes() * 50)
    p = tmp_path / "cut.gz"
    p.write_bytes(good[: len(good) // 2])  # a gzip stream cut in the middle
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        load_idx(p)
    p.write_bytes(good[:10] + bytes(b ^ 0xFF for b in good[10:]))  # garbage deflate data
    with pytest.raises(ValueError, match="gzip"):
        load_idx(p)


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nope")


def _write_small_dataset(directory, n_train=6, n_test=4, compress=True, rng=None):
    """Four IDX files shaped like a real dataset but with few images (SPEC is patched to match)."""
    rng = rng or np.random.default_rng(0)
    os.makedirs(directory, exist_ok=True)
    arrays = [rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8)]
    for stem, a in zip(_fetch.FILES, arrays):
        save_idx(os.path.join(directory, stem + (".gz" if compress else "")), a, compress=compress)
    return arrays


@pytest.fixture
def small_spec(monkeypatch, tmp_path):
    """A spec for a 6+4-image dataset with no system dirs, a private cache and no $FASTANN_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTANN_DATA", raising=False)
    return _fetch.DatasetSpec(name="tiny", base_url="file:///nonexistent/", sha256={}, n_train=6, n_test=4,
                              how_to_get="test instructions")


def _check_loaded(result, arrays):
    (xtr, ytr), (xte, yte) = result
    for got, want in zip((xtr, ytr, xte, yte), arrays):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("compress", [True, False])
def test_load_from_explicit_path(tmp_path, small_spec, compress):
    arrays = _write_small_dataset(tmp_path / "d", compress=compress)
    _check_loaded(_fetch.load(small_spec, path=tmp_path / "d", download=False), arrays)


def test_search_order(tmp_path, small_spec, monkeypatch):
    env_arrays = _write_small_dataset(tmp_path / "env" / "tiny", rng=np.random.default_rng(1))
    cache_arrays = _write_small_dataset(tmp_path / "cache" / "fastann" / "tiny", rng=np.random.default_rng(2))
    explicit = _write_small_dataset(tmp_path / "explicit", rng=np.random.default_rng(3))
    monkeypatch.setenv("FASTANN_DATA", str(tmp_path / "env"))
    _check_loaded(_fetch.load(small_spec, path=tmp_path / "explicit", download=False), explicit)
    _check_loaded(_fetch.load(small_spec, download=False), env_arrays)           # $FASTANN_DATA before cache
    monkeypatch.delenv("FASTANN_DATA")
    _check_loaded(_fetch.load(small_spec, download=False), cache_arrays)
    # a directory missing one of the four files does not count
    os.unlink(tmp_path / "explicit" / (_fetch.FILES[3] + ".gz"))
    _check_loaded(_fetch.load(small_spec, path=tmp_path / "explicit", download=False), cache_arrays)


def test_not_found_message(tmp_path, small_spec):
    with pytest.raises(FileNotFoundError) as exc:
        _fetch.load(small_spec, path=tmp_path / "nowhere", download=False)
    msg = str(exc.value)
    assert str(tmp_path / "nowhere") in msg and os.path.join(str(tmp_path / "cache"), "fastann", "tiny") in msg
    assert "test instructions" in msg


def test_wrong_shape_is_rejected(tmp_path, small_spec):
    _write_small_dataset(tmp_path / "d", n_train=5)  # labels/images of 5 where the spec says 6
    with pytest.raises(ValueError, match="expected uint8"):
        _fetch.load(small_spec, path=tmp_path / "d", download=False)


def _spec_with_local_urls(tmp_path, small_spec, corrupt_sha=False):
    """Put the official-looking .gz files in a 'server' directory reached by file:// URLs."""
    server = tmp_path / "server"
    arrays = _write_small_dataset(server)
    sha = {s: hashlib.sha256((server / (s + ".gz")).read_bytes()).hexdigest() for s in _fetch.FILES}
    if corrupt_sha:
        sha[_fetch.FILES[2]] = "0" * 64
    spec = _fetch.DatasetSpec(name="tiny", base_url=server.as_uri() + "/", sha256=sha, n_train=6, n_test=4)
    return spec, arrays


def test_download_checks_sha_and_writes_cache(tmp_path, small_spec):
    spec, arrays = _spec_with_local_urls(tmp_path, small_spec)
    _check_loaded(_fetch.load(spec), arrays)
    cache = tmp_path / "cache" / "fastann" / "tiny"
    assert sorted(os.listdir(cache)) == sorted(s + ".gz" for s in _fetch.FILES)  # no leftover temp files
    _check_loaded(_fetch.load(spec, download=False), arrays)  # found in the cache now


def test_download_bad_sha_keeps_nothing(tmp_path, small_spec):
    spec, _ = _spec_with_local_urls(tmp_path, small_spec, corrupt_sha=True)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        _fetch.load(spec)
    cache = tmp_path / "cache" / "fastann" / "tiny"
    left = os.listdir(cache)
    assert _fetch.FILES[2] + ".gz" not in left and not any(f.endswith(".part") for f in left)


def test_offline_error_says_where_it_looked(tmp_path, small_spec, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(_fetch.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as exc:
        _fetch.load(small_spec, path=tmp_path / "mine")
    msg = str(exc.value)
    assert "download" in msg and "no network" in msg and str(tmp_path / "mine") in msg
    assert "test instructions" in msg


def test_real_specs_are_complete():
    for mod in (mnist, fashion_mnist):
        assert set(mod.SPEC.sha256) == set(_fetch.FILES)
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in mod.SPEC.sha256.values())
    assert datasets.DATASETS["fashion-mnist"] is fashion_mnist and datasets.DATASETS["mnist"] is mnist


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_finds_debian_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("FASTANN_DATA", raising=False)
    assert _fetch.locate(fashion_mnist.SPEC, download=False)[0].startswith(DEBIAN_FASHION)
    (xtr, ytr), (xte, yte) = fashion_mnist.load_data(download=False)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert xtr.dtype == ytr.dtype == np.uint8
    np.testing.assert_array_equal(ytr[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])  # the published first labels
    assert np.bincount(ytr).tolist() == [6000] * 10 and np.bincount(yte).tolist() == [1000] * 10
