"""Alanine-dipeptide transition paths: spacetime geodesics vs controls vs shooting ([S], Sec. 6).

Question: on the real (phi, psi) surface, do annealed-Langevin paths guided by the Fisher–Rao
geodesic have lower barrier energies than simple controls with the same Langevin budget, and
how do they compare with [S]'s "37.36 against a bound of 36.42"? Methods and metrics:
``driftlab.spacetime.alanine`` (max energy along each chain, mean +- SE over all chains of all
seeds; the bound two ways; [S]'s rows as references, not targets).

Usage::

    python analysis/spacetime_alanine.py --quick     # < 3 min on 2 cores: one temperature, one budget
    python analysis/spacetime_alanine.py             # 3 temperatures x 2 budgets x 3 seeds

Writes ``spacetime_alanine[_quick].{json,csv,md}`` atomically into ``--out``
(default analysis/results/spacetime_alanine).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

QUICK = dict(kTs=[2.5], budgets=[4096], seeds=[0, 1], n_chains=8, n_points=64, mep_iter=2000)
FULL = dict(kTs=[1.0, 2.5, 5.0], budgets=[4096, 16384], seeds=[0, 1, 2], n_chains=16, n_points=128,
            mep_iter=4000)
COLUMNS = ["kT", "budget", "method", "max_energy_mean", "max_energy_se", "max_energy_success_mean",
           "max_energy_success_se", "success", "n_chains", "fr_length", "evals_per_chain"]


def sweep(quick: bool = False, show_progress: bool = True, **overrides) -> dict:
    from driftlab.spacetime.alanine import run_alanine

    cfg = dict(QUICK if quick else FULL)
    cfg.update(overrides)
    t0 = time.perf_counter()
    res = run_alanine(**cfg, show_progress=show_progress)
    res["seconds"] = time.perf_counter() - t0
    res["verdict"] = verdict(res)
    return res


def verdict(res: dict) -> dict:
    """Per (kT, budget): the method with the lowest mean max energy among chains that reached B,
    and where the geodesic ranks; the bound two ways against [S]'s 36.42."""
    rows = res["rows"]
    out = []
    for key in sorted({(r["kT"], r["budget"]) for r in rows}):
        rs = [r for r in rows if (r["kT"], r["budget"]) == key and r["success"] > 0]
        rs.sort(key=lambda r: r["max_energy_success_mean"])
        names = [r["method"] for r in rs]
        out.append({"kT": key[0], "budget": key[1], "best": names[0] if names else None,
                    "geodesic_rank": names.index("geodesic") + 1 if "geodesic" in names else None,
                    "n_methods": len(names)})
    b = res["bound"]
    return {"settings": out, "geodesic_best_in": sum(s["best"] == "geodesic" for s in out),
            "n_settings": len(out), "bound_grid": b["grid"], "bound_mep": b["mep_max"],
            "bound_published": res["published"]["minimax bound [S]"][0]}


def markdown(res: dict) -> str:
    lines = ["# Alanine-dipeptide transition paths", "",
             f"Bound: grid bottleneck {res['bound']['grid']:.3f}, max along the string-method MEP "
             f"{res['bound']['mep_max']:.3f} ([S] reports 36.42). Endpoints {res['endpoints']}.", "",
             "| kT | budget | method | max energy (all) | max energy (reached B) | success | FR length |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['kT']:g} | {r['budget']} | {r['method']} | {r['max_energy_mean']:.2f} ± "
                     f"{r['max_energy_se']:.2f} | {r['max_energy_success_mean']:.2f} ± {r['max_energy_success_se']:.2f}"
                     f" | {r['success']:.2f} | {r['fr_length']:.2f} |")
    lines += ["", "[S]'s published rows (references, not targets): "
              + "; ".join(f"{k} {v[0]}" + (f" ± {v[1]}" if v[1] else "") for k, v in res["published"].items()), ""]
    v = res["verdict"]
    lines.append(f"Geodesic lowest in {v['geodesic_best_in']} of {v['n_settings']} settings.")
    return "\n".join(lines) + "\n"


def main() -> None:
    from driftlab.io import atomic_write_text, write_csv, write_json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "spacetime_alanine")
    args = ap.parse_args()
    res = sweep(quick=args.quick)
    stem = "spacetime_alanine" + ("_quick" if args.quick else "")
    from driftlab.io import without_timings

    write_json(args.out / f"{stem}.json", without_timings(res))
    write_csv(args.out / f"{stem}.csv", res["rows"], COLUMNS)
    atomic_write_text(args.out / f"{stem}.md", markdown(res))
    print(markdown(res))
    print(f"{res['seconds']:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
