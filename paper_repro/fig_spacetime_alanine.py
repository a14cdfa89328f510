"""[S] transition paths on alanine dipeptide: geodesic-guided annealed Langevin vs controls vs shooting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

NAME = "spacetime-alanine"
TITLE = "[S] alanine dipeptide (phi, psi): geodesic vs controls vs shooting; max energy vs the bound (36.33)"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from analysis.spacetime_alanine import COLUMNS, markdown, verdict
    from driftlab.io import atomic_write_text, write_csv, write_json
    from driftlab.plotting import figure, save_figure
    from driftlab.spacetime import alanine_dipeptide
    from driftlab.spacetime.alanine import run_alanine

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if quick:
        cfg = dict(kTs=[2.5], budgets=[4096], seeds=[0], n_chains=8, n_points=64, mep_iter=2000)
    else:
        cfg = dict(kTs=[1.0], budgets=[4096, 16384], seeds=[0, 1], n_chains=16, n_points=128, mep_iter=4000)
    res = run_alanine(show_progress=False, **cfg)
    res["verdict"] = verdict(res)
    surf = alanine_dipeptide()
    mep = np.asarray(res["mep"])

    fig, ax = figure(2, 1, width=4.4, height=3.8)
    phi = np.linspace(-math.pi, math.pi, 181)
    psi = np.linspace(0.5, 0.5 + 2 * math.pi, 181)
    P, Q = np.meshgrid(phi, psi, indexing="ij")
    U = surf.energy(np.stack([P.ravel(), Q.ravel()], 1)).reshape(P.shape)
    cs = ax[0, 0].contourf(P, Q, np.minimum(U, 70), levels=28, cmap="Greys_r")
    fig.colorbar(cs, ax=ax[0, 0], label="energy $U$ (capped at 70)")
    ax[0, 0].plot(mep[:, 0], mep[:, 1], "C1--", lw=1.2, label="minimum-energy path")
    a, b = res["endpoints"]["a"], res["endpoints"]["b"]
    ax[0, 0].plot([a[0], b[0]], [a[1], b[1]], "wo", ms=4)
    ax[0, 0].set_xlabel(r"$\phi$ (rad)")
    ax[0, 0].set_ylabel(r"$\psi$ (rad), lifted")
    ax[0, 0].set_title(r"(a) surface and MEP ($\psi$ unwrapped across $\pm\pi$)")
    ax[0, 0].legend(loc="lower left")

    b_max = max(r["budget"] for r in res["rows"])
    kT = min(r["kT"] for r in res["rows"])
    rows = [r for r in res["rows"] if r["budget"] == b_max and r["kT"] == kT]
    names = [r["method"] for r in rows]
    vals = [r["max_energy_success_mean"] if r["success"] > 0 else np.nan for r in rows]
    errs = [r["max_energy_success_se"] if r["max_energy_success_se"] == r["max_energy_success_se"] else 0.0
            for r in rows]
    yy = np.arange(len(rows))
    ax[0, 1].barh(yy, np.nan_to_num(vals), xerr=errs,
                  color=["C3" if n == "geodesic" else "C0" for n in names])
    for i, r in enumerate(rows):
        label = f"reached B: {r['success']:.2f}" if r["success"] > 0 else "no reactive path in the budget"
        ax[0, 1].text(1.0, i, label, va="center", color="w" if r["success"] > 0 else "k")
    ax[0, 1].axvline(res["bound"]["mep_max"], color="k", lw=1, label=f"bound (this surface) {res['bound']['mep_max']:.2f}")
    for (label, (value, _)), style in zip(res["published"].items(), (":", "-.", "--", (0, (1, 3)))):
        ax[0, 1].axvline(value, color="C2", ls=style, lw=0.9, label=f"{label}: {value}")
    ax[0, 1].set_yticks(yy, [n.replace("lambda", r"$\lambda$") for n in names])
    ax[0, 1].set_xlabel("max energy along the path (chains reaching B)")
    ax[0, 1].set_ylabel("method")
    ax[0, 1].set_title(f"(b) $kT$ = {kT:g}, {b_max} evaluations per chain")
    ax[0, 1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7)
    pdf = save_figure(fig, out_dir / "spacetime_alanine.pdf")
    res.pop("mep")
    js = write_json(out_dir / "spacetime_alanine.json", res)
    csv = write_csv(out_dir / "spacetime_alanine.csv", res["rows"], COLUMNS)
    md = atomic_write_text(out_dir / "spacetime_alanine.md", markdown(res))
    return [pdf, js, csv, md]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
