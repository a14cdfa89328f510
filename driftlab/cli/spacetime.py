"""``driftlab spacetime``: geodesics, Diffusion Edit Distance and Müller–Brown transition paths ([S])."""

from __future__ import annotations

import json

import click

from driftlab.cli._errors import FiniteFloat, NameList, NumberList, check_finite, refuse_unused
from driftlab.cli._render import Report, fmt_number, format_option, render, resolve_format

DATASETS = ("toy1d", "gaussian")
INITS = ("straight", "tent", "ode")


def _schedule(ctx, param, value: str) -> str:
    """--schedule: a name the library knows (checked while parsing, so the message names the option)."""
    from driftlab.spacetime import make_schedule

    try:
        make_schedule(value)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(" ".join(str(exc).split()), ctx, param) from None
    return value


def _data(name: str, dim: int):
    import numpy as np

    from driftlab.distributions import GaussianMixture
    from driftlab.spacetime import GaussianMixturePosterior

    if name == "toy1d":
        if dim != 1:
            raise click.UsageError("--data toy1d is one-dimensional: give one y coordinate per point "
                                   f"(got {dim}), or use --data gaussian")
        return GaussianMixturePosterior(GaussianMixture([[-2.5], [0.5], [2.5]], 0.75**2, [0.275, 0.45, 0.275]))
    return GaussianMixturePosterior(GaussianMixture(np.zeros((1, dim)), 1.0))


def _header_value(v) -> str:
    """A header entry: numbers with 10 significant digits, lists and mappings on one line."""
    if isinstance(v, dict):
        return ", ".join(f"{k}={_header_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_header_value(x) for x in v) + "]"
    return fmt_number(v, 10)


def _emit(obj: dict, fmt: str, title: str, table: str | None = None, columns: list[str] | None = None,
          units: str | None = None) -> None:
    """``obj`` in ``fmt``: JSON is ``obj`` itself (full precision); the table, CSV and markdown show the
    list ``obj[table]`` (``columns`` in the table and markdown, every key in CSV) under a header of
    the scalar entries."""
    if fmt == "json":
        from driftlab._io import jsonable

        click.echo(json.dumps(jsonable(obj), indent=2, sort_keys=True))
        return
    rows = list(obj.get(table) or []) if table else [{k: v for k, v in obj.items()}]
    header = {} if not table else {k: _header_value(v) for k, v in obj.items() if k != table}
    if units:
        header["units"] = units
    if fmt == "csv":
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        click.echo(render(Report(title, rows, cols), fmt))
        return
    if table is None:  # one record: the header is the table
        header = {k: _header_value(v) for k, v in obj.items()}
        if units:
            header["units"] = units
        rows = []
    click.echo(render(Report(title, rows, columns, header=header), fmt))


@click.group()
def spacetime() -> None:
    """Spacetime geometry of diffusion models ([S] Karczewski et al. 2025)."""


@spacetime.command()
@click.option("--data", type=click.Choice(DATASETS), default="toy1d", show_default=True,
              help="toy1d: the 1-D mixture of [S]; gaussian: N(0, I_D) (hyperbolic closed form).")
@click.option("--za", type=NumberList(float, min_len=2), required=True,
              help="start point 'y1,...,yD,lambda' (or 'x1,...,xD,t' with --coords xt)")
@click.option("--zb", type=NumberList(float, min_len=2), required=True, help="end point, same format")
@click.option("--coords", type=click.Choice(["spacetime", "xt"]), default="spacetime", show_default=True)
@click.option("--schedule", default="vp", show_default=True, callback=_schedule,
              help="schedule for --coords xt and t_peak (vp, vp-linear-beta, ve, fm)")
@click.option("--points", type=NumberList(int, min=3, increasing=True), default="17,33,65", show_default=True,
              help="point counts, integers >= 3, strictly increasing (coarse to fine)")
@click.option("--inits", type=NameList(INITS), default="straight,tent,ode", show_default=True)
@click.option("--lam-peak", type=FiniteFloat(), default=None, help="peak noise level of tent/ode inits (lambda)")
@format_option(json_alias=True)
@click.pass_context
def geodesic(ctx, data, za, zb, coords, schedule, points, inits, lam_peak, fmt, as_json):
    """Shortest spacetime curve between two points; length, convergence in N and initialisations."""
    import numpy as np

    fmt = resolve_format(ctx, fmt, as_json)
    from driftlab.spacetime import best_geodesic, curve_length, gaussian_spacetime_distance, make_schedule, straight_curve

    a, b = np.array(za), np.array(zb)
    if a.size != b.size:
        raise click.UsageError(f"--za and --zb need the same number (D + 1 >= 2) of entries, got {a.size} and {b.size}")
    if "tent" not in inits and "ode" not in inits:
        refuse_unused(ctx, ["lam_peak"], "without a tent or ode init in --inits")
    sch = make_schedule(schedule)
    post = _data(data, a.size - 1)
    if coords == "xt":
        ya, la = sch.to_spacetime(a[None, :-1], a[-1:])
        yb, lb = sch.to_spacetime(b[None, :-1], b[-1:])
        a, b = np.r_[ya[0], la], np.r_[yb[0], lb]
    best, table = best_geodesic(post, a, b, n_points=points, inits=inits, lam_peak=lam_peak)
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
    # length_extrapolated needs two point counts: NaN there means "not available" (n/a, JSON null)
    check_finite(out, what="spacetime geodesic", allow_nan=["length_extrapolated"], ident=["init", "n_points"])
    _emit(out, fmt, f"driftlab spacetime geodesic: shortest spacetime curve ({data} data)", "convergence",
          ["init", "n_points", "length", "length_extrapolated", "lam_min", "n_iter", "converged"],
          units="points z = (y, lambda), lambda the noise level; lengths in the spacetime metric of [S]; "
                "length_extrapolated is the N -> inf Richardson value (n/a from one point count)")


@spacetime.command()
@click.option("--data", type=click.Choice(DATASETS), default="toy1d", show_default=True)
@click.option("--a", "pa", type=NumberList(float), required=True,
              help="first point 'x1,...,xD' (a noisy state at t_min)")
@click.option("--b", "pb", type=NumberList(float), required=True, help="second point")
@click.option("--t-min", type=FiniteFloat(0.0, 1.0, min_open=True, max_open=True), required=True,
              help="time in (0, 1) at which both points sit (no default: DiffED depends on it)")
@click.option("--schedule", default="vp", show_default=True, callback=_schedule)
@format_option(json_alias=True)
@click.pass_context
def diffed(ctx, data, pa, pb, t_min, schedule, fmt, as_json):
    """Diffusion Edit Distance between two points at an explicit t_min."""
    from driftlab.spacetime import diffusion_edit_distance, make_schedule

    fmt = resolve_format(ctx, fmt, as_json)
    a, b = pa, pb
    if len(a) != len(b):
        raise click.UsageError(f"--a and --b need the same number of coordinates, got {len(a)} and {len(b)}")
    post = _data(data, len(a))
    L = diffusion_edit_distance(post, a, b, t_min=t_min, schedule=make_schedule(schedule))
    check_finite({"diffed": L}, what="spacetime diffed")
    _emit({"data": data, "a": a, "b": b, "t_min": t_min, "schedule": schedule, "diffed": L}, fmt,
          f"driftlab spacetime diffed: Diffusion Edit Distance ({data} data)",
          units="t_min in (0, 1), the diffusion time of both points under the schedule; diffed in the "
                "spacetime metric of [S]")


@spacetime.command()
@click.option("--potential", type=click.Choice(["muller-brown", "alanine"]), default="muller-brown", show_default=True,
              help="Müller–Brown, or the alanine-dipeptide (phi, psi) surface")
@click.option("--kT", "kT", type=NumberList(float, min=0.0, min_open=True), default=None,
              help="temperature(s) > 0, comma-separated [default: 10 (muller-brown), 2.5 (alanine)]")
@click.option("--lam-end", type=NumberList(float), default=None,
              help="endpoint noise level(s) lambda, comma-separated [default: 4.6 (muller-brown); 4.0, "
                   "one value, (alanine)]")
@click.option("--budget", type=NumberList(int, min=1), default="4000", show_default=True,
              help="Langevin steps per chain (integers >= 1), comma-separated")
@click.option("--seeds", type=NumberList(int, min=0, unique=True), default="0,1", show_default=True,
              help="seeds (distinct integers >= 0)")
@click.option("--chains", type=click.IntRange(min=1), default=32, show_default=True, help="chains per seed")
@click.option("--quick", is_flag=True, help="tiny fixed run (muller-brown: kT 10, lambda_end 4.6, budget 640, seed 0, "
                                            "8 chains, coarse grid; alanine: kT 2.5, budget 4096, seed 0, 8 chains, "
                                            "about 2 min); takes none of the sweep options")
@format_option(json_alias=True)
@click.pass_context
def paths(ctx, potential, kT, lam_end, budget, seeds, chains, quick, fmt, as_json):
    """Annealed-Langevin transition paths along spacetime curves vs controls (max energy in kT above the bound)."""
    import sys

    from driftlab.spacetime.paths import run_sweep

    fmt = resolve_format(ctx, fmt, as_json)
    # progress on stderr for the table, or whenever stderr is a terminal (never mixed into piped
    # JSON/CSV/markdown for a program that reads both streams)
    progress = fmt == "table" or sys.stderr.isatty()
    if potential == "alanine":
        _alanine_paths(ctx, kT, lam_end, budget, seeds, chains, quick, fmt, progress)
        return
    kT = kT or [10.0]
    lam_end = lam_end or [4.6]
    if quick:
        refuse_unused(ctx, ["kT", "lam_end", "budget", "seeds", "chains"], "by --quick (a fixed tiny run)")
        cfg = dict(kTs=[10.0], lam_ends=[4.6], budgets=[640], seeds=[0], n_chains=8, grid_n=97, n_points=32,
                   mep_iter=3000, show_progress=progress)
    else:
        cfg = dict(kTs=kT, lam_ends=lam_end, budgets=budget, seeds=seeds, n_chains=chains, show_progress=progress)
    if progress:
        click.echo("driftlab spacetime paths: the energy bound and the minimum-energy path first (minutes on 2 "
                   "cores), then one step of the bar per setting", err=True)
    result = run_sweep(**cfg)
    _emit(result, fmt, "driftlab spacetime paths: Muller-Brown transition paths, max energy above the bound",
          "rows", ["kT", "lam_end", "budget", "method", "excess_kT_mean", "excess_kT_se", "excess_kT_success_mean",
                   "success", "fr_length", "evals_per_chain"],
          units="excess_kT = (max energy along the path - bound) / kT, mean and standard error over chains "
                "(success_mean: over the chains that reached B); success the fraction reaching B; fr_length "
                "the path's Fisher-Rao length; energies in the potential's units")
    # after the table (a long sweep's other rows stay readable): a setting without an admissible
    # geodesic, or a NaN where a number belongs, is a failure. Averages over the chains that
    # reached B are n/a when none did; a standard error is n/a for a single chain.
    failed = [r for r in result["rows"] if r.get("error")]
    if failed:
        where = "; ".join(f"kT={r['kT']:g}, lam_end={r['lam_end']:g}: {r['error']}" for r in failed)
        raise click.ClickException(" ".join(f"no transition-path result for {where}".split()))
    check_finite(result["rows"], what="spacetime paths", allow_nan=["excess_kT_success_mean", "excess_kT_success_se",
                                                                     "excess_kT_se"],
                 ident=["kT", "lam_end", "budget", "method"])


def _alanine_paths(ctx, kT, lam_end, budget, seeds, chains, quick, fmt, progress):
    """``paths --potential alanine``: the bound two ways and one row per (kT, budget, method)."""
    from driftlab.spacetime.alanine import run_alanine

    if quick:
        refuse_unused(ctx, ["kT", "lam_end", "budget", "seeds", "chains"], "by --quick (a fixed tiny run)")
        cfg = dict(kTs=[2.5], lam_end=4.0, budgets=[4096], seeds=[0], n_chains=8, n_points=64, mep_iter=2000,
                   show_progress=progress)
    else:
        if lam_end is not None and len(lam_end) != 1:
            raise click.BadParameter("the alanine run takes one endpoint noise level", param_hint="'--lam-end'")
        cfg = dict(kTs=kT or [2.5], lam_end=(lam_end or [4.0])[0], budgets=budget, seeds=seeds, n_chains=chains,
                   show_progress=progress)
    result = run_alanine(**cfg)
    result.pop("mep")
    bound = result.pop("bound")
    result = {"bound_grid": bound["grid"], "bound_mep": bound["mep_max"], **result}
    _emit(result, fmt, "driftlab spacetime paths: alanine-dipeptide (phi, psi) transition paths", "rows",
          ["kT", "budget", "method", "max_energy_mean", "max_energy_se", "max_energy_success_mean", "success",
           "fr_length", "evals_per_chain"],
          units="max_energy: the highest energy along the path, mean and standard error over chains "
                "(success_mean: over the chains that reached B), in the surface's energy units; bound_grid and "
                "bound_mep the barrier two ways; success the fraction reaching B")
    check_finite(result["rows"], what="spacetime paths", allow_nan=["max_energy_mean", "max_energy_se",
                                                                     "max_energy_success_mean", "max_energy_success_se",
                                                                     "fr_length"],
                 ident=["kT", "budget", "method"])
