"""driftlab.testing.strategies: documented ranges hold, and the strategies drive a property test
of driftlab's own estimator against the dense reference."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftlab.distributions import GaussianMixture
from driftlab.fields import batch_drift
from driftlab.kernels import Laplace, RadialKernel
from driftlab.testing import _references as R
from driftlab.testing import strategies as dst


@given(dst.point_sets(min_points=2, max_points=5, min_dim=3, max_dim=4, scale=10.0))
def test_point_sets_ranges(y):
    assert y.dtype == np.float64 and 2 <= y.shape[0] <= 5 and 3 <= y.shape[1] <= 4
    assert np.isfinite(y).all() and np.abs(y).max() <= 20.0


@given(dst.drift_problems(max_dim=16, max_points=8))
def test_drift_problems_share_a_dimension_and_have_unequal_sets(p):
    x, yp, yn = p
    assert x.shape[1] == yp.shape[1] == yn.shape[1] and 1 <= x.shape[1] <= 16
    assert yp.shape[0] != yn.shape[0]


@given(dst.temperatures(data_scale=2.0))
def test_temperatures_range(t):
    assert 2e-3 * (1 - 1e-12) <= t <= 2e2 * (1 + 1e-12)


@given(dst.kernels(min_scale=0.5, max_scale=2.0))
def test_kernels_are_radial_kernels_in_range(k):
    assert isinstance(k, RadialKernel)


@given(dst.gaussian_mixture_pairs(dim=3))
def test_mixture_pairs(pq):
    p, q = pq
    assert isinstance(p, GaussianMixture) and p.dim == q.dim == 3


@given(dst.equal_law_samples(dim=2, max_points=6))
def test_equal_law_samples_have_unequal_sizes(s):
    yp, yn = s
    assert yp.shape[0] != yn.shape[0] and yp.shape[1] == yn.shape[1] == 2


def test_invalid_ranges_raise():
    with pytest.raises(ValueError, match="points"):
        dst.point_sets(min_points=5, max_points=2)
    with pytest.raises(ValueError, match="unequal"):
        dst.equal_law_samples(min_points=3, max_points=3)
    with pytest.raises(ValueError, match="min_relative"):
        dst.temperatures(min_relative=0.0)


@given(dst.drift_problems(max_dim=8, max_points=12), st.floats(-3, 2))
def test_property_batch_drift_alg2_matches_the_reference(problem, log_rel):
    """The use the strategies are for. Tolerance: the suite's own, eps (1 + L)(64 + 4 (m+ + m- + d))
    (round-off of weighted logits of size L and of the sums)."""
    x, yp, yn = problem
    t = 10.0**log_rel * max(float(np.abs(np.concatenate([x, yp, yn])).max()), 1e-3)  # hypothesis shrinks to all-zero sets
    want, L = R.alg2_reference(x, yp, yn, t)
    got = batch_drift(x, yp, yn, Laplace(t), method="alg2", mask_self=False)
    tol = np.finfo(np.float64).eps * (1 + L) * (64 + 4 * (yp.shape[0] + yn.shape[0] + x.shape[1]))
    scale = max(float(np.abs(want).max()), np.finfo(np.float64).tiny / np.finfo(np.float64).eps)
    err = float(np.abs(got - want).max()) / scale
    assert err <= tol, f"n={x.shape} m+={yp.shape} m-={yn.shape} t={t:.3g}: rel err {err:.3e} > {tol:.3e}"
