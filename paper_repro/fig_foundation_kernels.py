"""Kernel profiles and their normalised d-dimensional Fourier transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from driftlab.io import write_json
from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern, Wendland
from driftlab.plotting import figure, save_figure

NAME = "foundation-kernels"
TITLE = "kernel profiles and normalised Fourier transforms (d = 1, 3)"
#: the data keys (kept as they are in the JSON) and their legend text
LABELS = {"Gaussian s=1": "Gaussian, $s$ = 1", "Laplace tau=1": r"Laplace, $\tau$ = 1",
          "companion tau=1": r"companion, $\tau$ = 1", "Matern 5/2 l=1": r"Matérn 5/2, $\ell$ = 1",
          "IMQ c=1, beta=3": r"inverse multiquadric, $c$ = 1, $\beta$ = 3", "Wendland R=2": "Wendland, $R$ = 2"}


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    kernels = {"Gaussian s=1": Gaussian(1.0), "Laplace tau=1": Laplace(1.0),
               "companion tau=1": Matern.companion(1.0), "Matern 5/2 l=1": Matern(1.0, nu=2.5),
               "IMQ c=1, beta=3": InverseMultiquadric(1.0, 3.0), "Wendland R=2": Wendland(2.0)}
    r = np.linspace(0, 4, 200)
    k = np.geomspace(0.05, 30, 40 if quick else 120)
    data = {"r": r, "k": k, "profile": {}, "fourier": {}}
    fig, ax = figure(3, 1, width=3.0)
    for label, kern in kernels.items():
        prof = kern.profile(r)
        data["profile"][label] = prof
        ax[0, 0].plot(r, prof, label=LABELS[label])
        for j, dim in enumerate((1, 3)):
            ft = np.abs(kern.fourier(k, dim))
            data["fourier"][f"{label} d={dim}"] = ft
            ax[0, j + 1].loglog(k, np.maximum(ft, 1e-16), label=LABELS[label])
    ax[0, 0].set(xlabel="distance $r$", ylabel=r"profile $\varphi(r)$", title="profiles")
    for j, dim in enumerate((1, 3)):
        ax[0, j + 1].set(xlabel="frequency $|k|$", ylabel=r"$|\hat{\varphi}(k)| / \hat{\varphi}(0)$", title=f"normalised Fourier transform, $d$ = {dim}", ylim=(1e-12, 2))
    ax[0, 0].legend(fontsize=7)
    out = Path(out_dir)
    return [save_figure(fig, out / "foundation_kernels.pdf"), write_json(out / "foundation_kernels.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
