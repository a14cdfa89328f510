"""[S] transition paths on Müller–Brown: geodesic-guided annealed Langevin vs controls (max energy above the bound)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

NAME = "spacetime-mullerbrown"
TITLE = "[S] Müller–Brown: spacetime geodesic vs tents / fixed-noise line / MEP restraint, max energy vs bound -40.66"



def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from analysis.spacetime_mb import markdown_table, verdict
    from driftlab.io import atomic_write_text, write_csv, write_json
    from driftlab.plotting import figure, save_figure
    from driftlab.spacetime.paths import annealed_langevin, run_sweep
    from driftlab.spacetime.potentials import MullerBrown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kT, lam_end = 10.0, 4.6
    if quick:
        cfg = dict(budgets=[1280], seeds=[0], n_chains=16, grid_n=97, n_points=32, mep_iter=3000)
    else:
        cfg = dict(budgets=[1024, 4096, 16384], seeds=[0, 1], n_chains=32, grid_n=153, n_points=64, mep_iter=20000)
    res = run_sweep(kTs=[kT], lam_ends=[lam_end], show_progress=False, return_curves=True, **cfg)
    res["verdict"] = verdict(res["rows"])
    curves = res.pop("curves")[f"kT={kT:g},lam_end={lam_end:g}"]
    mep = res.pop("mep")
    mb = MullerBrown()

    fig, ax = figure(3, 1, width=3.3, height=2.9)
    X, Y = np.meshgrid(np.linspace(-1.7, 1.2, 200), np.linspace(-0.4, 2.1, 200))
    U = mb.energy(np.stack([X.ravel(), Y.ravel()], 1)).reshape(X.shape)
    ax[0, 0].contourf(X, Y, np.minimum(U, 60), levels=30, cmap="Greys_r")
    ax[0, 0].plot(mep[:, 0], mep[:, 1], "k--", lw=1, label="MEP (string)")
    show = ["geodesic", "straight (fixed noise)", "tent (geodesic peak)"]
    for k, name in enumerate(show):
        z = curves[name]
        ax[0, 0].plot(z[:, 0], z[:, 1], color=f"C{k}", lw=1.2, label=f"{name} (y)")
        out = annealed_langevin(mb, z, kT, max(1, cfg["budgets"][-1] // z.shape[0]), 1, rng=11)
        tr = out["trajectory"][:, 0]
        ax[0, 0].plot(tr[:, 0], tr[:, 1], ".", color=f"C{k}", ms=1.5, alpha=0.6)
    ax[0, 0].set_xlabel("$y_1$")
    ax[0, 0].set_ylabel("$y_2$")
    ax[0, 0].set_title(f"(a) curves in $y$ and one Langevin path ($kT$={kT:g})")
    ax[0, 0].legend(fontsize=7, loc="lower left")
    # (b) noise level along each curve
    for k, (name, z) in enumerate(curves.items()):
        ax[0, 1].plot(np.linspace(0, 1, len(z)), z[:, -1], lw=1.6 if name == "geodesic" else 0.8,
                      color="C3" if name == "geodesic" else f"C{k % 10}", label=name.replace("lambda", r"$\lambda$"))
    ax[0, 1].set_xlabel("curve parameter")
    ax[0, 1].set_ylabel("$\\lambda$ = log SNR")
    ax[0, 1].set_title("(b) noise schedule along the curves")
    ax[0, 1].legend(fontsize=7)
    # (c) excess max energy (successful chains) per method, largest budget
    b = max(r["budget"] for r in res["rows"])
    rows = [r for r in res["rows"] if r["budget"] == b]
    names = [r["method"].replace(" (no sampling)", "*").replace("lambda", r"$\lambda$") for r in rows]
    vals = [r["excess_kT_success_mean"] if r["success"] > 0 else np.nan for r in rows]
    errs = [r["excess_kT_success_se"] if r["excess_kT_success_se"] == r["excess_kT_success_se"] else 0 for r in rows]
    yy = np.arange(len(rows))
    ax[0, 2].barh(yy, np.nan_to_num(vals), xerr=errs, color=["C3" if r["method"] == "geodesic" else "C0" for r in rows])
    for i, r in enumerate(rows):
        ax[0, 2].text(0.1, i, f"succ {r['success']:.2f}" if r["n_chains"] else "", va="center", fontsize=7, color="w")
    ax[0, 2].set_yticks(yy, names, fontsize=7)
    ax[0, 2].set_ylabel("method (* : no sampling)")
    ax[0, 2].set_xlabel("(max $U$ $-$ bound) / $kT$, chains reaching B")
    ax[0, 2].set_title(f"(c) budget {b} steps/chain")
    pdf = save_figure(fig, out_dir / "spacetime_mullerbrown.pdf")
    js = write_json(out_dir / "spacetime_mullerbrown.json", res)
    csv = write_csv(out_dir / "spacetime_mullerbrown.csv", [{k: v for k, v in r.items() if k != "seed_means"} for r in res["rows"]])
    md = atomic_write_text(out_dir / "spacetime_mullerbrown.md", markdown_table(res))
    return [pdf, js, csv, md]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
