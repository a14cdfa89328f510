"""[T, F, KG] Conservativity: which drift fields are gradients (symmetric Jacobian)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from driftlab.theory._claims._record import (
    Claim,
    Outcome,
    below,
)


def _asym(kind: str, quick: bool) -> float:
    from driftlab.distributions import GaussianMixture
    from driftlab.theory.conservativity import drift_field, jacobian_asymmetry

    p = GaussianMixture([[-1.5, 0.0], [1.5, 0.5]], [0.5, 0.3])
    q = GaussianMixture([[0.3, -0.4]], [[[1.2, 0.4], [0.4, 0.7]]])
    x = np.random.default_rng(0).normal(size=(3 if quick else 10, 2))
    return jacobian_asymmetry(drift_field(kind, p, q, 0.5), x)


def check_conservative(kind: str) -> Callable[[bool], Outcome]:
    return lambda quick: below(_asym(kind, quick), 1e-6)


def check_not_conservative(quick: bool) -> Outcome:
    a = _asym("laplace", quick)
    return Outcome(a, f"{a:.2e}", "verified" if a > 1e-3 else "refuted")


def check_kernel_gradient_batch(quick: bool) -> Outcome:
    """fields.batch_drift(method='kernel_gradient') on samples: Jacobian asymmetry ~ 0."""
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace
    from driftlab.theory.conservativity import jacobian_asymmetry

    rng = np.random.default_rng(5)
    pos, neg = rng.normal(size=(60, 2)) + [1.0, 0.0], rng.normal(size=(80, 2)) * 0.7
    f = lambda x: np.asarray(batch_drift(x, pos, neg, Laplace(0.5), method="kernel_gradient"))
    lap = lambda x: np.asarray(batch_drift(x, pos, neg, Laplace(0.5), method="joint"))
    x = rng.normal(size=(4, 2)) * 0.8 + 0.05
    a, b = jacobian_asymmetry(f, x, h=1e-5), jacobian_asymmetry(lap, x, h=1e-5)
    ok = a < 1e-5 and b > 1e-3
    return Outcome(a, f"kernel-gradient {a:.1e} vs joint Laplace {b:.1e}", "verified" if ok else "refuted")



CLAIMS: list[Claim] = [
    # --- conservativity ------------------------------------------------------------------------
    Claim("conserv.gaussian", "conservativity", "[T]",
          "The Gaussian drift is conservative (symmetric Jacobian)", "rel. asymmetry < 1e-6",
          "central differences, h = 1e-4: truncation O(h^2) ~ 1e-8 plus round-off eps/h ~ 1e-12", check_conservative("gaussian")),
    Claim("conserv.laplace", "conservativity", "[F]",
          "The normalised Laplace drift is NOT conservative (non-zero curl in 2-D)", "rel. asymmetry > 1e-3",
          "1000x above the finite-difference floor of the conservative fields", check_not_conservative),
    Claim("conserv.sharp", "conservativity", "[F, L]",
          "Laplace numerator over the companion-kernel sum (= tau grad log pi_c) is conservative",
          "rel. asymmetry < 1e-6", "finite-difference floor, as for the Gaussian", check_conservative("sharp")),
    Claim("conserv.kernel-gradient", "conservativity", "[KG]",
          "The kernel-gradient field E[grad_x k]/E[k] = grad log pi_k (Laplace) is conservative",
          "rel. asymmetry < 1e-6", "finite-difference floor, as for the Gaussian", check_conservative("kernel_gradient")),
    Claim("conserv.kernel-gradient-batch", "conservativity", "[KG]",
          "Independent implementation: driftlab.fields batch_drift(method='kernel_gradient') is conservative, "
          "the joint Laplace batch field is not", "asymmetry < 1e-5 (and > 1e-3 for the joint field)",
          "finite differences with h = 1e-5 on finite sums: floor ~1e-9", check_kernel_gradient_batch),
]

#: the `driftlab repro` figures that show each family's claims
_FIGURES: dict[str, tuple[str, ...]] = {}
CLAIMS = [replace(c, figures=c.figures or _FIGURES.get(c.family, ())) for c in CLAIMS]
