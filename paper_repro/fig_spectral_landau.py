"""Figure + table: the Landau-damping analogy made concrete.

Left: Langmuir-wave damping |gamma(k)| (Maxwellian plasma, roots of the dispersion relation
with the plasma dispersion function, mpmath 30 digits) and its weak-damping asymptote, beside
the drift relaxation rates lambda(k) for a Gaussian (s = lambda_D) and a Laplace (tau =
lambda_D) kernel. Right: oscillation frequencies: plasma omega_r(k) vs drift (identically 0).
Table: ``spectral_landau.csv`` / ``.json``. Where the analogy holds and where it does not:
see :mod:`driftlab.spectral.landau`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spectral-landau"
TITLE = "Landau damping of Langmuir waves vs drift relaxation rates (analogy table)"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from driftlab.io import write_csv, write_json
    from driftlab.kernels import Gaussian, Laplace
    from driftlab.plotting import figure, save_figure
    from driftlab.spectral import rate
    from driftlab.spectral.landau import landau_table, weak_damping_rate

    out_dir = Path(out_dir)
    ks = np.round(np.linspace(0.1, 2.0, 8 if quick else 20), 4)
    rows = landau_table(ks, Gaussian(1.0))
    for r in rows:
        r["drift_rate_laplace"] = float(rate(Laplace(1.0), r["k"]))
    kf = np.linspace(0.05, 2.0, 200)
    fig, ax = figure(2, 1, width=3.3)
    a = ax[0, 0]
    a.semilogy(ks, [-r["plasma_gamma"] for r in rows], "o-", label=r"Landau $|\gamma|$ (plasma)")
    a.semilogy(kf, -weak_damping_rate(kf), ":", label="weak-damping asymptote")
    a.semilogy(kf, rate(Gaussian(1.0), kf), "-", label=r"drift $\lambda$, Gaussian $s$ = 1")
    a.semilogy(kf, rate(Laplace(1.0), kf), "--", label=r"drift $\lambda$, Laplace $\tau$ = 1")
    a.set(xlabel=r"$k \lambda_D$", ylabel=r"damping rate / $\omega_p$", ylim=(1e-8, 5), title="decay rates")
    a.legend(fontsize=7)
    a = ax[0, 1]
    a.plot(ks, [r["plasma_omega"] for r in rows], "o-", label=r"plasma $\omega_r$")
    a.plot(kf, np.sqrt(1 + 3 * kf**2), ":", label=r"Bohm-Gross $\sqrt{1 + 3k^2}$")
    a.plot(kf, 0 * kf, "k-", label="drift: no oscillation")
    a.set(xlabel=r"$k \lambda_D$", ylabel=r"frequency / $\omega_p$", title="oscillation")
    a.legend(fontsize=7)
    cols = ["k", "plasma_omega", "plasma_gamma", "plasma_gamma_weak", "drift_rate", "drift_rate_laplace",
            "drift_omega"]
    return [save_figure(fig, out_dir / "spectral_landau.pdf"), write_csv(out_dir / "spectral_landau.csv", rows, cols),
            write_json(out_dir / "spectral_landau.json", rows)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
