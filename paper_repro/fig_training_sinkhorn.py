"""Sinkhorn drift vs the Gaussian kernel drift at low temperature (docs/theory.md, the Sinkhorn section)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.training_sinkhorn import run_comparison, summary
from driftlab.io import write_csv, write_json
from driftlab.plotting import figure, save_figure

NAME = "training-sinkhorn"
TITLE = "8-Gaussian ring, particles, s = 0.1: kernel drift (= Sinkhorn, 0 iterations) vs Sinkhorn drift"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    starts = ("one-mode",) if quick else ("one-mode", "centred")
    iters = (0, 100) if quick else (0, 300)
    rows = run_comparison(starts=starts, iters=iters, n=64 if quick else 128, steps=20 if quick else 60,
                          eval_every=5 if quick else 10, alg2=not quick)
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    colors = {"kernel": "tab:red", "alg2": "tab:purple"}
    from driftlab.training import eight_gaussians

    data = eight_gaussians().sample(800, rng=0)
    fig, axes = figure(1 + len(arms), len(starts), width=2.9, height=2.7)
    for r_i, start in enumerate(starts):
        ax = axes[r_i, 0]
        for arm in arms:
            sel = [r for r in rows if r["start"] == start and r["arm"] == arm]
            named = {"kernel": "kernel drift (= Sinkhorn, 0 it.)", "alg2": "Alg. 2, Gaussian kernel"}
            label = named[arm] if arm in named else f"Sinkhorn drift ({arm.split('-')[-1]} it.)"
            ax.plot([r["step"] for r in sel], [r["w2"] for r in sel], color=colors.get(arm, "tab:green"), label=label)
        ax.set(xlabel="step", ylabel="exact $W_2$ to held-out data", title=f"{start} start", ylim=(0, None))
        ax.legend(fontsize=7)
        for c_i, arm in enumerate(arms):
            ax = axes[r_i, 1 + c_i]
            last = [r for r in rows if r["start"] == start and r["arm"] == arm][-1]
            p = np.asarray(last["final_positions"])
            ax.scatter(data[:, 0], data[:, 1], s=1, color="0.75")
            ax.scatter(p[:, 0], p[:, 1], s=3, color=colors.get(arm, "tab:green"))
            kind = {"kernel": "kernel drift", "alg2": "Alg. 2"}.get(arm, f"Sinkhorn, {arm.split('-')[-1]} it.")
            ax.set(aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
                   title=f"{kind}: modes {last['mode_fraction'] * 8:.0f}/8, $W_2$ {last['w2']:.2f}")
    out = Path(out_dir)
    table = summary(rows)
    paths = [save_figure(fig, out / "training_sinkhorn.pdf"),
             write_json(out / "training_sinkhorn.json", {"quick": quick, "rows": rows, "summary": table}),
             write_csv(out / "training_sinkhorn.csv", table)]
    return paths


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
