r"""Experiment 3a: per-mode decay of the particle system vs the spectral rate lambda(k).

Particles on the torus ``[0, 1)^d`` start with one density mode,
:math:`q_0 = p(1 + \epsilon\cos k\cdot x)`, the target is uniform; the mode's coefficient
:math:`\delta_k(t) = \hat q_t(k) - \hat p(k)` is recorded every step and its decay rate
fitted (least squares on :math:`\log` of its projection on the initial phase). Theory
(:func:`driftlab.spectral.rate`, [T]; docs/theory.md, the spectral section): linear modes decay at
:math:`\lambda(k)`; with explicit Euler steps :math:`\eta` the measured per-unit-time rate
is :math:`-\log(1-\eta\lambda)/\eta` (:func:`driftlab.spectral.euler_rate`).

Two layouts: ``grid`` (stratified particles and target: no Monte Carlo noise, isolates
the nonlinearity and discretisation) and ``random`` (iid particles and iid target: every
mode carries ~N^{-1/2} noise and the noisy target couples modes; this measures the N needed
for the 2 % agreement).

All runs are seeded; :func:`mode_decay` is the unit of work.
"""

from __future__ import annotations

import math

import numpy as np

from driftlab.kernels import make_kernel
from driftlab.simulation import SimulationConfig, run_simulation, torus_mode_problem
from driftlab.spectral import euler_rate, rate

__all__ = ["mode_decay", "rate_curve", "n_needed"]


def _fit(t, a):
    a0 = a[0]
    keep = a > 0.1 * a0  # fit until the mode has lost 90 % (beyond, noise/nonlinearity dominate)
    keep &= np.cumprod(keep).astype(bool)
    if keep.sum() < 3:
        return float("nan")
    return float(-np.polyfit(t[keep], np.log(a[keep]), 1)[0])


def mode_decay(kernel: str = "gaussian", scale: float = 0.05, dim: int = 1, mode=(3,), n: int = 1024,
               m: int | None = None, eps: float = 0.05, eta: float = 1.0, layout: str = "grid", seed: int = 0,
               integrator: str = "euler", wrap: str | None = None, max_steps: int = 60,
               num_threads: int | None = 1, paired: bool = False) -> dict:
    """One run; returns theory and measured rates (Euler-corrected) and their ratio.

    ``paired=True`` (iid layouts) also runs the same seed with ``eps = 0`` and fits the
    difference of the two complex mode trajectories (common random numbers): the static
    sampling noise of the mode cancels and what remains is the response to the imposed
    perturbation, including the genuine finite-N (nonlinear noise-coupling) effects.
    ``ratio_raw`` is always the plain single-run estimate.
    """
    m = m or n
    mode = tuple(int(v) for v in mode)
    x, y, kvec = torus_mode_problem(n, m, dim, mode=mode, eps=eps, layout=layout, seed=seed)
    kern = make_kernel(kernel, scale)
    knorm = float(np.linalg.norm(kvec))
    lam = float(rate(kern, knorm, dim))
    z = eta * lam
    lam_step = float(euler_rate(lam, eta)) if integrator == "euler" else -math.log(1 - z + z * z / 2) / eta
    n_steps = int(min(max_steps, math.ceil(2.5 / (eta * lam_step))))
    cfg = SimulationConfig(kernel=kernel, scale=scale, step=eta, n_steps=n_steps, period=1.0, wrap=wrap,
                           modes=[list(mode)], obs_points=16, integrator=integrator, seed=seed, backend="auto",
                           num_threads=num_threads)
    res = run_simulation(cfg, x, y, progress=False)

    def fit(re, im):
        d0 = complex(re[0], im[0])
        proj = (re * d0.real + im * d0.imag) / abs(d0)  # component along the initial phase
        return _fit(res.column("t"), proj)

    re, im = res.column("mode0_re"), res.column("mode0_im")
    raw = fit(re, im)
    measured = raw
    if paired:
        x0, y0, _ = torus_mode_problem(n, m, dim, mode=mode, eps=0.0, layout=layout, seed=seed)
        ctrl = run_simulation(cfg, x0, y0, progress=False)
        measured = fit(re - ctrl.column("mode0_re"), im - ctrl.column("mode0_im"))
    return {"ratio_raw": raw / lam_step, "paired": paired,"kernel": kernel, "scale": scale, "dim": dim, "mode": list(mode), "k": knorm, "n": n, "m": m,
            "eps": eps, "eta": eta, "layout": layout, "seed": seed, "integrator": integrator,
            "wrap": res.info["wrap"], "n_steps": n_steps, "lambda": lam, "lambda_step": lam_step,
            "measured": measured, "ratio": measured / lam_step, "backend": res.info["backend"],
            "seconds": res.info["elapsed_s"]}


def rate_curve(kernel: str, dim: int, modes, n: int, scale: float = 0.05, eta: float = 1.0, **kw) -> list[dict]:
    """Measured vs theoretical rate for several modes (grid layout by default)."""
    out = []
    for mvec in modes:
        out.append(mode_decay(kernel, scale, dim, mvec, n, eta=eta, **kw))
    return out


def n_needed(kernel: str, dim: int, mode, ns, seeds, scale: float = 0.05, eps: float = 0.1, tol: float = 0.02,
             **kw) -> dict:
    """Random layout: ratio statistics per N and the smallest N from which on every seed agrees
    within ``tol`` (for the paired estimator and, separately, the raw single-run estimator)."""
    rows = []
    for n in ns:
        for s in seeds:
            rows.append(mode_decay(kernel, scale, dim, mode, n, eps=eps, layout="random", seed=s, paired=True, **kw))
    per_n = {}
    for n in ns:
        out = {}
        for key in ("ratio", "ratio_raw"):
            r = np.array([row[key] for row in rows if row["n"] == n])
            out[key] = {"mean": float(np.mean(r)), "sd": float(np.std(r, ddof=1)) if len(r) > 1 else float("nan"),
                        "max_abs_dev": float(np.max(np.abs(r - 1)))}
        per_n[n] = out

    def first_ok(key):
        good = [per_n[n][key]["max_abs_dev"] < tol for n in ns]
        for i in range(len(ns)):
            if all(good[i:]):
                return ns[i]
        return None

    return {"rows": rows, "per_n": per_n, "tol": tol, "n_needed": first_ok("ratio"),
            "n_needed_raw": first_ok("ratio_raw")}
