"""Figure: mode-decay curves from the independent grid solver vs exp(-lambda(k) t).

Panels: Gaussian s = 0.5 and Laplace tau = 0.5 on the 1-D 2 pi torus, Gaussian s = 0.5 and
Laplace tau = 1 on the 2-D torus: log amplitude of each perturbed mode (full nonlinear
equation, amplitude 1e-6, markers) against the theory lines; last panel: explicit-Euler
step size eta vs measured rate and -log(1 - eta lambda)/eta. Data (measured/theory ratios
for the linearised and the nonlinear equation): ``spectral_modes.json``.
Heavy lifting in ``analysis/spectral_modes.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spectral-modes"
TITLE = "Grid-solver mode decay (linear + nonlinear, 1-D/2-D) vs lambda(k); Euler-step correction"


def _kernel_text(name: str) -> str:
    """A kernel's data name ("laplace tau=0.5") as figure text ("Laplace $\\tau$ = 0.5")."""
    name = name[:1].upper() + name[1:]
    return name.replace("tau=", r"$\tau$ = ").replace(" s=", " $s$ = ")


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis.spectral_modes import euler_check, mode_decay
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure

    out_dir = Path(out_dir)
    recs = mode_decay(quick=quick)
    eul = euler_check()
    fig, ax = figure(5, 1, width=2.6)
    panels = {}
    for rec in recs:
        key = (rec["kernel"], rec["dim"])
        panels.setdefault(key, len(panels))
        a = ax[0, panels[key]]
        if rec["kind"] != "nonlinear":
            continue
        for j, k in enumerate(rec["k"]):
            step = max(1, len(rec["t"]) // 12)
            line = a.semilogy(rec["t"], np.exp(-rec["theory"][j] * rec["t"]), lw=1)[0]
            a.semilogy(rec["t"][::step], rec["amp"][::step, j], "o", ms=2.5, color=line.get_color(),
                       label=f"$|k|$={k:.3g}")
        a.set(xlabel="time $t$", title=f"{_kernel_text(rec['kernel'])}, $d$ = {rec['dim']}", ylabel="mode amplitude")
        a.legend(fontsize=7)
    a = ax[0, 4]
    etas = [r["eta"] for r in eul]
    a.plot(etas, [r["measured"] for r in eul], "o", label="grid solver, Euler")
    a.plot(etas, [r["euler_theory"] for r in eul], "-", label=r"$-\log|1 - \eta\lambda| / \eta$")
    a.axhline(eul[0]["lambda"], color="k", ls="--", lw=1, label=r"$\lambda$")
    a.set(xlabel=r"step size $\eta$", ylabel="measured rate", title="Euler step bias ($k$ = 3)")
    a.legend(fontsize=7)
    data = {"records": [{k: v for k, v in r.items() if k not in ("amp", "t")} for r in recs],
            "max_abs_log_ratio": {f"{r['kernel']} d={r['dim']} {r['kind']}": float(np.max(np.abs(np.log(r["ratio"]))))
                                  for r in recs},
            "euler": eul}
    return [save_figure(fig, out_dir / "spectral_modes.pdf"), write_json(out_dir / "spectral_modes.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
