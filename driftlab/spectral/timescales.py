r"""Convergence times of the linearised drift dynamics: fixed, tuned and annealed bandwidths.

A set of perturbation modes (wave numbers :math:`k_1, \dots, k_n > 0`; on the
:math:`2\pi`-periodic torus the integers :math:`1..K`) is *converged* at tolerance
:math:`\epsilon` once every mode is damped by :math:`\epsilon`, i.e.
:math:`A_k(T) \ge M = \log(1/\epsilon)` for all k (see :mod:`~driftlab.spectral.schedules`):

.. math::  T(K;\epsilon) = \max_{k \le K} T_k,\qquad A_k(T_k) = M.

* Fixed bandwidth s: :math:`T = M/\min_k\lambda(k; s)`. Gaussian
  :math:`\sim M e^{s^2K^2/2}/(s^2K^2)`; Laplace :math:`\sim M(\tau K)^{d+1}/(d+1)`.
* Best fixed bandwidth per K (:func:`best_fixed_bandwidth`): maximise
  :math:`\min_k\lambda(k; s)` over s. Gaussian: the optimum equalises the lowest and highest
  mode, :math:`s^2K^2 \approx 4\log(K/k_1)`, so :math:`T \approx MK^2/(4k_1^2\log(K/k_1))`:
  polynomial, not exponential (the "honest nuance" of re-tuning, made precise). Laplace: the
  optimum :math:`\tau \approx K^{-(d+1)/(d+3)}` gives :math:`T \sim K^{2(d+1)/(d+3)}`
  (instead of :math:`K^{d+1}` at fixed :math:`\tau`).
* Exponential annealing :math:`s_0e^{-rt}`: :math:`E(k; s(T_k)) = Mr + E(k; s_0)`; finite
  only when :math:`Mr + E(k; s_0) < 1` for every mode, i.e. :math:`r < r_{\max} =
  \min_k(1 - E(k; s_0))/M` (:func:`admissible_rate`), equivalently
  :math:`s_0 > s_{0,\min}(r)` (:func:`min_initial_bandwidth`). Otherwise the time is
  **infinite** (returned as ``math.inf``: the unfloored schedule's damping saturates below
  M). For a Gaussian, large K: :math:`T \approx \frac1r\log K + \text{const}` (each doubling
  of K costs :math:`\log 2/r`).
* Any other schedule: root finding on :math:`A_k(t) = M`, with the schedule's final constant
  bandwidth continuing linearly after it settles.

:func:`fit_law` fits the asymptotic laws (log T vs K^2, log-log slope, T vs log K) and
reports the fit quality.

References: [T] Turan & Ovsjanikov (2026).
"""

from __future__ import annotations

import math

import numpy as np


from driftlab._validation import check_int, check_positive
from driftlab.kernels import RadialKernel
from driftlab.spectral.rates import _check_k, _check_kernel, peak_rate, rate
from driftlab.spectral.schedules import (
    BandwidthSchedule,
    ConstantSchedule,
    ExponentialSchedule,
    rate_at_scale,
    spectrum_at_scale,
)

__all__ = [
    "damping_target",
    "mode_times",
    "convergence_time",
    "best_fixed_bandwidth",
    "admissible_rate",
    "min_initial_bandwidth",
    "anneal_table",
    "fit_law",
]


def damping_target(eps: float) -> float:
    r""":math:`M = \log(1/\epsilon)` for a tolerance :math:`0 < \epsilon < 1`."""
    eps = check_positive(eps, "eps")
    if eps >= 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    return -math.log(eps)


def _check_modes(modes) -> np.ndarray:
    kk = np.atleast_1d(_check_k(modes, "modes", allow_zero=False)).ravel()
    if kk.size == 0:
        raise ValueError("modes must contain at least one wave number")
    return kk


def _invert_spectrum(kernel: RadialKernel, k: float, target: float, dim: int, s_hi: float) -> float:
    """Bandwidth s in (0, s_hi] with E(k; s) = target (E decreasing in s; target in (E(k; s_hi), 1))."""
    ell = kernel.length_scale
    z = kernel.inverse_spectrum(target, dim)  # closed form of the shape's F^-1, if the kernel has one
    if z is not None:
        return z / k

    # solve F(z) = target for z = s k (the shape function, independent of the length scale, so
    # the bracket and tolerances do not depend on how large s and k are), then s = z / k
    def f(logz: float) -> float:
        return float(kernel.fourier(math.exp(logz) / ell, dim)) - target

    hi0 = math.log(s_hi * k)
    hi = hi0
    while f(hi) > 0:  # E(k; s_hi) still above the target: widen
        hi += 1.0
        if hi > hi0 + 50:
            raise RuntimeError("could not bracket the bandwidth (E(k; s) does not decrease to the target)")
    lo = hi - 1.0
    while f(lo) < 0:
        lo -= 1.0
        if lo < hi - 200:
            raise RuntimeError("could not bracket the bandwidth")
    from scipy import optimize

    return math.exp(optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-14)) / k


def _mode_time(kernel: RadialKernel, k: float, M: float, schedule: BandwidthSchedule, dim: int) -> float:
    if isinstance(schedule, ConstantSchedule):
        lam = float(rate_at_scale(kernel, k, schedule.s, dim))
        return M / lam if lam > 0 else math.inf
    if isinstance(schedule, ExponentialSchedule) and schedule.s_min == 0:
        e0 = float(spectrum_at_scale(kernel, k, schedule.s0, dim))
        target = M * schedule.r + e0
        if target >= 1.0:
            return math.inf
        s_T = _invert_spectrum(kernel, k, target, dim, schedule.s0)
        return math.log(schedule.s0 / s_T) / schedule.r
    t_settle = schedule.settle_time
    a_settle = float(schedule.accumulated_damping(kernel, k, t_settle, dim))
    if a_settle < M:
        lam = float(rate_at_scale(kernel, k, schedule.final_bandwidth, dim))
        return t_settle + (M - a_settle) / lam if lam > 0 else math.inf
    from scipy import optimize

    return optimize.brentq(lambda t: float(schedule.accumulated_damping(kernel, k, t, dim)) - M,
                           0.0, t_settle, xtol=1e-12, rtol=1e-12)


def mode_times(kernel: RadialKernel, modes, eps: float, schedule: BandwidthSchedule | None = None,
               dim: int = 1) -> np.ndarray:
    r"""Per-mode time :math:`T_k` with :math:`A_k(T_k) = \log(1/\epsilon)` (``inf`` if never reached).

    Parameters
    ----------
    kernel : RadialKernel
        Kernel shape; with ``schedule=None`` its own length scale is the fixed bandwidth.
    modes : array_like
        Wave numbers > 0.
    eps : float
        Tolerance in (0, 1).
    schedule : BandwidthSchedule, optional
        Bandwidth schedule (default: constant at ``kernel.length_scale``).
    dim : int
        Dimension.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_modes,)``.

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> from driftlab.spectral.timescales import mode_times
    >>> mode_times(Laplace(1.0), [1.0], 0.5).round(6)  # log 2 / 0.5
    array([1.386294])
    """
    kernel = _check_kernel(kernel)
    dim = check_int(dim, "dim", minimum=1)
    kk = _check_modes(modes)
    M = damping_target(eps)
    if schedule is None:
        schedule = ConstantSchedule(kernel.length_scale)
    if not isinstance(schedule, BandwidthSchedule):
        raise TypeError(f"schedule must be a driftlab.spectral.BandwidthSchedule, got {type(schedule).__name__}")
    return np.array([_mode_time(kernel, float(k), M, schedule, dim) for k in kk])


def convergence_time(kernel: RadialKernel, modes, eps: float, schedule: BandwidthSchedule | None = None,
                     dim: int = 1) -> float:
    r"""Time :math:`T = \max_k T_k` to damp every mode in ``modes`` by ``eps``.

    Returns ``math.inf`` when some mode is never damped enough (an unfloored exponential
    schedule with :math:`r \ge` :func:`admissible_rate`, or a rate that underflows to 0).

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.kernels import Gaussian
    >>> from driftlab.spectral.schedules import ExponentialSchedule
    >>> from driftlab.spectral.timescales import convergence_time
    >>> modes = np.arange(1, 65)
    >>> round(convergence_time(Gaussian(1.0), modes, 1e-2, ExponentialSchedule(3.0, 0.1)), 4)
    50.3811
    >>> convergence_time(Gaussian(1.0), modes, 1e-2, ExponentialSchedule(3.0, 0.5))
    inf
    """
    return float(np.max(mode_times(kernel, modes, eps, schedule, dim)))


def best_fixed_bandwidth(kernel: RadialKernel, modes, dim: int = 1) -> tuple[float, float]:
    r"""The fixed bandwidth maximising the slowest rate: :math:`s^* = \arg\max_s \min_k \lambda(k; s)`.

    Returns ``(s_star, min_rate)``; the best fixed convergence time is
    ``log(1/eps) / min_rate``. Scans log s on a grid of 241 points over
    :math:`[10^{-3}, 10^{2}]/k` ranges, then refines with a bounded scalar search.

    Examples
    --------
    >>> from driftlab.kernels import Gaussian
    >>> s, lam = best_fixed_bandwidth(Gaussian(1.0), [1.0])  # one mode: the peak
    >>> round(s, 6), round(lam, 9)
    (1.414214, 0.735758882)
    """
    kernel = _check_kernel(kernel)
    dim = check_int(dim, "dim", minimum=1)
    kk = _check_modes(modes)
    ell = kernel.length_scale

    # search in t = log(s k_min): the grid and the optimiser's tolerance (absolute plus
    # relative to |t|) are then the same for every length scale
    k_ref = float(kk.min())

    def min_rate(t: float) -> float:
        return float(np.min(rate(kernel, kk * (math.exp(t) / k_ref) / ell, dim)))

    lo, hi = math.log(1e-3 * k_ref / kk.max()), math.log(1e2)
    grid = np.linspace(lo, hi, 241)
    vals = np.array([min_rate(g) for g in grid])
    i = int(np.argmax(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    from scipy import optimize

    res = optimize.minimize_scalar(lambda g: -min_rate(g), bounds=(a, b), method="bounded",
                                   options={"xatol": 1e-12})
    best = max((-(res.fun), res.x), (vals[i], grid[i]))
    polished = _polish_max_min(kernel, kk, k_ref, ell, dim, best[1], min_rate)
    # the polished point is the exact optimum; near a flat peak its value ties with the
    # search's to round-off, so it wins unless it is clearly worse
    if polished[0] >= best[0] * (1.0 - 8 * np.finfo(float).eps):
        best = polished
    return math.exp(best[1]) / k_ref, float(best[0])


def _polish_max_min(kernel, kk, k_ref, ell, dim, t0, min_rate):
    """Refine the max-min to round-off: the bounded search stops within ~1e-8 |t| of the optimum,
    which sits either where two modes' rates cross (refined by brentq on their difference) or
    at one mode's peak (the kernel's own peak search). Returns (min_rate, t) of the best found."""
    from scipy import optimize

    d = 1e-5 * max(1.0, abs(t0))

    def rates(t):
        return rate(kernel, kk * (math.exp(t) / k_ref) / ell, dim)

    lo_mode, hi_mode = int(np.argmin(rates(t0 - d))), int(np.argmin(rates(t0 + d)))
    candidates = []
    if lo_mode != hi_mode:
        def gap(t):
            r = rates(t)
            return float(r[lo_mode] - r[hi_mode])

        if gap(t0 - d) * gap(t0 + d) < 0:
            t = optimize.brentq(gap, t0 - d, t0 + d, xtol=1e-15, rtol=4 * np.finfo(float).eps)
            candidates.append(t)
    else:
        zstar, _ = peak_rate(kernel.with_length_scale(1.0), dim)  # peak of one mode: s k = z*
        candidates.append(math.log(zstar * k_ref / float(kk[lo_mode])))
    out = (-math.inf, t0)
    for t in candidates:
        out = max(out, (min_rate(t), t))
    return out


def admissible_rate(kernel: RadialKernel, modes, eps: float, s0: float, dim: int = 1) -> float:
    r"""Supremum of annealing rates r for which :math:`s_0e^{-rt}` damps every mode by eps.

    :math:`r_{\max} = \min_k (1 - E(k; s_0))/M`; the time is finite iff :math:`r < r_{\max}`
    (at :math:`r = r_{\max}` the slowest mode reaches the target only as :math:`t\to\infty`).

    Examples
    --------
    >>> import math
    >>> from driftlab.kernels import Gaussian
    >>> r = admissible_rate(Gaussian(1.0), [1.0, 2.0], 1e-2, s0=2.0)
    >>> math.isclose(r, (1 - math.exp(-2.0)) / math.log(100))
    True
    """
    kernel = _check_kernel(kernel)
    dim = check_int(dim, "dim", minimum=1)
    kk = _check_modes(modes)
    s0 = check_positive(s0, "s0")
    M = damping_target(eps)
    return float(np.min(1.0 - spectrum_at_scale(kernel, kk, s0, dim)) / M)


def min_initial_bandwidth(kernel: RadialKernel, k_min: float, eps: float, r: float, dim: int = 1) -> float:
    r"""Infimum of :math:`s_0` for which annealing at rate r reaches the slowest mode ``k_min``.

    Solves :math:`E(k_{\min}; s_0) = 1 - Mr`. Raises ``ValueError`` if :math:`Mr \ge 1`
    (no initial bandwidth can help: :math:`A_k(\infty) < 1/r \le M`).

    Examples
    --------
    >>> import math
    >>> from driftlab.kernels import Gaussian
    >>> s0 = min_initial_bandwidth(Gaussian(1.0), 1.0, math.exp(-2.0), 0.25)
    >>> math.isclose(s0, math.sqrt(2 * math.log(2)))  # exp(-s0^2/2) = 1/2
    True
    """
    kernel = _check_kernel(kernel)
    dim = check_int(dim, "dim", minimum=1)
    k_min = check_positive(k_min, "k_min")
    r = check_positive(r, "r")
    M = damping_target(eps)
    if M * r >= 1.0:
        raise ValueError(
            f"r={r} is above its admissible bound 1/log(1/eps) = {1.0 / M:.6g}: exponential "
            "annealing saturates below the target damping for every s0 (infinite time)"
        )
    return _invert_spectrum(kernel, k_min, 1.0 - M * r, dim, s_hi=1e6 / k_min)


def anneal_table(kernel: RadialKernel, k_values, eps: float, s0: float, r: float, dim: int = 1,
                 fixed_bandwidth: float | None = None) -> list[dict]:
    r"""Convergence time vs K (modes 1..K) for a fixed, the best fixed and the annealed bandwidth.

    Columns: ``K``, ``T_fixed`` (bandwidth ``fixed_bandwidth``, default ``s0``),
    ``T_tuned`` and ``s_tuned`` (best fixed bandwidth for that K), ``T_annealed``
    (:math:`s_0e^{-rt}`; ``inf`` if :math:`r \ge` :func:`admissible_rate`), ``s_final``
    (annealed bandwidth at ``T_annealed``).

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> rows = anneal_table(Laplace(1.0), [1, 2], 0.1, s0=2.0, r=0.1)
    >>> sorted(rows[0])
    ['K', 'T_annealed', 'T_fixed', 'T_tuned', 's_final', 's_tuned']
    """
    kernel = _check_kernel(kernel)
    s0 = check_positive(s0, "s0")
    r = check_positive(r, "r")
    fixed = s0 if fixed_bandwidth is None else check_positive(fixed_bandwidth, "fixed_bandwidth")
    ks = _check_modes(k_values)
    if np.any(ks != np.round(ks)):
        raise ValueError("k_values must be integers K >= 1 (modes 1..K of the 2*pi-periodic torus)")
    M = damping_target(eps)
    sched = ExponentialSchedule(s0, r)
    rows = []
    for K in ks.astype(int):
        modes = np.arange(1, K + 1, dtype=np.float64)
        t_fixed = convergence_time(kernel, modes, eps, ConstantSchedule(fixed), dim)
        s_t, lam_t = best_fixed_bandwidth(kernel, modes, dim)
        t_ann = convergence_time(kernel, modes, eps, sched, dim)
        rows.append({
            "K": int(K),
            "T_fixed": t_fixed,
            "T_tuned": M / lam_t if lam_t > 0 else math.inf,
            "s_tuned": s_t,
            "T_annealed": t_ann,
            "s_final": float(sched.bandwidth(t_ann)) if math.isfinite(t_ann) else 0.0,
        })
    return rows


_LAWS = {
    # name: (x transform of K, y transform of T, description)
    "exp-k2": (lambda K: K**2, np.log, "log T = a + b K^2"),
    "power": (np.log, np.log, "log T = a + b log K"),
    "log": (np.log, lambda T: T, "T = a + b log K"),
    "k2-over-log": (lambda K: K**2 / np.log(K), lambda T: T, "T = a + b K^2 / log K"),
}


def fit_law(K, T, law: str) -> dict:
    r"""Least-squares fit of an asymptotic law to convergence times, with its quality.

    Laws: ``"exp-k2"`` (:math:`\log T = a + bK^2`, fixed Gaussian: :math:`b \to s^2/2`),
    ``"power"`` (:math:`\log T = a + b\log K`, fixed Laplace: :math:`b \to d + 1`),
    ``"log"`` (:math:`T = a + b\log K`, annealing: :math:`b \to 1/r`),
    ``"k2-over-log"`` (:math:`T = a + bK^2/\log K`, tuned Gaussian).

    Returns
    -------
    dict
        ``law``, ``formula``, ``slope`` b, ``intercept`` a, ``r2`` (coefficient of
        determination in the transformed variables), ``max_abs_residual`` (transformed
        units), ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> K = np.array([2.0, 4, 8, 16])
    >>> fit_law(K, 3 * K**2, "power")["slope"]
    2.0
    """
    if law not in _LAWS:
        raise ValueError(f"law must be one of {sorted(_LAWS)}, got {law!r}")
    K = np.asarray(K, dtype=np.float64).ravel()
    T = np.asarray(T, dtype=np.float64).ravel()
    if K.shape != T.shape:
        raise ValueError(f"K and T must have the same length, got {K.size} and {T.size}")
    if K.size < 3:
        raise ValueError("fit_law needs at least 3 points")
    if not (np.isfinite(K).all() and np.isfinite(T).all()) or (K <= 0).any() or (T <= 0).any():
        raise ValueError("K and T must be finite and > 0 (drop infinite times before fitting)")
    if law == "k2-over-log" and (K <= 1).any():
        raise ValueError("the k2-over-log law needs K > 1")
    fx, fy, desc = _LAWS[law]
    x, y = fx(K), fy(T)
    A = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return {
        "law": law,
        "formula": desc,
        "slope": float(round(coef[1], 12)),
        "intercept": float(coef[0]),
        "r2": r2,
        "max_abs_residual": float(np.max(np.abs(resid))),
        "n": int(K.size),
    }
