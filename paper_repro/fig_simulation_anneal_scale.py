"""Figure: annealing vs the re-tuned best fixed bandwidth at scale, d = 2, 3, 4, 8, K_max = 4 ... 32.

One panel per dimension: time to eps against K_max. Lines: the Euler-stepped linear theory at
eps = 0.1 (blue: exponential annealing, orange: the best fixed bandwidth re-tuned per K_max;
solid Gaussian, dashed Laplace; the Gaussian rates do not depend on d). Markers: measured
medians over three seeds with their [min, max] range (circles Gaussian, squares Laplace;
N = 2^14 opaque, larger N lighter), at each cell's own eps (>= 0.1, above twice its noise
floor); an open triangle at t_max = that schedule's median did not reach eps by t_max. A panel
without markers has no finished cell yet (``make gpu-sweep``).

Both modes plot the committed ``analysis/results/simulation_anneal_scale/summary.json``
(produced by ``python -m analysis.simulation_anneal_scale run``/``summarize``) when it is
present; without it a tiny sweep (N = 64, d = 2, K_max = 2, 4; < 10 s) stands in.
Data in ``simulation_anneal_scale.json`` / ``.csv``.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

NAME = "simulation-anneal-scale"
TITLE = "Annealing vs best fixed bandwidth at scale: d = 2..8, K_max = 4..32, N = 2^14..2^20"

COL = {"annealed": "C0", "best_fixed": "C1"}
LS = {"gaussian": "-", "laplace": "--"}
MK = {"gaussian": "o", "laplace": "s"}


def _f(v) -> float:
    return float(v)  # JSON stores inf as the string "inf"; float() reads both


def _tiny() -> tuple[dict, dict]:
    import analysis.simulation_anneal_scale as S

    grid = dict(S.GRID, dims=[2], k_maxes=[2, 4], ns=[64], seeds=[0, 1], t_max={"2": 6.0, "4": 10.0})
    with tempfile.TemporaryDirectory() as tmp:
        S.run_sweep(Path(tmp), grid, progress=False)
        payload = S.summarize(Path(tmp), grid)
    return payload, grid


def theory_lines(grid: dict) -> list[dict]:
    """Euler-stepped times at eps_base for annealing and best fixed per (kernel, d, K_max)."""
    import analysis.simulation_anneal_scale as S

    rows = []
    for kern in grid["kernels"]:
        for d in grid["dims"]:
            for K in grid["k_maxes"]:
                info = S.cell_info(S.Cell(kern, d, grid["ns"][0], K), grid)
                rows.append({"kernel": kern, "dim": d, "K_max": K, "T_euler_annealed": info["T_euler_annealed"],
                             "T_euler_best": info["T_euler_best"]})
    return rows


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import torch

    import analysis.simulation_anneal_scale as S
    from driftlab.io import save_figure, write_csv, write_json
    from driftlab.plotting import figure

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    committed = S.RESULTS / "summary.json"
    if committed.exists():
        payload = json.loads(committed.read_text())
        grid, source = payload["grid"], "committed sweep"
    else:
        payload, source = _tiny()
        grid = payload["grid"]
        source = "tiny stand-in sweep (no committed results)"
    theory = theory_lines(grid)
    dims = list(grid["dims"])
    ncols = 2
    nrows = math.ceil(len(dims) / ncols)
    fig, axes = figure(ncols=ncols, nrows=nrows, width=3.4, height=2.6)
    ns = sorted({r["n"] for r in payload["cells"]}) or [grid["ns"][0]]
    t_top = max(_f(v) for v in grid["t_max"].values())
    plotted = []
    for i, d in enumerate(dims):
        ax = axes[i // ncols, i % ncols]
        for kern in grid["kernels"]:
            th = sorted((r for r in theory if r["kernel"] == kern and r["dim"] == d), key=lambda r: r["K_max"])
            ks = [r["K_max"] for r in th]
            for name, key in (("annealed", "T_euler_annealed"), ("best_fixed", "T_euler_best")):
                ax.plot(ks, [_f(r[key]) for r in th], ls=LS[kern], color=COL[name], lw=1)
                for j, n in enumerate(ns):
                    rs = sorted((r for r in payload["cells"] if r["kernel"] == kern and r["dim"] == d
                                 and r["n"] == n and r["schedule"] == name), key=lambda r: r["K_max"])
                    alpha = max(0.35, 1.0 - 0.25 * j)
                    for r in rs:
                        med, lo, hi = _f(r["T_median"]), _f(r["T_min"]), _f(r["T_max_seed"])
                        plotted.append({"kernel": kern, "dim": d, "n": n, "K_max": r["K_max"], "schedule": name,
                                        "eps": r["eps"], "T_median": med, "T_min": lo, "T_max_seed": hi,
                                        "T_theory_euler": _f(r["T_theory_euler"])})
                        if math.isfinite(med):
                            hi_c = hi if math.isfinite(hi) else _f(r["t_max"])
                            ax.errorbar([r["K_max"]], [med], yerr=[[med - lo], [hi_c - med]], fmt=MK[kern],
                                        color=COL[name], ms=4, alpha=alpha, capsize=2, lw=0.8)
                        else:
                            ax.plot([r["K_max"]], [_f(r["t_max"])], "^", color=COL[name], ms=5, mfc="none",
                                    alpha=alpha)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_ylim(2.0, 2.5 * t_top)
        ax.set_xlabel(r"finest mode $K_{\max}$")
        ax.set_ylabel(r"time to $\varepsilon$")
        n_cells = len({(r["kernel"], r["n"], r["K_max"]) for r in plotted if r["dim"] == d})
        ax.set_title(f"$d = {d}$: {n_cells} cell{'' if n_cells == 1 else 's'} measured", fontsize=8)
    for j in range(len(dims), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    from matplotlib.lines import Line2D

    proxies = [Line2D([], [], color=COL["annealed"], lw=1.5, label="annealing $s_0 e^{-rt}$"),
               Line2D([], [], color=COL["best_fixed"], lw=1.5, label="best fixed $s$ per $K_{\\max}$"),
               Line2D([], [], color="k", ls="-", lw=1, label="Gaussian, linear theory"),
               Line2D([], [], color="k", ls="--", lw=1, label="Laplace, linear theory"),
               Line2D([], [], color="k", marker="o", ls="none", label="Gaussian particles (median, range)"),
               Line2D([], [], color="k", marker="s", ls="none", label="Laplace particles (median, range)"),
               Line2D([], [], color="k", marker="^", mfc="none", ls="none", label="not reached by $t_{\\max}$")]
    fig.legend(handles=proxies, loc="outside lower center", ncol=3, fontsize=7)
    sizes = ", ".join(f"$2^{{{int(math.log2(n))}}}$" for n in ns)
    fig.suptitle(f"{source}; particles $N = M$ = {sizes} (lighter: larger); lines at "
                 f"$\\varepsilon = {grid['eps_base']}$, markers at each cell's $\\varepsilon$", fontsize=7)
    pdf = save_figure(fig, out_dir / "simulation_anneal_scale.pdf")
    js = write_json(out_dir / "simulation_anneal_scale.json", {"quick": quick, "source": source, "theory": theory,
                                                               "points": plotted, "verdicts": payload["verdicts"]})
    csv = write_csv(out_dir / "simulation_anneal_scale.csv", plotted or theory)
    return [pdf, js, csv]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
