"""Reverse Fisher: closed form vs Monte Carlo; exact Gaussian drifting flow (ODE) vs a particle run."""

from __future__ import annotations

from pathlib import Path

NAME = "theory-fisher"
TITLE = "E_q|V|^2 = s^4 x reverse Fisher (closed vs MC); Gaussian drifting flow: moment ODE vs particles"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    import numpy as np

    from analysis.theory_fisher import fisher_vs_bandwidth, flow_comparison
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure

    fis = fisher_vs_bandwidth(n=5000 if quick else 50000)
    flow = flow_comparison(n_particles=400 if quick else 1500, n_steps=40 if quick else 80)
    fig, ax = figure(3, 1, width=3.2)
    s = [r["s"] for r in fis["rows"]]
    ax[0, 0].loglog(s, [r["closed"] for r in fis["rows"]], "-", label=r"closed form $s^4 \times$ reverse Fisher")
    ax[0, 0].errorbar(s, [r["mc_mean"] for r in fis["rows"]], yerr=[4 * r["mc_se"] for r in fis["rows"]],
                      fmt="o", ms=3, label=r"Monte Carlo $E_q|m_p - m_q|^2$ ($\pm$4 SE)")
    ax[0, 0].set(xlabel="bandwidth $s$", ylabel=r"$E_q |V|^2$", title=r"drifting loss = $s^4 \times$ reverse Fisher")
    ax[0, 0].legend(fontsize=7)
    from matplotlib.ticker import NullFormatter

    ax[0, 0].xaxis.set_minor_formatter(NullFormatter())
    t = flow["t"]
    step = max(1, len(t) // 20)
    for j, c in enumerate(("C0", "C1")):
        ax[0, 1].plot(t, flow["ode_means"][:, j], c, label=f"ODE $\\mu_{j + 1}$")
        ax[0, 1].plot(t[::step], flow["particle_means"][::step, j], "o", color=c, ms=3, label=f"particles $\\mu_{j + 1}$")
        ax[0, 1].axhline(flow["mu_p"][j], color=c, ls=":", lw=0.8)
    for (i, k), c in zip(((0, 0), (0, 1), (1, 1)), ("C2", "C3", "C4")):
        ax[0, 2].plot(t, flow["ode_covs"][:, i, k], c, label=f"ODE $S_{{{i + 1}{k + 1}}}$")
        ax[0, 2].plot(t[::step], flow["particle_covs"][::step, i, k], "o", color=c, ms=3)
        ax[0, 2].axhline(flow["S_p"][i, k], color=c, ls=":", lw=0.8)
    ax[0, 1].set(xlabel="time $t$", ylabel=r"mean $\mu(t)$", title=r"mean: $\mu' = s^2 A (\mu_p - \mu)$")
    ax[0, 2].set(xlabel="time $t$", ylabel="covariance $S(t)$", title=r"covariance: $S' = MS + SM^\top$")
    ax[0, 1].legend(fontsize=7)
    ax[0, 2].legend(fontsize=7)
    out = Path(out_dir)
    data = {"fisher": fis, "flow": {k: (np.asarray(v).tolist() if hasattr(v, "shape") else v) for k, v in flow.items()}}
    return [save_figure(fig, out / "theory_fisher.pdf"), write_json(out / "theory_fisher.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
