"""Datasets and two-sample metrics of driftlab.training ."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.stats import norm

from conftest import assert_close
from driftlab.training import (DATASETS, energy_distance, get_dataset, mmd2, mode_coverage, raw_drift_energy,
                               wasserstein2)

@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny problems: one torch thread is several times faster on a loaded 2-core machine."""
    from driftlab.training import torch_threads

    with torch_threads(1):
        yield



@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets_seeded_shapes_and_bounds(name):
    ds = get_dataset(name)
    a, b = ds.sample(500, rng=3), ds.sample(500, rng=3)
    assert a.shape == (500, ds.dim) and a.dtype == np.float64
    assert np.array_equal(a, b), "same seed must give the same samples"
    assert not np.array_equal(a, ds.sample(500, rng=4))
    assert np.isfinite(a).all()
    if name in ("swiss-roll", "checkerboard", "two-moons"):
        # noiseless supports lie in [-1, 1]^2; noise <= 0.05 -> beyond 1.3 is a > 6 sigma event
        assert np.abs(a).max() < 1.3


def test_checkerboard_occupies_the_even_cells():
    x = get_dataset("checkerboard", noise=0.0).sample(4000, rng=0)
    i = np.floor((x[:, 0] + 1.0) * 2).astype(int)
    j = np.floor((x[:, 1] + 1.0) * 2).astype(int)
    assert ((i + j) % 2 == 0).all()
    counts = np.bincount(4 * i + j, minlength=16)
    # 8 cells, 500 expected each; binomial sd ~ 21 -> 120 is > 5 sd
    assert np.all(np.abs(counts[counts > 0] - 500) < 120) and (counts > 0).sum() == 8


def test_swiss_roll_noiseless_on_the_curve():
    x = get_dataset("swiss-roll", noise=0.0).sample(1000, rng=0)
    r = np.linalg.norm(x, axis=1) * 4.5 * math.pi  # = t
    theta = np.arctan2(x[:, 1], x[:, 0])
    assert_close(np.cos(theta), np.cos(r), atol=1e-9, what="angle equals radius parameter (float64 round-off)")
    assert r.min() >= 0.5 * math.pi - 1e-9 and r.max() <= 4.5 * math.pi + 1e-9


def test_dataset_bad_input():
    with pytest.raises(ValueError, match="data"):
        get_dataset("nope")
    with pytest.raises(TypeError, match="data"):
        get_dataset(3)
    with pytest.raises(ValueError, match="noise"):
        get_dataset("swiss-roll", noise=-1.0)
    with pytest.raises(ValueError, match="n"):
        get_dataset("two-moons").sample(-1)


def _brute_energy(x, y):
    n, m = len(x), len(y)
    dxy = np.mean([np.linalg.norm(a - b) for a in x for b in y])
    dxx = sum(np.linalg.norm(x[i] - x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    dyy = sum(np.linalg.norm(y[i] - y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    return 2 * dxy - dxx - dyy


@given(st.integers(2, 9), st.integers(2, 9), st.integers(1, 3), st.integers(0, 10**6))
def test_energy_and_mmd_match_brute_force(n, m, d, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.3
    # independent double-loop implementations; float64 sums of <= 81 terms: round-off ~1e-14
    assert_close(energy_distance(x, y), _brute_energy(x, y), rtol=1e-12, atol=1e-12, what="energy")
    h = 0.7
    k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    exy = np.mean([k(a, b) for a in x for b in y])
    exx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    eyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    assert_close(mmd2(x, y, bandwidths=(h,)), exx + eyy - 2 * exy, rtol=1e-12, atol=1e-13, what="mmd2")
    # symmetry in the two arguments
    assert_close(energy_distance(y, x), energy_distance(x, y), rtol=1e-12, atol=1e-13, what="symmetry")


def test_energy_and_mmd_against_gaussian_closed_forms():
    # X ~ N(0,1), Y ~ N(mu,1): X - Y ~ N(-mu, 2);
    # E|Z| = s sqrt(2/pi) exp(-mu^2/(2 s^2)) + mu (1 - 2 Phi(-mu/s)), s = sqrt(2); E|X - X'| = 2/sqrt(pi)
    mu, s = 0.5, math.sqrt(2.0)
    exy = s * math.sqrt(2 / math.pi) * math.exp(-mu**2 / (2 * s * s)) + mu * (1 - 2 * norm.cdf(-mu / s))
    ed_exact = 2 * exy - 4 / math.sqrt(math.pi)
    # Gaussian kernel h: E k = (h^2/(h^2 + 2))^(1/2) exp(-mu^2 / (2 (h^2 + 2)))
    h = 1.0
    c = math.sqrt(h * h / (h * h + 2))
    mmd_exact = 2 * c - 2 * c * math.exp(-mu**2 / (2 * (h * h + 2)))
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((1000, 1)), rng.standard_normal((1000, 1)) + mu
    # Both estimators are unbiased (U-statistics; 400 repetitions with n=200/300 gave
    # 0.1380 +- 0.0026 vs 0.1396 and 0.0463 +- 0.0009 vs 0.0471). At n = m = 1000 their
    # standard deviations over 30 seeds were 0.021 and 0.0073; tolerance = 4 sd.
    assert_close(energy_distance(x, y), ed_exact, atol=4 * 0.021, what="energy distance vs closed form")
    assert_close(mmd2(x, y, bandwidths=(h,)), mmd_exact, atol=4 * 0.0073, what="MMD^2 vs closed form")


@given(st.integers(2, 40), st.integers(0, 10**6))
def test_w2_one_dimensional_sorting_oracle(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.exponential(size=n)
    # 1-D, equal sizes: the monotone rearrangement is optimal for convex costs (exact oracle)
    exact = math.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2))
    assert_close(wasserstein2(x, y), exact, rtol=1e-9, atol=1e-12, what="W2 1-D")


def test_w2_brute_force_permutations_2d():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)) + 1.0
    # for equal uniform weights an optimal plan is a permutation (Birkhoff): enumerate all 720
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    best = min(cost[np.arange(6), list(p)].mean() for p in itertools.permutations(range(6)))
    assert_close(wasserstein2(x, y), math.sqrt(best), rtol=1e-10, what="W2 vs brute force")
    assert wasserstein2(x, x) < 1e-12


def test_mode_coverage_counts():
    modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    x = np.array([[0.1, 0.0]] * 9 + [[9.9, 0.0]])
    cov = mode_coverage(x, modes, min_share=0.25)
    assert cov["counts"] == [9, 1] and cov["covered"] == 1  # 1 < 0.25 * 0.5 * 10
    assert mode_coverage(x, modes, min_share=0.2)["covered"] == 2
    # samples farther than max_distance from every mode count for none
    far = np.array([[5.0, 0.0]] * 10)
    assert mode_coverage(far, modes)["counts"] == [10, 0]  # equidistant: argmin takes the first mode
    assert mode_coverage(far, modes, max_distance=1.0)["counts"] == [0, 0]


def test_raw_drift_energy_positive_when_shifted():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(200, 2))
    e = raw_drift_energy(y + 3.0, y, temperatures=(0.2, 1.0))
    assert set(e) == {0.2, 1.0} and all(v > 0 for v in e.values())


def test_metric_bad_input():
    with pytest.raises(ValueError, match="dimension"):
        energy_distance(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="at least 2"):
        mmd2(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="bandwidths"):
        mmd2(np.zeros((3, 2)), np.ones((3, 2)), bandwidths=(-1.0,))
    with pytest.raises(ValueError, match="x"):
        wasserstein2(np.array([[np.nan]]), np.zeros((2, 1)))
