"""Figure: per-mode decay rates of the particle system vs the spectral theory lambda(k).

Panels: (a) 1-D torus, Gaussian and Laplace, measured Euler-step rate per mode (stratified
particles and target) against lambda(k) and its Euler-corrected value; (b) the same in 2-D;
(c) iid particles/target: measured/theory ratio vs N with the 2 % band (the N needed).
Data: ``simulation_modes.json`` / ``.csv`` next to the PDF. Heavy lifting in
``analysis/simulation_modes.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "simulation-modes"
TITLE = "Particle mode decay vs spectral rates lambda(k) (Gaussian/Laplace, 1-D/2-D, N needed)"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from analysis.simulation_modes import n_needed, rate_curve
    from driftlab.io import save_figure, without_timings, write_csv, write_json
    from driftlab.kernels import make_kernel
    from driftlab.plotting import figure
    from driftlab.spectral import euler_rate, rate

    out_dir = Path(out_dir)
    eta = 0.5
    if quick:
        n1, modes1, n2, modes2 = 512, [(1,), (2,), (3,), (5,)], 24**2, [(1, 0), (1, 1)]
        ns, seeds = [1024, 2048], [0, 1]
    else:
        n1, modes1, n2, modes2 = 2048, [(1,), (2,), (3,), (4,), (6,), (8,)], 32**2, [(1, 0), (1, 1), (2, 1)]
        ns, seeds = [256, 512, 1024, 2048, 4096], [0, 1, 2, 3]
    s1, s2 = 0.05, 0.1
    curves = {}
    for kname in ("gaussian", "laplace"):
        curves[(kname, 1)] = rate_curve(kname, 1, modes1, n1, scale=s1, eta=eta)
        curves[(kname, 2)] = rate_curve(kname, 2, modes2, n2, scale=s2, eta=eta)
    noise = n_needed("laplace", 1, (3,), ns, seeds, scale=s1, eps=0.1, eta=eta, wrap="minimum_image")

    fig, axes = figure(ncols=3, nrows=1)
    axes = np.atleast_1d(axes).ravel()
    for ax, dim, sc in ((axes[0], 1, s1), (axes[1], 2, s2)):
        for kname, color in (("gaussian", "C0"), ("laplace", "C1")):
            kern = make_kernel(kname, sc)
            rows = curves[(kname, dim)]
            kmax = max(r["k"] for r in rows) * 1.1
            kk = np.linspace(1e-3, kmax, 300)
            lam = rate(kern, kk, dim)
            ax.plot(kk, lam, color=color, lw=1, ls=":", label=f"{kname.capitalize()} $\\lambda(k)$")
            ok = eta * lam < 1.0
            ax.plot(kk[ok], euler_rate(lam[ok], eta), color=color, lw=1, label=f"{kname.capitalize()} Euler-corrected")
            ax.plot([r["k"] for r in rows], [r["measured"] for r in rows], "o", color=color, ms=4,
                    label=f"{kname.capitalize()} particles")
        ax.set_xlabel("wave number $|k|$")
        ax.set_ylabel("decay rate (1 / time)")
        ax.set_title(f"{dim}-D torus, $s = \\tau$ = {sc}, $\\eta$ = {eta}")
        ax.legend(fontsize=7)
    ax = axes[2]
    for i, n in enumerate(ns):
        r = [row["ratio"] for row in noise["rows"] if row["n"] == n]
        rr = [row["ratio_raw"] for row in noise["rows"] if row["n"] == n]
        ax.plot([n * 0.93] * len(r), r, "o", color="C1", ms=4, label=r"paired ($\varepsilon$ vs 0)" if i == 0 else None)
        ax.plot([n * 1.07] * len(rr), rr, "x", color="0.4", ms=4, label="single run" if i == 0 else None)
    ax.legend(fontsize=7)
    ax.axhspan(0.98, 1.02, color="0.85")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("particles $N = M$ (iid)")
    ax.set_ylabel("measured rate / theory")
    def needed(n):
        return "not reached" if n is None else n

    ax.set_title(f"Laplace 1-D iid, mode 3, $\\varepsilon$ = 0.1\n$N$ needed (all seeds within 2 %): "
                 f"paired {needed(noise['n_needed'])}, single {needed(noise['n_needed_raw'])}")
    rows = without_timings([r for v in curves.values() for r in v] + noise["rows"])  # byte-stable
    pdf = save_figure(fig, out_dir / "simulation_modes.pdf")
    js = write_json(out_dir / "simulation_modes.json", {"quick": quick, "rows": rows, "per_n": without_timings(noise["per_n"]),
                                                        "n_needed": noise["n_needed"],
                                                        "n_needed_raw": noise["n_needed_raw"], "tol": noise["tol"]})
    cols = ["kernel", "dim", "mode", "k", "n", "layout", "seed", "eta", "wrap", "lambda", "lambda_step",
            "measured", "ratio", "ratio_raw", "n_steps"]
    csv = write_csv(out_dir / "simulation_modes.csv", rows, cols)
    return [pdf, js, csv]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
