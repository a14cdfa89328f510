"""Gaussian drift = s^2 x score difference (population and batch), identifiability and collapse."""

from __future__ import annotations

from pathlib import Path

NAME = "theory-gaussian"
TITLE = "Gaussian drift vs s^2 x score difference; Fourier recovery of p - q; collapse point"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis.theory_gaussian import gaussian_drift_profile, identifiability_demo
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure

    prof = gaussian_drift_profile(n_grid=151 if quick else 401, n_samples=500 if quick else 4000)
    ident = identifiability_demo()
    fig, ax = figure(3, 1, width=3.3)
    a = ax[0, 0]
    a.plot(prof["x"], prof["drift"], label="$V = m_p - m_q$ (posterior means)")
    a.plot(prof["x"], prof["s2_score_diff"], "--", label=r"$s^2 (\nabla\log p_s - \nabla\log q_s)$")
    step = max(1, len(prof["x"]) // 40)
    a.plot(prof["x"][::step], prof["batch_drift"][::step], ".", ms=3, label="batch field (samples)")
    a.plot(prof["x"], prof["s2_kde_score_diff"], ":", lw=1, label=r"$s^2 \times$ KDE score diff.")
    a.set(xlabel="$x$", ylabel="drift $V(x)$", title=f"Gaussian kernel, $s$ = {prof['s']}")
    a.legend(fontsize=7)
    r = ident["recovery"]
    b = ax[0, 1]
    b.plot(r["x"], r["exact"], label="$p - q$ (exact)")
    b.plot(r["x"], r["recovered"], "--", label=f"recovered from $V$ (rel. err {r['rel_linf_error']:.1e})")
    b.set(xlim=(-5, 6), xlabel="$x$", ylabel="$p(x) - q(x)$", title="identifiability: Fourier inversion")
    b.legend(fontsize=7)
    c = ax[0, 2]
    col = ident["collapse"]
    c.contour(ident["grid_x"], ident["grid_y"], ident["log_p_s"], levels=15, linewidths=0.6)
    c.plot(*col["x_star"], "r*", ms=10, label=f"$q$ = point mass, loss {col['loss']:.0e}")
    c.set(xlabel="$x_1$", ylabel="$x_2$", title=r"collapse: $V(x^*) = 0$, $q \neq p$")
    c.legend(fontsize=7, loc="lower left")
    out = Path(out_dir)
    data = {"profile": prof, "recovery_rel_linf_error": r["rel_linf_error"],
            "collapse": {k: col[k] for k in ("x_star", "loss", "w2_squared", "jacobian", "jacobian_eigs",
                                             "collapsed_motion_eigs")}}
    return [save_figure(fig, out / "theory_gaussian.pdf"), write_json(out / "theory_gaussian.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
