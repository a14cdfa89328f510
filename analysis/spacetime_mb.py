"""Müller–Brown transition paths from spacetime geodesics vs controls ([S], Sec. 6).

Question: do annealed-Langevin paths guided by Fisher–Rao geodesics have lower barrier
energies than simple controls with the same Langevin budget? Methods (see
``driftlab.spacetime.paths``): geodesic; fixed-noise straight spacetime line; restraint
dragged along the string-method MEP; tents (straight in y, noise up and down) with several
peak noise levels and one matched to the geodesic's peak; plus deterministic references
(straight data-space segment, the MEP itself). Metric: max energy along the Langevin
trajectory in kT above the grid minimax bound (-40.66), over chains that reached B, with
standard errors over all chains of all seeds; success fraction; energy evaluations.

Usage::

    python analysis/spacetime_mb.py --quick        # < 60 s: one setting
    python analysis/spacetime_mb.py --medium       # 3 kT x 2 budgets x 2 seeds
    python analysis/spacetime_mb.py                # full sweep (kT x lambda_end x budget x seeds)
    python analysis/spacetime_mb.py --jobs 8       # parallel over (kT, lambda_end)
    # endpoint-noise sweep (preset axes overridden; results in --out):
    python analysis/spacetime_mb.py --medium --lam-ends 3.2,4.6,6.0 --budgets 1024,4096 --seeds 0,1,2 --jobs 2

Writes ``spacetime_mb_sweep[_quick|_medium].{json,csv,md}`` atomically into ``--out``
(default /tmp/spacetime_sweep).
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

QUICK = dict(kTs=[10.0], lam_ends=[4.6], budgets=[1280], seeds=[0, 1], n_chains=16, grid_n=97, n_points=32,
             mep_iter=4000)
MEDIUM = dict(kTs=[5.0, 10.0, 20.0], lam_ends=[4.6], budgets=[1024, 4096], seeds=[0, 1], n_chains=16,
              grid_n=97, n_points=32, mep_iter=20000)
FULL = dict(kTs=[5.0, 10.0, 20.0], lam_ends=[3.2, 4.6, 6.0], budgets=[1024, 4096, 16384], seeds=[0, 1, 2],
            n_chains=32, grid_n=153, n_points=64, mep_iter=20000)


def _one(args):
    from driftlab.spacetime.paths import run_sweep

    cfg, kT, lam_end = args
    c = dict(cfg)
    c.update(kTs=[kT], lam_ends=[lam_end], show_progress=False)
    return run_sweep(**c)


def sweep(quick: bool = False, jobs: int = 1, **overrides) -> dict:
    """Run the sweep (in parallel over (kT, lambda_end) when jobs > 1); returns run_sweep's dict + verdict."""
    from driftlab.spacetime.paths import run_sweep

    cfg = dict(QUICK if quick is True else (MEDIUM if quick == "medium" else FULL))
    cfg.update(overrides)
    t0 = time.perf_counter()
    if jobs > 1:
        tasks = [(cfg, kT, le) for kT in cfg["kTs"] for le in cfg["lam_ends"]]
        with ProcessPoolExecutor(jobs) as ex:
            parts = list(ex.map(_one, tasks))
        result = dict(parts[0])
        result["rows"] = [r for p in parts for r in p["rows"]]
        result["config"] = dict(parts[0]["config"], kTs=cfg["kTs"], lam_ends=cfg["lam_ends"])
    else:
        result = run_sweep(**cfg, show_progress=True)
    result["seconds"] = time.perf_counter() - t0
    result["verdict"] = verdict(result["rows"])
    return result


def verdict(rows: list[dict]) -> dict:
    """Per setting, rank methods by excess energy of successful chains; summarise geodesic vs controls."""
    settings = sorted({(r["kT"], r["lam_end"], r["budget"]) for r in rows})
    n_geo_best = n_geo_beaten_by_tent = n_geo_beaten_by_mep = n_geo_fail = 0
    details = []
    for s in settings:
        rs = {r["method"]: r for r in rows if (r["kT"], r["lam_end"], r["budget"]) == s and r["n_chains"] > 0}
        g = rs.get("geodesic")
        if g is None:
            continue

        def val(r):
            return r["excess_kT_success_mean"] if r["success"] >= 0.5 else math.inf

        ranked = sorted(rs.values(), key=val)
        tents = [r for k, r in rs.items() if k.startswith("tent")]
        best_tent = min(tents, key=val) if tents else None
        if g["success"] < 0.5:
            n_geo_fail += 1
        best_name = ranked[0]["method"] if val(ranked[0]) < math.inf else "none (every method < 50% success)"
        if best_name == "geodesic":
            n_geo_best += 1

        def beats(r):  # r beats the geodesic by more than 2 combined standard errors (or geodesic failed)
            if val(r) == math.inf:
                return False
            if val(g) == math.inf:
                return True
            se = math.hypot(r["excess_kT_success_se"] or 0.0, g["excess_kT_success_se"] or 0.0)
            return val(r) < val(g) - 2 * se

        if best_tent is not None and beats(best_tent):
            n_geo_beaten_by_tent += 1
        if "MEP restraint" in rs and beats(rs["MEP restraint"]):
            n_geo_beaten_by_mep += 1
        details.append({"kT": s[0], "lam_end": s[1], "budget": s[2], "best_method": best_name,
                        "geodesic_excess_kT": g["excess_kT_success_mean"], "geodesic_success": g["success"],
                        "best_tent": best_tent["method"] if best_tent else None,
                        "best_tent_excess_kT": best_tent["excess_kT_success_mean"] if best_tent else None,
                        "mep_excess_kT": rs.get("MEP restraint", {}).get("excess_kT_success_mean")})
    n = len(details)
    text = (f"Over {n} settings (kT x lambda_end x budget): the geodesic had the lowest barrier in {n_geo_best}; "
            f"it failed to reach B in >= half its chains in {n_geo_fail}; the best tent beat it by > 2 SE in "
            f"{n_geo_beaten_by_tent} and the MEP restraint in {n_geo_beaten_by_mep}.")
    return {"settings": n, "geodesic_best": n_geo_best, "geodesic_failed": n_geo_fail,
            "beaten_by_best_tent": n_geo_beaten_by_tent, "beaten_by_mep_restraint": n_geo_beaten_by_mep,
            "text": text, "details": details}


def markdown_table(result: dict) -> str:
    lines = [f"Müller–Brown transition paths; minimax bound U = {result['bound']:.3f} (grid), "
             f"saddle {np.round(result['saddle'], 4).tolist()}.",
             "excess = (max U along the Langevin trajectory - bound)/kT, mean ± SE over chains that reached B "
             "(all chains in brackets); FR = Fisher-Rao length of the curve at that kT.", "",
             "| kT | λ_end | budget | method | excess (reached B) | excess (all) | success | FR length | evals/chain |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        def f(m, se):
            if m is None or (isinstance(m, float) and math.isnan(m)):
                return "—"
            return f"{m:.2f} ± {se:.2f}" if se is not None and se and not math.isnan(se) else f"{m:.2f}"

        lines.append(f"| {r['kT']:g} | {r['lam_end']:g} | {r['budget']} | {r['method']} | "
                     f"{f(r['excess_kT_success_mean'], r['excess_kT_success_se'])} | "
                     f"({f(r['excess_kT_mean'], r['excess_kT_se'])}) | {f(r['success'], None)} | "
                     f"{f(r['fr_length'], None)} | {r['evals_per_chain']} |")
    lines += ["", "Verdict: " + result["verdict"]["text"]]
    return "\n".join(lines) + "\n"


def write(result: dict, out_dir: Path, stem: str = "spacetime_mb_sweep") -> list[Path]:
    from driftlab.io import atomic_write_text, write_csv, write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = ["kT", "lam_end", "budget", "method", "excess_kT_success_mean", "excess_kT_success_se",
            "excess_kT_mean", "excess_kT_se", "success", "n_chains", "fr_length", "lam_min",
            "evals_per_chain", "setup_evals"]
    return [write_json(out_dir / f"{stem}.json", result),
            write_csv(out_dir / f"{stem}.csv", result["rows"], cols),
            atomic_write_text(out_dir / f"{stem}.md", markdown_table(result))]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> dict:
    """Command line: a preset (--quick / --medium / full) with optional overrides of any axis."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one setting, < 60 s")
    ap.add_argument("--medium", action="store_true", help="3 kT x 2 budgets x 2 seeds at lambda_end 4.6")
    ap.add_argument("--kTs", type=_floats, default=None, help="comma-separated temperatures, e.g. 5,10,20")
    ap.add_argument("--lam-ends", type=_floats, default=None, help="comma-separated endpoint lambdas, e.g. 3.2,4.6,6.0")
    ap.add_argument("--budgets", type=_ints, default=None, help="comma-separated Langevin steps per chain")
    ap.add_argument("--seeds", type=_ints, default=None, help="comma-separated seeds")
    ap.add_argument("--n-chains", type=int, default=None)
    ap.add_argument("--grid-n", type=int, default=None)
    ap.add_argument("--n-points", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/spacetime_sweep"), help="output folder")
    args = ap.parse_args(argv)
    mode = True if args.quick else ("medium" if args.medium else False)
    over = {k: v for k, v in dict(kTs=args.kTs, lam_ends=args.lam_ends, budgets=args.budgets, seeds=args.seeds,
                                  n_chains=args.n_chains, grid_n=args.grid_n, n_points=args.n_points).items()
            if v is not None}
    res = sweep(quick=mode, jobs=args.jobs, **over)
    stem = {True: "spacetime_mb_sweep_quick", "medium": "spacetime_mb_sweep_medium", False: "spacetime_mb_sweep"}[mode]
    for p in write(res, args.out, stem):
        print(p)
    print(markdown_table(res))
    print(f"{res['seconds']:.1f} s")
    return res


if __name__ == "__main__":
    main()
