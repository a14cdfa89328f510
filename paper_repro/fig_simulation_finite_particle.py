"""Figure: finite-particle residual velocity of the conservative (KDE-gradient) drifting flow.

[FP] Balasubramanian 2026 (arXiv:2605.22795) bounds the root time-averaged squared center
velocity of the conservative flow by O(N^(-1/(d+4))) with the bandwidth h = N^(-1/(d+4)).
(a) The measured residual velocity R_N (median over seeds, seeds as small dots) against N for
each d, with the bound's slope drawn through the smallest N. (b) Fitted log-log slopes with
+-2 standard errors over seeds, for R_N, for the velocity at t = 0 (exact iid samples) and at the
end of the flow, against the bound's exponent -1/(d+4).

Full mode re-plots the committed sweep (``analysis/results/finite_particle_rate/``, computed by
``analysis/finite_particle_rate.py``); quick mode runs a tiny d = 1 sweep (N = 64 ... 512).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "simulation-finite-particle"
TITLE = "Conservative drifting: finite-particle residual velocity vs N against the N^(-1/(d+4)) bound"

QUANTITY_LABELS = {"residual_velocity": r"time average $R_N$", "v2_initial": r"at $t = 0$ (iid samples)",
                   "v2_final": r"at $t = T$"}


def _records(quick: bool):
    from driftlab.repro import import_from_checkout

    F = import_from_checkout("analysis.finite_particle_rate")
    if quick:
        return F, F.sweep(F.QUICK_GRID, F.QUICK_SEEDS, folder=None)
    return F, F.load_runs(F.RESULTS)


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from driftlab.io import save_figure, write_csv, write_json
    from driftlab.plotting import figure, style

    out_dir = Path(out_dir)
    F, recs = _records(quick)
    summ = F.summary(recs)
    fits = summ["fits"]
    dims = sorted(int(d) for d in fits["residual_velocity"])
    with style():
        fig, axes = figure(ncols=2, nrows=1)
        ax = axes[0, 0]
        for i, d in enumerate(dims):
            f = fits["residual_velocity"][str(d)]
            c = f"C{i}"
            ns = np.asarray(f["ns"], float)
            med = np.asarray(f["median"])
            for r in recs:
                if r["d"] == d:
                    ax.plot(r["n"], r["residual_velocity"], ".", color=c, ms=2, alpha=0.5)
            ax.plot(ns, med, "o-", color=c, ms=4, lw=1,
                    label=f"$d$ = {d}: slope {f['slope']:.3f} $\\pm$ {f['slope_se']:.3f}")
            ax.plot(ns, med[0] * (ns / ns[0]) ** f["bound_exponent"], "--", color=c, lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("particles $N$")
        ax.set_ylabel(r"residual velocity $R_N$")
        ax.set_title(r"$h = N^{-1/(d+4)}$; dashed: $N^{-1/(d+4)}$ bound")
        ax.set_ylim(0.03, 4.0)
        ax.legend(fontsize=7, loc="upper center", ncol=2)
        ax = axes[0, 1]
        dd = np.asarray(dims, float)
        ax.plot(dd, [-1.0 / (d + 4) for d in dims], "k_", ms=14, mew=1.5, label=r"bound $-1/(d+4)$")
        for j, (q, lab) in enumerate(QUANTITY_LABELS.items()):
            s = np.array([fits[q][str(d)]["slope"] for d in dims])
            se = np.array([fits[q][str(d)]["slope_se"] for d in dims])
            ax.errorbar(dd + 0.12 * (j - 1), s, yerr=2 * se, fmt="o", ms=4, capsize=2, color=f"C{j}", label=lab)
        ax.set_xlabel("dimension $d$")
        ax.set_ylabel(r"log-log slope in $N$ ($\pm 2$ s.e.)")
        ax.set_title("below the bound = faster decay")
        ax.set_xticks(dd)
        ax.legend(fontsize=7)
        pdf = save_figure(fig, out_dir / "simulation_finite_particle.pdf")
    rows = [{k: r[k] for k in ("d", "n", "seed", "bandwidth", "steps", "dt", "residual_velocity", "v2_initial",
                               "v2_final")} for r in sorted(recs, key=lambda r: (r["d"], r["n"], r["seed"]))]
    js = write_json(out_dir / "simulation_finite_particle.json", {"quick": quick, "summary": summ})
    csv = write_csv(out_dir / "simulation_finite_particle.csv", rows)
    return [pdf, js, csv]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
