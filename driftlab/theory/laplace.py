r"""Exact Laplace-kernel mean shift on Gaussian mixtures in any dimension.

The Laplace kernel is a Gaussian scale mixture (subordination; checked symbolically in
:mod:`driftlab.theory.symbolic`):

.. math:: e^{-a r} = \int_0^\infty h_a(\sigma)\, e^{-\sigma r^2} d\sigma,\qquad
          h_a(\sigma) = \frac{a}{2\sqrt\pi}\sigma^{-3/2} e^{-a^2/(4\sigma)},\quad a = 1/\tau,

(equivalently :math:`v = 1/(2\sigma) \sim \tau^2\chi^2_1`), and the Gaussian kernel
:math:`e^{-\sigma|y-x|^2}` integrates against a Gaussian component in closed form. So every
Laplace posterior moment of a Gaussian mixture (empirical measures are mixtures with zero
covariances) reduces to a 1-D integral over :math:`\sigma`, whatever the dimension d. We do
that integral by the trapezoid rule in :math:`t = \log\sigma` (analytic, exponentially
decaying integrand: exponential convergence), in log space.

Quantities at a query point x (:func:`laplace_moments`):

* :math:`m(x) = E_{post}[y - x]` (the Laplace mean shift),
* :math:`g(x) = \nabla\log\pi_k(x) = E_{post}[u]/\tau` (preconditioned score),
* :math:`\bar r = E_{post}[r] = -\partial_a \log\pi_k`,
* the residual :math:`C = m - \tau\bar r g = \mathrm{Cov}_{post}(r, u)`,
* the companion score :math:`\nabla\log\pi_c = m / (\tau(\tau + \bar r))`, where
  :math:`\pi_c(x) = \int (1 + |y-x|/\tau)\, e^{-|y-x|/\tau}\, d\pi(y)` is :math:`\pi` smoothed
  by the companion profile (Matérn-3/2 shape): its gradient kernel is
  :math:`\tau^{-2} e^{-r/\tau}(y - x)`, so :math:`\nabla\pi_c = Z m / \tau^2` and
  :math:`\pi_c = Z (1 + \bar r/\tau)`.

References: [L] (decomposition), [F] (companion / sharp normalisation); docs/theory.md, the Laplace section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special as sps

from driftlab._validation import check_int, check_points, check_positive

__all__ = ["GaussianAtoms", "LaplaceMoments", "laplace_moments", "laplace_drift", "as_atoms", "SlopeFit", "fit_loglog",
           "residual_test_pair",
           "temperature_law", "constant_preconditioner_law", "dimension_law", "cancellation"]


@dataclass(frozen=True)
class GaussianAtoms:
    """A Gaussian mixture in eigen-coordinates (covariances may be 0: point masses).

    Attributes
    ----------
    means : (K, d); eigvals : (K, d) >= 0; eigvecs : (K, d, d) or None (axis-aligned);
    log_weights : (K,)
    """

    means: np.ndarray
    eigvals: np.ndarray
    eigvecs: np.ndarray | None
    log_weights: np.ndarray

    @property
    def dim(self) -> int:
        return self.means.shape[1]


def as_atoms(measure: Any) -> GaussianAtoms:
    """Convert a :class:`~driftlab.distributions.GaussianMixture` or ``EmpiricalMeasure``."""
    from driftlab.distributions import EmpiricalMeasure, GaussianMixture

    if isinstance(measure, GaussianAtoms):
        return measure
    if isinstance(measure, EmpiricalMeasure):
        K, d = measure.points.shape
        with np.errstate(divide="ignore"):
            lw = np.log(measure.weights)
        return GaussianAtoms(measure.points.copy(), np.zeros((K, d)), None, lw)
    if isinstance(measure, GaussianMixture):
        with np.errstate(divide="ignore"):
            lw = np.log(measure.weights)
        if measure.cov_type in ("spherical", "diag"):
            ev = np.array([np.diagonal(c) for c in measure.covariances])
            return GaussianAtoms(measure.means.copy(), ev, None, lw)
        lam, U = np.linalg.eigh(measure.covariances)
        return GaussianAtoms(measure.means.copy(), np.clip(lam, 0.0, None), U, lw)
    raise TypeError(f"measure must be a GaussianMixture or EmpiricalMeasure, got {type(measure).__name__}")


@dataclass(frozen=True)
class LaplaceMoments:
    """Laplace-kernel posterior moments at n query points (see module docstring).

    Attributes
    ----------
    mean_shift, score, residual, companion_score : (n, d)
        ``companion_score`` is :math:`\\nabla\\log\\pi_c` of the companion density (module docstring).
    rbar : (n,)
    log_z : (n,)  log of :math:`\\int e^{-|y-x|/\\tau} d\\pi(y)`
    """

    mean_shift: np.ndarray
    score: np.ndarray
    rbar: np.ndarray
    residual: np.ndarray
    companion_score: np.ndarray
    log_z: np.ndarray
    temperature: float


def _grid(n_grid: int, lo: float, hi: float):
    t = np.linspace(lo, hi, n_grid)
    return t, t[1] - t[0]


def _log_terms(atoms: GaussianAtoms, x: np.ndarray, sigma: np.ndarray):
    """Per (query, component, sigma): log G and the Gaussian-kernel mean shift pieces.

    Returns logG (n, K, T) and z (n, K, d) rotated offsets, so that
    N_k/G_k = -v U (z / (lam + v)) with v = 1/(2 sigma).
    """
    delta = x[:, None, :] - atoms.means[None, :, :]  # (n, K, d)
    z = delta if atoms.eigvecs is None else np.einsum("kji,nkj->nki", atoms.eigvecs, delta)
    v = 1.0 / (2.0 * sigma)  # (T,)
    lam = atoms.eigvals  # (K, d)
    # log G = -1/2 sum log(1 + lam/v) - 1/2 sum z^2/(lam + v)
    logdet = 0.5 * np.sum(np.log1p(lam[:, :, None] / v[None, None, :]), axis=1)  # (K, T)
    quad = 0.5 * np.einsum("nkd,kdt->nkt", z * z, 1.0 / (lam[:, :, None] + v[None, None, :]))
    return -logdet[None] - quad, z


def _moments_core(atoms: GaussianAtoms, x: np.ndarray, tau: float, n_grid: int) -> LaplaceMoments:
    a = 1.0 / tau
    n, d = x.shape
    # locate the bulk of the sigma-integrand on a coarse grid, then integrate on a fine one
    t_c, _ = _grid(400, math.log(a * a) - 40.0, math.log(a * a) + 40.0)
    logh = lambda t: math.log(a / (2 * math.sqrt(math.pi))) - 1.5 * t - a * a / (4 * np.exp(t))  # noqa: E731
    lg_c, _ = _log_terms(atoms, x, np.exp(t_c))
    tot_c = logh(t_c)[None, None, :] + lg_c + atoms.log_weights[None, :, None]
    keep = tot_c.max(axis=(0, 1)) > tot_c.max() - 80.0
    idx = np.nonzero(keep)[0]
    lo, hi = t_c[max(idx[0] - 2, 0)], t_c[min(idx[-1] + 2, len(t_c) - 1)]
    t, h = _grid(n_grid, lo, hi)
    sig = np.exp(t)
    v = 1.0 / (2.0 * sig)
    lg, z = _log_terms(atoms, x, sig)
    logw = logh(t)[None, None, :] + t[None, None, :] + lg + atoms.log_weights[None, :, None]  # ds = s dt
    logw = logw + math.log(h)
    log_z = sps.logsumexp(logw, axis=(1, 2))
    P = np.exp(logw - log_z[:, None, None])  # joint posterior over (component, sigma)
    lam = atoms.eigvals
    inv = 1.0 / (lam[:, :, None] + v[None, None, :])  # (K, d, T)
    # m = sum P * (-v (S+vI)^-1 delta);  g = sum P * (-(S+vI)^-1 delta)
    m_rot = -np.einsum("nkt,kdt,nkd->nkd", P * v[None, None, :], inv, z)
    g_rot = -np.einsum("nkt,kdt,nkd->nkd", P, inv, z)
    if atoms.eigvecs is None:
        m, g = m_rot.sum(1), g_rot.sum(1)
    else:
        m = np.einsum("kij,nkj->ni", atoms.eigvecs, m_rot)
        g = np.einsum("kij,nkj->ni", atoms.eigvecs, g_rot)
    rbar = np.einsum("nkt,t->n", P, a / (2.0 * sig) - 1.0 / a)
    resid = m - tau * rbar[:, None] * g
    comp = m / (tau * (tau + rbar))[:, None]
    return LaplaceMoments(m, g, rbar, resid, comp, log_z, tau)


def laplace_moments(measure: Any, x: Any, temperature: float, *, n_grid: int = 400) -> LaplaceMoments:
    r"""Laplace-kernel mean shift and its exact decomposition on a Gaussian mixture.

    .. math:: m = \tau\bar r\,\nabla\log\pi_k + \mathrm{Cov}_{post}(r, u)
              = \tau(\tau + \bar r)\nabla\log\pi_c .

    Parameters
    ----------
    measure : GaussianMixture or EmpiricalMeasure
    x : array_like, shape (n, d)
        Query points (for an empirical measure, not on an atom).
    temperature : float
        :math:`\tau > 0` of :math:`e^{-|y-x|/\tau}`.
    n_grid : int
        Trapezoid nodes in :math:`\log\sigma` (the default gives ~1e-12 relative accuracy).

    Returns
    -------
    LaplaceMoments

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.distributions import EmpiricalMeasure
    >>> mu = EmpiricalMeasure([[0.0, 0.0], [1.0, 0.5]])
    >>> mom = laplace_moments(mu, [[0.3, -0.2]], 0.5)
    >>> bool(np.allclose(mom.mean_shift, 0.5 * mom.rbar[:, None] * mom.score + mom.residual))
    True

    References
    ----------
    [L] Lai et al. (2026), section on general radial kernels; [F] Franz et al. (2026).
    """
    tau = check_positive(temperature, "temperature")
    n_grid = check_int(n_grid, "n_grid", minimum=50)
    atoms = as_atoms(measure)
    xx = check_points(np.asarray(x, dtype=np.float64), "x", dim=atoms.dim)
    return _moments_core(atoms, np.asarray(xx, dtype=np.float64), tau, n_grid)


def laplace_drift(p: Any, q: Any, x: Any, temperature: float, *, n_grid: int = 400) -> tuple[LaplaceMoments, LaplaceMoments]:
    """The moments of p and q at x; the drift is ``mp.mean_shift - mq.mean_shift``."""
    return laplace_moments(p, x, temperature, n_grid=n_grid), laplace_moments(q, x, temperature, n_grid=n_grid)


def direct_empirical(points: np.ndarray, weights: np.ndarray, x: np.ndarray, tau: float):
    """Reference finite sums on an empirical measure: m, g = E[u]/tau, rbar (float64, for tests)."""
    diff = points[None, :, :] - x[:, None, :]
    r = np.linalg.norm(diff, axis=-1)
    logk = np.log(weights)[None, :] - r / tau
    P = np.exp(logk - sps.logsumexp(logk, axis=1, keepdims=True))
    m = np.einsum("ni,nid->nd", P, diff)
    g = np.einsum("ni,nid->nd", P, diff / r[..., None]) / tau
    rbar = np.sum(P * r, axis=1)
    return m, g, rbar


# ----- residual laws: temperature, dimension, cancellation ------------------------------
@dataclass(frozen=True)
class SlopeFit:
    """Least-squares slope of log y on log x with a 95% confidence interval (t quantile)."""

    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    n: int

    def as_dict(self) -> dict:
        return {"slope": self.slope, "ci95": [self.ci_low, self.ci_high], "intercept": self.intercept, "n": self.n}


def fit_loglog(x: Any, y: Any) -> SlopeFit:
    """OLS fit of ``log y = a + b log x``; the CI is ``b +- t_{0.975,n-2} * stderr``.

    The points are deterministic (quadrature, not sampling): the CI measures how far the data
    are from a pure power law over the fitted range, i.e. curvature, not noise.
    """
    from scipy import stats

    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if lx.size < 3:
        raise ValueError("need at least 3 points to fit a slope with a confidence interval")
    res = stats.linregress(lx, ly)
    t = stats.t.ppf(0.975, lx.size - 2)
    return SlopeFit(float(res.slope), float(res.slope - t * res.stderr), float(res.slope + t * res.stderr),
                    float(res.intercept), int(lx.size))


def residual_test_pair(dim: int, sep: float = 1.5):
    """The fixed test pair of the residual laws: two-component p, shifted/wider q (d dims)."""
    from driftlab.distributions import GaussianMixture

    mu = np.zeros((2, dim))
    mu[0, 0], mu[1, 0] = sep, -sep
    p = GaussianMixture(mu, 1.0)
    q = GaussianMixture(np.full((1, dim), 0.0) + np.eye(1, dim) * 0.7, 1.6)
    return p, q


def _queries(p, n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return p.sample(n, rng=rng) + 0.3 * rng.normal(size=(n, dim))


def temperature_law(dim: int = 2, taus: Any = None, n_points: int = 8, seed: int = 0, constant: float | None = None) -> dict:
    r"""Low-temperature law :math:`V \approx (d+1)\tau^2(\nabla\log p - \nabla\log q)`, measured.

    For each temperature: median over query points of the relative error
    :math:`|V/(c\tau^2) - \Delta\mathrm{score}| / |\Delta\mathrm{score}|` (c = d + 1 unless
    ``constant`` is given) and of the relative Laplace residual :math:`|C_p|/|m_p|`. The
    claimed error exponent is 2 (relative error O(tau^2)); the residual tends to
    :math:`1/(d+1)` (derived: :math:`m \to (d+1)\tau^2 g`, :math:`\tau\bar r g \to d\tau^2 g`).
    """
    taus = np.geomspace(0.005, 0.08, 5) if taus is None else np.asarray(taus, float)
    c = dim + 1.0 if constant is None else float(constant)
    p, q = residual_test_pair(dim)
    x = _queries(p, n_points, dim, seed)
    dscore = p.score(x) - q.score(x)
    err, resid = [], []
    for tau in taus:
        mp_, mq_ = laplace_drift(p, q, x, float(tau))
        V = mp_.mean_shift - mq_.mean_shift
        e = np.linalg.norm(V / (c * tau * tau) - dscore, axis=1) / np.linalg.norm(dscore, axis=1)
        err.append(float(np.median(e)))
        resid.append(float(np.median(np.linalg.norm(mp_.residual, axis=1) / np.linalg.norm(mp_.mean_shift, axis=1))))
    return {"dim": dim, "taus": taus.tolist(), "rel_error": err, "rel_residual": resid,
            "error_fit": fit_loglog(taus, err), "residual_limit_claim": 1.0 / (dim + 1)}


def constant_preconditioner_law(dim: int = 2, taus: Any = None, n_points: int = 8, seed: int = 0,
                                constant: float | None = None) -> dict:
    r"""Residual of the *constant* preconditioner: :math:`R = m - c\tau^2\nabla\log\pi_k`, c = d + 1.

    Unlike the exact decomposition with :math:`\tau\bar r` (whose residual tends to
    :math:`m/(d+1)`), this residual is :math:`O(\tau^4)`, i.e. :math:`|R|/|m| = O(\tau^2)`: the
    sense in which "the residual is small at low temperature" [L] holds.
    """
    taus = np.geomspace(0.005, 0.08, 5) if taus is None else np.asarray(taus, float)
    c = dim + 1.0 if constant is None else float(constant)
    p, _ = residual_test_pair(dim)
    x = _queries(p, n_points, dim, seed)
    rel = []
    for tau in taus:
        mom = laplace_moments(p, x, float(tau))
        R = mom.mean_shift - c * tau * tau * mom.score
        rel.append(float(np.median(np.linalg.norm(R, axis=1) / np.linalg.norm(mom.mean_shift, axis=1))))
    return {"dim": dim, "taus": taus.tolist(), "rel_residual": rel, "fit": fit_loglog(taus, rel)}


def dimension_law(dims: Any = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), tau: float = 1.0, n_points: int = 8,
                  seed: int = 0) -> dict:
    r"""Relative Laplace residual :math:`|\mathrm{Cov}(r,u)|/|m|` vs dimension at fixed temperature.

    Median over query points near p; fitted log-log slope (claim: roughly -1) on all dims and on
    the upper half (the asymptotic regime).
    """
    dims = [int(d) for d in dims]
    med = []
    for d in dims:
        p, _ = residual_test_pair(d)
        x = _queries(p, n_points, d, seed)
        mom = laplace_moments(p, x, tau)
        med.append(float(np.median(np.linalg.norm(mom.residual, axis=1) / np.linalg.norm(mom.mean_shift, axis=1))))
    half = len(dims) // 2
    return {"tau": tau, "dims": dims, "rel_residual": med, "fit_all": fit_loglog(dims, med),
            "fit_high": fit_loglog(dims[half:], med[half:]) if len(dims) - half >= 3 else None}


def cancellation(dim: int = 2, tau: float = 0.5, n_points: int = 200, seed: int = 0) -> dict:
    r"""How wrong is "V = one scalar x (score difference)" for the Laplace drift?

    Compares :math:`V = m_p - m_q` with :math:`c(x)(g_p - g_q)`, :math:`g = \nabla\log\pi_k`,
    for the natural scalar :math:`c = \tau(\bar r_p + \bar r_q)/2` and for the best scalar at
    each point (projection). Reports the median and 90th percentile relative errors and the
    spread of the two preconditioners :math:`\tau\bar r_p` vs :math:`\tau\bar r_q`.
    """
    p, q = residual_test_pair(dim)
    x = _queries(q, n_points, dim, seed)
    mp_, mq_ = laplace_drift(p, q, x, tau)
    V = mp_.mean_shift - mq_.mean_shift
    dg = mp_.score - mq_.score
    c_nat = tau * 0.5 * (mp_.rbar + mq_.rbar)
    e_nat = np.linalg.norm(V - c_nat[:, None] * dg, axis=1) / np.linalg.norm(V, axis=1)
    c_best = np.sum(V * dg, axis=1) / np.sum(dg * dg, axis=1)
    e_best = np.linalg.norm(V - c_best[:, None] * dg, axis=1) / np.linalg.norm(V, axis=1)
    ratio = mp_.rbar / mq_.rbar
    rel_res_V = np.linalg.norm(mp_.residual - mq_.residual, axis=1) / np.linalg.norm(V, axis=1)
    rel_res_p = np.linalg.norm(mp_.residual, axis=1) / np.linalg.norm(mp_.mean_shift, axis=1)
    return {"median_rel_residual_of_V": float(np.median(rel_res_V)), "p90_rel_residual_of_V": float(np.quantile(rel_res_V, 0.9)),
            "median_rel_residual_of_m_p": float(np.median(rel_res_p)),
            "dim": dim, "tau": tau, "median_rel_error_natural": float(np.median(e_nat)),
            "p90_rel_error_natural": float(np.quantile(e_nat, 0.9)),
            "median_rel_error_best_scalar": float(np.median(e_best)),
            "p90_rel_error_best_scalar": float(np.quantile(e_best, 0.9)),
            "preconditioner_ratio_range": [float(ratio.min()), float(ratio.max())]}
