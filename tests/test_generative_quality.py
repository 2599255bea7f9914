"""benchmarks/generative_quality.py: the Frechet distance and the class shares (pure NumPy; no torch)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import generative_quality as gq  # noqa: E402


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_sqrtm_psd_squares_back():
    rng = np.random.default_rng(0)
    s = random_spd(rng, 6)
    r = gq.sqrtm_psd(s)
    np.testing.assert_allclose(r @ r, s, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r, r.T, atol=1e-12)


def test_identical_gaussians_give_zero():
    rng = np.random.default_rng(1)
    mu, s = rng.standard_normal(8), random_spd(rng, 8)
    assert abs(gq.frechet_distance(mu, s, mu, s)) < 1e-9


def test_shifted_means_give_squared_shift():
    rng = np.random.default_rng(2)
    mu, s, d = rng.standard_normal(5), random_spd(rng, 5), rng.standard_normal(5)
    assert gq.frechet_distance(mu, s, mu + d, s) == pytest.approx(float(d @ d), rel=1e-9, abs=1e-9)


def test_diagonal_covariances_closed_form():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.1, 3.0, 7), rng.uniform(0.1, 3.0, 7)
    mu1, mu2 = rng.standard_normal(7), rng.standard_normal(7)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert gq.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_general_covariances_match_direct_formula():
    # tr((S1 S2)^{1/2}) from the eigenvalues of the (non-symmetric) product S1 S2: real and >= 0 for SPD S1, S2
    rng = np.random.default_rng(4)
    s1, s2 = random_spd(rng, 6), random_spd(rng, 6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    tr = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr)
    assert gq.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_singular_covariance_and_feature_stats():
    # 5 samples in 8 dimensions: a rank-4 covariance; the distance to itself stays ~0 and never NaN (the
    # square roots of the zero eigenvalues' rounding errors, ~1e-16, leave ~1e-8)
    f = np.random.default_rng(5).standard_normal((5, 8))
    mu, s = gq.feature_stats(f)
    assert mu.shape == (8,) and s.shape == (8, 8)
    np.testing.assert_allclose(s, np.cov(f, rowvar=False))
    assert abs(gq.frechet_distance(mu, s, mu, s)) < 1e-6 * np.trace(s)


def test_frechet_distance_shape_mismatch():
    with pytest.raises(ValueError, match="frechet_distance"):
        gq.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_class_shares():
    shares = gq.class_shares(np.array([0, 0, 1, 9, 9, 9, 9, 3]))
    np.testing.assert_allclose(shares, [0.25, 0.125, 0, 0.125, 0, 0, 0, 0, 0, 0.5])
    assert shares.sum() == pytest.approx(1.0)
    assert gq.class_shares(np.array([], np.int64)).sum() == 0


def test_tile_places_images_row_major():
    images = np.arange(6 * 2 * 3, dtype=np.float32).reshape(6, 2, 3)
    t = gq.tile(images, rows=2, cols=3)
    assert t.shape == (4, 9)
    np.testing.assert_array_equal(t[0:2, 3:6], images[1])
    np.testing.assert_array_equal(t[2:4, 0:3], images[3])
