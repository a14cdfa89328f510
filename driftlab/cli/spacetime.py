"""``driftlab spacetime``: geodesics, Diffusion Edit Distance and Müller–Brown transition paths ([S])."""

from __future__ import annotations

import json
import math

import click

DATASETS = ("toy1d", "gaussian")


def _floats(text: str, name: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{name} must be comma-separated numbers, got {text!r}") from exc
    if not vals or not all(math.isfinite(v) for v in vals):
        raise click.BadParameter(f"{name} must be finite numbers, got {text!r}")
    return vals


def _data(name: str, dim: int):
    import numpy as np

    from driftlab.distributions import GaussianMixture
    from driftlab.spacetime import GaussianMixturePosterior

    if name == "toy1d":
        if dim != 1:
            raise click.BadParameter("toy1d is one-dimensional: give one y coordinate per point")
        return GaussianMixturePosterior(GaussianMixture([[-2.5], [0.5], [2.5]], 0.75**2, [0.275, 0.45, 0.275]))
    return GaussianMixturePosterior(GaussianMixture(np.zeros((1, dim)), 1.0))


def _emit(obj: dict, as_json: bool, columns: list[str] | None = None) -> None:
    from driftlab._io import _jsonable

    if as_json:
        click.echo(json.dumps(_jsonable(obj), indent=2, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for key, val in obj.items():
        if not isinstance(val, list):
            console.print(f"{key}: {val}")
    for key, val in obj.items():
        if isinstance(val, list) and val and isinstance(val[0], dict):
            cols = columns or list(val[0])
            table = Table(title=key)
            for c in cols:
                table.add_column(c)
            for row in val:
                table.add_row(*[f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in cols])
            console.print(table)


@click.group()
def spacetime() -> None:
    """Spacetime geometry of diffusion models ([S] Karczewski et al. 2025)."""


@spacetime.command()
@click.option("--data", type=click.Choice(DATASETS), default="toy1d", show_default=True,
              help="toy1d: the 1-D mixture of [S]; gaussian: N(0, I_D) (hyperbolic closed form).")
@click.option("--za", required=True, help="start point 'y1,...,yD,lambda' (or 'x1,...,xD,t' with --coords xt)")
@click.option("--zb", required=True, help="end point, same format")
@click.option("--coords", type=click.Choice(["spacetime", "xt"]), default="spacetime", show_default=True)
@click.option("--schedule", default="vp", show_default=True, help="schedule for --coords xt (vp, vp-linear-beta, ve, fm)")
@click.option("--points", default="17,33,65", show_default=True, help="point counts (coarse to fine)")
@click.option("--inits", default="straight,tent,ode", show_default=True)
@click.option("--lam-peak", type=float, default=None, help="peak noise level of tent/ode inits (lambda)")
@click.option("--json", "as_json", is_flag=True)
def geodesic(data, za, zb, coords, schedule, points, inits, lam_peak, as_json):
    """Shortest spacetime curve between two points; length, convergence in N and initialisations."""
    import numpy as np

    from driftlab.spacetime import best_geodesic, curve_length, gaussian_spacetime_distance, make_schedule, straight_curve

    a, b = np.array(_floats(za, "--za")), np.array(_floats(zb, "--zb"))
    if a.size != b.size or a.size < 2:
        raise click.BadParameter("--za and --zb need the same number (D + 1 >= 2) of entries")
    sch = make_schedule(schedule)
    try:
        if coords == "xt":
            ya, la = sch.to_spacetime(a[None, :-1], a[-1:])
            yb, lb = sch.to_spacetime(b[None, :-1], b[-1:])
            a, b = np.r_[ya[0], la], np.r_[yb[0], lb]
        post = _data(data, a.size - 1)
        counts = [int(c) for c in _floats(points, "--points")]
        best, table = best_geodesic(post, a, b, n_points=counts, inits=[s.strip() for s in inits.split(",")],
                                    lam_peak=lam_peak)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [r for r in table if r["init"] == best.init]
    out = {"data": data, "z_a": a.tolist(), "z_b": b.tolist(), "best_init": best.init,
           "length": best.length, "length_extrapolated": rows[-1]["length_extrapolated"],
           "lam_min": best.lam_min, "straight_length": curve_length(post, straight_curve(a, b, 2001)),
           "convergence": table}
    if coords == "xt" or schedule != "vp":
        try:
            out["t_peak"] = float(sch.t_of_lam(best.lam_min))
        except ValueError:
            pass
    if data == "gaussian":
        try:
            out["closed_form"] = gaussian_spacetime_distance(a, b)
        except ValueError:
            out["closed_form"] = None
    _emit(out, as_json, ["init", "n_points", "length", "length_extrapolated", "lam_min", "n_iter", "converged"])


@spacetime.command()
@click.option("--data", type=click.Choice(DATASETS), default="toy1d", show_default=True)
@click.option("--a", "pa", required=True, help="first point 'x1,...,xD' (a noisy state at t_min)")
@click.option("--b", "pb", required=True, help="second point")
@click.option("--t-min", type=float, required=True, help="time at which both points sit (no default: DiffED depends on it)")
@click.option("--schedule", default="vp", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def diffed(data, pa, pb, t_min, schedule, as_json):
    """Diffusion Edit Distance between two points at an explicit t_min."""
    from driftlab.spacetime import diffusion_edit_distance, make_schedule

    a, b = _floats(pa, "--a"), _floats(pb, "--b")
    try:
        post = _data(data, len(a))
        L = diffusion_edit_distance(post, a, b, t_min=t_min, schedule=make_schedule(schedule))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit({"data": data, "a": a, "b": b, "t_min": t_min, "schedule": schedule, "diffed": L}, as_json)


@spacetime.command()
@click.option("--potential", type=click.Choice(["muller-brown"]), default="muller-brown", show_default=True)
@click.option("--kT", "kT", default="10", show_default=True, help="temperature(s), comma-separated")
@click.option("--lam-end", default="4.6", show_default=True, help="endpoint noise level(s) lambda, comma-separated")
@click.option("--budget", default="4000", show_default=True, help="Langevin steps per chain, comma-separated")
@click.option("--seeds", default="0,1", show_default=True)
@click.option("--chains", default=32, show_default=True, help="chains per seed")
@click.option("--quick", is_flag=True, help="tiny run (one setting, 8 chains, coarse grid)")
@click.option("--json", "as_json", is_flag=True)
def paths(potential, kT, lam_end, budget, seeds, chains, quick, as_json):
    """Annealed-Langevin transition paths along spacetime curves vs controls (max energy in kT above the bound)."""
    from driftlab.spacetime.paths import run_sweep

    if quick:
        cfg = dict(kTs=[10.0], lam_ends=[4.6], budgets=[640], seeds=[0], n_chains=8, grid_n=97, n_points=32,
                   mep_iter=3000, show_progress=False)
    else:
        cfg = dict(kTs=_floats(kT, "--kT"), lam_ends=_floats(lam_end, "--lam-end"),
                   budgets=[int(v) for v in _floats(budget, "--budget")], seeds=[int(v) for v in _floats(seeds, "--seeds")],
                   n_chains=chains, show_progress=not as_json)
    try:
        result = run_sweep(**cfg)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(result, as_json, ["kT", "lam_end", "budget", "method", "excess_kT_mean", "excess_kT_se",
                            "excess_kT_success_mean", "success", "fr_length", "evals_per_chain"])
