r"""Per-frequency relaxation rates of the linearised drift dynamics [T].

Mean-field drifting moves mass by the continuity equation
:math:`\partial_t q + \nabla\cdot(q V_{p,q}) = 0`, :math:`V_{p,q} = m_p - m_q`,
:math:`m_\pi(x) = \int k(x-y)(y-x)\,\pi(dy) / \int k(x-y)\,\pi(dy)`.

Derivation (verified symbolically in :mod:`driftlab.spectral.symbolic` and numerically by
the grid solver :mod:`driftlab.spectral.grid`). Write :math:`g(z) = z\,\varphi(|z|)`, so that
:math:`m_\pi = -(g * \pi)/(\varphi * \pi)`. Around a uniform target :math:`p \equiv p_0`
(on a torus; :math:`g * p = 0` because g is odd) put :math:`q = p_0 (1 + \epsilon\delta)`:
:math:`V = \epsilon\,(g * \delta)/\hat\varphi(0) + O(\epsilon^2)` and, to first order,
:math:`\partial_t\delta = -\nabla\cdot(g * \delta)/\hat\varphi(0)`. With
:math:`\hat g(k) = i\nabla_k\hat\varphi(k)` (convention :math:`\hat f(k) = \int f e^{-ik\cdot z}`)
and :math:`\widehat{\nabla\cdot u} = ik\cdot\hat u`, each Fourier mode obeys

.. math::

    \partial_t \hat\delta_k = -\lambda(k)\,\hat\delta_k,\qquad
    \lambda(k) = -\,k\cdot\nabla_k E(k) = -|k|\,E'(|k|),\qquad E = \hat\varphi/\hat\varphi(0).

So the derived formula is confirmed. On a torus of side L the kernel is the
periodised one and the modes are the lattice wave numbers :math:`2\pi n/L`, where
:math:`\hat\varphi_{\rm per}` equals :math:`\hat\varphi` exactly.

Closed forms (``x = (s k)^2`` etc.):

* Gaussian: :math:`\lambda = s^2k^2 e^{-s^2k^2/2}` (any d), maximum :math:`2/e` at
  :math:`sk = \sqrt2`.
* Matérn-:math:`\nu` (length :math:`\ell`):
  :math:`\lambda = (2\nu + d)\,\frac{\ell^2k^2}{2\nu}\,(1 + \ell^2k^2/(2\nu))^{-(\nu + d/2 + 1)}`;
  Laplace (:math:`\nu = 1/2`, :math:`\ell = \tau`):
  :math:`(d+1)\tau^2k^2/(1+\tau^2k^2)^{(d+3)/2}`, maximum
  :math:`2((d+1)/(d+3))^{(d+3)/2}` at :math:`\tau^2k^2 = 2/(d+1)`.
* Inverse multiquadric :math:`(1 + r^2/c^2)^{-\beta}`, :math:`\mu = \beta - d/2 > 0`:
  :math:`\lambda = \frac{2^{1-\mu}}{\Gamma(\mu)} z^{\mu+1} K_{\mu-1}(z)`, :math:`z = ck`.
* Any other radial kernel: numerical Hankel transform of the profile
  (:func:`driftlab.kernels.radial_fourier_derivative`).

Each kernel carries its closed forms (:meth:`~driftlab.kernels.RadialKernel.linear_rate`,
:meth:`~driftlab.kernels.RadialKernel.rate_peak`); this module never asks for its class.

References: [T] Turan & Ovsjanikov (2026), section on the spectral analysis.
"""

from __future__ import annotations

import math

import numpy as np

from driftlab._validation import check_int, check_length_scale, check_positive
from driftlab.kernels import RadialKernel, radial_fourier_derivative

__all__ = [
    "rate",
    "timescale",
    "spectrum",
    "peak_rate",
    "euler_rate",
    "max_stable_step",
    "scaled_kernel",
    "NUMERICAL_K_MAX",
]

#: the numerical (Hankel) path accepts wave numbers up to this many inverse length scales
#: (:math:`|k|\,\ell \leq 10^4`); beyond, its quadrature would need more than ~10^5 panels and
#: its round-off would reach the size of the rates themselves
NUMERICAL_K_MAX = 1e4


# ----------------------------------------------------------------------------------------
# numeric cores (trust their inputs)
# ----------------------------------------------------------------------------------------
def _numerical_rate(kernel: RadialKernel, k: np.ndarray, dim: int) -> np.ndarray:
    dE, err = radial_fourier_derivative(kernel, k, dim, with_error=True)
    lam = -k * dE
    bound = k * err
    # a value within its own round-off bound of 0 has no resolved sign: report it as 0
    return np.where(np.abs(lam) <= bound, 0.0, lam)


# ----------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------
def _check_kernel(kernel) -> RadialKernel:
    if not isinstance(kernel, RadialKernel):
        raise TypeError(f"kernel must be a driftlab.kernels.RadialKernel, got {type(kernel).__name__}")
    return kernel


def _check_k(k, name: str = "k", allow_zero: bool = True) -> np.ndarray:
    if isinstance(k, (str, bytes)) or k is None:
        raise TypeError(f"{name} must be a number or an array of wave numbers, got {type(k).__name__}")
    try:
        kk = np.asarray(k, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric: {exc}") from None
    if not np.isfinite(kk).all():
        raise ValueError(f"{name} must be finite")
    if (kk < 0).any():
        raise ValueError(f"{name} must be >= 0 (wave-number magnitudes |k|)")
    if not allow_zero and (kk == 0).any():
        raise ValueError(
            f"{name} must be > 0: the k = 0 mode carries the total mass, which the dynamics "
            "conserve (rate 0, infinite timescale)"
        )
    return kk


def _check_method(method: str) -> str:
    if method not in ("auto", "closed", "numerical"):
        raise ValueError(f"method must be 'auto', 'closed' or 'numerical', got {method!r}")
    return method


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------
def rate(kernel: RadialKernel, k, dim: int = 1, method: str = "auto") -> np.ndarray:
    r"""Relaxation rate :math:`\lambda(k) = -|k|\,E'(|k|)` of mode k (linearised drift, uniform target).

    Parameters
    ----------
    kernel : RadialKernel
        Any :mod:`driftlab.kernels` kernel.
    k : array_like
        Wave-number magnitudes :math:`|k| \geq 0` (:math:`\lambda(0) = 0`: mass is conserved).
    dim : int
        Dimension :math:`d \geq 1`.
    method : {"auto", "closed", "numerical"}
        ``"closed"``: the kernel's closed form (:meth:`RadialKernel.linear_rate`: Gaussian,
        Laplace, Matérn, IMQ; raises otherwise); ``"numerical"``: radial Fourier (Hankel)
        transform of the profile (power-law tails such as the IMQ's included, where the
        transform exists), for :math:`|k|\ell \leq` :data:`NUMERICAL_K_MAX` (refused
        beyond), within its error estimate of the exact rate: about 1e-15 absolute at
        :math:`k\ell \sim 1`, growing like :math:`k\ell` to at most ~1e-8 at the top of the range
        (rates are at most :math:`\lambda_{\max} < 2`); a value within its estimate of 0 (its
        sign unresolved) is returned as 0;
        ``"auto"``: closed form where available.

    Returns
    -------
    numpy.ndarray
        :math:`\lambda(k)`, same shape as ``k``, finite for every finite ``k`` (it
        underflows to 0 at large k, e.g. a Gaussian's beyond :math:`sk \approx 38`). A
        perturbation mode decays like :math:`e^{-\lambda(k) t}` under :math:`dx/dt = V_{p,q}(x)`.

    Examples
    --------
    >>> from driftlab.kernels import Gaussian, Laplace
    >>> from driftlab.spectral import rate
    >>> round(float(rate(Gaussian(1.0), 2 ** 0.5)), 12)  # the maximum, 2/e
    0.735758882343
    >>> float(rate(Laplace(1.0), 1.0, dim=1))  # 2 * 1 / 2^2
    0.5

    References
    ----------
    [T] Turan & Ovsjanikov, *Generative Drifting is Secretly Score Matching* (2026).
    """
    kernel = _check_kernel(kernel)
    dim = check_int(dim, "dim", minimum=1)
    method = _check_method(method)
    kk = _check_k(k)
    kernel.check_spectrum(dim)
    if method != "numerical":
        out = kernel.linear_rate(kk, dim)
        if out is not None:
            return np.asarray(out, dtype=np.float64)
        if method == "closed":
            raise ValueError(f"{type(kernel).__name__} has no closed-form rate; use method='numerical'")
    top = float(np.max(kk, initial=0.0)) * kernel.length_scale
    if top > NUMERICAL_K_MAX:
        raise ValueError(
            f"k must be <= {NUMERICAL_K_MAX:g} / length_scale = {NUMERICAL_K_MAX / kernel.length_scale:.6g} "
            f"for the numerical rate of {kernel!r} (got k * length_scale = {top:.6g}); "
            + ("use method='closed'" if "closed_rate" in kernel.capabilities else
               "beyond that the quadrature cannot resolve the rate")
        )
    return _numerical_rate(kernel, kk, dim)


def timescale(kernel: RadialKernel, k, dim: int = 1, method: str = "auto") -> np.ndarray:
    r"""Relaxation time :math:`1/\lambda(k)` of mode k (``k = 0`` is rejected: it never relaxes).

    Where the rate underflows to 0 (e.g. a Gaussian at :math:`sk \gtrsim 38`) the time is
    ``inf``, reported as such rather than as an overflow.

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> from driftlab.spectral import timescale
    >>> float(timescale(Laplace(1.0), 1.0))
    2.0
    """
    kk = _check_k(k, allow_zero=False)
    lam = rate(kernel, kk, dim, method)
    with np.errstate(divide="ignore"):
        return np.where(lam > 0, 1.0 / np.where(lam > 0, lam, 1.0), np.inf)


def spectrum(kernel: RadialKernel, k, dim: int = 1, method: str = "auto") -> list[dict]:
    r"""The table behind ``driftlab spectrum``: one row per mode ``k`` (each > 0).

    Parameters
    ----------
    kernel : RadialKernel
        The kernel.
    k : array_like
        Wave numbers :math:`|k| > 0`.
    dim : int
        Dimension :math:`d \geq 1`.
    method : {"auto", "closed", "numerical"}
        How the rate is computed (:func:`rate`).

    Returns
    -------
    list of dict
        Rows ``{"k", "rate", "timescale", "rate/peak"}``: :math:`\lambda(k)`, its relaxation
        time :math:`1/\lambda(k)` (``inf`` where the rate underflows to 0) and
        :math:`\lambda(k)/\lambda_{\max}`, the rate over the kernel's fastest rate over all k
        (:func:`peak_rate`), so that a row reads the same whatever other k are requested.
        (It replaces the former ``ratio`` column, the rate over the largest rate among the
        requested k, which changed with the request.)

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> from driftlab.spectral import spectrum
    >>> spectrum(Laplace(1.0), [1.0])[0]
    {'k': 1.0, 'rate': 0.5, 'timescale': 2.0, 'rate/peak': 1.0}
    """
    kk = np.atleast_1d(_check_k(k, allow_zero=False)).ravel()
    lam = rate(kernel, kk, dim, method)
    _, top = peak_rate(kernel, dim)
    if not (math.isfinite(top) and top > 0):
        raise ValueError(f"spectrum: the peak rate of {kernel!r} in d = {dim} is {top!r}; rate/peak needs a "
                         "finite positive peak")
    rows = []
    for kv, lv in zip(kk, lam):
        lv = float(lv)
        rows.append({
            "k": float(kv),
            "rate": lv,
            "timescale": (1.0 / lv) if lv > 0 else math.inf,
            "rate/peak": lv / top,
        })
    return rows


def peak_rate(kernel: RadialKernel, dim: int = 1) -> tuple[float, float]:
    r"""The fastest mode: :math:`(k^*, \lambda_{\max})` with :math:`\lambda_{\max} = \max_k \lambda(k)`.

    Closed forms: Gaussian :math:`k^* = \sqrt2/s`, :math:`\lambda_{\max} = 2/e`; Matérn-:math:`\nu`
    with :math:`a = \nu + d/2`: :math:`\ell^2k^{*2}/(2\nu) = 1/a`,
    :math:`\lambda_{\max} = 2(1 + 1/a)^{-(a+1)}`; Laplace (:math:`\nu = 1/2`):
    :math:`\tau^2k^{*2} = 2/(d+1)`, :math:`\lambda_{\max} = 2((d+1)/(d+3))^{(d+3)/2}`. Other
    kernels: a log-spaced scan followed by bounded scalar
    maximisation of :func:`rate` in :math:`\log k`.

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> from driftlab.spectral import peak_rate
    >>> peak_rate(Laplace(1.0), dim=1)
    (1.0, 0.5)
    """
    kernel = _check_kernel(kernel)
    dim = check_int(dim, "dim", minimum=1)
    kernel.check_spectrum(dim)
    closed = kernel.rate_peak(dim)
    if closed is not None:
        return float(closed[0]), float(closed[1])
    # the peak of lambda(k; ell) sits at z* / ell for the shape's z*: search the unit-scale
    # kernel (no overflow of log k at extreme length scales), then rescale
    ell = kernel.length_scale
    unit = kernel.with_length_scale(1.0)

    def neg(logz: float) -> float:
        return -float(rate(unit, math.exp(logz), dim))

    ln10 = math.log(10.0)
    grid = np.linspace(-4, 4, 33) * ln10 / 2.0
    vals = np.array([neg(g) for g in grid])
    i = int(np.argmin(vals))
    # a maximum on the edge of the scanned decades: the shape's own scale differs from its
    # length_scale (an IMQ with large beta peaks near sqrt(2 beta)/c); scan further that way
    while i in (0, len(grid) - 1) and abs(grid[i]) < 290 * ln10:
        step = (grid[1] - grid[0]) * (1 if i else -1)
        ext = grid[i] + step * np.arange(1, 33)
        ext_vals = np.array([neg(g) for g in ext])
        grid = np.concatenate([grid, ext]) if i else np.concatenate([ext[::-1], grid])
        vals = np.concatenate([vals, ext_vals]) if i else np.concatenate([ext_vals[::-1], vals])
        i = int(np.argmin(vals))
    if i in (0, len(grid) - 1) or not vals[i] < 0:
        raise ValueError(f"the rate of {kernel!r} in dim={dim} has no interior maximum for "
                         "k * length_scale in 1e-290..1e290; peak_rate cannot locate it")
    lo, hi = grid[i - 1], grid[i + 1]
    from scipy import optimize

    res = optimize.minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return math.exp(res.x) / ell, -float(res.fun)


def euler_rate(lam, eta: float) -> np.ndarray:
    r"""Per-unit-time decay rate seen with explicit Euler steps of size :math:`\eta`.

    One step multiplies a mode by :math:`1 - \eta\lambda`, so the measured rate is
    :math:`-\log|1 - \eta\lambda| / \eta` (it tends to :math:`\lambda` as :math:`\eta \to 0`;
    for :math:`1 < \eta\lambda < 2` the mode also flips sign every step). Raises if
    :math:`\eta\lambda \geq 2` (unstable: the mode grows) or :math:`\eta\lambda = 1`
    (annihilated in one step: infinite rate).

    Examples
    --------
    >>> from driftlab.spectral import euler_rate
    >>> round(float(euler_rate(0.5, 1.0)), 12)  # log 2
    0.69314718056
    """
    eta = check_positive(eta, "eta")
    lam = np.asarray(lam, dtype=np.float64)
    if not np.isfinite(lam).all() or (lam < 0).any():
        raise ValueError("lam must be finite and >= 0")
    z = eta * lam
    if (z >= 2).any():
        raise ValueError(
            f"eta={eta} is unstable for rate {float(lam.max())}: explicit Euler needs eta * lambda < 2"
        )
    if (z == 1).any():
        raise ValueError("eta * lambda == 1 annihilates the mode in one step (infinite rate)")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(z < 1.0, -np.log1p(-z), -np.log(np.abs(z - 1.0)))
    return out / eta


def max_stable_step(kernel: RadialKernel, dim: int = 1) -> float:
    r"""Largest stable explicit-Euler step :math:`2/\lambda_{\max}` (e for a Gaussian, 4 for 1-D Laplace).

    Examples
    --------
    >>> from driftlab.kernels import Gaussian
    >>> import math
    >>> math.isclose(max_stable_step(Gaussian(0.3)), math.e)
    True
    """
    return 2.0 / peak_rate(kernel, dim)[1]


def scaled_kernel(kernel: RadialKernel, length_scale: float) -> RadialKernel:
    """The same kernel shape with its :attr:`~RadialKernel.length_scale` set to ``length_scale``.

    Used by the annealing schedules: ``bandwidth(t)`` always means the kernel's
    ``length_scale`` (Gaussian s, Laplace tau, Matérn ell, IMQ c, companion tau: the number
    :func:`~driftlab.kernels.make_kernel` takes). Delegates to
    :meth:`RadialKernel.with_length_scale`, so it works for every kernel whatever its
    parameter is called.
    """
    kernel = _check_kernel(kernel)
    s = check_length_scale(length_scale, "length_scale")
    return kernel.with_length_scale(s)
