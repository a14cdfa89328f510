"""Laplace drift = preconditioned score term + residual, on a 2-D grid at several temperatures."""

from __future__ import annotations

from pathlib import Path

NAME = "theory-laplace-fields"
TITLE = "Laplace drift, preconditioned score field tau*(rbar_p g_p - rbar_q g_q) and residual vs temperature"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis.theory_laplace import field_decomposition
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure

    taus = (0.1, 0.3, 1.0)
    dec = field_decomposition(taus, n=11 if quick else 17)
    import numpy as np

    X, Y = np.meshgrid(dec["grid_x"], dec["grid_y"])
    fig, ax = figure(3, len(taus), width=2.7, height=2.5)
    names = (("drift", "drift $V$"), ("preconditioned", r"$\tau (\bar r_p g_p - \bar r_q g_q)$"),
             ("residual", "residual $C_p - C_q$"))
    for i, tau in enumerate(taus):
        f = dec["fields"][str(tau)]
        vmax = np.log10(np.max(np.linalg.norm(f["drift"], axis=1)))
        for j, (key, label) in enumerate(names):
            F = f[key]
            mag = np.linalg.norm(F, axis=1)
            U = F / np.maximum(mag, 1e-300)[:, None]
            a = ax[i, j]
            im = a.pcolormesh(X, Y, np.log10(np.maximum(mag, 1e-12)).reshape(X.shape), shading="nearest",
                              vmin=vmax - 3, vmax=vmax, cmap="viridis")
            a.quiver(X, Y, U[:, 0].reshape(X.shape), U[:, 1].reshape(X.shape), angles="xy", scale=25,
                     width=0.004, color="w")
            title = f"{label}, $\\tau$ = {tau}"
            if key == "residual":
                title += f"\nmedian $|C|/|V|$ = {f['rel_residual_median']:.2f}"
            a.set_title(title, fontsize=8)
            a.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
        fig.colorbar(im, ax=ax[i, 2], label=r"$\log_{10}$ |field|", shrink=0.8)
    out = Path(out_dir)
    return [save_figure(fig, out / "theory_laplace_fields.pdf"), write_json(out / "theory_laplace_fields.json", dec)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
