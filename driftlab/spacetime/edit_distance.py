r"""Diffusion Edit Distance ([S], Sec. 5): the geodesic length between two data points at t_min."""

from __future__ import annotations

from typing import Any

import numpy as np

from driftlab._validation import check_finite_scalar
from driftlab.spacetime.curves import _check_counts, best_geodesic
from driftlab.spacetime.posterior import SpacetimePosterior
from driftlab.spacetime.schedules import NoiseSchedule

__all__ = ["diffusion_edit_distance"]


def diffusion_edit_distance(posterior: SpacetimePosterior, a: Any, b: Any, *, t_min: float,
                            schedule: NoiseSchedule, n_points: Any = (17, 33, 65),
                            inits: Any = ("straight", "tent"), return_details: bool = False):
    r"""DiffED(a, b): Fisher-Rao length of the geodesic between (a, t_min) and (b, t_min).

    a and b are read as noisy states :math:`x_{t_{min}}` of ``schedule`` and mapped to
    spacetime, :math:`z = (x/\alpha_{t_{min}}, \lambda(t_{min}))`. DiffED diverges as
    :math:`t_{min} \to 0` (the posteriors become point masses), so values are comparable
    only at the same t_min, schedule and data dimension: t_min has no default on purpose.
    The returned value is the Richardson-extrapolated length over ``n_points`` (point
    counts >= 3, strictly increasing; ValueError otherwise).

    Examples
    --------
    >>> from driftlab.distributions import GaussianMixture
    >>> from driftlab.spacetime import GaussianMixturePosterior, VE
    >>> post = GaussianMixturePosterior(GaussianMixture([[0.0]], 1.0))
    >>> sch = VE(sigma_min=0.01, sigma_max=10.0)
    >>> t = float(sch.t_of_lam(4.0))
    >>> round(diffusion_edit_distance(post, [-0.5], [0.5], t_min=t, schedule=sch), 3)
    4.751
    """
    if not isinstance(posterior, SpacetimePosterior):
        raise TypeError(f"posterior must be a SpacetimePosterior, got {type(posterior).__name__}")
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a driftlab NoiseSchedule, got {type(schedule).__name__}")
    n_points = _check_counts(n_points)
    t_min = check_finite_scalar(t_min, "t_min")
    if not 0.0 < t_min < 1.0:
        raise ValueError(f"t_min must lie in (0, 1): DiffED diverges as t_min -> 0, got {t_min!r}")
    D = posterior.dim
    pts = []
    for name, p in (("a", a), ("b", b)):
        arr = np.asarray(p, dtype=np.float64).ravel()
        if arr.size != D or not np.isfinite(arr).all():
            raise ValueError(f"{name} must be a finite point of dimension {D}")
        pts.append(arr)
    y, lam = schedule.to_spacetime(np.stack(pts), np.full(2, t_min))
    z_a = np.r_[y[0], lam[0]]
    z_b = np.r_[y[1], lam[1]]
    if np.array_equal(z_a, z_b):
        return (0.0, None, []) if return_details else 0.0
    best, table = best_geodesic(posterior, z_a, z_b, n_points=n_points, inits=inits)
    rows = [r for r in table if r["init"] == best.init]
    L = rows[-1]["length_extrapolated"] if len(rows) > 1 else best.length
    if return_details:
        return float(L), best, table
    return float(L)
