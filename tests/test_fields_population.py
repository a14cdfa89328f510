"""Population fields: closed form vs quadrature vs Monte Carlo vs batch estimators."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from conftest import assert_close
from driftlab.distributions import EmpiricalMeasure, GaussianMixture, GridDensity
from driftlab.fields import batch_drift, population_drift, population_mean_shift
from driftlab.kernels import Gaussian, Laplace, Matern

P1 = GaussianMixture([[-1.0], [1.5]], [0.4, 0.6], [0.3, 0.7])
Q1 = GaussianMixture([[0.3]], [1.2])
P2 = GaussianMixture([[0.0, 0.0], [1.5, 1.0]], [[0.5, 0.3], [0.4, 0.6]], [0.6, 0.4])
Q2 = GaussianMixture([[0.5, -0.5]], [[[1.0, 0.3], [0.3, 0.8]]])


def scipy_mean_shift_1d(p, x0, kern):
    """Independent oracle: adaptive quad of numerator and denominator, split at the cusp."""
    f = lambda y: float(p.pdf([[y]])[0]) * float(kern.profile(np.array(abs(y - x0))))  # noqa: E731
    den = sum(integrate.quad(f, a, b, epsabs=1e-14, limit=200)[0] for a, b in ((-np.inf, x0), (x0, np.inf)))
    num = sum(integrate.quad(lambda y: (y - x0) * f(y), a, b, epsabs=1e-14, limit=200)[0]
              for a, b in ((-np.inf, x0), (x0, np.inf)))
    return num / den


@given(s=st.floats(0.1, 3.0), x0=st.floats(-4, 4))
def test_gaussian_equal_covariance_field_is_constant(s, x0):
    """Closed form (docs/theory.md, the Gaussian-kernel section): V = s^2 (S + s^2)^-1 (mu_p - mu_q) for equal covariances."""
    S = np.array([[0.7, 0.2], [0.2, 0.4]])
    mp_, mq = np.array([1.0, -0.5]), np.array([-0.3, 0.2])
    p, q = GaussianMixture([mp_], S[None]), GaussianMixture([mq], S[None])
    x = np.array([[x0, -x0], [0.0, 0.0]])
    v = population_drift(p, q, x, Gaussian(s)).value
    want = s**2 * np.linalg.solve(S + s**2 * np.eye(2), mp_ - mq)
    assert_close(v, np.tile(want, (2, 1)), atol=1e-12, what="constant field", inputs=(s, x0))


@pytest.mark.parametrize("kern", [Gaussian(0.6), Laplace(0.5), Matern(0.6, nu=2.5)], ids=repr)
def test_quadrature_matches_scipy_quad_1d(kern):
    x = np.array([[-2.0], [0.2], [3.5]])
    est = population_mean_shift(P1, x, kern, method="quadrature")
    want = np.array([[scipy_mean_shift_1d(P1, float(v), kern)] for v in x[:, 0]])
    # two independent quadratures, each accurate to ~1e-12 (error estimates printed on failure).
    assert_close(est.value, want, atol=1e-10, what=f"quadrature {kern!r}", inputs=(x.ravel(), est.error))
    assert np.all(est.error < 1e-8)


@pytest.mark.parametrize("p,x", [(P1, [[-2.0], [0.4], [3.0]]), (P2, [[0.2, -0.4], [2.0, 1.5]])],
                         ids=["1d", "2d"])
def test_closed_form_quadrature_and_montecarlo_agree_gaussian_kernel(p, x):
    x = np.asarray(x, dtype=float)
    kern = Gaussian(0.7)
    closed = population_mean_shift(p, x, kern, method="closed").value
    quad = population_mean_shift(p, x, kern, method="quadrature")
    # quadrature error estimate <= 1e-9 by construction (rtol); allow 1e-8.
    assert_close(quad.value, closed, atol=1e-8, what="quadrature vs closed")
    mc = population_mean_shift(p, x, kern, method="montecarlo", n_samples=200_000, rng=3)
    # Monte Carlo: within 5 delta-method standard errors (plus O(1/n) ratio bias ~ 1e-5).
    assert np.all(np.abs(mc.value - closed) < 5 * mc.error + 1e-5), (mc.value, closed, mc.error)


def test_laplace_2d_quadrature_vs_montecarlo():
    x = np.array([[0.2, -0.4], [2.0, 1.5]])
    kern = Laplace(0.4)
    quad = population_mean_shift(P2, x, kern, method="quadrature")
    mc = population_mean_shift(P2, x, kern, method="montecarlo", n_samples=300_000, rng=7)
    assert np.all(quad.error < 1e-7), quad.error
    assert np.all(np.abs(mc.value - quad.value) < 5 * mc.error + 1e-5), (mc.value, quad.value, mc.error)


def test_grid_density_quadrature_matches_closed_form():
    g = GridDensity.from_function(P1.pdf, [-8.0], [8.0], 4001)
    x = np.array([[-1.0], [0.5], [2.0]])
    got = population_mean_shift(g, x, Gaussian(0.5), method="quadrature")
    want = population_mean_shift(P1, x, Gaussian(0.5)).value
    # cubic-spline interpolation of a table with h = 4e-3: error O(h^4 f'''') ~ 1e-9.
    assert_close(got.value, want, atol=1e-7, what="grid quadrature")


def test_empirical_exact_matches_closed_gaussian():
    pts = np.random.default_rng(0).normal(size=(40, 2))
    mu = EmpiricalMeasure(pts)
    x = np.array([[0.3, 0.1], [2.0, -1.0]])
    a = population_mean_shift(mu, x, Gaussian(0.4)).value
    b = population_mean_shift(mu, x, Gaussian(0.4), method="closed").value
    assert_close(a, b, atol=1e-12, what="empirical exact vs closed")


@pytest.mark.parametrize("method", ["separate", "joint"])
def test_batch_field_converges_to_population_within_error_bars(method):
    """The batch field approaches V_{p,q} as samples grow; joint carries its batch factor."""
    kern = Gaussian(0.8)
    x = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]])
    exact = population_drift(P2, Q2, x, kern).value
    errs = []
    for n in (2_000, 50_000):
        yp, yn = P2.sample(n, rng=n), Q2.sample(n, rng=n + 1)
        comp = batch_drift(x, yp, yn, kern, method=method, return_components=True)
        est = comp.centroid_difference
        se = population_drift(P2, Q2, x, kern, method="montecarlo", n_samples=n, rng=n).error
        # centroid difference -> m_p - m_q within 5 standard errors (same n, same estimator family)
        assert np.all(np.abs(est - exact) < 5 * se + 1e-4), (n, est, exact, se)
        errs.append(np.abs(est - exact).max())
        if method == "joint":
            assert np.all(np.exp(comp.log_scale) <= 0.25 + 1e-12)
    assert errs[1] < errs[0], errs


def test_montecarlo_warns_when_effective_sample_size_collapses():
    """N(0,1), Laplace tau = 0.2: at x = 5 the kernel posterior sits where no sample lies; the
    estimate is off by several of its own standard errors, so it must say so (ESS ~ 3)."""
    p = GaussianMixture([[0.0]], 1.0)
    with pytest.warns(RuntimeWarning, match="effective sample size"):
        population_mean_shift(p, [[5.0]], Laplace(0.2), method="montecarlo")
    # ESS ~ 4e4 at x = 1: no warning (the project's pytest config turns it into an error)
    population_mean_shift(p, [[1.0]], Laplace(0.2), method="montecarlo")


def test_population_bad_inputs():
    with pytest.raises(ValueError, match="method must be one of"):
        population_mean_shift(P1, [[0.0]], Gaussian(1.0), method="simpson")
    with pytest.raises(ValueError, match="needs the Gaussian kernel"):
        population_mean_shift(P1, [[0.0]], Laplace(1.0), method="closed")
    with pytest.raises(ValueError, match="x has dimension 2, expected 1"):
        population_mean_shift(P1, [[0.0, 1.0]], Gaussian(1.0))
    with pytest.raises(ValueError, match="1-D and 2-D only"):
        population_mean_shift(GaussianMixture([[0, 0, 0.0]], 1.0), [[0, 0, 0.0]], Laplace(1.0), method="quadrature")
    with pytest.raises(ValueError, match="same dimension"):
        population_drift(P1, P2, [[0.0]], Gaussian(1.0))
    with pytest.raises(TypeError, match="kernel must be"):
        population_mean_shift(P1, [[0.0]], "gaussian")
    with pytest.raises(ValueError, match="n_samples"):
        population_mean_shift(P1, [[0.0]], Laplace(1.0), method="montecarlo", n_samples=1)


@pytest.mark.parametrize("x0", [15.0, 40.0, -60.0])
def test_quadrature_far_from_the_mass_matches_closed_form(x0):
    """Far queries: kernel and density underflow separately, their product does not.

    Closed-form Gaussian posterior is exact; quadrature converges spectrally on this smooth
    integrand, so 1e-8 x (kernel length + |m|) is the target (rtol 1e-9 requested)."""
    x = np.array([[x0]])
    want = population_mean_shift(P1, x, Gaussian(0.5)).value
    got = population_mean_shift(P1, x, Gaussian(0.5), method="quadrature")
    assert_close(got.value, want, rtol=1e-8, atol=1e-8, what="far-field quadrature", inputs=x0)


# ----- far from the mass: closed forms without cancellation ----------------------------------
@pytest.mark.parametrize("x0", [1e3, 1e17, -1e17, 1e100])
def test_closed_drift_far_from_the_mass(x0):
    """p = (N(-1, .4) + N(1, .4))/2, q = N(0, .4), Gaussian kernel s = 0.5. At x0 > 0 far away
    the kernel posterior of p sits on N(1, .4) alone (its weight on N(-1, .4) is e^(-4 x0 / 1.3)),
    so V = s^2 (1 - 0) / (0.4 + s^2) = 0.25 / 0.65 = 0.3846 exactly (mirrored for x0 < 0).
    It came out as 6.15e16 at x0 = 1e17 (responsibilities [1, 1]). Tolerance: float64 round-off
    of the O(1) closed form."""
    p, q = GaussianMixture([[-1.0], [1.0]], 0.4), GaussianMixture([[0.0]], 0.4)
    want = np.sign(x0) * 0.25 / 0.65
    got = population_drift(p, q, [[x0]], Gaussian(0.5))
    assert got.method == "closed"
    assert_close(got.value, [[want]], rtol=1e-13, what="closed drift", inputs=x0)
    # the mean shift alone: s^2 (mu_k - x) / (v + s^2), relative float64 round-off
    mp_ = population_mean_shift(p, [[x0]], Gaussian(0.5)).value
    assert_close(mp_, [[0.25 * (np.sign(x0) - x0) / 0.65]], rtol=1e-14, what="closed mean shift", inputs=x0)


def test_closed_drift_far_from_the_mass_2d_full_and_unequal_covariances():
    """Unequal covariances: the x-dependent term does not cancel; compare with a 60-digit
    mpmath evaluation of s^2 (grad log p_s - grad log q_s) (float64 relative round-off)."""
    import mpmath as mp

    S1 = np.array([[0.7, 0.2], [0.2, 0.4]])
    S2 = np.array([[0.5, -0.1], [-0.1, 0.9]])
    p = GaussianMixture([[1.0, -0.5], [-0.3, 0.2]], np.stack([S1, S1]), [0.3, 0.7])
    q = GaussianMixture([[0.2, 0.1]], S2[None])
    s = 0.6
    for x in ([30.0, -12.0], [1e6, 2e6]):
        got = population_drift(p, q, [x], Gaussian(s)).value[0]
        with mp.workdps(60):
            X = mp.matrix(x)

            def score(gm):
                covs = [mp.matrix(c.tolist()) + s * s * mp.eye(2) for c in gm.covariances]
                lps, grads = [], []
                for w, m, c in zip(gm.weights, gm.means, covs):
                    dlt = X - mp.matrix(m.tolist())
                    ci = c**-1
                    lps.append(mp.log(w) - (dlt.T * ci * dlt)[0] / 2 - mp.log(mp.det(c)) / 2)
                    grads.append(-(ci * dlt))
                top = max(lps)
                e = [mp.e ** (v - top) for v in lps]
                return sum((ei * g for ei, g in zip(e, grads)), mp.matrix(2, 1)) / sum(e)

            want = [float(v) for v in (s * s) * (score(p) - score(q))]
        scale = s * s * np.linalg.norm(x) * 3.0  # |s^2 (P - Q) x|: the size of the uncancelled term
        assert_close(got, want, rtol=1e-12, atol=1e-14 * scale, what="2-D unequal covariances", inputs=x)


# ----- quadrature: bounded work, honest error estimates ----------------------------------------
def test_quadrature_refuses_work_beyond_its_budget_up_front():
    """1-D Laplace tau = 1e-6 wanted 1.9 GiB; 2-D tau = 0.06 took 98 s and 7.9 GB for one point.
    Both are refused before any node is evaluated, naming max_nodes and the alternatives."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"max_nodes=4000000.*method='montecarlo'.*larger bandwidth"):
        population_mean_shift(GaussianMixture([[0.0]], 1.0), [[0.2]], Laplace(1e-6), method="quadrature")
    with pytest.raises(ValueError, match=r"x\[0\].*max_nodes"):
        population_mean_shift(P2, [[0.2, -0.4]], Laplace(0.06), method="quadrature")
    with pytest.raises(ValueError, match="max_nodes=1000"):
        population_drift(P1, Q1, [[0.0]], Laplace(0.5), method="quadrature", max_nodes=1000)
    with pytest.raises(ValueError, match="max_nodes must be >= 1"):
        population_mean_shift(P1, [[0.0]], Laplace(0.5), method="quadrature", max_nodes=0)
    assert time.perf_counter() - t0 < 2.0  # refused up front: no quadrature ran


def _check_quadrature_error_is_honest(p, x, s, **kw):
    est = population_mean_shift(p, x, Gaussian(s), method="quadrature", **kw)
    exact = population_mean_shift(p, x, Gaussian(s), method="closed").value  # closed form (Tweedie)
    actual = np.abs(est.value - exact)
    assert np.all(actual <= est.error), (
        f"quadrature error estimate not an upper bound: s={s}, x={x.tolist()}, value={est.value.tolist()}, "
        f"exact={exact.tolist()}, actual={actual.tolist()}, estimate={est.error.tolist()}")
    return est


@pytest.mark.parametrize("s", [0.05, 0.2, 0.7, 2.5])
def test_quadrature_error_estimate_bounds_the_actual_error_1d(s):
    """Gaussian kernel on a Gaussian mixture: the closed form is exact, so the quadrature's
    reported error must bound |quadrature - exact| at every bandwidth and query (near the
    mass, in the tails, far out)."""
    x = np.array([[-3.0], [0.4], [2.5], [9.0]])
    est = _check_quadrature_error_is_honest(P1, x, s)
    assert np.all(est.error < 1e-8), est.error  # and the target (rtol 1e-9) was met


@pytest.mark.parametrize("s", [0.5, 1.5])
def test_quadrature_error_estimate_bounds_the_actual_error_2d(s):
    x = np.array([[0.2, -0.4], [3.0, 2.0]])
    est = _check_quadrature_error_is_honest(P2, x, s)
    assert np.all(est.error < 1e-8), est.error


def test_quadrature_error_estimate_stays_honest_when_refinement_stops_early():
    """One halving only and an unreachable target: the warning says so, and the reported
    change between the two resolutions still bounds the actual error."""
    x = np.array([[-1.2], [0.3], [4.0]])
    with pytest.warns(RuntimeWarning, match="quadrature"):
        _check_quadrature_error_is_honest(P1, x, 0.05, max_level=1, rtol=1e-300)
    with pytest.warns(RuntimeWarning, match="quadrature"):
        _check_quadrature_error_is_honest(P2, np.array([[0.0, 0.5]]), 0.6, max_level=1, rtol=1e-300)


@pytest.mark.slow
@pytest.mark.parametrize("s", [0.25, 0.4, 3.0])
def test_quadrature_error_estimate_bounds_the_actual_error_2d_sweep(s):
    x = np.array([[0.2, -0.4], [1.5, 1.0], [-4.0, 6.0]])
    _check_quadrature_error_is_honest(P2, x, s, max_nodes=20_000_000)
