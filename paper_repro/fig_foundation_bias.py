"""Bias of the batch drift at p = q: joint normalisation is unbiased, separate is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.foundation_estimators import bias_vs_positive_count
from driftlab.io import write_json
from driftlab.plotting import figure, save_figure

NAME = "foundation-bias"
TITLE = "E[V] at p = q vs positive-set size (64 negatives, N(0,1), x = 2.5, Laplace tau = 1)"
METHOD_LABELS = {"joint": "joint normalisation", "separate": "separate normalisation",
                 "abc": "separate, bias-corrected"}


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    res = bias_vs_positive_count(reps=400 if quick else 4000)
    fig, ax = figure(1, 1, width=4.2, height=3.0)
    for m, st in res["methods"].items():
        mean, se = np.array(st["mean"]), np.array(st["stderr"])
        ax[0, 0].errorbar(res["counts"], mean, yerr=2 * se, marker="o", capsize=2, label=METHOD_LABELS.get(m, m))
    ax[0, 0].axhline(0.0, color="k", lw=0.8)
    ax[0, 0].set(xscale="log", xlabel="number of positives (negatives: 64)", ylabel=r"$E[V(2.5)]$ ($\pm$ 2 SE)",
                 title="drift estimators at p = q")
    ax[0, 0].set_xticks(res["counts"], [str(c) for c in res["counts"]])
    ax[0, 0].minorticks_off()
    ax[0, 0].legend()
    out = Path(out_dir)
    return [save_figure(fig, out / "foundation_bias.pdf"), write_json(out / "foundation_bias.json", res)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
