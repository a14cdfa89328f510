"""[S] hyperbolic oracle: numerical spacetime geodesics of Gaussian data vs the closed form (D = 1, 2, 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spacetime-hyperbolic"
TITLE = "[S] Gaussian data: numerical geodesic length -> sqrt(2D) arccosh(...) closed form, D = 1, 2, 8"




def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from analysis.spacetime_toy import hyperbolic_convergence
    from driftlab.io import write_csv
    from driftlab.distributions import GaussianMixture
    from driftlab.plotting import figure, save_figure
    from driftlab.spacetime import GaussianMixturePosterior, gaussian_posterior_params, geodesic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = hyperbolic_convergence(quick)
    fig, ax = figure(2, 1, width=3.3, height=2.8)
    for D, mk in ((1, "o"), (2, "s"), (8, "^")):
        r = [x for x in rows if x["D"] == D]
        n = np.array([x["n_points"] for x in r])
        ax[0, 0].loglog(n - 1, [abs(x["error"]) for x in r], mk + "-", label=f"$D$={D}: raw", ms=4)
        ext = [(m - 1, abs(x["error_extrapolated"])) for m, x in zip(n, r) if np.isfinite(x["error_extrapolated"])]
        if ext:
            ax[0, 0].loglog(*zip(*ext), mk + ":", label=f"$D$={D}: Richardson", ms=3)
    nn = np.array([8, 128])
    ax[0, 0].loglog(nn, 2.0 / nn**2, "k--", lw=0.8, label="$\\propto N^{-2}$")
    ax[0, 0].set_xlabel("segments $N - 1$")
    ax[0, 0].set_ylabel("$|L - L_{\\mathrm{closed\\ form}}|$")
    ax[0, 0].set_title("(a) convergence to the oracle")
    ax[0, 0].legend(fontsize=7)
    # (b) D = 1 geodesic in half-plane coordinates (m~/sqrt 2, u) vs the exact semicircle
    post = GaussianMixturePosterior(GaussianMixture([[0.0]], 1.0))
    g = geodesic(post, [-0.5, 4.0], [0.5, 4.0], 33)
    pts = np.array([gaussian_posterior_params(z, 0.0, 1.0)[0].tolist() + [gaussian_posterior_params(z, 0.0, 1.0)[1]]
                    for z in g.z])
    X, U = pts[:, 0] / np.sqrt(2), pts[:, 1]
    r = np.hypot(X[0], U[0])
    th = np.linspace(np.arctan2(U[0], X[0]), np.arctan2(U[-1], X[-1]), 200)
    ax[0, 1].plot(r * np.cos(th), r * np.sin(th), "k-", lw=0.8, label="semicircle (exact)")
    ax[0, 1].plot(X, U, "o", ms=3, color="C3", label=f"numerical, $N$=33, $L$={g.length:.4f}")
    ax[0, 1].axhline(1.0, color="C0", ls=":", label="slab edge $u = s_0$")
    ax[0, 1].set_xlabel("$\\tilde m/\\sqrt{2}$")
    ax[0, 1].set_ylabel("posterior std $u$")
    ax[0, 1].set_aspect("equal")
    ax[0, 1].set_title(r"(b) $D$=1, $y=\pm 0.5$, $\lambda$=4: 4.7510")
    ax[0, 1].legend(fontsize=7)
    pdf = save_figure(fig, out_dir / "spacetime_hyperbolic.pdf")
    csv = write_csv(out_dir / "spacetime_hyperbolic.csv", rows)
    return [pdf, csv]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
