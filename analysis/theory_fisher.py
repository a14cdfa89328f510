"""Reverse Fisher divergence (closed form vs Monte Carlo) and the Gaussian drifting flow (ODE vs particles)."""

from __future__ import annotations

import numpy as np

from driftlab.theory.fisher import (
    gaussian_flow_euler_moments,
    gaussian_flow_ode,
    particle_flow,
    reverse_fisher_closed,
    reverse_fisher_montecarlo,
)

__all__ = ["GAUSS_PAIR", "fisher_vs_bandwidth", "flow_comparison"]

GAUSS_PAIR = dict(mu_p=np.array([1.0, -0.5]), S_p=np.array([[1.0, 0.3], [0.3, 0.5]]),
                  mu_q=np.array([-0.5, 0.5]), S_q=np.array([[0.3, 0.0], [0.0, 0.8]]))


def fisher_vs_bandwidth(bandwidths=(0.2, 0.4, 0.7, 1.0, 1.5, 2.5), n: int = 20000, seed: int = 0) -> dict:
    """E_q|V|^2: closed form s^4 x reverse Fisher vs Monte Carlo (mean, standard error) per bandwidth."""
    g = GAUSS_PAIR
    rows = []
    for i, s in enumerate(bandwidths):
        c = reverse_fisher_closed(g["mu_p"], g["S_p"], g["mu_q"], g["S_q"], s)
        m, se = reverse_fisher_montecarlo(g["mu_p"], g["S_p"], g["mu_q"], g["S_q"], s, n=n, rng=seed + i)
        rows.append({"s": s, "closed": c, "mc_mean": m, "mc_se": se, "z": (m - c) / se})
    return {"rows": rows}


def flow_comparison(s: float = 0.7, n_particles: int = 1000, dt: float = 0.05, n_steps: int = 80, seed: int = 0) -> dict:
    """Particle run (self-consistent KDE field) vs exact Euler moment recursion vs the continuous ODE."""
    g = GAUSS_PAIR
    x0 = np.random.default_rng(seed).multivariate_normal(g["mu_q"], g["S_q"], size=n_particles)
    pm, pS = particle_flow(g["mu_p"], g["S_p"], x0, s, dt, n_steps)
    em, eS = gaussian_flow_euler_moments(g["mu_p"], g["S_p"], pm[0], pS[0], s, dt, n_steps)
    t = np.arange(n_steps + 1) * dt
    om, oS = gaussian_flow_ode(g["mu_p"], g["S_p"], pm[0], pS[0], s, t)
    return {"t": t, "particle_means": pm, "particle_covs": pS, "euler_means": em, "euler_covs": eS,
            "ode_means": om, "ode_covs": oS, "mu_p": g["mu_p"], "S_p": g["S_p"],
            "max_particle_vs_euler": float(max(np.abs(pm - em).max(), np.abs(pS - eS).max())),
            "max_euler_vs_ode": float(max(np.abs(em - om).max(), np.abs(eS - oS).max()))}
