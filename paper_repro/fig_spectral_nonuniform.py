"""Figure: relaxation rates around non-uniform targets vs the uniform-target lambda(k).

Panels: (a) the targets (two-component wrapped GMM on the 2 pi torus); (b) eigen-rates of
the discretised linear operator (dots, placed at each eigenvector's dominant |k|) for the
GMM target vs the uniform-target lambda(k) (line), Gaussian s = 0.5 and Laplace tau = 0.5;
(c) a Gaussian target on R approximated by periodic boxes of side L: the slowest low-k rate
collapses as L grows (no spectral gap: perturbations in the tails relax at rates ~ p/p_s).
Caveat: the operator is non-normal; rates below ~1e-8 (Laplace, L >= 20) are at the limit of
what the dense eigen-solver resolves (at L = 24 the trend visibly breaks), so only L <= 20 is shown.
Data: ``spectral_nonuniform.json``. Heavy lifting in ``analysis/spectral_nonuniform.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAME = "spectral-nonuniform"
TITLE = "Linearisation around non-uniform targets: operator spectrum vs lambda(k)"
#: legend text of the kernels of analysis.spectral_nonuniform.KERNELS
KERNEL_LABELS = {"gaussian s=0.5": "Gaussian $s$ = 0.5", "laplace tau=0.5": r"Laplace $\tau$ = 0.5"}


def make(out_dir: Path, quick: bool = False) -> list[Path]:
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the checkout holding analysis/
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis.spectral_nonuniform import KERNELS, gaussian_on_R, gmm_torus, summary_rows
    from driftlab.io import write_json
    from driftlab.plotting import figure, save_figure
    from driftlab.spectral import rate

    out_dir = Path(out_dir)
    gmm = gmm_torus(n=64 if quick else 128)
    onR = gaussian_on_R(lengths=(12.0, 16.0) if quick else (12.0, 14.0, 16.0, 18.0, 20.0))
    fig, ax = figure(3, 1, width=3.0)
    ax[0, 0].plot(gmm["x"], gmm["target"])
    ax[0, 0].set(xlabel="$x$", ylabel="$p(x)$", title="(a) GMM target on the torus")
    a = ax[0, 1]
    kf = np.linspace(0.01, 12, 300)
    for label, kern in KERNELS.items():
        s = gmm["spectra"][label]
        sel = (s["k_dominant"] > 0) & (s["k_dominant"] <= 12)
        line = a.semilogy(kf, rate(kern, kf), label=f"uniform $\\lambda$, {KERNEL_LABELS.get(label, label)}")[0]
        a.semilogy(s["k_dominant"][sel], np.maximum(s["rates"][sel], 1e-16), "o", ms=2.5, color=line.get_color(),
                   label=f"GMM eigen-rates (max $|\\mathrm{{Im}}|$={s['max_imag']:.3f})")
    a.set(xlabel="dominant $|k|$ of eigenvector", ylabel="decay rate", ylim=(1e-4, 2), title="(b) GMM on the torus")
    a.legend(fontsize=7)
    a = ax[0, 2]
    for label in KERNELS:
        recs = onR["spectra"][label]
        a.semilogy([r["L"] for r in recs], [r["smallest_low_k"] for r in recs], "o-", label=KERNEL_LABELS.get(label, label))
    a.set(xlabel="box side $L$", ylabel="slowest low-$k$ rate", title=r"(c) Gaussian target on $\mathbb{R}$")
    a.legend(fontsize=7)
    data = {"gmm": gmm, "gaussian_on_R": onR, "summary": summary_rows(gmm, onR)}
    return [save_figure(fig, out_dir / "spectral_nonuniform.pdf"),
            write_json(out_dir / "spectral_nonuniform.json", data)]


if __name__ == "__main__":
    from driftlab.repro import run_script

    run_script(make)
