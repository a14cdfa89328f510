"""The official 2-D toy of [D] reproduced with driftlab's trainer (docs/theory.md, the published anchors).

The figure shows only what this script computes (1000 steps, batch 1024; quick: 200 / 512),
so it is the same on every machine. The full protocol (2000 steps, 2048/2048) takes minutes
per dataset on a CPU: run it with `driftlab train ... --out runs/official/<data>` (see
analysis/training_official.py) and set DRIFTLAB_OFFICIAL_RUNS=runs/official to overlay it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from analysis.training_official import PUBLISHED_LOSS, load_cached, run_official
from driftlab.io import without_timings, write_csv, write_json
from driftlab.plotting import figure, save_figure

NAME = "training-official"
TITLE = "official toy (MLP 32-256x3-2, Adam 1e-3, Laplace tau 0.05, Alg. 2): swiss roll, checkerboard"
DATA_LABELS = {"swiss-roll": "swiss roll", "checkerboard": "checkerboard"}


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    steps, batch = (200, 512) if quick else (1000, 1024)
    fig, axes = figure(3, 2, width=3.0, height=2.8)
    table, runs = [], {}
    runs_dir = os.environ.get("DRIFTLAB_OFFICIAL_RUNS")
    cached = load_cached(Path(runs_dir)) if runs_dir else {}
    for r_i, data in enumerate(PUBLISHED_LOSS):
        res = run_official(data, steps=steps, batch=batch, eval_every=max(steps // 5, 1),
                           n_eval=1000 if quick else 2000)
        runs[data] = res.to_json()
        f = res.final
        table.append({"data": data, "steps": steps, "batch": batch, "loss_mse_last": f["loss_mse_last"],
                      "loss_mse_mean_last100": f["loss_mse_mean_last100"], "published_loss": PUBLISHED_LOSS[data],
                      "energy": f["energy"], "mmd2": f["mmd2"], "w2": f["w2"], "source": "this run"})
        c = cached.get(data)
        if c is not None:
            h = c["history"][-1]
            table.append({"data": data, "steps": h["step"], "batch": 2048,
                          "loss_mse_last": c["final"]["loss_mse_last"] if c["complete"] else None,
                          "loss_mse_mean_last100": c["final"]["loss_mse_mean_last100"] if c["complete"] else None,
                          "published_loss": PUBLISHED_LOSS[data], "energy": h["energy"], "mmd2": h["mmd2"],
                          "w2": h["w2"],
                          "source": "runs/official (CLI, " + ("complete" if c["complete"] else "partial") + ")"})
        ax = axes[r_i, 0]
        ax.semilogy(np.arange(1, steps + 1), res.losses / 2, lw=0.6, label=f"this run ({steps} steps, batch {batch})")
        if c is not None:
            hs = [x for x in c["history"] if x["step"] > 0]
            ax.semilogy([x["step"] for x in hs], [x["loss_mse"] for x in hs], "o-", ms=3,
                        label="CLI run 2048/2048 (window means)")
        ax.axhline(PUBLISHED_LOSS[data], color="k", ls=":", label="published final loss")
        ax.set(xlabel="step", ylabel="loss (MSE per coordinate)", title=DATA_LABELS.get(data, data))
        ax.legend(fontsize=7)
        ax = axes[r_i, 1]
        ax.plot([x["step"] for x in res.history], [x["w2"] for x in res.history], "o-", ms=3, label="exact $W_2$")
        ax.plot([x["step"] for x in res.history], [max(x["energy"], 1e-5) for x in res.history], "s-", ms=3,
                label="energy distance")
        ax.set(yscale="log", xlabel="step", ylabel="distance to held-out data", title="held-out metrics")
        ax.legend(fontsize=7)
        ax = axes[r_i, 2]
        ax.scatter(res.data[:, 0], res.data[:, 1], s=1, color="0.7", rasterized=True)
        ax.scatter(res.samples[:, 0], res.samples[:, 1], s=1, color="tab:orange", rasterized=True)
        ax.set(aspect="equal", xlabel="$x_1$", ylabel="$x_2$", title=f"generated (orange), $W_2$ {f['w2']:.3f}")
    out = Path(out_dir)
    paths = [save_figure(fig, out / "training_official.pdf"),
             write_json(out / "training_official.json", without_timings({"quick": quick, "table": table, "runs": runs})),
             write_csv(out / "training_official.csv", without_timings(table))]
    return paths


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
