"""Batch drift -> population drift as the sample size grows, against the predicted error bar."""

from __future__ import annotations

from pathlib import Path

from analysis.foundation_estimators import batch_convergence
from driftlab.io import write_json
from driftlab.plotting import figure, save_figure

NAME = "foundation-convergence"
TITLE = "RMS error of the batch field vs n against the exact Gaussian-kernel drift"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    sizes = (100, 300, 1000, 3000) if quick else (100, 300, 1000, 3000, 10_000, 30_000)
    res = batch_convergence(sizes=sizes, reps=5 if quick else 20)
    fig, ax = figure(1, 1, width=4.0, height=3.0)
    ax[0, 0].loglog(res["sizes"], res["rms_error"], "o-", label="measured RMS error")
    ax[0, 0].loglog(res["sizes"], res["predicted_stderr"], "k--", label="delta-method standard error")
    ax[0, 0].set(xlabel="samples per set $n$", ylabel=r"RMS $|V_{\mathrm{batch}} - V|$", title="Gaussian kernel, 2-D mixtures")
    ax[0, 0].legend()
    out = Path(out_dir)
    return [save_figure(fig, out / "foundation_convergence.pdf"), write_json(out / "foundation_convergence.json", res)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
