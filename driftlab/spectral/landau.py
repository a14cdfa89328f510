r"""The Landau-damping analogy made concrete: Langmuir waves beside the drift rates.

[T] likens the per-frequency relaxation of drifting to Landau damping. For a Maxwellian
electron plasma (units: plasma frequency :math:`\omega_p = 1`, Debye length
:math:`\lambda_D = 1`, thermal speed :math:`v_{th} = 1`) the electrostatic dispersion relation is

.. math::

    \varepsilon(\omega, k) = 1 + \frac{1}{k^2}\big[1 + \zeta Z(\zeta)\big] = 0,\qquad
    \zeta = \frac{\omega}{\sqrt2\,k},\qquad Z(\zeta) = i\sqrt\pi\,w(\zeta),

with :math:`w` the Faddeeva function (:func:`scipy.special.wofz`; entire, so it is already the
Landau-continued :math:`Z` for :math:`\mathrm{Im}\,\zeta < 0`). Roots
:math:`\omega = \omega_r + i\gamma` (:math:`\gamma < 0`) are found with :func:`mpmath.findroot`
at 30 digits, started from Bohm-Gross :math:`\omega_r^2 = 1 + 3k^2` and the weak-damping
formula :math:`\gamma \approx -\sqrt{\pi/8}\,k^{-3}\exp(-1/(2k^2) - 3/2)`.

**Where the analogy holds**: both are linear, per-wave-number decays of a perturbation of an
equilibrium, exponential in time, computed mode by mode in Fourier space, and both come
from a velocity/kernel *integral* rather than from collisions.
**Where it does not**: the drift dynamics are first order and purely dissipative
(real rates :math:`\lambda(k) \ge 0`, no oscillation, :math:`\omega_r = 0`); Landau damping is
a complex root of a second-order (Vlasov-Poisson) system with oscillation frequency
:math:`\omega_r \approx \omega_p`. Their k-dependence is mirrored: Landau damping is
*exponentially weak at low k* (:math:`|\gamma| \sim e^{-1/(2k^2)}`) and strong at
:math:`k\lambda_D \gtrsim 0.5`, while the Gaussian drift rate is :math:`\sim s^2k^2` at low k
and *exponentially weak at high k* (:math:`e^{-s^2k^2/2}`). Landau damping is also
reversible in principle (phase mixing, plasma echoes); the drift decay is a genuine
gradient-flow dissipation [T, section 6].

References: L. D. Landau, J. Phys. USSR 10, 25 (1946); B. D. Fried & S. D. Conte, *The
Plasma Dispersion Function* (1961); [T].
"""

from __future__ import annotations

import math

import numpy as np
from driftlab._backend import scipy_special as sp

from driftlab._validation import check_int, check_positive
from driftlab.kernels import Gaussian, RadialKernel
from driftlab.spectral.rates import rate

__all__ = ["plasma_dispersion", "plasma_dispersion_mp", "langmuir_epsilon", "landau_root",
           "weak_damping_rate", "landau_table"]


def plasma_dispersion(zeta) -> np.ndarray:
    r"""Fried-Conte function :math:`Z(\zeta) = i\sqrt\pi\,w(\zeta)` (complex, vectorised, float64).

    Examples
    --------
    >>> complex(plasma_dispersion(0.0))  # i sqrt(pi)
    1.7724538509055159j
    """
    return 1j * math.sqrt(math.pi) * sp.wofz(np.asarray(zeta, dtype=np.complex128))


def plasma_dispersion_mp(zeta):
    r""":math:`Z(\zeta) = i\sqrt\pi\,e^{-\zeta^2}\mathrm{erfc}(-i\zeta)` in mpmath (current precision)."""
    import mpmath as mp

    z = mp.mpmathify(zeta)
    return 1j * mp.sqrt(mp.pi) * mp.exp(-z * z) * mp.erfc(-1j * z)


def langmuir_epsilon(omega, k, backend: str = "numpy"):
    r"""Dielectric function :math:`1 + k^{-2}[1 + \zeta Z(\zeta)]`, :math:`\zeta = \omega/(\sqrt2 k)`."""
    if backend == "mpmath":
        import mpmath as mp

        zeta = mp.mpmathify(omega) / (mp.sqrt(2) * k)
        return 1 + (1 + zeta * plasma_dispersion_mp(zeta)) / (mp.mpf(k) ** 2)
    zeta = np.asarray(omega, dtype=np.complex128) / (math.sqrt(2.0) * k)
    return 1 + (1 + zeta * plasma_dispersion(zeta)) / k**2


def weak_damping_rate(k) -> np.ndarray:
    r"""Small-k estimate :math:`\gamma \approx -\sqrt{\pi/8}\,k^{-3}\exp(-1/(2k^2) - 3/2)`."""
    k = np.asarray(k, dtype=np.float64)
    return -math.sqrt(math.pi / 8) * k**-3 * np.exp(-1 / (2 * k * k) - 1.5)


def landau_root(k: float, dps: int = 30) -> complex:
    r"""Least-damped Langmuir root :math:`\omega_r + i\gamma` at :math:`k\lambda_D = k` (mpmath, ``dps`` digits).

    Examples
    --------
    >>> w = landau_root(0.5)
    >>> round(w.real, 4), round(w.imag, 4)
    (1.4157, -0.1534)
    """
    import mpmath as mp

    k = check_positive(k, "k")
    dps = check_int(dps, "dps", minimum=15)
    if not 0.05 <= k <= 3.0:
        raise ValueError(f"k must be in [0.05, 3] (root tracking range), got {k}")
    with mp.workdps(dps):
        # Continuation in k from the weakly damped regime keeps us on the least-damped branch.
        path = [kk for kk in np.linspace(0.1, k, max(2, int(abs(k - 0.1) / 0.02) + 2))] if k > 0.1 else [k]
        kk0 = path[0]
        guess = mp.mpc(math.sqrt(1 + 3 * kk0 * kk0), float(weak_damping_rate(kk0)))
        for kk in path:
            kk = mp.mpf(kk)
            guess = mp.findroot(lambda w: langmuir_epsilon(w, kk, "mpmath"), guess)
        return complex(guess)


def landau_table(k_values, kernel: RadialKernel | None = None, dim: int = 1) -> list[dict]:
    r"""Rows: k, plasma frequency and damping (root and weak-damping formula), drift rate.

    ``drift_rate`` is :math:`\lambda(k)` of ``kernel`` (default: Gaussian with bandwidth
    :math:`\lambda_D = 1`) and ``drift_omega`` its oscillation frequency (always 0).
    """
    kernel = Gaussian(1.0) if kernel is None else kernel
    rows = []
    for k in np.atleast_1d(np.asarray(k_values, dtype=np.float64)):
        w = landau_root(float(k))
        rows.append({
            "k": float(k),
            "plasma_omega": w.real,
            "plasma_gamma": w.imag,
            "plasma_gamma_weak": float(weak_damping_rate(k)),
            "drift_rate": float(rate(kernel, k, dim)),
            "drift_omega": 0.0,
        })
    return rows
