"""Unit and property tests of driftlab.theory's numeric cores (the ledger is in test_theory_ledger)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from conftest import assert_close
from driftlab.distributions import EmpiricalMeasure, GaussianMixture
from driftlab.theory import symbolic as S
from driftlab.theory.fisher import gaussian_mean_shift, reverse_fisher_closed
from driftlab.theory.identifiability import recover_difference_1d
from driftlab.theory.laplace import direct_empirical, fit_loglog, laplace_moments


def _measure(seed, n=7, d=3):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.0, n)
    return rng.normal(size=(n, d)), w / w.sum(), rng.normal(size=(2, d)) * 1.2 + 0.05


@given(seed=st.integers(0, 10_000), tau=st.floats(0.05, 5.0))
def test_laplace_moments_match_direct_sums(seed, tau):
    # trapezoid in log(sigma) converges exponentially: observed <= 1e-12; 1e-9 leaves margin for
    # log-sum-exp round-off at extreme tau
    pts, w, x = _measure(seed)
    mom = laplace_moments(EmpiricalMeasure(pts, w), x, tau)
    m, g, rb = direct_empirical(pts, w, x, tau)
    assert_close(mom.mean_shift, m, rtol=1e-9, atol=1e-12, what="mean shift")
    assert_close(mom.score, g, rtol=1e-9, atol=1e-12, what="grad log pi_k")
    assert_close(mom.rbar, rb, rtol=1e-9, what="rbar")
    # exact identities: |grad log pi_k| <= 1/tau; decomposition; companion form
    assert np.all(np.linalg.norm(mom.score, axis=1) <= 1 / tau * (1 + 1e-9))
    assert_close(mom.mean_shift, tau * mom.rbar[:, None] * mom.score + mom.residual, atol=1e-13, what="decomp")


@given(seed=st.integers(0, 10_000), angle=st.floats(0, 2 * np.pi), shift=st.floats(-5, 5))
def test_laplace_moments_translation_rotation_equivariant(seed, angle, shift):
    # rigid motions: m and g rotate, rbar is invariant (float64 round-off, 1e-10 with margin)
    pts, w, x = _measure(seed, d=2)
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    a = laplace_moments(GaussianMixture(pts, 0.3, w), x, 0.7)
    b = laplace_moments(GaussianMixture(pts @ R.T + shift, 0.3, w), x @ R.T + shift, 0.7)
    assert_close(b.mean_shift, a.mean_shift @ R.T, atol=1e-10, what="m rotates")
    assert_close(b.score, a.score @ R.T, atol=1e-10, what="g rotates")
    assert_close(b.rbar, a.rbar, rtol=1e-10, what="rbar invariant")


def test_laplace_moments_full_covariance_matches_spherical_rotated():
    # a full covariance that is a rotated diagonal one: the eigen-path must agree with the diag path
    R = np.array([[0.6, -0.8], [0.8, 0.6]])
    D = np.diag([0.5, 1.3])
    p_full = GaussianMixture([[0.0, 0.0]], (R @ D @ R.T)[None])
    p_diag = GaussianMixture([[0.0, 0.0]], np.diag(D)[None])
    x = np.array([[0.4, -1.1], [2.0, 0.3]])
    a = laplace_moments(p_full, x @ R.T, 0.6)
    b = laplace_moments(p_diag, x, 0.6)
    assert_close(a.mean_shift, b.mean_shift @ R.T, atol=1e-12, what="full vs diag")


def test_laplace_moments_validation():
    mu = EmpiricalMeasure([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="temperature"):
        laplace_moments(mu, [[0.1, 0.2]], -1.0)
    with pytest.raises(ValueError, match="x"):
        laplace_moments(mu, [[0.1, 0.2, 0.3]], 1.0)
    with pytest.raises(TypeError, match="measure"):
        laplace_moments(object(), [[0.1, 0.2]], 1.0)
    with pytest.raises(TypeError, match="n_grid"):
        laplace_moments(mu, [[0.1, 0.2]], 1.0, n_grid=1.5)


def test_fit_loglog_recovers_power_law_and_rejects_two_points():
    x = np.geomspace(1, 100, 6)
    f = fit_loglog(x, 3.0 * x**-1.5)
    assert abs(f.slope + 1.5) < 1e-12 and f.ci_low <= -1.5 <= f.ci_high
    with pytest.raises(ValueError):
        fit_loglog([1, 2], [1, 2])


def test_gaussian_mean_shift_is_tweedie_and_fisher_validates():
    # posterior-mean route vs score route: two closed forms, float64 round-off
    S_ = np.array([[0.7, 0.2], [0.2, 0.4]])
    mu = np.array([0.3, -0.2])
    x = np.random.default_rng(0).normal(size=(5, 2))
    g = GaussianMixture(mu[None], S_[None])
    assert_close(gaussian_mean_shift(mu, S_, x, 0.5), 0.25 * g.smooth(0.5).score(x), atol=1e-14, what="tweedie")
    with pytest.raises(ValueError, match="s"):
        reverse_fisher_closed(mu, S_, mu, S_, 0.0)
    assert reverse_fisher_closed(mu, S_, mu, S_, 0.5) == 0.0  # p = q: zero loss


def test_identifiability_zero_drift_gives_zero_difference():
    # V = 0 (p = q) must recover p - q = 0 to round-off (the map V -> p - q is linear at 0)
    p = GaussianMixture([[-1.0], [1.0]], 0.4)
    r = recover_difference_1d(p, p, 0.5)
    assert r["drift_linf"] < 1e-14
    assert np.max(np.abs(r["recovered"])) < 1e-12


def test_is_zero_behaves():
    x = sp.Symbol("x")
    assert S.is_zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)
    assert not S.is_zero(x - 1)
    assert not S.is_zero(sp.Matrix([0, x]))
    with pytest.raises(ValueError):
        S.laplace_fourier_radial(4)


@given(seed=st.integers(0, 10_000), tau=st.floats(0.1, 3.0))
def test_companion_identity_by_finite_differences(seed, tau):
    # m_Laplace = tau (tau + rbar) grad log pi_c, with grad log pi_c by central differences of the
    # direct companion-kernel sum (h = 1e-5: truncation ~h^2/tau^2 ~ 1e-9, round-off ~eps/h ~ 1e-11);
    # 1e-6 relative leaves margin, while dropping the "+ tau" changes the result at O(1)
    pts, w, x = _measure(seed)
    m, _, rb = direct_empirical(pts, w, x, tau)

    def log_pic(z):
        r = np.linalg.norm(pts[None] - z[:, None], axis=-1)
        return np.log(np.sum(w * (tau + r) * np.exp(-r / tau), axis=1))

    h = 1e-5
    grad = np.stack([(log_pic(x + h * e) - log_pic(x - h * e)) / (2 * h) for e in np.eye(x.shape[1])], axis=1)
    assert_close(m, tau * (tau + rb)[:, None] * grad, rtol=1e-6, atol=1e-9, what="companion identity")


@given(seed=st.integers(0, 10_000), s=st.floats(0.2, 3.0))
def test_batch_mean_shift_is_s2_kde_score(seed, s):
    # Tweedie for empirical measures: the finite-sum Gaussian mean shift (driftlab.fields) equals
    # s^2 x the Gaussian-KDE score (GaussianMixture.score), two independent float64 codes: 1e-10
    from driftlab.fields import batch_mean_shift
    from driftlab.kernels import Gaussian

    pts, w, x = _measure(seed, n=9, d=2)
    m = batch_mean_shift(x, pts, Gaussian(s), weights=w)
    ref = s * s * EmpiricalMeasure(pts, w).smooth(s).score(x)
    assert_close(m, ref, rtol=1e-10, atol=1e-12, what="Tweedie (empirical)")


def test_gaussian_flow_functions_refuse_invalid_input_by_name():
    from driftlab.theory.fisher import gaussian_flow_euler_moments, gaussian_flow_ode, particle_flow

    mu, S_ = np.zeros(2), np.eye(2)
    bad_cov = {"non-symmetric": np.array([[1.0, 0.5], [0.0, 1.0]]),
               "indefinite": np.array([[1.0, 2.0], [2.0, 1.0]]),
               "non-finite": np.array([[1.0, np.nan], [np.nan, 1.0]])}
    for what, C in bad_cov.items():  # each used to give a plausible-looking flow
        with pytest.raises(ValueError, match="covariance"):
            gaussian_flow_euler_moments(mu, C, mu, S_, 0.5, 0.1, 3)
        with pytest.raises(ValueError, match="covariance"):
            gaussian_flow_euler_moments(mu, S_, mu, C, 0.5, 0.1, 3)
    with pytest.raises(ValueError, match="mean"):
        gaussian_flow_euler_moments([0.0, np.inf], S_, mu, S_, 0.5, 0.1, 3)
    for kw, name in ((dict(s=0.0), "s"), (dict(s=-1.0), "s"), (dict(dt=0.0), "dt"), (dict(dt=np.nan), "dt")):
        args = dict(s=0.5, dt=0.1) | kw
        with pytest.raises(ValueError, match=name):
            gaussian_flow_euler_moments(mu, S_, mu, S_, args["s"], args["dt"], 3)
    with pytest.raises(TypeError, match="n_steps"):
        gaussian_flow_euler_moments(mu, S_, mu, S_, 0.5, 0.1, 2.5)
    with pytest.raises(ValueError, match="times"):
        gaussian_flow_ode(mu, S_, mu, S_, 0.5, [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="times"):
        gaussian_flow_ode(mu, S_, mu, S_, 0.5, [-1.0, 1.0])
    with pytest.raises(ValueError, match="x0"):
        particle_flow(mu, S_, np.zeros((5, 3)), 0.5, 0.1, 2)
    # zero steps: the initial moments only; a singular (PSD) target covariance is valid
    mus, Ss = gaussian_flow_euler_moments(mu, np.zeros((2, 2)), mu + 1.0, S_, 0.5, 0.1, 0)
    assert mus.shape == (1, 2) and Ss.shape == (1, 2, 2)
