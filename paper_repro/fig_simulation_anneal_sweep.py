"""Figure: the 3b/3c sweep — annealing vs the best fixed bandwidth, 1-D (Gaussian, Laplace) and d = 2..8 at finite N.

(a, b) 1-D torus, stratified particles/target, geometric ladder 1..K_max, eps = 0.1: time to
damp every ladder mode for the coarse fixed bandwidth, the best fixed bandwidth per K_max and
exponential annealing; markers = particle runs, dashed = Euler-stepped linear theory, dotted =
continuous theory; open triangles = not reached by t_max.
(c) d = 2..8, iid particles at finite N: median annealed time / median best-fixed time over
seeds (< 1: annealing wins), per (kernel, d, N); a point on the top edge (4) = the annealed
median did not reach eps by t_max, on the bottom edge (0.25) = the best-fixed median did not;
a gap = neither did. Times are on the eta = 0.5 grid.
(d) The measured noise floor of the mode errors (late plateau of best-fixed runs) in units of
sqrt(2/N), the rms of the difference of two independent N-point empirical coefficients.

Full mode plots the committed sweep results in ``analysis/results/simulation_anneal_sweep/``
(``summary.json``, produced by ``python -m analysis.simulation_anneal_sweep run``; ~45 min on one
core) when they are present and otherwise runs a reduced sweep (N = 512, <= 3 min); quick
mode always runs a tiny sweep (<= 30 s). Data in ``simulation_anneal_sweep.json`` / ``.csv``.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from paper_repro.fig_simulation_anneal import COLORS, LABELS, plot_times_vs_k

NAME = "simulation-anneal-sweep"
TITLE = "Annealing vs best fixed bandwidth: 1-D Gaussian/Laplace and d = 2..8 at finite N (sweep)"

DCOL = {2: "C0", 3: "C1", 4: "C2", 8: "C3"}


def _f(v) -> float:
    return float(v)  # JSON stores inf as the string "inf"; float() reads both


def _compute(quick: bool) -> dict:
    import analysis.simulation_anneal_sweep as S

    if quick:
        g1 = dict(S.ONED_GRID, k_maxes=(1, 2, 4, 8), n=256, t_max=25.0, extra=())
        gd = dict(S.DD_GRID, dims=(2, 4), ns=(256,), k_maxes=(2, 4), seeds=(0, 1), t_max=12.0)
    else:
        g1 = dict(S.ONED_GRID, k_maxes=(1, 2, 4, 8, 16), n=512, t_max=40.0, extra=())
        gd = dict(S.DD_GRID, dims=(2, 4, 8), ns=(512,), k_maxes=(2, 4, 8), seeds=(0, 1, 2), t_max=20.0)
    with tempfile.TemporaryDirectory() as tmp:
        S.run_1d(Path(tmp), g1, progress=False)
        S.run_dd(Path(tmp), gd, progress=False)
        payload = S.summarize(Path(tmp), gd)
    payload["grid_1d"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in g1.items()}
    return payload


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import torch

    from analysis.simulation_anneal_sweep import RESULTS
    from driftlab.io import save_figure, write_csv, write_json
    from driftlab.plotting import figure

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    committed = RESULTS / "summary.json"
    if not quick and committed.exists():
        payload, source = json.loads(committed.read_text()), "committed sweep (analysis/results/simulation_anneal_sweep)"
    else:
        payload, source = _compute(quick), ("tiny sweep (quick)" if quick else "reduced sweep (no committed results)")

    fig, axes = figure(ncols=2, nrows=2)
    t1 = _f(payload["grid_1d"]["t_max"])
    for ax, kern in ((axes[0, 0], "gaussian"), (axes[0, 1], "laplace")):
        rows = [r for r in payload["cells_1d"] if r["kernel"] == kern]
        for name, c in COLORS.items():
            rs = sorted((r for r in rows if r["schedule"] == name), key=lambda r: r["K_max"])
            if not rs:
                continue
            plot_times_vs_k(ax, rs, c, LABELS[name], t1, 30 * t1)
            ex = [r for r in payload.get("cells_1d_extra", []) if r["kernel"] == kern and r["schedule"] == name
                  and math.isfinite(_f(r["T_measured"]))]
            if ex:  # longer runs beyond t_max (diamonds)
                ax.plot([r["K_max"] for r in ex], [_f(r["T_measured"]) for r in ex], "D", color=c, ms=4, mfc="none")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(r"finest mode $K_{\max}$")
        ax.set_ylabel(f"time to damp all modes\nby $\\varepsilon$ = {payload['grid_1d']['eps']}")
        ax.set_title(f"1-D {kern.capitalize()}, $N = M$ = {payload['grid_1d']['n']}")
        ax.legend(fontsize=7)

    ax = axes[1, 0]
    cells = payload["cells_dd"]
    groups = sorted({(r["kernel"], r["dim"], r["n"]) for r in cells})
    ns = sorted({g[2] for g in groups})
    plotted = []
    top, bottom = 4.0, 0.25
    for kern, d, n in groups:
        ks, ratio = [], []
        for K in sorted({r["K_max"] for r in cells if (r["kernel"], r["dim"], r["n"]) == (kern, d, n)}):
            get = {r["schedule"]: r for r in cells if (r["kernel"], r["dim"], r["n"], r["K_max"]) == (kern, d, n, K)}
            a, b = get.get("annealed"), get.get("best_fixed")
            if a is None or b is None:
                continue
            ta, tb = _f(a["T_median"]), _f(b["T_median"])
            q = ta / tb if (math.isfinite(ta) and math.isfinite(tb)) else (
                top if not math.isfinite(ta) and math.isfinite(tb) else (bottom if math.isfinite(ta) else math.nan))
            if not math.isfinite(ta) and not math.isfinite(tb):
                q = math.nan
            ks.append(K)
            ratio.append(q)
            plotted.append({"kernel": kern, "dim": d, "n": n, "K_max": K, "T_annealed_median": ta,
                            "T_best_fixed_median": tb, "ratio": q, "eps": a["eps"]})
        ls = "-" if kern == "gaussian" else "--"
        mk = "o" if n == ns[0] else "s"
        ax.plot(ks, ratio, ls=ls, marker=mk, color=DCOL.get(d, "k"), ms=3, lw=1,
                label=f"{kern.capitalize()[:3]}. $d$={d}, $N$={n}")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom * 0.8, top * 1.25)
    ax.set_xlabel(r"finest mode $K_{\max}$")
    ax.set_ylabel(r"$T_{\mathrm{annealed}} / T_{\mathrm{best\ fixed}}$ (medians)")
    ax.set_title("$d$-torus, iid particles (solid Gaussian, dashed Laplace;\n"
                 f"circles $N$={ns[0]}" + (f", squares $N$={ns[-1]}" if len(ns) > 1 else "")
                 + "); edges: median not reached\n(top: annealed, bottom: best fixed)")
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.3))  # below: 16 entries

    ax = axes[1, 1]
    floors = payload["floors"]
    for kern, ls in (("gaussian", "-"), ("laplace", "--")):
        for n in ns:
            fs = sorted((f for f in floors if f["kernel"] == kern and f["n"] == n), key=lambda f: f["dim"])
            if fs:
                ax.plot([f["dim"] for f in fs], [_f(f["floor_abs"]) / math.sqrt(2.0 / n) for f in fs], ls=ls,
                        marker="o" if n == ns[0] else "s", ms=3, label=f"{kern.capitalize()}, $N$={n}")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.set_xlabel("dimension $d$")
    ax.set_ylabel(r"mode-error floor / $\sqrt{2/N}$")
    ax.set_title("finite-$N$ noise floor (best-fixed plateau)")
    ax.legend(fontsize=7)
    shown = {"t": "tiny sweep (quick run)", "r": "reduced sweep (no committed results)"}.get(source[0], "committed sweep")
    fig.suptitle(f"data: {shown}", fontsize=7)

    pdf = save_figure(fig, out_dir / "simulation_anneal_sweep.pdf")
    js = write_json(out_dir / "simulation_anneal_sweep.json", {"quick": quick, "source": source, **payload,
                                                               "ratio_rows": plotted})
    csv = write_csv(out_dir / "simulation_anneal_sweep.csv", plotted)
    return [pdf, js, csv]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
