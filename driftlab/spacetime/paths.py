r"""Transition paths from spacetime curves ([S], Sec. 6) and the controls the paper lacks.

The posterior of a Boltzmann target :math:`q \propto e^{-U/kT}` at z = (y, lambda) is
:math:`p(x \mid z) \propto \exp(-U(x)/kT - e^{\lambda}|x - y|^2/2)`: the energy plus a harmonic
restraint of stiffness :math:`e^{\lambda}` centred at y. Annealed Langevin dynamics that run
K steps at each point of a spacetime curve drag a chain along the curve; the chain's
trajectory is the transition path. Quality: the maximum energy along the trajectory
against the minimax bound (lower is better), the fraction of chains that end in the target
basin, and the number of energy(-gradient) evaluations.

Curves compared by :func:`control_curves`: the geodesic between (A, lambda_end) and
(B, lambda_end); the fixed-noise straight spacetime line; a restraint dragged at
lambda_end along the string-method minimum-energy path; tents (straight in y, lambda falling
to a peak noise level and back). Deterministic references: the straight segment in data
space and the MEP itself (no sampling).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftlab._validation import check_finite_scalar, check_int, check_positive
from driftlab.distributions import as_generator
from driftlab.spacetime.curves import _jeffreys, curve_length, geodesic, resample_curve, straight_curve, tent_curve
from driftlab.spacetime.posterior import GridPosterior
from driftlab.spacetime.potentials import MullerBrown, grid_minimax_bound, refine_stationary_point, string_method

__all__ = ["annealed_langevin", "mep_curve", "control_curves", "curve_lengths", "run_sweep", "summarise"]


def annealed_langevin(potential: MullerBrown, curve: Any, kT: float, steps_per_point: int, n_chains: int,
                      rng: Any = None, step_scale: float = 0.05, curvature: float = 4000.0,
                      x0: Any = None) -> dict:
    r"""Unadjusted Langevin dynamics dragged along a spacetime curve.

    At curve point n (restraint centre :math:`y_n`, stiffness :math:`s_n = e^{\lambda_n}`) it runs
    ``steps_per_point`` steps of
    :math:`x \leftarrow x - \epsilon_n(\nabla U(x)/kT + s_n(x - y_n)) + \sqrt{2\epsilon_n}\,\xi` with
    :math:`\epsilon_n = \text{step\_scale}/(\text{curvature}/kT + s_n)` (stable for the stiffest
    direction; the Müller–Brown Hessian's largest eigenvalue near the minima is ~4000).

    Returns
    -------
    dict
        ``max_energy`` (n_chains,) over every iterate; ``final`` (n_chains, 2); ``basin``
        (n_chains,) index of the minimum reached from ``final`` (0 = A, 1 = B, 2 = C);
        ``n_energy_evals`` per chain (one gradient per step); ``trajectory`` (N, n_chains, 2):
        the chains at the end of each curve point.
    """
    z = np.asarray(curve, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] != 3 or not np.isfinite(z).all():
        raise ValueError(f"curve must be a finite array of spacetime points, shape (N >= 1, 3), got shape {z.shape}")
    kT = check_positive(kT, "kT")
    K = check_int(steps_per_point, "steps_per_point", minimum=1)
    n = check_int(n_chains, "n_chains", minimum=1)
    check_positive(step_scale, "step_scale")
    gen = as_generator(rng)
    x = np.tile(z[0, :2] if x0 is None else np.asarray(x0, dtype=np.float64), (n, 1))
    max_e = np.full(n, -np.inf)
    traj = np.empty((z.shape[0], n, 2))
    for k, (y1, y2, lam) in enumerate(z):
        s = math.exp(lam)
        eps = step_scale / (curvature / kT + s)
        c = math.sqrt(2 * eps)
        yv = np.array([y1, y2])
        for _ in range(K):
            e, g = potential._energy_grad(x)
            np.maximum(max_e, e, out=max_e)
            x = x - eps * (g / kT + s * (x - yv)) + c * gen.standard_normal(x.shape)
        traj[k] = x
    e, _ = potential._energy_grad(x)
    np.maximum(max_e, e, out=max_e)
    if not np.isfinite(x).all():
        raise FloatingPointError("Langevin chain diverged: lower step_scale")
    return {"max_energy": max_e, "final": x, "basin": potential.basin(x), "n_energy_evals": z.shape[0] * K + 1,
            "trajectory": traj}


def mep_curve(potential: MullerBrown, n_points: int = 64, n_iter: int = 20000) -> np.ndarray:
    """Minimum-energy path A -> B by the string method (images at equal arc length), shape (n_points, 2)."""
    A = refine_stationary_point(potential, potential.MINIMUM_A)
    B = refine_stationary_point(potential, potential.MINIMUM_B)
    return string_method(potential, A, B, n_images=n_points, n_iter=n_iter)


def control_curves(posterior: GridPosterior, lam_end: float, n_points: int, tent_peaks: Any,
                   mep: np.ndarray, geodesic_points: int = 33) -> dict:
    """The spacetime curves to compare (all with n_points points), keyed by method name."""
    n_points = check_int(n_points, "n_points", minimum=2)
    geodesic_points = check_int(geodesic_points, "geodesic_points", minimum=3)
    mb = MullerBrown()
    lam_end = check_finite_scalar(lam_end, "lam_end")
    A = refine_stationary_point(mb, mb.MINIMUM_A)
    B = refine_stationary_point(mb, mb.MINIMUM_B)
    za, zb = np.r_[A, lam_end], np.r_[B, lam_end]
    curves: dict[str, np.ndarray] = {}
    # geodesic: shortest over inits (tent, straight), refined coarse-to-fine
    best = None
    for init in ("tent", "straight"):
        # ftol 1e-9: at low SNR the energy is very flat in y; lengths are converged to ~1e-4 by then
        try:
            g = geodesic(posterior, za, zb, n_points=geodesic_points, init=init, lam_peak=lam_end - 4.0,
                         max_iter=2000, ftol=1e-9)
        except ValueError:  # this initialisation left the admissible region between levels; skip it
            continue
        if best is None or g.length < best.length:
            best = g
    if best is None:
        raise RuntimeError("no geodesic initialisation succeeded")
    curves["geodesic"] = resample_curve(best.z, n_points, weights=_fr_steps(posterior, best.z), chart="natural")
    curves["straight (fixed noise)"] = straight_curve(za, zb, n_points)
    m = resample_curve(mep, n_points)
    curves["MEP restraint"] = np.concatenate([m, np.full((n_points, 1), lam_end)], axis=1)
    for lp in np.atleast_1d(tent_peaks):
        curves[f"tent (peak lambda {float(lp):+.1f})"] = tent_curve(za, zb, n_points, float(lp))
    curves["tent (geodesic peak)"] = tent_curve(za, zb, n_points, best.lam_min)
    return curves


def _fr_steps(post, z):
    return np.sqrt(np.maximum(_jeffreys(post, z), 0.0))


def curve_lengths(posterior, curves: dict) -> dict:
    """Fisher-Rao length of each named curve; NaN where the posterior cannot evaluate it
    (e.g. a tent whose peak noise is beyond the grid's resolvable range)."""
    out = {}
    for name, z in curves.items():
        try:
            out[name] = curve_length(posterior, z)
        except ValueError:
            out[name] = float("nan")
    return out


def summarise(values: np.ndarray) -> tuple[float, float]:
    """(mean, standard error) of a 1-D sample; (nan, nan) when empty."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")


def _deterministic_rows(mb, mep, bound, kT, lam_end, budget, mep_iter):
    from scipy.interpolate import CubicSpline

    A = refine_stationary_point(mb, mb.MINIMUM_A)
    B = refine_stationary_point(mb, mb.MINIMUM_B)
    seg = straight_curve(A, B, 4001)
    fine_mep = CubicSpline(np.linspace(0, 1, len(mep)), mep)(np.linspace(0, 1, 20001))
    rows = []
    for name, emax, evals in (("data-space straight segment (no sampling)", mb.energy(seg).max(), 0),
                              ("MEP / string method (no sampling)", mb.energy(fine_mep).max(), len(mep) * mep_iter)):
        rows.append({"kT": kT, "lam_end": lam_end, "budget": budget, "method": name,
                     "excess_kT_mean": (emax - bound) / kT, "excess_kT_se": 0.0,
                     "excess_kT_success_mean": (emax - bound) / kT, "excess_kT_success_se": 0.0,
                     "success": 1.0, "n_chains": 0, "fr_length": float("nan"), "lam_min": float("nan"),
                     "evals_per_chain": 0, "setup_evals": evals, "seed_means": []})
    return rows


def run_sweep(kTs: Any = (5.0, 10.0, 20.0), lam_ends: Any = (3.2, 4.6, 6.0), budgets: Any = (1000, 4000, 16000),
              seeds: Any = (0, 1, 2), n_chains: int = 32, n_points: int = 64, grid_n: int = 153,
              tent_offsets: Any = (2.0, 4.0, 6.0, 8.0), mep_iter: int = 20000, show_progress: bool = True,
              return_curves: bool = False) -> dict:
    r"""Müller–Brown transition-path sweep over temperature, endpoint noise, Langevin budget and seeds.

    For each (kT, lambda_end) the curves of :func:`control_curves` are built once (the
    geodesic on the grid posterior of :math:`e^{-U/kT}`); for each budget (Langevin steps per
    chain, the same for every curve) and seed, ``n_chains`` chains run along every curve.
    Rows: per method, mean +- standard error over all chains of all seeds of the max energy in
    kT above the grid minimax bound (all chains, and chains that reached B), success
    fraction, Fisher-Rao length of the curve, energy evaluations per chain and one-off setup
    evaluations, per-seed means. Returns ``{"bound", "saddle", "config", "rows"}``.
    """
    from tqdm import tqdm

    n_points = check_int(n_points, "n_points", minimum=3)
    budgets = [check_int(b, "budget", minimum=1) for b in np.atleast_1d(np.asarray(budgets, dtype=object))]
    seeds = [check_int(sd, "seed", minimum=0) for sd in np.atleast_1d(np.asarray(seeds, dtype=object))]
    mep_iter = check_int(mep_iter, "mep_iter", minimum=1)
    mb = MullerBrown()
    # every (kT, lambda_end) is checked before the string method and the grids are built
    lam_max = GridPosterior.resolvable_lambda(mb.BOX_LO, mb.BOX_HI, grid_n)
    kTs = [check_positive(kT, "kT") for kT in np.atleast_1d(kTs)]
    lam_ends = [check_finite_scalar(le, "lam_end") for le in np.atleast_1d(lam_ends)]
    for le in lam_ends:
        if le > lam_max:
            raise ValueError(f"lam_end = {le} exceeds the grid's resolvable lambda {lam_max:.2f} "
                             f"(grid_n = {grid_n}): use lam_end <= {lam_max:.2f} or raise grid_n")
    A = refine_stationary_point(mb, mb.MINIMUM_A)
    B = refine_stationary_point(mb, mb.MINIMUM_B)
    bound = grid_minimax_bound(mb.energy, A, B, mb.BOX_LO, mb.BOX_HI, 601)
    mep = string_method(mb, A, B, n_images=64, n_iter=mep_iter)
    rows: list[dict] = []
    all_curves: dict = {}
    jobs = [(kT, le) for kT in kTs for le in lam_ends]
    bar = tqdm(total=len(jobs) * len(np.atleast_1d(budgets)), disable=not show_progress, desc="MB sweep")
    for kT, lam_end in jobs:
        post = GridPosterior.from_energy(mb.energy, 1.0 / kT, mb.BOX_LO, mb.BOX_HI, grid_n)
        try:
            curves = control_curves(post, lam_end, n_points, [lam_end - o for o in tent_offsets], mep)
        except RuntimeError as exc:  # no admissible geodesic on this grid: record and move on
            rows.append({"kT": kT, "lam_end": lam_end, "budget": 0, "method": "geodesic", "error": str(exc),
                         "excess_kT_mean": float("nan"), "excess_kT_se": float("nan"),
                         "excess_kT_success_mean": float("nan"), "excess_kT_success_se": float("nan"),
                         "success": float("nan"), "n_chains": 0, "fr_length": float("nan"),
                         "lam_min": float("nan"), "evals_per_chain": 0, "setup_evals": 0, "seed_means": []})
            bar.update(len(np.atleast_1d(budgets)))
            continue
        all_curves[f"kT={kT:g},lam_end={lam_end:g}"] = curves
        lengths = curve_lengths(post, curves)
        for budget in budgets:
            K = max(1, budget // n_points)
            rows += _deterministic_rows(mb, mep, bound.level, kT, lam_end, budget, mep_iter)
            for name, z in curves.items():
                excess, succ, seed_means = [], [], []
                for seed in seeds:
                    out = annealed_langevin(mb, z, kT, K, n_chains, rng=np.random.default_rng([seed, 7]))
                    ex = (out["max_energy"] - bound.level) / kT
                    excess.append(ex)
                    succ.append(out["basin"] == 1)
                    seed_means.append(float(ex.mean()))
                excess = np.concatenate(excess)
                succ = np.concatenate(succ)
                m, se = summarise(excess)
                ms, ses = summarise(excess[succ])
                setup = post.nodes.shape[0] if name == "geodesic" else (len(mep) * mep_iter if name.startswith("MEP") else 0)
                rows.append({"kT": kT, "lam_end": lam_end, "budget": budget, "method": name,
                             "excess_kT_mean": m, "excess_kT_se": se, "excess_kT_success_mean": ms,
                             "excess_kT_success_se": ses, "success": float(succ.mean()), "n_chains": int(succ.size),
                             "fr_length": lengths[name], "lam_min": float(z[:, -1].min()),
                             "evals_per_chain": K * n_points + 1, "setup_evals": setup, "seed_means": seed_means})
            bar.update(1)
    bar.close()
    extra = {"curves": all_curves, "mep": mep} if return_curves else {}
    return {**extra, "bound": bound.level, "saddle": refine_stationary_point(mb, bound.saddle_node).tolist(),
            "config": {"kTs": list(np.atleast_1d(kTs)), "lam_ends": list(np.atleast_1d(lam_ends)),
                       "budgets": budgets, "seeds": seeds,
                       "n_chains": n_chains, "n_points": n_points, "grid_n": grid_n,
                       "tent_offsets": list(tent_offsets), "mep_iter": mep_iter},
            "rows": rows}
