"""Drifting with and without stop-gradient from three concentrated starts (docs/theory.md, the stop-gradient section)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.training_stopgrad import INITS, run_ablation, summary
from driftlab.io import write_csv, write_json
from driftlab.plotting import figure, save_figure

NAME = "training-stopgrad"
TITLE = "stop-gradient ablation: two-Gaussian toy, particles, Gaussian-kernel drift (s = 1)"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    methods = ("separate",) if quick else ("separate", "joint")
    rows = run_ablation(methods=methods, n=96 if quick else 256, steps=120 if quick else 400,
                        eval_every=20 if quick else 50)
    fig, axes = figure(len(INITS), 1 + len(methods), width=3.0, height=2.6)
    for r_i, method in enumerate(methods):
        for c_i, init in enumerate(INITS):
            ax = axes[r_i, c_i]
            for sg, style in ((True, "-"), (False, "--")):
                sel = [r for r in rows if r["method"] == method and r["init"] == init and r["stop_gradient"] == sg]
                steps = [r["step"] for r in sel]
                ax.plot(steps, [max(r["energy"], 1e-4) for r in sel], style, color="tab:blue",
                        label=f"energy dist. ({'sg' if sg else 'no sg'})")
                ax.plot(steps[1:], [r["loss"] for r in sel][1:], style, color="tab:red",
                        label=f"loss $E|V|^2$ ({'sg' if sg else 'no sg'})")
            ax.set(yscale="log", xlabel="step", ylabel="energy distance, loss", title=f"{init} start, {method}")
            if r_i == 0 and c_i == 0:
                ax.legend(fontsize=7)
    from driftlab.training import two_gaussians

    ds_pts = two_gaussians().sample(400, rng=0)
    for c_i, init in enumerate(INITS):
        ax = axes[len(methods), c_i]
        ax.scatter(ds_pts[:, 0], ds_pts[:, 1], s=2, color="0.7", label="data")
        for sg, color in ((True, "tab:green"), (False, "tab:red")):
            last = [r for r in rows if r["method"] == methods[0] and r["init"] == init and r["stop_gradient"] == sg
                    and "final_positions" in r][-1]
            p = np.asarray(last["final_positions"])
            ax.scatter(p[:, 0], p[:, 1], s=3, color=color, label="with sg" if sg else "without sg")
        ax.set(title=f"final particles ({init}, {methods[0]})", aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
        if c_i == 0:
            ax.legend(fontsize=7, markerscale=3)
    out = Path(out_dir)
    table = summary(rows)
    paths = [save_figure(fig, out / "training_stopgrad.pdf"),
             write_json(out / "training_stopgrad.json", {"quick": quick, "rows": rows, "summary": table}),
             write_csv(out / "training_stopgrad.csv", table)]
    return paths


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
