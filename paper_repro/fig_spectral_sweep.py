"""Figure: the coarse-to-fine sweep of annealing (K = 64, eps = 1e-2, Gaussian and Laplace, d = 1).

Panels: (a) T vs the schedule parameter for each family (exponential over r / r_max,
floored exponential over r, linear and cosine over the duration, step-halving over the
dwell time); (b) T over the (r, s0) plane for exponential annealing, Gaussian (white = the
inadmissible region r >= r_max(s0), infinite time); (c) bandwidth s(t) of the best schedule
of each family. Data: ``spectral_sweep.json``. Heavy lifting in ``analysis/spectral_anneal.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spectral-sweep"
TITLE = "Coarse-to-fine annealing sweep: schedule families, (r, s0) map, best schedules"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis.spectral_anneal import rate_s0_map, schedule_sweep
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure
    from driftlab.spectral import CosineSchedule, ExponentialSchedule, LinearSchedule, StepSchedule

    out_dir = Path(out_dir)
    n = 8 if quick else 25
    sweeps = {k: schedule_sweep(k, K=64, n=n) for k in ("gaussian", "laplace")}
    grid = rate_s0_map("gaussian", K=64, n=10 if quick else 30)
    fig, ax = figure(3, 1, width=3.1)
    a = ax[0, 0]
    for kern, sw in sweeps.items():
        for name, fam in sw["families"].items():
            x = fam["param"] / (sw["r_max"] if name == "exponential" else 1.0)
            T = np.where(np.isfinite(fam["T"]), fam["T"], np.nan)
            a.loglog(x, T, "-" if kern == "gaussian" else "--", label=f"{kern.capitalize()[:3]}. {name}")
    a.set(xlabel=r"schedule parameter ($r/r_{\max}$, $r$, duration or dwell)",
          ylabel=r"convergence time $T(64;\ 10^{-2})$", title="(a) schedule families")
    a.legend(fontsize=7, ncol=2)
    a = ax[0, 1]
    T = np.log10(np.where(np.isfinite(grid["T"]), grid["T"], np.nan))
    im = a.pcolormesh(grid["r"], grid["s0"], T, shading="nearest")
    a.set(xscale="log", yscale="log", xlabel="annealing rate $r$", ylabel="initial scale $s_0$",
          title=r"(b) $\log_{10} T$, Gaussian (white: never)")
    fig.colorbar(im, ax=a, label=r"$\log_{10} T$")
    a = ax[0, 2]
    sw = sweeps["gaussian"]
    s0, s1 = sw["s0"], sw["s1"]
    best = sw["families"]
    scheds = {
        "exponential": ExponentialSchedule(s0, best["exponential"]["best_param"]),
        "exponential-floored": ExponentialSchedule(s0, best["exponential-floored"]["best_param"], s_min=s1),
        "linear": LinearSchedule(s0, s1, best["linear"]["best_param"]),
        "cosine": CosineSchedule(s0, s1, best["cosine"]["best_param"]),
        "step": StepSchedule.halving(s0, int(np.ceil(np.log2(s0 / s1))) + 1, best["step"]["best_param"]),
    }
    for name, sch in scheds.items():
        t = np.linspace(0, best[name]["best_T"], 300)
        a.semilogy(t, sch.bandwidth(t), label=f"{name}: $T$={best[name]['best_T']:.3g}")
    a.set(xlabel="time $t$", ylabel="bandwidth $s(t)$", title="(c) best schedule per family (Gaussian)")
    a.legend(fontsize=7)
    data = {"sweeps": sweeps, "rate_s0_map": grid,
            "best": {k: {n_: {"param": f["best_param"], "T": f["best_T"]} for n_, f in sw_["families"].items()}
                     for k, sw_ in sweeps.items()}}
    return [save_figure(fig, out_dir / "spectral_sweep.pdf"), write_json(out_dir / "spectral_sweep.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
