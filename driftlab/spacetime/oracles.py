r"""Closed-form oracles: the hyperbolic spacetime of Gaussian data ([S], Sec. 3.2; re-derived here).

For data :math:`q = N(m, s_0^2 I_D)` the posterior at z = (y, lambda) is
:math:`N(\tilde m, u^2 I)` with :math:`u^2 = 1/(1/s_0^2 + e^{\lambda})` and
:math:`\tilde m = u^2(m/s_0^2 + e^{\lambda} y)`. The Fisher metric of the isotropic Gaussian
family is :math:`ds^2 = (|d\tilde m|^2 + 2D\,du^2)/u^2 = 2D\,(|dX|^2 + du^2)/u^2` with
:math:`X = \tilde m/\sqrt{2D}`: the upper half-space model of hyperbolic space scaled by
:math:`\sqrt{2D}`. Spacetime maps diffeomorphically onto the slab :math:`0 < u < s_0`, so

.. math::  d(z_a, z_b) = \sqrt{2D}\,\mathrm{arccosh}\Big(1 + \frac{|\tilde m_a-\tilde m_b|^2/(2D) + (u_a-u_b)^2}{2u_au_b}\Big)

whenever the hyperbolic geodesic (a semicircle orthogonal to u = 0) stays below u = s_0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftlab._validation import check_positive

__all__ = ["gaussian_posterior_params", "gaussian_spacetime_distance", "gaussian_geodesic_max_u",
           "hyperbolic_problem"]


def _pt(z: Any, name: str, dim: int | None = None) -> np.ndarray:
    arr = np.asarray(z, dtype=np.float64).ravel()
    if arr.size < 2 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite spacetime point (y_1..y_D, lambda)")
    if dim is not None and arr.size != dim + 1:
        raise ValueError(f"{name} must have D + 1 = {dim + 1} entries, got {arr.size}")
    return arr


def gaussian_posterior_params(z: Any, mean: Any, variance: float) -> tuple[np.ndarray, float]:
    r"""(posterior mean :math:`\tilde m`, posterior std u) at z for data N(mean, variance I)."""
    v = check_positive(variance, "variance")
    z = _pt(z, "z")
    m = np.broadcast_to(np.asarray(mean, dtype=np.float64), (z.size - 1,))
    s = math.exp(z[-1])
    u2 = 1.0 / (1.0 / v + s)
    return u2 * (m / v + s * z[:-1]), math.sqrt(u2)


def gaussian_spacetime_distance(z_a: Any, z_b: Any, mean: Any = 0.0, variance: float = 1.0) -> float:
    r"""Exact Fisher-Rao distance between spacetime points for data N(mean, variance I_D).

    Raises ValueError when the geodesic would leave the slab :math:`u < s_0` (then the
    formula is only a lower bound). [S]

    Examples
    --------
    >>> round(gaussian_spacetime_distance([-0.5, 4.0], [0.5, 4.0]), 4)
    4.751
    """
    a, b = _pt(z_a, "z_a"), _pt(z_b, "z_b")
    if a.size != b.size:
        raise ValueError("z_a and z_b must have the same dimension")
    D = a.size - 1
    ma, ua = gaussian_posterior_params(a, mean, variance)
    mb, ub = gaussian_posterior_params(b, mean, variance)
    if gaussian_geodesic_max_u(a, b, mean, variance) >= math.sqrt(variance):
        raise ValueError("the hyperbolic geodesic leaves the spacetime slab u < sqrt(variance): no closed form")
    arg = 1.0 + (np.sum((ma - mb) ** 2) / (2 * D) + (ua - ub) ** 2) / (2 * ua * ub)
    return math.sqrt(2 * D) * math.acosh(arg)


def gaussian_geodesic_max_u(z_a: Any, z_b: Any, mean: Any = 0.0, variance: float = 1.0) -> float:
    """Highest posterior std u reached by the hyperbolic geodesic (the semicircle's top, if interior)."""
    a, b = _pt(z_a, "z_a"), _pt(z_b, "z_b")
    D = a.size - 1
    ma, ua = gaussian_posterior_params(a, mean, variance)
    mb, ub = gaussian_posterior_params(b, mean, variance)
    w = float(np.linalg.norm(ma - mb)) / math.sqrt(2 * D)
    if w == 0.0:
        return max(ua, ub)
    c = (w * w + ub * ub - ua * ua) / (2 * w)  # centre, measured from a along the line to b
    r = math.hypot(c, ua)
    return r if 0.0 <= c <= w else max(ua, ub)


def hyperbolic_problem(dim: int):
    """The standard test problem that carries its exact solution (diffrax style).

    Data N(0, I_D); D = 1 uses the endpoints y = -/+0.5 at lambda = 4 (exact length
    4.750977...); D > 1 uses seeded endpoints (y ~ N(0, 0.4^2 I) at lambda = 3 and 2).

    Returns
    -------
    (posterior, z_a, z_b, exact_length)
    """
    from driftlab.distributions import GaussianMixture
    from driftlab.spacetime.posterior import GaussianMixturePosterior

    rng = np.random.default_rng(dim)
    post = GaussianMixturePosterior(GaussianMixture(np.zeros((1, dim)), 1.0))
    if dim == 1:
        za, zb = np.array([-0.5, 4.0]), np.array([0.5, 4.0])
    else:
        za = np.r_[rng.normal(scale=0.4, size=dim), 3.0]
        zb = np.r_[rng.normal(scale=0.4, size=dim), 2.0]
    return post, za, zb, gaussian_spacetime_distance(za, zb)
