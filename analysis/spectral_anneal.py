r"""Convergence time vs K_max (fixed, tuned, annealed) and the coarse-to-fine annealing sweep.

All numbers are deterministic (no randomness): linear theory of [T]; docs/theory.md, the spectral section,
modes k = 1..K of the :math:`2\pi`-periodic torus, tolerance eps.

* :func:`t_vs_kmax` -- T(K) for the fixed bandwidth s0, the best fixed bandwidth per K and
  the annealed schedule s0 exp(-r t), with the fitted asymptotic laws and their R^2.
* :func:`schedule_sweep` -- for one K, the best time of each schedule family (exponential
  over r, floored exponential, linear / cosine over the duration, step halving over the
  dwell time), all starting at s0 and, where a final bandwidth is needed, ending at the
  bandwidth that makes mode K fastest (sqrt2 / K for a Gaussian, the peak for others).
* :func:`rate_s0_map` -- T(K) over a grid of (r, s0): where annealing is admissible.
* :func:`dimension_study` -- does annealing still win in higher dimension? (Laplace, d = 1..10.)
"""

from __future__ import annotations

import math

import numpy as np

from driftlab.kernels import make_kernel
from driftlab.spectral import (
    CosineSchedule,
    ExponentialSchedule,
    LinearSchedule,
    StepSchedule,
    admissible_rate,
    anneal_table,
    convergence_time,
    fit_law,
    peak_rate,
)


def t_vs_kmax(kernel: str = "gaussian", dim: int = 1, Ks=None, eps: float = 1e-2, s0: float = 3.0,
              r: float = 0.1, fixed_bandwidth: float | None = None) -> dict:
    """Rows of :func:`driftlab.spectral.anneal_table` plus fits of the asymptotic laws."""
    Ks = [1, 2, 4, 8, 16, 32, 64, 128] if Ks is None else list(Ks)
    kern = make_kernel(kernel, s0)
    rows = anneal_table(kern, Ks, eps, s0, r, dim, fixed_bandwidth)
    K = np.array([row["K"] for row in rows], dtype=float)
    fits = {}
    big = K >= 8
    Ta = np.array([row["T_annealed"] for row in rows])
    if np.isfinite(Ta[big]).all() and big.sum() >= 3:
        fits["annealed"] = fit_law(K[big], Ta[big], "log")
        fits["annealed"]["expected_slope"] = 1.0 / r
    Tt = np.array([row["T_tuned"] for row in rows])
    if big.sum() >= 3:
        fits["tuned_power"] = fit_law(K[big], Tt[big], "power")
        if kernel == "gaussian":
            fits["tuned_k2_over_log"] = fit_law(K[big], Tt[big], "k2-over-log")
    Tf = np.array([row["T_fixed"] for row in rows])
    ok = np.isfinite(Tf) & (K >= 2)
    if ok.sum() >= 3:
        if kernel == "gaussian":
            fits["fixed_exp_k2"] = fit_law(K[ok], Tf[ok], "exp-k2")
            fits["fixed_exp_k2"]["expected_slope"] = (fixed_bandwidth or s0) ** 2 / 2
        else:
            fits["fixed_power"] = fit_law(K[ok & big], Tf[ok & big], "power") if (ok & big).sum() >= 3 else None
            if fits["fixed_power"] is not None:
                fits["fixed_power"]["expected_slope"] = dim + 1
    return {"kernel": kernel, "dim": dim, "eps": eps, "s0": s0, "r": r,
            "r_max": admissible_rate(kern, [1.0], eps, s0, dim), "rows": rows, "fits": fits}


def _final_bandwidth(kernel: str, K: float, dim: int) -> float:
    kstar, _ = peak_rate(make_kernel(kernel, 1.0), dim)  # peak at k* for unit length scale
    return kstar / K


def schedule_sweep(kernel: str = "gaussian", K: int = 64, dim: int = 1, eps: float = 1e-2, s0: float = 3.0,
                   n: int = 25) -> dict:
    """Best convergence time per schedule family for modes 1..K, and the full sweeps."""
    kern = make_kernel(kernel, s0)
    modes = np.arange(1, K + 1, dtype=float)
    s1 = _final_bandwidth(kernel, K, dim)
    rmax = admissible_rate(kern, modes, eps, s0, dim)
    out: dict = {"kernel": kernel, "K": K, "dim": dim, "eps": eps, "s0": s0, "s1": s1, "r_max": rmax,
                 "families": {}}
    fam = {
        "exponential": (np.linspace(0.05, 0.999, n) * rmax, lambda r: ExponentialSchedule(s0, r)),
        "exponential-floored": (np.geomspace(0.05, 5.0, n), lambda r: ExponentialSchedule(s0, r, s_min=s1)),
        "linear": (np.geomspace(1.0, 500.0, n), lambda D: LinearSchedule(s0, s1, D)),
        "cosine": (np.geomspace(1.0, 500.0, n), lambda D: CosineSchedule(s0, s1, D)),
        "step": (np.geomspace(0.2, 50.0, n),
                 lambda dwell: StepSchedule.halving(s0, max(1, int(math.ceil(math.log2(s0 / s1)))) + 1, dwell)),
    }
    for name, (params, build) in fam.items():
        T = np.array([convergence_time(kern, modes, eps, build(float(p)), dim) for p in params])
        i = int(np.argmin(T))
        out["families"][name] = {"param": params, "T": T, "best_param": float(params[i]), "best_T": float(T[i])}
    return out


def rate_s0_map(kernel: str = "gaussian", K: int = 64, dim: int = 1, eps: float = 1e-2, n: int = 30) -> dict:
    """T(K) on a (r, s0) grid (inf where r >= r_max(s0))."""
    rs = np.geomspace(0.01, 1.0, n)
    s0s = np.geomspace(0.2, 10.0, n)
    modes = np.arange(1, K + 1, dtype=float)
    T = np.array([[convergence_time(make_kernel(kernel, s0), modes, eps, ExponentialSchedule(s0, r), dim)
                   for r in rs] for s0 in s0s])
    return {"r": rs, "s0": s0s, "T": T, "K": K, "eps": eps, "kernel": kernel}


def dimension_study(dims=(1, 2, 3, 5, 10), K: int = 64, eps: float = 1e-2, s0: float = 3.0, r: float = 0.05) -> list[dict]:
    """Laplace kernel: tuned-fixed vs annealed time for modes 1..K in several dimensions."""
    rows = []
    for d in dims:
        row = anneal_table(make_kernel("laplace", s0), [K], eps, s0, r, d)[0]
        rows.append({"dim": d, **row, "gain": row["T_tuned"] / row["T_annealed"],
                     "r_max": admissible_rate(make_kernel("laplace", s0), [1.0], eps, s0, d)})
    return rows
