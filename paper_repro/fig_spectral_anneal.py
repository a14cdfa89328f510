"""Figure: convergence time T(K) vs K_max for fixed, best-fixed (tuned) and annealed bandwidths.

Panels: Gaussian d = 1 (s0 = 3, r = 0.1); Laplace d = 1 and d = 3 (tau0 = 3, r = 0.05);
eps = 1e-2, modes 1..K of the 2 pi torus (linear theory of [T]). Fitted laws (slope, R^2) are
written to ``spectral_anneal.json``; the rows to ``spectral_anneal.csv``. Heavy lifting in
``analysis/spectral_anneal.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spectral-anneal"
TITLE = "Convergence time vs K_max: fixed vs tuned vs annealed bandwidth (Gaussian, Laplace d=1,3)"


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis.spectral_anneal import dimension_study, t_vs_kmax
    from driftlab.io import write_csv, write_json
    from driftlab.plotting import figure, save_figure

    out_dir = Path(out_dir)
    Ks = [1, 2, 4, 8, 16, 32, 64] + ([] if quick else [128, 256])
    cases = [("gaussian", 1, 0.1), ("laplace", 1, 0.05), ("laplace", 3, 0.05)]
    results = [t_vs_kmax(kern, dim, Ks, eps=1e-2, s0=3.0, r=r) for kern, dim, r in cases]
    fig, ax = figure(3, 1, width=3.0)
    rows = []
    for a, res in zip(ax[0], results):
        K = np.array([r["K"] for r in res["rows"]])
        for col, style, lab in (("T_fixed", "s-", "fixed $s_0$"), ("T_tuned", "o-", "best fixed $s$ per $K$"),
                                ("T_annealed", "^-", r"annealed $s_0 e^{-rt}$")):
            T = np.array([r[col] for r in res["rows"]], dtype=float)
            ok = np.isfinite(T) & (T < 1e12)
            a.loglog(K[ok], T[ok], style, ms=3, label=lab)
            if (~ok).any():
                a.text(0.03, 0.6, f"{lab}: $T > 10^{{12}}$ for $K \\geq$ {K[~ok].min()} (off scale)",
                       transform=a.transAxes, fontsize=7)
        f = res["fits"]
        txt = [f"annealed: $T = a + b \\log K$, $b$={f['annealed']['slope']:.3g} ($1/r$={1 / res['r']:.3g})"]
        if "fixed_exp_k2" in f:
            txt.append(f"fixed: $\\log T \\sim$ {f['fixed_exp_k2']['slope']:.3g} $K^2$")
        if f.get("fixed_power"):
            txt.append(f"fixed: slope {f['fixed_power']['slope']:.3f} ($d + 1$ = {res['dim'] + 1})")
        if "tuned_k2_over_log" in f:
            txt.append(f"tuned: $T \\sim K^2/\\log K$, $R^2$={f['tuned_k2_over_log']['r2']:.6f}")
        else:
            txt.append(f"tuned: log-log slope {f['tuned_power']['slope']:.3f}")
        a.text(0.03, 0.97, "\n".join(txt), transform=a.transAxes, va="top", fontsize=7)
        a.set(xlabel=r"finest mode $K_{\max}$", ylabel=r"convergence time $T(K_{\max};\ 10^{-2})$",
              title=f"{res['kernel'].capitalize()}, $d$ = {res['dim']}", ylim=(1, 1e12))
        a.legend(fontsize=7, loc="lower right")
        rows += [{"kernel": res["kernel"], "dim": res["dim"], **r} for r in res["rows"]]
    dims = dimension_study(K=64 if quick else 256)
    data = {"cases": results, "dimension_study": dims}
    return [save_figure(fig, out_dir / "spectral_anneal.pdf"), write_json(out_dir / "spectral_anneal.json", data),
            write_csv(out_dir / "spectral_anneal.csv", rows)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
