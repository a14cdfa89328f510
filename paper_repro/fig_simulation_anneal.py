"""Figure: annealed vs fixed bandwidth as the finest scale K_max grows (particles vs theory).

(a) 1-D torus, Gaussian kernel, geometric mode ladder 1, 2, ..., K_max, stratified
particles/target: convergence time to damp every ladder mode by eps, for the coarse fixed
bandwidth s0, the best fixed bandwidth per K_max and exponential annealing s0 exp(-r t);
markers = particle runs, lines = linear theory (continuous, and stepped with the Euler map).
(b) The same comparison on the d-dimensional torus (d = 2..8) with iid particles at finite
N (minimum-image kernel); runs that never reach the tolerance before t_max are drawn at the
top edge. Data in ``simulation_anneal.json`` / ``.csv``; computation in
``analysis/simulation_anneal.py``.

Full mode reuses the 1-D Gaussian rows of the committed sweep
(``analysis/results/simulation_anneal_sweep/summary.json``, same configuration: N = M = 2048,
eps = 0.1, amplitude 1/12, t_max = 60) when present instead of recomputing them (~2.5 min);
the Laplace 1-D comparison and the finite-N sweep are in ``simulation-anneal-sweep``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

NAME = "simulation-anneal"
TITLE = "Annealing vs fixed bandwidth: convergence time vs K_max (1-D) and vs d at finite N"

COLORS = {"fixed_s0": "C3", "best_fixed": "C0", "annealed": "C2"}
#: legend text of each schedule (the data keep the schedule names)
LABELS = {"fixed_s0": "fixed $s_0$", "best_fixed": "best fixed $s$", "annealed": r"annealed $s_0 e^{-rt}$"}


def plot_times_vs_k(ax, rows, color, label, t_max, theory_max):
    """One schedule's convergence times against K_max: theory (dotted, up to ``theory_max``),
    Euler-stepped theory (dashed), measured (dots; open triangles at ``t_max`` where a run did
    not converge). Row values may be floats or JSON strings ("inf")."""
    K = np.array([r["K_max"] for r in rows], dtype=float)
    th, the, me = (np.array([float(r[key]) for r in rows]) for key in ("T_theory", "T_theory_euler", "T_measured"))
    ok = np.isfinite(th) & (th < theory_max)
    ax.plot(K[ok], th[ok], ls=":", color=color, lw=1)
    ok = np.isfinite(the)
    ax.plot(K[ok], the[ok], ls="--", color=color, lw=1)
    ok = np.isfinite(me)
    ax.plot(K[ok], me[ok], "o", color=color, ms=4, label=label)
    ax.plot(K[~ok], [t_max] * int((~ok).sum()), "^", color=color, ms=5, mfc="none")


def _committed_1d_rows(ks, n, t_max):
    """The sweep's 1-D Gaussian rows if they cover exactly this configuration, else None."""
    import json

    from analysis.simulation_anneal_sweep import RESULTS

    path = RESULTS / "summary.json"
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    g = payload["grid_1d"]
    rows = [dict(r) for r in payload["cells_1d"] if r["kernel"] == "gaussian" and r["K_max"] in ks]
    if g["n"] != n or g["t_max"] != t_max or g["eps"] != 0.1 or len(rows) != 3 * len(ks):
        return None
    for r in rows:
        for key in ("T_theory", "T_theory_euler", "T_measured"):
            r[key] = float(r[key])
        r["source"] = "analysis/results/simulation_anneal_sweep"
    return rows


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from analysis.simulation_anneal import compare_schedules
    from driftlab.io import save_figure, without_timings, write_csv, write_json
    from driftlab.plotting import figure

    out_dir = Path(out_dir)
    if quick:
        ks1, n1, tmax1 = [1, 2, 4, 8], 1024, 40.0
        dims, nd, tmaxd, ksd = [2, 4], 1024, 12.0, [4]
    else:
        ks1, n1, tmax1 = [1, 2, 4, 8, 16, 32], 2048, 60.0
        dims, nd, tmaxd, ksd = [2, 4, 8], 2048, 20.0, [4]
    rows1 = None
    if not quick:
        rows1 = _committed_1d_rows(ks1, n1, tmax1)
    if rows1 is None:
        rows1 = compare_schedules(ks1, dim=1, n=n1, eps=0.1, t_max=tmax1)
    rowsd = []
    for d in dims:
        rowsd += compare_schedules(ksd, dim=d, n=nd, eps=0.3, amp=0.3, t_max=tmaxd, s0=0.15, seed=d)

    fig, axes = figure(ncols=2, nrows=1)
    ax = axes[0, 0]
    for name, c in COLORS.items():
        plot_times_vs_k(ax, [r for r in rows1 if r["schedule"] == name], c, LABELS[name], tmax1, 1e4)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"finest mode $K_{\max}$")
    ax.set_ylabel(r"time to damp all modes by $\varepsilon$ = 0.1")
    ax.set_title(f"1-D Gaussian, $N = M$ = {n1}\n(dotted: theory; dashed: Euler-stepped theory)")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    kshow = max(ksd)
    for name, c in COLORS.items():
        rs = [r for r in rowsd if r["schedule"] == name and r["K_max"] == kshow]
        dd = np.array([r["dim"] for r in rs], dtype=float)
        me = np.array([r["T_measured"] for r in rs])
        ok = np.isfinite(me)
        ax.plot(dd[ok], me[ok], "o-", color=c, ms=4, label=LABELS[name])
        ax.plot(dd[~ok], [tmaxd] * int((~ok).sum()), "^", color=c, ms=5, mfc="none")
        th = np.array([r["T_theory_euler"] for r in rs])
        ax.plot(dd[np.isfinite(th)], th[np.isfinite(th)], "--", color=c, lw=1)
    ax.set_xlabel("dimension $d$")
    ax.set_ylabel(r"time to damp all modes by $\varepsilon$ = 0.3")
    ax.set_title(f"$d$-torus, $K_{{\\max}}$ = {kshow}, $N = M$ = {nd} iid\n(triangles: not reached by $t$ = {tmaxd:g})")
    ax.legend(fontsize=7)
    rows = without_timings(rows1 + rowsd)  # byte-stable figure data
    pdf = save_figure(fig, out_dir / "simulation_anneal.pdf")
    js = write_json(out_dir / "simulation_anneal.json", {"quick": quick, "rows": rows})
    csv = write_csv(out_dir / "simulation_anneal.csv", rows)
    _ = math
    return [pdf, js, csv]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
