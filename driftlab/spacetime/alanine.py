r"""Transition paths on the alanine-dipeptide (phi, psi) surface ([S], Sec. 6) with controls.

The target is the Boltzmann density :math:`q \propto e^{-U/kT}` on the torus
:math:`[-\pi, \pi)^2`. Its spacetime posterior at z = (y, lambda) restrains x towards y with
the periodic (wrapped) Gaussian :math:`\sum_{n\in\mathbb Z^2} e^{-e^\lambda|x - y + 2\pi n|^2/2}`.
driftlab works with the *lifted* posterior: the pair (x, n) is one point
:math:`\tilde x = x - 2\pi n` of the plane with density
:math:`\propto q(\tilde x \bmod 2\pi)\,e^{-e^\lambda|\tilde x - y|^2/2}`, tabulated on a
``tiles x tiles`` tiling of the grid (:func:`periodic_posterior`). This is exactly [S]'s
exponential family (statistics :math:`\tilde x, |\tilde x|^2`) for the periodically extended
data, its marginal on the torus is the wrapped posterior, and the lattice sum is truncated to
the tiles: the neglected mass is at most the posterior mass on the tiling's edge, which
:class:`~driftlab.spacetime.GridPosterior` keeps below ``edge_tol`` (else ValueError).

Methods compared by :func:`run_alanine` (all with the same Langevin budget per chain):
the spacetime geodesic between (A, lambda_end) and (B, lambda_end); the fixed-noise straight
line; a restraint dragged at lambda_end along the string-method minimum-energy path; tents
with several peak noise levels; and transition path sampling by two-way shooting
(:func:`shooting_paths`). References: the minimax bound (grid bottleneck and the MEP
maximum) and [S]'s published rows, shown as references, not targets.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftlab._validation import check_finite_scalar, check_int, check_positive
from driftlab.distributions import as_generator
from driftlab.spacetime.curves import geodesic, resample_curve, straight_curve, tent_curve
from driftlab.spacetime.paths import annealed_langevin, curve_lengths, summarise
from driftlab.spacetime.posterior import GridPosterior
from driftlab.spacetime.surfaces import (
    AlanineDipeptide,
    PeriodicSurface,
    alanine_dipeptide,
    torus_minimax_bound,
    torus_string_method,
    wrap_angle,
)

__all__ = ["periodic_posterior", "lift_near", "shooting_paths", "run_alanine", "PUBLISHED"]

#: [S]'s reported maximum energies along transition paths on this surface (file units)
PUBLISHED = {
    "spacetime geodesic [S]": (37.36, 0.60),
    "MCMC shooting [S]": (42.54, None),
    "Doob's Lagrangian [S]": (66.24, None),
    "minimax bound [S]": (36.42, None),
}


def periodic_posterior(surface: PeriodicSurface, kT: float, tiles: int = 3, **kw: Any) -> GridPosterior:
    r"""The lifted spacetime posterior of :math:`e^{-U/kT}` on a ``tiles x tiles`` tiling.

    Nodes cover :math:`[-\text{tiles}\,\pi, \text{tiles}\,\pi)^2` (``tiles`` odd), so restraint
    centres in the central cell see every image within :math:`(\text{tiles} - 1)\pi` of them.
    """
    kT = check_positive(kT, "kT")
    tiles = check_int(tiles, "tiles", minimum=1)
    if tiles % 2 == 0:
        raise ValueError(f"tiles must be odd (the central cell is the torus), got {tiles}")
    axes = [-math.pi * tiles + np.arange(n * tiles) * h for n, h in zip(surface.shape, surface.spacing)]
    return GridPosterior(axes, -np.tile(surface.values, (tiles, tiles)) / kT, **kw)


def lift_near(point: Any, reference: Any) -> np.ndarray:
    """The image of ``point`` (angles) nearest to ``reference`` in the plane."""
    p = np.asarray(point, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    return r + wrap_angle(p - r)


def shooting_paths(surface: AlanineDipeptide, a: Any, b: Any, kT: float, path_steps: int, budget: int,
                   n_chains: int, rng: Any = None, step_scale: float = 0.05) -> dict:
    r"""Transition path sampling by two-way shooting with overdamped Langevin dynamics.

    Each chain keeps a path of ``path_steps`` steps of
    :math:`x \leftarrow x - \epsilon\nabla U/kT + \sqrt{2\epsilon}\,\xi`,
    :math:`\epsilon = \text{step\_scale}\,kT/\kappa` (:math:`\kappa` the largest Hessian
    eigenvalue of the surface). A move picks a time slice uniformly, regenerates the path
    forward and backward from it with fresh noise, and is accepted when the new path starts
    in the basin of ``a`` and ends in the basin of ``b``. The initial path is the straight
    segment from ``a`` to the image of ``b`` nearest to it (not dynamical: it is replaced by
    the first accepted move). Every move costs ``path_steps`` gradient evaluations; a chain
    makes ``budget // path_steps`` moves.

    Returns
    -------
    dict
        ``max_energy`` (n_chains,) along each chain's last accepted path (NaN when no move
        was accepted), ``success`` (n_chains,) whether a reactive path was sampled,
        ``acceptance`` (n_chains,), ``n_energy_evals`` per chain.
    """
    kT = check_positive(kT, "kT")
    L = check_int(path_steps, "path_steps", minimum=2)
    moves = check_int(budget, "budget", minimum=1) // L
    n = check_int(n_chains, "n_chains", minimum=1)
    if moves < 1:
        raise ValueError(f"budget = {budget} is below one shooting move of path_steps = {L} evaluations")
    gen = as_generator(rng)
    eps = check_positive(step_scale, "step_scale") * kT / max(surface.max_curvature(), 1.0)
    noise = math.sqrt(2 * eps)
    a = np.asarray(a, dtype=np.float64)
    b = lift_near(b, a)
    basin_a, basin_b = surface.basin(np.stack([a, b]))
    max_e = np.full(n, np.nan)
    success = np.zeros(n, dtype=bool)
    accepted = np.zeros(n)
    paths = np.broadcast_to(straight_curve(a, b, L), (n, L, 2)).copy()
    rows = np.arange(n)
    for _ in range(moves):
        i = gen.integers(0, L, size=n)  # shooting slice per chain
        new = np.empty_like(paths)
        new[rows, i] = paths[rows, i]
        for j in range(1, L):  # forward from the slice
            m = j > i
            x = new[m, j - 1]
            new[m, j] = x - eps * surface._grad(x) / kT + noise * gen.standard_normal(x.shape)
        for j in range(L - 2, -1, -1):  # backward (overdamped Langevin is reversible)
            m = j < i
            x = new[m, j + 1]
            new[m, j] = x - eps * surface._grad(x) / kT + noise * gen.standard_normal(x.shape)
        ends = surface.basin(np.concatenate([new[:, 0], new[:, -1]]))
        ok = (ends[:n] == basin_a) & (ends[n:] == basin_b)
        paths[ok] = new[ok]
        success |= ok
        accepted += ok
        if ok.any():
            max_e[ok] = surface._eval(new[ok].reshape(-1, 2), 0, 0).reshape(int(ok.sum()), L).max(axis=1)
    return {"max_energy": max_e, "success": success, "acceptance": accepted / moves,
            "n_energy_evals": moves * L}


def run_alanine(kTs: Any = (1.0, 2.5, 5.0), lam_end: float = 4.0, budgets: Any = (4096, 16384),
                seeds: Any = (0, 1, 2), n_chains: int = 16, n_points: int = 128, geodesic_points: int = 33,
                tent_peaks: Any = (2.0, 0.0, -2.0), tiles: int = 3, mep_iter: int = 4000,
                shooting_steps: int = 1024, show_progress: bool = True) -> dict:
    r"""Alanine-dipeptide transition paths: spacetime curves vs controls vs shooting.

    Rows (per kT, budget, method): max energy along the path (mean and standard error over
    all chains of all seeds, for all chains and for chains that reached B), success fraction,
    Fisher-Rao length of the curve, energy evaluations per chain. Also the bound two ways
    (grid bottleneck; maximum along the string-method MEP) and :data:`PUBLISHED`.
    """
    from tqdm import tqdm

    surf = alanine_dipeptide()
    lam_end = check_finite_scalar(lam_end, "lam_end")
    A = np.array(surf.MINIMUM_A)
    grid_bound = torus_minimax_bound(surf, surf.MINIMUM_A, surf.MINIMUM_B)
    mep = torus_string_method(surf, grid_bound.path, n_images=128, n_iter=check_int(mep_iter, "mep_iter", minimum=1))
    mep = mep - (mep[0] - lift_near(mep[0], A))  # the lift that starts in the central cell
    dense = np.concatenate([np.linspace(mep[i], mep[i + 1], 16, endpoint=False) for i in range(len(mep) - 1)])
    mep_max = float(surf._eval(dense, 0, 0).max())
    B = lift_near(surf.MINIMUM_B, mep[-1])  # the image of B in the MEP's homotopy class
    za, zb = np.r_[A, lam_end], np.r_[B, lam_end]
    target = int(surf.basin(B[None])[0])
    rows: list[dict] = []
    jobs = [(float(kT), int(bud)) for kT in np.atleast_1d(kTs) for bud in np.atleast_1d(budgets)]
    bar = tqdm(total=len(jobs), disable=not show_progress, desc="alanine paths")
    curves_by_kT: dict = {}
    for kT in sorted({k for k, _ in jobs}):
        post = periodic_posterior(surf, kT, tiles)
        best = None
        for init in ("tent", "straight"):
            try:
                g = geodesic(post, za, zb, n_points=geodesic_points, init=init, lam_peak=lam_end - 4.0,
                             max_iter=2000, ftol=1e-9)
            except ValueError:  # left the admissible region (under-resolved or truncated lattice sum)
                continue
            if best is None or g.length < best.length:
                best = g
        curves: dict[str, np.ndarray] = {}
        if best is not None:
            curves["geodesic"] = resample_curve(best.z, n_points)
        curves["straight (fixed noise)"] = straight_curve(za, zb, n_points)
        m = resample_curve(mep, n_points)
        curves["MEP restraint"] = np.concatenate([m, np.full((n_points, 1), lam_end)], axis=1)
        for lp in np.atleast_1d(tent_peaks):
            curves[f"tent (peak lambda {float(lp):+.1f})"] = tent_curve(za, zb, n_points, float(lp))
        lengths = curve_lengths(post, curves)
        curves_by_kT[kT] = {"curves": curves, "geodesic_lam_min": None if best is None else best.lam_min}
        kappa = surf.max_curvature()
        for _kT, budget in [j for j in jobs if j[0] == kT]:
            K = max(1, budget // n_points)
            for name, z in curves.items():
                emax, succ = [], []
                for seed in np.atleast_1d(seeds):
                    out = annealed_langevin(surf, z, kT, K, n_chains, rng=np.random.default_rng([int(seed), 11]),
                                            curvature=kappa)
                    emax.append(out["max_energy"])
                    succ.append(out["basin"] == target)
                emax, succ = np.concatenate(emax), np.concatenate(succ)
                rows.append(_row(kT, budget, name, emax, succ, lengths[name], K * n_points + 1))
            emax, succ = [], []
            for seed in np.atleast_1d(seeds):
                out = shooting_paths(surf, A, B, kT, shooting_steps, budget, n_chains,
                                     rng=np.random.default_rng([int(seed), 13]))
                emax.append(out["max_energy"])
                succ.append(out["success"])
            emax, succ = np.concatenate(emax), np.concatenate(succ)
            rows.append(_row(kT, budget, "shooting (TPS)", emax, succ, float("nan"), (budget // shooting_steps)
                             * shooting_steps))
            bar.update(1)
    bar.close()
    return {"bound": {"grid": grid_bound.level, "mep_max": mep_max,
                      "saddle_node": grid_bound.saddle_node.tolist()},
            "published": {k: list(v) for k, v in PUBLISHED.items()},
            "endpoints": {"a": A.tolist(), "b": B.tolist(), "lam_end": lam_end},
            "config": {"kTs": [float(k) for k in np.atleast_1d(kTs)], "budgets": [int(b) for b in np.atleast_1d(budgets)],
                       "seeds": [int(s) for s in np.atleast_1d(seeds)], "n_chains": n_chains, "n_points": n_points,
                       "geodesic_points": geodesic_points, "tent_peaks": [float(t) for t in np.atleast_1d(tent_peaks)],
                       "tiles": tiles, "mep_iter": mep_iter, "shooting_steps": shooting_steps},
            "geodesic_lam_min": {str(k): v["geodesic_lam_min"] for k, v in curves_by_kT.items()},
            "rows": rows, "mep": mep.tolist()}


def _row(kT, budget, method, emax, succ, length, evals):
    ok = np.isfinite(emax)
    m, se = summarise(emax[ok])
    ms, ses = summarise(emax[ok & succ])
    return {"kT": kT, "budget": budget, "method": method, "max_energy_mean": m, "max_energy_se": se,
            "max_energy_success_mean": ms, "max_energy_success_se": ses, "success": float(succ.mean()),
            "n_chains": int(succ.size), "fr_length": length, "evals_per_chain": int(evals)}
