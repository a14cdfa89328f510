"""Laplace residual laws: low-temperature error exponent, residual limit 1/(d+1), decay with dimension."""

from __future__ import annotations

from pathlib import Path

NAME = "theory-laplace-rates"
TITLE = "Laplace residual vs temperature and vs dimension (d = 2 ... 1024+) with fitted log-log slopes and 95% CIs"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    import numpy as np

    from analysis.theory_laplace import residual_laws
    from driftlab.io import write_csv, write_json
    from driftlab.plotting import figure, save_figure

    laws = residual_laws(quick)
    fig, ax = figure(4, 1, width=3.0)
    rows = []
    for d, r in laws["temperature"].items():
        f = r["error_fit"]
        ax[0, 0].loglog(r["taus"], r["rel_error"], "o-", ms=3,
                        label=f"$d$={d}: slope {f.slope:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]")
        ax[0, 1].semilogx(r["taus"], np.array(r["rel_residual"]) * (d + 1), "o-", ms=3, label=f"$d$={d}")
        for t, e, c in zip(r["taus"], r["rel_error"], r["rel_residual"]):
            rows.append({"law": "temperature", "d": d, "tau": t, "rel_error_lowT": e, "rel_residual": c})
    ax[0, 0].set(xlabel=r"temperature $\tau$", ylabel=r"$|V/((d+1)\tau^2) - \Delta s| \,/\, |\Delta s|$",
                 title="low-temperature law (claim: slope 2)")
    ax[0, 1].axhline(1.0, color="k", lw=0.8, ls=":")
    ax[0, 1].set(xlabel=r"temperature $\tau$", ylabel=r"$(d+1)\, |C| / |m|$", title=r"residual $\to m/(d+1)$, not 0")
    for d, r in laws["constant_preconditioner"].items():
        f = r["fit"]
        ax[0, 2].loglog(r["taus"], r["rel_residual"], "o-", ms=3,
                        label=f"$d$={d}: slope {f.slope:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]")
    ax[0, 2].set(xlabel=r"temperature $\tau$", ylabel=r"$|m - (d+1)\tau^2 \nabla\log\pi_k| \,/\, |m|$",
                 title=r"constant preconditioner: $O(\tau^2)$")
    for tau, r in laws["dimension"].items():
        f = r["fit_all"]
        ax[0, 3].loglog(r["dims"], r["rel_residual"], "o-", ms=3,
                        label=f"$\\tau$={tau}: slope {f.slope:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]")
        for d, c in zip(r["dims"], r["rel_residual"]):
            rows.append({"law": "dimension", "d": d, "tau": tau, "rel_residual": c})
    if laws["asymptotic"] is not None:
        r = laws["asymptotic"]
        f = r["fit_all"]
        ax[0, 3].loglog(r["dims"], r["rel_residual"], "s", ms=3, label=f"$d \\geq 1024$: slope {f.slope:.2f}")
    dd = np.array([2, 4096])
    ax[0, 3].loglog(dd, 0.5 / dd, "k:", lw=0.8, label="$1/(2d)$")
    ax[0, 3].set(xlabel="dimension $d$", ylabel="$|C| / |m|$", title=r"residual vs dimension (claim: $\sim 1/d$)")
    from matplotlib.ticker import NullFormatter

    for a in ax[0]:
        a.legend(fontsize=7)
        a.xaxis.set_minor_formatter(NullFormatter())
    out = Path(out_dir)

    def fits(obj):
        return {k: (v.as_dict() if hasattr(v, "as_dict") else v) for k, v in obj.items()} if obj else obj

    data = {"temperature": {str(d): fits(r) for d, r in laws["temperature"].items()},
            "constant_preconditioner": {str(d): fits(r) for d, r in laws["constant_preconditioner"].items()},
            "dimension": {str(t): fits(r) for t, r in laws["dimension"].items()},
            "asymptotic": fits(laws["asymptotic"])}
    return [save_figure(fig, out / "theory_laplace_rates.pdf"), write_json(out / "theory_laplace_rates.json", data),
            write_csv(out / "theory_laplace_rates.csv", rows,
                      columns=["law", "d", "tau", "rel_error_lowT", "rel_residual"])]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
