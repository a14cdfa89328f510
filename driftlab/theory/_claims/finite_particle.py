"""[FP] The conservative (KDE-gradient) drifting velocity and its finite-particle rate.

[FP] K. Balasubramanian, "Finite-Particle Convergence Rates for Conservative and
Non-Conservative Drifting Models", arXiv:2605.22795 (2026).

* the velocity :math:`\\nabla \\log \\hat p_h - \\nabla \\log \\hat q_h` is the ``"separate"``
  Gaussian drift divided by :math:`h^2` and a gradient (live, quick tier);
* the root time-averaged squared center velocity of the particle flow decays at least like
  :math:`N^{-1/(d+4)}` with :math:`h = N^{-1/(d+4)}`: a small live d = 1 sweep (quick tier) and the
  committed sweep over d = 1, 2, 3 (verified) and d = 5 (slower in the measured, pre-asymptotic
  range: refuted there, as expected; default tier, evidence hash-checked).
"""

from __future__ import annotations

import json
import math
from functools import partial

import numpy as np

from driftlab.theory._claims._record import Claim, Evidence, Outcome

#: the sweep is resumable (finished run files are skipped), so a recompute removes them first (~7 min, 1 core)
_SWEEP_CMD = ("rm -rf analysis/results/finite_particle_rate/runs && "
              "OMP_NUM_THREADS=1 python -m analysis.finite_particle_rate run")
_SUMMARY = "analysis/results/finite_particle_rate/summary.json"
_FIG = ("simulation-finite-particle",)
#: sha256 of the canonical JSON of summary.json["fits"] (the numbers the claims read)
_SHA = "f45dcec5b021ec2d3a8295d8d94a2d3bac994779c07bb4eeed5f327f906f329e"


def _dense_log_kde(x: np.ndarray, y: np.ndarray, h: float) -> np.ndarray:
    e = -((x[:, None, :] - y[None, :, :]) ** 2).sum(-1) / (2 * h * h)
    m = e.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(e - m).sum(axis=1, keepdims=True)))[:, 0]


def check_velocity_identity(quick: bool, h_power: float = 2.0) -> Outcome:
    """conservative_velocity = central-difference gradient of log(p_h / q_h) (dense, independent), and its
    finite-difference Jacobian is symmetric. ``h_power`` perturbs the 1/h^2 (mutation tests)."""
    from driftlab.fields import conservative_velocity

    rng = np.random.default_rng(11)
    d, h = 2, 0.7
    p, q = rng.normal(size=(40, d)) + [0.8, -0.3], rng.normal(size=(30, d)) * 0.7
    x = rng.normal(size=(4 if quick else 12, d))
    field = lambda z: np.asarray(conservative_velocity(z, p, q, h)) * h ** (2.0 - h_power)
    v = field(x)
    eps = 1e-5
    grad = np.zeros_like(x)
    J = np.zeros((len(x), d, d))
    for b in range(d):
        dx = np.zeros_like(x)
        dx[:, b] = eps
        grad[:, b] = ((_dense_log_kde(x + dx, p, h) - _dense_log_kde(x + dx, q, h))
                      - (_dense_log_kde(x - dx, p, h) - _dense_log_kde(x - dx, q, h))) / (2 * eps)
        J[:, :, b] = (field(x + dx) - field(x - dx)) / (2 * eps)
    scale = 1.0 + float(np.abs(grad).max())
    err = float(np.abs(v - grad).max()) / scale
    asym = float(np.abs(J - np.swapaxes(J, 1, 2)).max()) / (1.0 + float(np.abs(J).max()))
    worst = max(err, asym)
    return Outcome(worst, f"gradient error {err:.1e}, Jacobian asymmetry {asym:.1e}",
                   "verified" if worst <= 1e-6 else "refuted", {"gradient_error": err, "asymmetry": asym})


def _judge(fits: dict, exponent) -> Outcome:
    """Verified when no d decays slower than the bound by more than 2 standard errors."""
    rows, refuted = {}, []
    for d, f in sorted(fits.items(), key=lambda kv: int(kv[0])):
        bound = exponent(int(d))
        slope, se = f["slope"], f["slope_se"]
        if slope > bound + 2 * se:
            verdict = "slower than the bound"
            refuted.append(d)
        elif abs(slope - bound) <= 2 * se:
            verdict = "attained"
        else:
            verdict = "faster than the bound"
        rows[d] = {"slope": slope, "se": se, "bound": bound, "verdict": verdict}
    text = "; ".join(f"d={d}: {r['slope']:+.3f}+-{r['se']:.3f} vs {r['bound']:+.3f} ({r['verdict']})"
                     for d, r in rows.items())
    worst = max(r["slope"] - r["bound"] - 2 * r["se"] for r in rows.values())
    return Outcome(worst, text, "refuted" if refuted else "verified", rows)


def _fp_exponent(d: int) -> float:
    return -1.0 / (d + 4)


def check_rate_quick(quick: bool, exponent=_fp_exponent) -> Outcome:
    """A small live sweep (d = 1, N = 64 ... 512, 3 seeds; ~1 s): slope of R_N within the bound."""
    from driftlab.repro import import_from_checkout

    F = import_from_checkout("analysis.finite_particle_rate")
    recs = F.sweep(F.QUICK_GRID, F.QUICK_SEEDS, folder=None)
    return _judge(F.summarize_runs(recs, "residual_velocity"), exponent)


def check_rate_sweep(quick: bool, exponent=_fp_exponent, dims=(1, 2, 3), quantity: str = "residual_velocity",
                     path: str = _SUMMARY) -> Outcome:
    """The committed sweep (N = 256 ... 4096, and 8192 at d = 1; 4 seeds), the dimensions ``dims``."""
    from driftlab.repro import repo_root

    fits = json.loads((repo_root() / path).read_text())["fits"][quantity]
    return _judge({str(d): fits[str(d)] for d in dims}, exponent)


_ = math

CLAIMS: list[Claim] = [
    Claim("fp.velocity.gradient", "finite-particle", "[FP]",
          "The conservative drifting velocity grad log p_h - grad log q_h of Balasubramanian 2026 "
          "(arXiv:2605.22795) is the 'separate' Gaussian drift divided by h^2 "
          "(driftlab.fields.conservative_velocity): it equals the gradient of log(p_h / q_h) of the two KDEs and "
          "its Jacobian is symmetric (a gradient field)",
          "max(gradient error, Jacobian asymmetry) / scale < 1e-6",
          "central differences with step 1e-5 of a smooth log-KDE ratio: truncation ~1e-10 and round-off "
          "~1e-11; a wrong power of h (h^1 instead of h^2) is off by O(1)", check_velocity_identity,
          figures=_FIG),
    Claim("fp.rate.quick", "finite-particle", "[FP]",
          "Finite-particle rate, small live run (d = 1, N = 64 ... 512, 3 seeds): the root time-averaged squared "
          "center velocity of the conservative flow from exact samples, h = N^(-1/(d+4)), decays at least like "
          "the bound N^(-1/(d+4))",
          "fitted slope <= -1/(d+4) + 2 s.e. (s.e. over seeds)",
          "the bound is an upper bound: decay at least as fast is consistent, slower by more than 2 standard "
          "errors of the per-seed slopes refutes it; a claimed exponent -1/2 is refuted by the same data",
          check_rate_quick, figures=_FIG),
    Claim("fp.rate.sweep", "finite-particle", "[FP]",
          "Finite-particle rate of Balasubramanian 2026, committed sweep (d = 1, 2, 3; N = 2^8 ... 2^12, and "
          "2^13 at d = 1; 4 seeds; standard Gaussian target, exact initial samples, Euler steps dt <= h^2 / 2 to "
          "T = 0.5): the root time-averaged squared center velocity decays at least like N^(-1/(d+4))",
          "in every d: fitted slope <= -1/(d+4) + 2 s.e.",
          "an upper bound is refuted only by a decay slower beyond 2 standard errors of the per-seed slopes; "
          "the detail says per d whether the exponent is attained or beaten", check_rate_sweep, tier="default",
          figures=_FIG, evidence=Evidence(_SUMMARY, _SHA, _SWEEP_CMD, keys=("fits",))),
    Claim("fp.rate.d5", "finite-particle", "[FP]",
          "Finite-particle rate of Balasubramanian 2026 at d = 5, N = 2^8 ... 2^12 (the set-up of fp.rate.sweep): "
          "the residual velocity decays at least like N^(-1/9)",
          "fitted slope <= -1/9 + 2 s.e.",
          "as for d = 1, 2, 3; here the bandwidth N^(-1/9) is still 0.54 ... 0.40", partial(check_rate_sweep, dims=(5,)),
          expected="refuted", tier="default", figures=_FIG, evidence=Evidence(_SUMMARY, _SHA, _SWEEP_CMD, keys=("fits",)),
          note="measured slope -0.081 +- 0.003, slower than -1/9 in the measured range: with h = 0.54 ... 0.40 in "
               "d = 5 a particle's own kernel carries an O(1) share of the KDE at its centre (N h^5 = 12 ... 41), "
               "so the run is pre-asymptotic. A finite range cannot refute an O(N^(-1/9)) bound with an unspecified "
               "constant; it says the exponent is not yet visible by N = 4096"),
]
