"""[S] 1-D toy: geodesic vs straight line vs probability-flow paths in spacetime, compared by length."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spacetime-toy1d"
TITLE = "[S] 1-D toy: spacetime geodesic (length ~6.41) vs straight line (~15.8) vs PF-ODE paths"




def make(out_dir: Path, quick: bool = False) -> list[Path]:
    from analysis.spacetime_toy import SCHEDULE, pf_ode_vs_geodesic, toy_geodesic, toy_posterior
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    toy = toy_geodesic(quick)
    pf = pf_ode_vs_geodesic(quick, n_paths=2 if quick else None)
    post = toy_posterior()

    fig, ax = figure(3, 1, width=3.3, height=2.9)
    # (a) curves in the (x_t, t) chart of the VP schedule over the noisy density
    t = np.linspace(0.02, 0.98, 200)
    x = np.linspace(-5, 5, 300)
    lam = SCHEDULE.lam(t)
    a = SCHEDULE.alpha(t)
    dens = np.empty((t.size, x.size))
    for i in range(t.size):  # p_t(x) = (1/alpha) q_h(x/alpha), h^2 = 1/SNR
        dens[i] = post.data.smooth(float(np.exp(-lam[i] / 2))).pdf((x / a[i])[:, None]) / a[i]
    ax[0, 0].imshow(dens, origin="lower", aspect="auto", extent=[x[0], x[-1], t[0], t[-1]], cmap="Greys")

    def to_xt(z):
        xx, tt = SCHEDULE.from_spacetime(z[:, :1], z[:, 1])
        return xx[:, 0], tt

    for key, lab, col in (("geodesic", "geodesic", "C3"), ("straight", "straight", "C0"), ("ode_tent_init", "PF-ODE tent (init)", "C2")):
        z = np.asarray(toy[key]["z"])
        L = toy[key].get("length_extrapolated", toy[key]["length"])
        xx, tt = to_xt(z)
        ax[0, 0].plot(xx, tt, color=col, label=f"{lab}: $L$={L:.2f}")
    ax[0, 0].set_xlabel("$x_t$")
    ax[0, 0].set_ylabel("$t$ (VP, $\\lambda$: 10 $\\to$ -10)")
    ax[0, 0].set_title(f"(a) geodesic peaks at $t$={toy['geodesic']['t_peak']:.3f}")
    ax[0, 0].legend(loc="upper left", fontsize=7)
    # (b) convergence in N
    for init, mk in (("straight", "o"), ("tent", "s"), ("ode", "^")):
        rows = [r for r in toy["convergence"] if r["init"] == init]
        ax[0, 1].plot([r["n_points"] for r in rows], [r["length"] for r in rows], mk + "-", label=f"init {init}", ms=4)
    ext = toy["geodesic"]["length_extrapolated"]
    ax[0, 1].axhline(ext, color="k", ls=":", label=f"Richardson {ext:.4f}")
    ax[0, 1].set_xscale("log", base=2)
    ax[0, 1].set_xlabel("points $N$")
    ax[0, 1].set_ylabel("discrete length")
    ax[0, 1].set_title("(b) length converges as $N^{-2}$")
    ax[0, 1].legend(fontsize=7)
    # (c) PF-ODE paths vs geodesics between their ends, in the chart (x, lambda) with the VP
    # scaling x = y alpha(lambda), alpha = (1 + e^-lambda)^-1/2: defined for every lambda. A
    # geodesic may pass through pure noise beyond the schedule's t = 1 (lambda < -10), where
    # the (x_t, t) chart of panel (a) does not exist and y = x / alpha runs off to ~1e5.
    def to_x_lam(z):
        return z[:, 0] / np.sqrt(1.0 + np.exp(-z[:, 1])), z[:, 1]

    for k, r in enumerate(pf):
        (xo, lo), (xg, lg) = to_x_lam(np.asarray(r["ode_z"])), to_x_lam(np.asarray(r["geodesic_z"]))
        ax[0, 2].plot(xo, lo, color=f"C{k}", lw=2, alpha=0.5)
        ax[0, 2].plot(xg, lg, color=f"C{k}", ls="--", lw=1,
                      label=f"$L_{{\\mathrm{{ODE}}}}/L_{{\\mathrm{{geo}}}}$={r['length_ratio_N']:.4f}, "
                            f"energy ratio {r['energy_ratio_uniform_t']:.2f}")
    ax[0, 2].invert_yaxis()
    # as SNR -> 0 the posterior stops depending on y (a flat direction of the metric): the
    # outer geodesics drift far in x there at no cost in length, so the window is fixed
    ax[0, 2].set_xlim(-5, 5)
    ax[0, 2].set_xlabel("$x = y\\,\\alpha(\\lambda)$ (VP scaling)")
    ax[0, 2].set_ylabel("$\\lambda$ = log SNR (noisier up)")
    ax[0, 2].set_title("(c) PF-ODE (thick) vs geodesic (dashed)")
    ax[0, 2].legend(fontsize=7)
    pdf = save_figure(fig, out_dir / "spacetime_toy1d.pdf")
    data = {"toy": toy, "pf_ode": pf}
    js = write_json(out_dir / "spacetime_toy1d.json", data)
    return [pdf, js]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
