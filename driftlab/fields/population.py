r"""Population mean-shift and drift fields of distributions, with error estimates.

.. math::

    m_\pi(x) = \frac{E_{y\sim\pi}[k(x,y)(y-x)]}{E_{y\sim\pi}[k(x,y)]},\qquad
    V_{p,q}(x) = m_p(x) - m_q(x).

Methods (``method=``):

``"closed"``
    Gaussian kernel on a :class:`~driftlab.distributions.GaussianMixture`: the kernel
    posterior is again a Gaussian mixture, so :math:`m_\pi(x) = E_\mathrm{post}[y] - x`
    exactly, in any dimension (equal to :math:`s^2\nabla\log\pi_s` by Tweedie; [T], [L]).
``"exact"``
    :class:`~driftlab.distributions.EmpiricalMeasure`: the finite weighted sum, float64.
``"quadrature"``
    1-D and 2-D, any kernel and any distribution with a ``pdf``: polar coordinates centred
    at x (so the kernel's cusp at r = 0 costs nothing), composite Gauss-Legendre in r and
    the periodic trapezoidal rule in the angle; the error estimate is the change between
    two resolutions. Bounded work: at most ``max_nodes`` nodes per query point and
    resolution, refused up front (``ValueError``) when two resolutions do not fit.
``"montecarlo"``
    Any dimension: the self-normalised ratio estimator on fresh samples, with its
    delta-method standard error :math:`\sqrt{\sum_j a_j^2 (v_j - T)^2}`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftlab._validation import check_int, check_points, check_positive
from driftlab.distributions import EmpiricalMeasure, GaussianMixture, as_generator, score_difference
from driftlab.fields import _streaming as S
from driftlab.kernels import Gaussian, RadialKernel

__all__ = ["FieldEstimate", "population_mean_shift", "population_drift", "POPULATION_METHODS",
           "QUADRATURE_MAX_NODES"]

POPULATION_METHODS = ("auto", "closed", "exact", "quadrature", "montecarlo")
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
#: below this Kish effective sample size the Monte Carlo error bar is flagged as unreliable
MIN_EFFECTIVE_SAMPLES = 100


@dataclass(frozen=True)
class FieldEstimate:
    """A field evaluated at query points, with an error bar where the method has one.

    Attributes
    ----------
    value : ndarray, shape (n, d)
    error : ndarray, shape (n, d), or None
        Monte Carlo standard error, or quadrature error estimate; None for closed forms
        and exact sums (float64 round-off only).
    method : str
    """

    value: np.ndarray
    error: np.ndarray | None
    method: str

    def __sub__(self, other: "FieldEstimate") -> "FieldEstimate":
        if self.error is None and other.error is None:
            err = None
        else:
            e1 = 0.0 if self.error is None else self.error
            e2 = 0.0 if other.error is None else other.error
            err = np.sqrt(np.square(e1) + np.square(e2))
        method = self.method if self.method == other.method else f"{self.method}-{other.method}"
        return FieldEstimate(self.value - other.value, err, method)


def _resolve_method(measure: Any, kernel: RadialKernel, method: str) -> str:
    if method not in POPULATION_METHODS:
        raise ValueError(f"method must be one of {POPULATION_METHODS}, got {method!r}")
    if method != "auto":
        return method
    if isinstance(measure, EmpiricalMeasure):
        return "exact"
    if isinstance(measure, GaussianMixture) and isinstance(kernel, Gaussian):
        return "closed"
    if getattr(measure, "dim", None) in (1, 2) and hasattr(measure, "pdf"):
        return "quadrature"
    return "montecarlo"


def _smoothed_mixture(measure: Any, kernel: RadialKernel) -> GaussianMixture:
    """The Gaussian smoothing ``measure * N(0, s^2 I)`` behind the closed forms."""
    if not isinstance(kernel, Gaussian):
        raise ValueError(f"method='closed' needs the Gaussian kernel, got {kernel!r}")
    if isinstance(measure, EmpiricalMeasure):
        return measure.smooth(kernel.bandwidth)
    if not isinstance(measure, GaussianMixture):
        raise ValueError(f"method='closed' needs a GaussianMixture, got {type(measure).__name__}")
    return measure.smooth(kernel.bandwidth)


def _closed(measure: Any, x: np.ndarray, kernel: RadialKernel) -> FieldEstimate:
    # Tweedie: m = s^2 grad log p_s = -s^2 sum_k r_k (Sigma_k + s^2)^-1 (x - mu_k), formed as
    # such (posterior mean minus x would cancel far from the mass)
    smoothed = _smoothed_mixture(measure, kernel)
    return FieldEstimate(kernel.bandwidth**2 * smoothed.score(x), None, "closed")


def _exact(measure: Any, x: np.ndarray, kernel: RadialKernel) -> FieldEstimate:
    if not isinstance(measure, EmpiricalMeasure):
        raise ValueError(f"method='exact' needs an EmpiricalMeasure, got {type(measure).__name__}")
    with np.errstate(divide="ignore"):
        lw = np.log(measure.weights)
    acc = S.weighted_mean_shift(kernel, x, measure.points, log_weights=lw)
    S.check_rows(kernel, x, acc, measure.points, x_name="x", ref_name="measure.points")
    return FieldEstimate(acc.mean(), None, "exact")


def _montecarlo(measure: Any, x: np.ndarray, kernel: RadialKernel, n_samples: int, rng: Any) -> FieldEstimate:
    if not hasattr(measure, "sample"):
        raise ValueError(f"method='montecarlo' needs a distribution with sample(), got {type(measure).__name__}")
    y = np.asarray(measure.sample(n_samples, as_generator(rng)), dtype=np.float64)
    acc = S.weighted_mean_shift(kernel, x, y, moments=True)
    try:
        S.check_rows(kernel, x, acc, y, x_name="x", ref_name="the Monte Carlo samples")
    except ValueError as exc:
        raise ValueError(f"{exc}; method='quadrature' (1-D, 2-D) or 'closed' work in log space there") from None
    # Kish effective sample size 1 / sum a^2: far from the samples a handful of points carry all
    # the weight and the delta-method error bar is meaningless (e.g. N(0,1), Laplace tau = 0.2,
    # x = 5: ESS ~ 3, estimate -1.20 +- 0.10 against the quadrature value -0.732)
    ess = 1.0 / np.maximum(acc.sum_sq_weights(), np.finfo(np.float64).tiny)
    low = (ess < MIN_EFFECTIVE_SAMPLES) & ~acc.empty
    if low.any():
        warnings.warn(
            f"montecarlo: effective sample size below {MIN_EFFECTIVE_SAMPLES} at "
            f"{int(low.sum())} of {len(x)} query points (min {float(ess[low].min()):.1f}); the standard error is not "
            "reliable there (query far from the mass): use method='quadrature' or 'closed'",
            RuntimeWarning, stacklevel=3)
    return FieldEstimate(acc.mean(), acc.mean_stderr(), "montecarlo")


#: default quadrature budget: nodes per query point at the finest level (memory is bounded
#: separately: nodes are evaluated in chunks of _QUAD_CHUNK points)
QUADRATURE_MAX_NODES = 4_000_000
_QUAD_CHUNK = 1 << 16


def _polar_counts(radius: float, h: float, dim: int) -> tuple[int, int]:
    """(radial panels, angles) of the polar grid with panel width h: the angular spacing at
    the outer radius is at most h too (n_angle is not capped: a capped angle grid refined only
    in r reports a converged difference while the angular error stays)."""
    n_panels = max(1, int(math.ceil(radius / h)))
    n_angle = 2 if dim == 1 else max(64, int(math.ceil(2.0 * math.pi * radius / h)))
    return n_panels, n_angle


def _polar_nodes(radius: float, h: float, dim: int):
    """Radial GL nodes/weights on [0, radius] and unit directions with weights."""
    n_panels, n_angle = _polar_counts(radius, h, dim)
    edges = np.linspace(0.0, radius, n_panels + 1)
    a, b = edges[:-1, None], edges[1:, None]
    r = (0.5 * (b - a) * _GL_X + 0.5 * (a + b)).ravel()
    wr = (0.5 * (b - a) * _GL_W).ravel()
    if dim == 1:
        u = np.array([[1.0], [-1.0]])
        wu = np.array([1.0, 1.0])
    else:
        th = 2.0 * np.pi * np.arange(n_angle) / n_angle
        u = np.stack([np.cos(th), np.sin(th)], axis=1)
        wu = np.full(n_angle, 2.0 * np.pi / n_angle)
        wr = wr * r  # area element r dr dtheta
    return r, wr, u, wu


def _n_nodes(radius: float, h: float, dim: int) -> int:
    n_panels, n_angle = _polar_counts(radius, h, dim)
    return n_panels * _GL_X.size * n_angle


def _quadrature_one(measure, x: np.ndarray, kernel: RadialKernel, radius: float, h: float) -> np.ndarray:
    dim = x.size
    r, wr, u, wu = _polar_nodes(radius, h, dim)
    logk = np.asarray(kernel.log_profile(r), dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_rw = logk + np.log(wr)
        log_u = np.log(wu)
    # kernel x density in log space: far from the mass both factors underflow separately
    # (exp(logk - max logk) ~ e^-1400 where the posterior actually sits) though their product
    # is perfectly representable after removing the joint maximum. Streamed over chunks of
    # radii (online log-sum-exp), so memory stays O(_QUAD_CHUNK) whatever the node count.
    top, z, num = -np.inf, 0.0, np.zeros(dim)
    step = max(1, _QUAD_CHUNK // u.shape[0])
    for a in range(0, r.size, step):
        rr = r[a:a + step]
        pts = (x[None, None, :] + rr[:, None, None] * u[None, :, :]).reshape(-1, dim)
        if hasattr(measure, "log_prob"):
            logd = measure.log_prob(pts)
        else:
            with np.errstate(divide="ignore"):
                logd = np.log(measure.pdf(pts))
        logw = log_rw[a:a + step, None] + log_u[None, :] + logd.reshape(rr.size, u.shape[0])
        t = float(np.max(logw))
        if not np.isfinite(t):
            continue
        new = max(top, t)
        shrink = math.exp(top - new) if np.isfinite(top) else 0.0
        w = np.exp(logw - new)
        z = z * shrink + float(np.sum(w))
        num = num * shrink + np.einsum("ru,r,ud->d", w, rr, u)
        top = new
    if not np.isfinite(top):
        return np.zeros(dim)
    return num / z


def _quadrature(measure: Any, x: np.ndarray, kernel: RadialKernel, rtol: float, max_level: int,
                max_nodes: int) -> FieldEstimate:
    dim = x.shape[1]
    if dim not in (1, 2):
        raise ValueError(f"method='quadrature' works in 1-D and 2-D only, got dimension {dim}")
    if not hasattr(measure, "pdf"):
        raise ValueError(f"method='quadrature' needs a distribution with pdf(), got {type(measure).__name__}")
    feature = min(kernel.length_scale, getattr(measure, "min_std", kernel.length_scale))
    radii = measure.mass_radius(x) if hasattr(measure, "mass_radius") else np.full(len(x), 50.0 * feature)
    if kernel.support_radius is not None:
        radii = np.minimum(radii, kernel.support_radius)
    eps = np.finfo(np.float64).eps
    values = np.zeros_like(x)
    errors = np.zeros_like(x)
    unconverged = []
    for i, xi in enumerate(x):
        radius = float(radii[i])
        h = feature / 2.0
        # an error estimate needs two resolutions: refuse before any work beyond the budget
        need = _n_nodes(radius, h / 2.0, dim)
        if need > max_nodes:
            raise ValueError(
                f"method='quadrature' needs {need:.3g} nodes at x[{i}] (> max_nodes={max_nodes}): the "
                f"feature size {feature:.3g} (kernel length scale or the measure's smallest std) is "
                f"tiny against the integration radius {radius:.3g}; use method='montecarlo', a larger "
                "bandwidth, or raise max_nodes")
        prev = _quadrature_one(measure, xi, kernel, radius, h)
        err = np.full(dim, np.inf)
        converged = False
        for _ in range(max_level):
            if _n_nodes(radius, h / 2.0, dim) > max_nodes and np.isfinite(err).all():
                break
            h /= 2.0
            cur = _quadrature_one(measure, xi, kernel, radius, h)
            scale = max(kernel.length_scale, float(np.linalg.norm(cur)))
            # the change between resolutions bounds the coarser one's error and, for these
            # spectrally converging rules, far more than the finer one's; floored at the
            # round-off of sums over the grid (terms up to the radius in size)
            err = np.maximum(np.abs(cur - prev), 32.0 * eps * max(radius, scale))
            prev = cur
            if np.all(err <= rtol * scale):
                converged = True
                break
        values[i] = prev
        errors[i] = err
        if not converged:
            unconverged.append(i)
    if unconverged:
        warnings.warn(
            f"quadrature: the change between the last two resolutions is above rtol * scale at "
            f"{len(unconverged)} of {len(x)} query points (max error estimate "
            f"{float(errors[unconverged].max()):.3g}); raise max_level or max_nodes, or use "
            "method='montecarlo'", RuntimeWarning, stacklevel=3)
    return FieldEstimate(values, errors, "quadrature")


def population_mean_shift(measure: Any, x: Any, kernel: RadialKernel, *, method: str = "auto",
                          n_samples: int = 200_000, rng: Any = None, rtol: float = 1e-9,
                          max_level: int = 4, max_nodes: int = QUADRATURE_MAX_NODES) -> FieldEstimate:
    r"""Population mean shift :math:`m_\pi(x)` of a distribution at query points.

    Parameters
    ----------
    measure : GaussianMixture, EmpiricalMeasure, GridDensity or any object with ``dim`` and
        ``pdf`` (quadrature) or ``sample`` (Monte Carlo).
    x : array_like, shape (n, d)
        Query points (numpy, float64).
    kernel : RadialKernel
    method : {"auto", "closed", "exact", "quadrature", "montecarlo"}
        See the module docstring. ``"auto"`` picks closed > exact > quadrature > Monte Carlo.
    n_samples : int
        Monte Carlo sample size.
    rng : int, numpy Generator or None
        Monte Carlo seed (default 0).
    rtol : float
        Quadrature target: refine until the change between resolutions is below
        ``rtol * max(kernel length, |m|)``, at most ``max_level`` halvings.
    max_level : int
        Most halvings of the quadrature step.
    max_nodes : int
        Quadrature budget: the most nodes per query point at one resolution (default
        4,000,000: about 1 s per level; memory stays bounded whatever the count, nodes are
        evaluated in chunks of 65,536). The first two resolutions (needed for an error
        estimate) must fit, else ``ValueError`` (suggesting ``method="montecarlo"`` or a
        larger bandwidth); refinement stops at the budget with a ``RuntimeWarning`` when the
        target is not met. The reported error is the change between the last two
        resolutions (floored at the grid sums' round-off), an upper bound on the actual
        error of the returned (finer) value for these spectrally converging rules.

    Returns
    -------
    FieldEstimate

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.distributions import GaussianMixture
    >>> from driftlab.fields import population_mean_shift
    >>> from driftlab.kernels import Gaussian
    >>> p = GaussianMixture([[1.0]], 1.0)                     # N(1, 1)
    >>> est = population_mean_shift(p, [[0.0]], Gaussian(1.0))  # s^2 (1 - x)/(1 + s^2)
    >>> float(est.value[0, 0])
    0.5
    """
    if not isinstance(kernel, RadialKernel):
        raise TypeError(f"kernel must be a driftlab.kernels.RadialKernel, got {type(kernel).__name__}")
    dim = getattr(measure, "dim", None)
    if dim is None:
        raise TypeError(f"measure must be a driftlab distribution, got {type(measure).__name__}")
    x = np.asarray(check_points(x, "x", dim=dim), dtype=np.float64)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    rtol = check_positive(rtol, "rtol")
    max_level = check_int(max_level, "max_level", minimum=1)
    max_nodes = check_int(max_nodes, "max_nodes", minimum=1)
    how = _resolve_method(measure, kernel, method)
    if how == "closed":
        return _closed(measure, x, kernel)
    if how == "exact":
        return _exact(measure, x, kernel)
    if how == "quadrature":
        return _quadrature(measure, x, kernel, rtol, max_level, max_nodes)
    return _montecarlo(measure, x, kernel, n_samples, rng)


def population_drift(p: Any, q: Any, x: Any, kernel: RadialKernel, *, method: str = "auto",
                     n_samples: int = 200_000, rng: Any = None, rtol: float = 1e-9,
                     max_level: int = 4, max_nodes: int = QUADRATURE_MAX_NODES) -> FieldEstimate:
    r"""Population drift :math:`V_{p,q}(x) = m_p(x) - m_q(x)` with combined error bars.

    For the Gaussian kernel :math:`V_{p,q} = s^2(\nabla\log p_s - \nabla\log q_s)` ([T], [L]).
    Monte Carlo uses independent streams for p and q (seeds derived from ``rng``).

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.distributions import GaussianMixture
    >>> from driftlab.fields import population_drift
    >>> from driftlab.kernels import Gaussian
    >>> p, q = GaussianMixture([[1.0]], 1.0), GaussianMixture([[0.0]], 1.0)
    >>> # equal covariances: constant field s^2 (S + s^2)^-1 (mu_p - mu_q) = 0.5
    >>> population_drift(p, q, [[-3.0], [0.0], [5.0]], Gaussian(1.0)).value.ravel().tolist()
    [0.5, 0.5, 0.5]
    """
    if getattr(p, "dim", None) != getattr(q, "dim", None):
        raise ValueError(f"p and q must have the same dimension, got {getattr(p, 'dim', None)} and {getattr(q, 'dim', None)}")
    gen = as_generator(rng)
    seeds = gen.integers(0, 2**63 - 1, size=2)
    if (isinstance(kernel, RadialKernel) and method in ("auto", "closed")
            and _resolve_method(p, kernel, method) == "closed" and _resolve_method(q, kernel, method) == "closed"):
        # V = s^2 (grad log p_s - grad log q_s) in one expression: far from the mass the two
        # mean shifts are O(|x|) each and their difference would be round-off
        xx = np.asarray(check_points(x, "x", dim=p.dim), dtype=np.float64)
        ps, qs = _smoothed_mixture(p, kernel), _smoothed_mixture(q, kernel)
        return FieldEstimate(kernel.bandwidth**2 * score_difference(ps, qs, xx), None, "closed")
    kw = dict(method=method, n_samples=n_samples, rtol=rtol, max_level=max_level, max_nodes=max_nodes)
    mp = population_mean_shift(p, x, kernel, rng=int(seeds[0]), **kw)
    mq = population_mean_shift(q, x, kernel, rng=int(seeds[1]), **kw)
    return mp - mq
