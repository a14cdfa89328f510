"""Figure: relaxation rates lambda(k) = -k E'(k), Gaussian vs Laplace in several dimensions.

Panels: (a) Gaussian s = 1 (d-independent) vs Laplace tau = 1 in d = 1, 2, 3, 10 (log-log:
exponential vs polynomial high-frequency decay); (b) Laplace at the low-temperature matched
scale tau = s / sqrt(d + 1) (same low-k rate s^2 k^2 as the Gaussian, docs/theory.md, the Laplace section);
(c) Matérn nu = 1/2, 3/2, 5/2, 50 and the Gaussian (nu -> infinity), plus the Wendland kernel
through the numerical Hankel path (d = 1). Data: ``spectral_rates.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spectral-rates"
TITLE = "Spectral rates lambda(k): Gaussian vs Laplace in d = 1, 2, 3, 10; Matern family; numerical path"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from driftlab.io import write_json
    from driftlab.kernels import Gaussian, Laplace, Matern, Wendland
    from driftlab.plotting import figure, save_figure
    from driftlab.spectral import peak_rate, rate

    out_dir = Path(out_dir)
    k = np.geomspace(0.05, 200, 120 if quick else 400)
    dims = (1, 2, 3, 10)
    data: dict = {"k": k, "gaussian": rate(Gaussian(1.0), k), "laplace": {}, "laplace_matched": {},
                  "matern_d1": {}, "peaks": {}}
    fig, ax = figure(3, 1, width=3.1)
    a0, a1, a2 = ax[0]
    floor = 1e-12
    a0.loglog(k, np.maximum(data["gaussian"], floor), "k", label="Gaussian $s$ = 1 (any $d$)")
    a1.loglog(k, np.maximum(data["gaussian"], floor), "k", label="Gaussian $s$ = 1")
    for d in dims:
        lam = rate(Laplace(1.0), k, d)
        lam_m = rate(Laplace(1.0 / np.sqrt(d + 1)), k, d)
        data["laplace"][d], data["laplace_matched"][d] = lam, lam_m
        data["peaks"][f"laplace d={d}"] = peak_rate(Laplace(1.0), d)
        a0.loglog(k, lam, label=f"Laplace $\\tau$ = 1, $d$ = {d}")
        a1.loglog(k, lam_m, label=f"Laplace $\\tau = 1/\\sqrt{{{d + 1}}}$, $d$ = {d}")
    data["peaks"]["gaussian"] = peak_rate(Gaussian(1.0), 1)
    a0.set(xlabel="wave number $|k|$", ylabel=r"rate $\lambda(k)$", title="(a) rates: exponential vs power-law tail",
           ylim=(floor, 2))
    a1.set(xlabel="wave number $|k|$", ylabel=r"rate $\lambda(k)$", title="(b) Laplace at matched low-$k$ scale",
           ylim=(floor, 2))
    kk = k[k <= 40] if quick else k[k <= 60]
    for nu in (0.5, 1.5, 2.5, 50.0):
        lam = rate(Matern(1.0, nu=nu), kk, 1)
        data["matern_d1"][nu] = lam
        a2.loglog(kk, lam, label=f"Matérn $\\nu$ = {nu:g}")
    a2.loglog(kk, rate(Gaussian(1.0), kk), "k--", label=r"Gaussian ($\nu \to \infty$)")
    kw = kk[:: 4 if quick else 2]
    wl = rate(Wendland(2.0), kw, 1, method="numerical")
    data["wendland_d1"] = {"k": kw, "rate": wl}
    a2.loglog(kw, np.maximum(wl, floor), "o", ms=2, label="Wendland $R$ = 2 (numerical)")
    a2.set(xlabel="wave number $|k|$", ylabel=r"rate $\lambda(k)$", title="(c) Matérn family, $d$ = 1", ylim=(1e-8, 2))
    for a in (a0, a1, a2):
        a.legend(fontsize=7)
    return [save_figure(fig, out_dir / "spectral_rates.pdf"), write_json(out_dir / "spectral_rates.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
