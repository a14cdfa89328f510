"""Distributions: Gaussian mixtures, empirical measures and grid densities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from conftest import assert_close
from driftlab.distributions import EmpiricalMeasure, GaussianMixture, GridDensity


def random_gmm(seed: int, dim: int, K: int, cov_type: str) -> GaussianMixture:
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=2.0, size=(K, dim))
    if cov_type == "spherical":
        cov = rng.uniform(0.2, 1.5, size=K)
    elif cov_type == "diag":
        cov = rng.uniform(0.2, 1.5, size=(K, dim))
    else:
        A = rng.normal(size=(K, dim, dim))
        cov = A @ np.swapaxes(A, 1, 2) / dim + 0.3 * np.eye(dim)
    return GaussianMixture(means, cov, rng.uniform(0.2, 1.0, size=K))


COV_TYPES = ["spherical", "diag", "full"]


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_log_prob_matches_scipy(cov_type):
    p = random_gmm(1, 3, 4, cov_type)
    x = p.sample(50, rng=2)
    want = np.log(sum(w * stats.multivariate_normal(m, c).pdf(x)
                      for w, m, c in zip(p.weights, p.means, p.covariances)))
    # independent scipy densities; float64 round-off in log-sum-exp vs direct sum.
    assert_close(p.log_prob(x), want, rtol=1e-12, atol=1e-12, what=f"log_prob {cov_type}")


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_score_and_hessian_match_central_differences(cov_type):
    p = random_gmm(3, 2, 3, cov_type)
    x = p.sample(20, rng=4)
    h = 1e-5
    eye = np.eye(2)
    fd = np.stack([(p.log_prob(x + h * e) - p.log_prob(x - h * e)) / (2 * h) for e in eye], axis=1)
    # central differences: truncation O(h^2 |f'''|) ~ 1e-10 plus round-off eps/h ~ 1e-11.
    assert_close(p.score(x), fd, atol=1e-7, what="score vs FD")
    fdh = np.stack([(p.score(x + h * e) - p.score(x - h * e)) / (2 * h) for e in eye], axis=2)
    assert_close(p.score_jacobian(x), fdh, atol=1e-6, what="Hessian vs FD")
    H = p.score_jacobian(x)
    assert_close(H, np.swapaxes(H, 1, 2), atol=1e-12, what="Hessian symmetry")


def test_score_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    p = random_gmm(5, 3, 3, "full")
    x = p.sample(10, rng=6)
    xt = torch.tensor(x, requires_grad=True)
    comps = [torch.distributions.MultivariateNormal(torch.tensor(m), torch.tensor(c))
             for m, c in zip(p.means, p.covariances)]
    lp = torch.logsumexp(torch.stack([np.log(w) + c.log_prob(xt) for w, c in zip(p.weights, comps)]), 0)
    (g,) = torch.autograd.grad(lp.sum(), xt)
    # independent implementation (torch MVN + autograd); float64 round-off.
    assert_close(p.score(x), g.numpy(), rtol=1e-10, atol=1e-12, what="score vs autograd")


def test_smoothing_is_convolution_1d():
    p = GaussianMixture([[-1.0], [1.5]], [0.3, 0.7], [0.4, 0.6])
    s = 0.6
    ps = p.smooth(s)
    for x0 in (-2.0, 0.1, 3.0):
        val, err = integrate.quad(lambda y: float(p.pdf([[y]])[0]) * stats.norm.pdf(x0 - y, scale=s),
                                  -np.inf, np.inf, epsabs=1e-13)
        # adaptive quadrature with error estimate err (~1e-13): compare at 1e-10.
        assert_close(ps.pdf([[x0]]), [val], atol=1e-10 + 10 * err, what="smoothed pdf", inputs=x0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_moments_within_standard_error(cov_type):
    p = random_gmm(7, 2, 3, cov_type)
    n = 200_000
    y = p.sample(n, rng=8)
    cov = p.covariance()
    se = np.sqrt(np.diag(cov) / n)
    # sample mean is within 5 standard errors (false-alarm probability ~ 6e-7 per coordinate).
    assert np.all(np.abs(y.mean(0) - p.mean()) < 5 * se), (y.mean(0), p.mean(), se)


@given(seed=st.integers(0, 10_000), v=st.floats(0.01, 4.0), cov_type=st.sampled_from(COV_TYPES))
def test_posterior_mean_is_tweedie(seed, v, cov_type):
    """E[y | x] = x + v grad log p_v(x): the posterior route and the score route agree."""
    p = random_gmm(seed, 2, 3, cov_type)
    x = np.random.default_rng(seed).normal(scale=3.0, size=(5, 2))
    post = p.gaussian_posterior(x, v)
    want = x + v * p.smooth(np.sqrt(v)).score(x)
    scale = 1.0 + np.abs(x).max()
    # two closed forms, float64 round-off amplified by the conditioning of Sigma + vI.
    assert_close(post.mean(), want, atol=1e-9 * scale, what="Tweedie", inputs=(seed, v, cov_type))
    assert np.allclose(post.weights.sum(1), 1.0)


def test_posterior_matches_bayes_by_quadrature_1d():
    p = GaussianMixture([[-1.0], [2.0]], [0.5, 0.2], [0.3, 0.7])
    v, x0 = 0.8, 0.4
    f = lambda y: float(p.pdf([[y]])[0]) * np.exp(-(x0 - y) ** 2 / (2 * v))  # noqa: E731
    z = integrate.quad(f, -np.inf, np.inf, epsabs=1e-14)[0]
    m1 = integrate.quad(lambda y: y * f(y), -np.inf, np.inf, epsabs=1e-14)[0] / z
    m2 = integrate.quad(lambda y: y * y * f(y), -np.inf, np.inf, epsabs=1e-14)[0] / z
    post = p.gaussian_posterior([[x0]], v)
    # adaptive quadrature to ~1e-13.
    assert_close(post.mean()[0, 0], m1, atol=1e-10, what="posterior mean")
    assert_close(post.second_moment()[0], m2, atol=1e-10, what="posterior second moment")
    assert_close(post.covariance()[0, 0, 0], m2 - m1 * m1, atol=1e-10, what="posterior variance")


def test_empirical_smoothing_and_resampling():
    y = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]])
    mu = EmpiricalMeasure(y, weights=[1, 2, 1])
    g = mu.smooth(0.5)
    assert g.n_components == 3 and np.allclose(g.weights, [0.25, 0.5, 0.25])
    assert np.allclose(g.covariances[0], 0.25 * np.eye(2))
    assert_close(mu.mean(), [1.25, 0.75], atol=1e-15, what="empirical mean")
    draws = mu.sample(40_000, rng=0)
    frac = np.mean(np.all(draws == y[1], axis=1))
    # binomial proportion, SE = sqrt(.25/40000) = 0.0025: 5 SE band.
    assert abs(frac - 0.5) < 0.0125, frac


def test_grid_density_normalised_and_interpolates():
    p = GaussianMixture([[0.0, 0.0], [1.5, -1.0]], [0.4, 0.3])
    g = GridDensity.from_function(p.pdf, [-5, -6], [6, 5], 301)
    pts = np.array([[0.1, 0.2], [1.4, -0.9], [-1.0, 0.5]])
    # bilinear interpolation error h^2/8 |f''| ~ (11/300)^2/8 * 1 ~ 2e-4 relative
    assert_close(g.pdf(pts), p.pdf(pts), rtol=3e-3, what="grid pdf")
    assert g.pdf([[100.0, 0.0]])[0] == 0.0
    x = np.linspace(-8, 8, 801)
    g1 = GridDensity([x], np.exp(-x**2 / 2))
    assert_close(g1.pdf([[0.3]]), stats.norm.pdf([0.3]), rtol=1e-6, what="1-D grid")
    s = g1.sample(50_000, rng=1)
    assert abs(s.mean()) < 5 / np.sqrt(50_000)


# ----- validation ----------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="covariances must be > 0"):
        GaussianMixture([[0.0]], [-1.0])
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture([[0.0], [1.0]], 1.0, [1.0, -1.0])
    with pytest.raises(ValueError, match="means contains NaN"):
        GaussianMixture([[np.nan]], 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture([[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ValueError, match="symmetric"):
        GaussianMixture([[0.0, 0.0]], [[[1.0, 0.5], [0.0, 1.0]]])
    p = GaussianMixture([[0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match="x has dimension 3, expected 2"):
        p.score(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="x contains NaN"):
        p.log_prob([[np.inf, 0.0]])
    with pytest.raises(ValueError, match="noise_variance"):
        p.gaussian_posterior([[0.0, 0.0]], 0.0)
    with pytest.raises(ValueError, match="points is empty"):
        EmpiricalMeasure(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        EmpiricalMeasure([[0.0]]).smooth(0.0)
    with pytest.raises(TypeError, match="rng"):
        p.sample(3, rng="seed")
    with pytest.raises(ValueError, match="evenly spaced"):
        GridDensity([np.array([0, 1, 3, 4.0])], np.ones(4))


# ----- far from the components: responsibilities and scores without cancellation --------------
def _mp_gmm_1d(means, var, weights, x0):
    """Independent mpmath reference: responsibilities and score of a 1-D mixture, with 40
    digits beyond those that the O(x^2) log-densities need (2 log10|x|)."""
    import mpmath as mp

    with mp.workdps(40 + int(2 * np.log10(abs(x0) + 1.0))):
        x = mp.mpf(x0)
        logs = [mp.log(w) - (x - m) ** 2 / (2 * mp.mpf(v)) - mp.log(2 * mp.pi * v) / 2
                for m, v, w in zip(map(mp.mpf, means), var, weights)]
        top = max(logs)
        e = [mp.e ** (lp - top) for lp in logs]
        z = sum(e)
        r = [t / z for t in e]
        score = -sum(ri * (x - mp.mpf(m)) / mp.mpf(v) for ri, m, v in zip(r, means, var))
        return [float(t) for t in r], float(score)


@pytest.mark.parametrize("x0", [3.0, 40.0, 1e8, 1e17, -1e17, 1e150])
def test_responsibilities_and_score_far_from_the_components(x0):
    """At x = 1e17 the two log-densities are -1.25e34 apart from each other by only 4e17/0.8:
    formed separately they round to the same number (ulp 2e18), responsibilities came out [1, 1]
    and the score twice the truth. Reference: mpmath (40 spare digits). Tolerance: float64 round-off on
    O(1) terms (1e-12 relative)."""
    means, var, w = [-1.0, 1.0], [0.4, 0.4], [0.5, 0.5]
    p = GaussianMixture([[m] for m in means], var[0])
    r_want, s_want = _mp_gmm_1d(means, var, w, x0)
    r = p.responsibilities([[x0]])[0]
    assert_close(r, r_want, rtol=1e-12, atol=1e-300, what="responsibilities", inputs=x0)
    assert_close(p.score([[x0]])[0, 0], s_want, rtol=1e-12, what="score", inputs=x0)
    post = p.gaussian_posterior([[x0]], 0.25)
    assert_close(post.weights[0].sum(), 1.0, rtol=1e-14, what="posterior weights sum", inputs=x0)


def test_unequal_variances_far_away_match_mpmath():
    means, var, w = [-1.0, 2.0, 0.5], [0.4, 0.9, 0.4], [0.2, 0.5, 0.3]
    p = GaussianMixture([[m] for m in means], var, w)
    for x0 in (-30.0, 7.0, 1e6, -1e12):
        r_want, s_want = _mp_gmm_1d(means, var, w, x0)
        # float64 round-off: the log-density gaps are O(x^2) and known to ~1e-16 relative, so
        # responsibilities carry ~eps * x^2 / v absolute log error where they are not 0 or 1.
        assert_close(p.responsibilities([[x0]])[0], r_want, rtol=1e-9, atol=1e-300, what="resp", inputs=x0)
        assert_close(p.score([[x0]])[0, 0], s_want, rtol=1e-12, what="score", inputs=x0)


def test_score_difference_far_away_equal_covariances():
    """grad log p_s - grad log q_s at x = 1e17 for p = (N(-1, .4) + N(1, .4))/2, q = N(0, .4),
    s = 0.5: the responsibilities select N(1, .65), the field is (1 - 0)/0.65 (closed form);
    the two scores are -1.5e17 each, so it must not be formed as their difference."""
    from driftlab.distributions import score_difference

    p = GaussianMixture([[-1.0], [1.0]], 0.4).smooth(0.5)
    q = GaussianMixture([[0.0]], 0.4).smooth(0.5)
    for x0, want in ((1e17, 1.0 / 0.65), (-1e17, -1.0 / 0.65), (1e300, 1.0 / 0.65)):
        got = score_difference(p, q, [[x0]])
        # exact cancellation of the x terms; float64 round-off in 1/0.65.
        assert_close(got, [[want]], rtol=1e-14, what="score difference", inputs=x0)
    # near the mass: equal to the difference of the scores (float64 round-off)
    x = np.linspace(-3, 3, 13)[:, None]
    assert_close(score_difference(p, q, x), p.score(x) - q.score(x), rtol=1e-12, atol=1e-13,
                 what="near field")


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_score_difference_matches_scores_near_the_mass(cov_type):
    from driftlab.distributions import score_difference

    p, q = random_gmm(11, 2, 3, cov_type), random_gmm(12, 2, 2, cov_type)
    x = np.concatenate([p.sample(10, rng=1), q.sample(10, rng=2)])
    # no cancellation near the mass: float64 round-off of O(1) scores.
    assert_close(score_difference(p, q, x), p.score(x) - q.score(x), rtol=1e-10, atol=1e-11,
                 what=f"score difference {cov_type}")


def test_huge_mixture_weights_are_normalised_without_overflow():
    p = GaussianMixture([[-1.0], [1.0]], 1.0, [1e308, 1e308])
    assert_close(p.weights, [0.5, 0.5], rtol=1e-15, what="weights")
    e = EmpiricalMeasure([[0.0], [1.0]], [1e308, 1e308])
    assert_close(e.weights, [0.5, 0.5], rtol=1e-15, what="empirical weights")


def test_repeated_means_far_away_do_not_double_count():
    """means [-1, 0, 0], x = 1e16: the rounded log-densities tie, the first component was taken
    as the reference, the two others' gaps were +1e16 and log-sum-exp rounded log 2 away: both
    got responsibility 1 and the score was twice the truth. Reference: mpmath."""
    means, var, w = [-1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]
    p = GaussianMixture([[m] for m in means], 1.0)
    r_want, s_want = _mp_gmm_1d(means, var, [1 / 3] * 3, 1e16)
    assert_close(p.responsibilities([[1e16]])[0], r_want, rtol=1e-12, atol=1e-300, what="resp")
    assert_close(p.score([[1e16]])[0, 0], s_want, rtol=1e-12, what="score")
