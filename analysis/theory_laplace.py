"""Laplace drift decomposition on a grid, and the residual laws vs temperature and dimension.

All values are deterministic (exact scale-mixture quadrature, :mod:`driftlab.theory.laplace`);
query points are drawn with fixed seeds.
"""

from __future__ import annotations

import numpy as np

from driftlab.theory.laplace import (
    residual_test_pair,
    constant_preconditioner_law,
    dimension_law,
    laplace_drift,
    temperature_law,
)

__all__ = ["field_decomposition", "residual_laws"]


def field_decomposition(taus=(0.1, 0.3, 1.0), n: int = 15) -> dict:
    r"""2-D: drift :math:`V`, its preconditioned-score part :math:`\tau(\bar r_p g_p - \bar r_q g_q)`
    and the residual :math:`C_p - C_q` on an n x n grid, for each temperature."""
    p, q = residual_test_pair(2)
    gx = np.linspace(-3.5, 3.5, n)
    gy = np.linspace(-3.0, 3.0, n)
    X, Y = np.meshgrid(gx, gy)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    out = {"grid_x": gx, "grid_y": gy, "taus": list(taus), "fields": {}}
    for tau in taus:
        a, b = laplace_drift(p, q, pts, float(tau))
        V = a.mean_shift - b.mean_shift
        pre = tau * (a.rbar[:, None] * a.score - b.rbar[:, None] * b.score)
        res = a.residual - b.residual
        out["fields"][str(tau)] = {
            "drift": V, "preconditioned": pre, "residual": res,
            "rel_residual_median": float(np.median(np.linalg.norm(res, axis=1) / np.linalg.norm(V, axis=1))),
            "max_decomposition_error": float(np.max(np.abs(V - pre - res))),
        }
    return out


def residual_laws(quick: bool = False) -> dict:
    """Temperature law (d = 1, 2, 8) and dimension law (d = 2 ... 1024, plus 1024 ... 4096 when not quick)."""
    temp = {d: temperature_law(d, taus=np.geomspace(0.005, 0.08, 5 if quick else 8), n_points=6 if quick else 16)
            for d in (1, 2, 8)}
    dims = (2, 8, 32, 128, 512, 1024) if quick else (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    dim = {tau: dimension_law(dims=dims, tau=tau, n_points=6 if quick else 16) for tau in ((1.0,) if quick else (0.3, 1.0))}
    asym = None if quick else dimension_law(dims=(1024, 2048, 4096), tau=1.0, n_points=16)
    const = {d: constant_preconditioner_law(d, taus=np.geomspace(0.005, 0.08, 5 if quick else 8), n_points=6 if quick else 16)
             for d in (1, 2, 8)}
    return {"temperature": temp, "constant_preconditioner": const, "dimension": dim, "asymptotic": asym}
