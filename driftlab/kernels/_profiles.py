"""Concrete radial kernels: Gaussian, Laplace, Matérn, inverse multiquadric, Wendland."""

from __future__ import annotations

import math

import numpy as np
from driftlab._backend import scipy_special as sp

from driftlab import _backend as B
from driftlab._validation import check_length_scale, check_positive, one_of_aliases
from driftlab.kernels._base import FastForm, RadialKernel, _log_gamma_ratio_norm
from driftlab.kernels._registry import register_kernel

__all__ = ["Gaussian", "Laplace", "Matern", "Companion", "InverseMultiquadric", "Wendland"]


@register_kernel("gaussian")
class Gaussian(RadialKernel):
    r"""Gaussian kernel :math:`\varphi(r) = \exp(-r^2 / (2 s^2))`.

    The theory kernel of [T]: its mean shift is exactly :math:`s^2 \nabla \log \pi_s`
    (Tweedie), so the drift is a score difference. Fourier transform (any d):
    :math:`E(k) = \exp(-s^2 k^2 / 2)`.

    Parameters
    ----------
    bandwidth : float
        :math:`s` in :data:`~driftlab._validation.LENGTH_SCALE_RANGE` (default 1); may be
        passed as ``scale=``, the keyword every kernel takes for its length scale.

    Examples
    --------
    >>> from driftlab.kernels import Gaussian
    >>> float(Gaussian(2.0).profile(2.0))  # exp(-1/2)
    0.6065306597126334
    """

    name = "gaussian"
    prefers_squared_distance = True
    scale_parameter = "bandwidth"

    def __init__(self, bandwidth: float | None = None, *, scale: float | None = None) -> None:
        key, value = one_of_aliases("Gaussian", bandwidth=bandwidth, scale=scale)
        self.bandwidth = check_length_scale(1.0 if value is None else value, key)

    @property
    def length_scale(self) -> float:
        return self.bandwidth

    @property
    def params(self) -> dict[str, float]:
        return {"bandwidth": self.bandwidth}

    def log_profile(self, r):
        return -(r * r) / (2.0 * self.bandwidth**2)

    def log_profile_sq(self, r2):
        return r2 * (-0.5 / self.bandwidth**2)

    @property
    def fast_form(self) -> FastForm:
        return FastForm("sq_exp", 0.5 / self.bandwidth**2)

    def dlog_profile(self, r):
        return -r / self.bandwidth**2

    def _fourier_closed(self, k, dim):
        z = np.minimum(_scaled(self.bandwidth, k), 1e100)  # exp(-z^2/2) = 0 long before; no overflow
        return np.exp(-0.5 * z * z)

    def linear_rate(self, k, dim):
        # s^2 k^2 exp(-s^2 k^2 / 2); 0 in float64 once s k > 40 (and for s k = inf)
        z = np.minimum(_scaled(self.bandwidth, k), 40.0)
        x = z * z
        return np.where(z < 40.0, x * np.exp(-0.5 * x), 0.0)

    def rate_peak(self, dim):
        return math.sqrt(2.0) / self.bandwidth, 2.0 / math.e

    def inverse_spectrum(self, value, dim):
        return math.sqrt(-2.0 * math.log(value))


@register_kernel("laplace")
class Laplace(RadialKernel):
    r"""Laplace kernel :math:`\varphi(r) = \exp(-r/\tau)`, the kernel of [D].

    Normalised d-dimensional Fourier transform
    :math:`E(k) = (1 + \tau^2 k^2)^{-(d+1)/2}` (a Matérn-1/2 kernel with length
    :math:`\tau`).

    Parameters
    ----------
    temperature : float
        :math:`\tau` in :data:`~driftlab._validation.LENGTH_SCALE_RANGE` (default 1); may be
        passed as ``scale=``, the keyword every kernel takes for its length scale.

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> float(Laplace(0.5).fourier(2.0, dim=1))  # (1 + 1)^(-1)
    0.5
    """

    name = "laplace"
    scale_parameter = "temperature"

    def __init__(self, temperature: float | None = None, *, scale: float | None = None) -> None:
        key, value = one_of_aliases("Laplace", temperature=temperature, scale=scale)
        self.temperature = check_length_scale(1.0 if value is None else value, key)

    @property
    def length_scale(self) -> float:
        return self.temperature

    @property
    def params(self) -> dict[str, float]:
        return {"temperature": self.temperature}

    def log_profile(self, r):
        return r * (-1.0 / self.temperature)

    @property
    def fast_form(self) -> FastForm:
        return FastForm("exp", 1.0 / self.temperature)

    def dlog_profile(self, r):
        return r * 0.0 - 1.0 / self.temperature

    def _fourier_closed(self, k, dim):
        return _matern_spectrum(0.5, _scaled(self.temperature, k), dim)

    def linear_rate(self, k, dim):
        return _matern_rate(0.5, _scaled(self.temperature, k), dim)

    def rate_peak(self, dim):
        return _matern_peak(0.5, self.temperature, dim)

    def inverse_spectrum(self, value, dim):
        return _matern_inverse(0.5, value, dim)


@register_kernel("matern", shape={"nu": 1.5})
class Matern(RadialKernel):
    r"""Matérn kernel :math:`\varphi(r) = \frac{2^{1-\nu}}{\Gamma(\nu)} z^\nu K_\nu(z)`,
    :math:`z = \sqrt{2\nu}\, r / \ell`.

    ``nu = 0.5`` is the Laplace kernel with :math:`\tau = \ell`; ``nu = 1.5`` is the
    Laplace "companion" kernel :math:`(1 + r/\tau) e^{-r/\tau}` with :math:`\ell = \sqrt3
    \tau` (see :meth:`companion`); :math:`\nu \to \infty` gives the Gaussian of bandwidth
    :math:`\ell`. Normalised Fourier transform
    :math:`E(k) = (1 + \ell^2 k^2 / (2\nu))^{-(\nu + d/2)}`.

    Half-integer orders use the exact closed form (exponential times a polynomial) and work
    on numpy and torch; other orders use :func:`scipy.special.kve` (numpy only).

    Parameters
    ----------
    length_scale : float
        :math:`\ell` in :data:`~driftlab._validation.LENGTH_SCALE_RANGE` (default 1); may be
        passed as ``scale=``, the keyword every kernel takes for its length scale.
    nu : float
        Smoothness :math:`\nu > 0`, keyword-only and required (``Matern(0.05)`` is refused:
        it once meant nu = 0.05).

    Examples
    --------
    >>> from driftlab.kernels import Matern
    >>> Matern(0.5, nu=2.5)
    Matern(nu=2.5, length_scale=0.5)

    References
    ----------
    Rasmussen & Williams, *Gaussian Processes for Machine Learning*, eq. (4.14)-(4.17).
    """

    name = "matern"
    scale_parameter = "length_scale"

    def __init__(self, length_scale: float | None = None, *args, nu: float | None = None,
                 scale: float | None = None) -> None:
        if args:
            raise TypeError(
                f"Matern takes nu as a keyword argument only: write Matern(length_scale, nu=...) "
                f"(got {1 + len(args)} positional arguments; the former order Matern(nu, length_scale) "
                f"is Matern(length_scale, nu=nu))"
            )
        if nu is None:
            raise TypeError("Matern needs its smoothness as a keyword: Matern(length_scale, nu=...), e.g. nu=1.5")
        key, value = one_of_aliases("Matern", length_scale=length_scale, scale=scale)
        self.nu = check_positive(nu, "nu")
        if self.nu > _MAX_NU:
            raise ValueError(f"nu must be <= {_MAX_NU:g} (the Gaussian limit is reached to float64 "
                             f"precision long before), got {nu!r}")
        self._length = check_length_scale(1.0 if value is None else value, key)
        self._rate = math.sqrt(2.0 * self.nu) / self._length
        p = self.nu - 0.5
        self._half_integer = p >= 0 and abs(p - round(p)) < 1e-12 and round(p) <= 20
        if self._half_integer:
            p = int(round(p))
            # phi = exp(-z) * sum_i c_i z^i with c normalised so that phi(0) = 1.
            coeffs = [
                math.factorial(p + i) / (math.factorial(i) * math.factorial(p - i)) * 2.0 ** (p - i)
                for i in range(p + 1)
            ]  # coefficient of (z)^(p-i)
            norm = math.factorial(p) / math.factorial(2 * p)
            self._poly = [c * norm for c in coeffs]  # highest power first (z^p ... z^0)
            # R(z) = (P'(z) - P(z)) / z, highest power first, in exact integer arithmetic:
            # P = sum_i a_i z^i / A with a_i = (p+i)!/(i!(p-i)!) 2^(p-i) i-reversed, A = (2p)!/p!
            a = [math.factorial(2 * p - i) // (math.factorial(p - i) * math.factorial(i)) * 2**i
                 for i in range(p + 1)]  # ascending: a_j, coefficient of z^j times (2p)!/p!
            big_a = math.factorial(2 * p) // math.factorial(p)
            q = [((j + 1) * a[j + 1] if j < p else 0) - a[j] for j in range(p + 1)]  # P' - P, ascending
            self._dlog_numerator = [qj / big_a for qj in q[1:]][::-1] or [0.0]

    @classmethod
    def companion(cls, temperature: float | None = None, *, scale: float | None = None) -> "Companion":
        r"""The Laplace companion kernel :math:`(1 + r/\tau) e^{-r/\tau}` of [F, L]: a :class:`Companion`.

        ``temperature`` (or ``scale=``) is :math:`\tau`, which is also the result's
        :attr:`length_scale` (the number bandwidth schedules set); as a Matérn-3/2 its
        :math:`\ell` is :math:`\sqrt3\tau`.
        """
        return Companion(temperature, scale=scale)

    @property
    def length_scale(self) -> float:
        return self._length

    @property
    def params(self) -> dict[str, float]:
        return {"nu": self.nu, "length_scale": self._length}

    @property
    def fast_form(self) -> FastForm | None:
        if not self._half_integer:
            return None
        if len(self._poly) == 1:
            return FastForm("exp", self._rate)
        return FastForm("poly_exp", self._rate, poly=tuple(float(c) for c in self._poly[::-1]))

    def _horner(self, coeffs, z):
        acc = z * 0.0 + coeffs[0]
        for c in coeffs[1:]:
            acc = acc * z + c
        return acc

    def _log_poly(self, z):
        """log of the half-integer polynomial, without overflowing z^p (float32: z^20 > 3e38
        already at z ~ 1e3, which made log phi = +inf in the far field)."""
        o = B.ops(z)
        big = z >= 1.0
        zs = o.where(big, z * 0.0 + 1.0, z)
        zb = o.where(big, z, z * 0.0 + 1.0)
        p = len(self._poly) - 1
        small = o.log(self._horner(self._poly, zs))
        large = p * o.log(zb) + o.log(self._horner(self._poly[::-1], 1.0 / zb))
        return o.where(big, large, small)

    def log_profile(self, r):
        o = B.ops(r)
        z = r * self._rate
        if self._half_integer:
            return -z + self._log_poly(z)
        if o.name != "numpy":
            o.kv(self.nu, z)  # raises a clear NotImplementedError for torch
        dtype = _float_dtype(r)
        return _log_matern_form(self.nu, np.asarray(z, dtype=np.float64)).astype(dtype, copy=False)

    def dlog_profile(self, r):
        o = B.ops(r)
        z = r * self._rate
        if self._half_integer:
            p = len(self._poly) - 1
            dcoeffs = [c * (p - i) for i, c in enumerate(self._poly[:-1])]
            if not dcoeffs:
                return z * 0.0 - self._rate
            o = B.ops(z)
            big = z >= 1.0
            zs = o.where(big, z * 0.0 + 1.0, z)  # z < 1: direct Horner
            w = 1.0 / o.where(big, z, z * 0.0 + 1.0)  # z >= 1: in w = 1/z (no z^p overflow)
            # z < 1: -1 + P'/P = (P' - P)/P = z R(z)/P(z) with R's coefficients formed once
            # (P' - P has no constant term: c_1 = c_0 = 1), so no cancellation near the origin
            # (forming -1 + P'/P there lost eps/z relative)
            small = zs * self._horner(self._dlog_numerator, zs) / self._horner(self._poly, zs)
            big_ratio = w * self._horner(dcoeffs[::-1], w) / self._horner(self._poly[::-1], w)
            return o.where(big, -1.0 + big_ratio, small) * self._rate
        if o.name != "numpy":
            o.kv(self.nu, z)
        dtype = _float_dtype(r)
        z = np.asarray(z, dtype=np.float64)
        if self.nu >= _DEBYE_NU:
            return (_debye_dlog_phi(self.nu, z) * self._rate).astype(dtype, copy=False)
        zs = np.maximum(z, 1e-300)
        with np.errstate(over="ignore", invalid="ignore"):
            k_nu = sp.kve(self.nu, zs)
            ratio = sp.kve(self.nu - 1.0, zs) / k_nu
        far = zs >= _FAR_Z
        if far.any():  # scipy's kve is NaN beyond z ~ 1e9: the asymptotic series' ratio
            zf = zs[far]
            ratio = np.where(far, 1.0, ratio)
            ratio[far] = np.exp(_log_kve_far(self.nu - 1.0, zf) - _log_kve_far(self.nu, zf))
            k_nu = np.where(far, 1.0, k_nu)
        if self.nu > 1:  # kve(nu) overflows at tiny z (ratio inf/inf or 0): small-z series
            ratio = np.where(np.isfinite(k_nu), ratio, z / (2.0 * (self.nu - 1.0)))
        out = np.where(z == 0, 0.0 if self.nu > 0.5 else -np.inf, -ratio * self._rate)
        return out.astype(dtype, copy=False)

    def _fourier_closed(self, k, dim):
        return _matern_spectrum(self.nu, _scaled(self._length, k), dim)

    def linear_rate(self, k, dim):
        return _matern_rate(self.nu, _scaled(self._length, k), dim)

    def rate_peak(self, dim):
        return _matern_peak(self.nu, self._length, dim)

    def inverse_spectrum(self, value, dim):
        return _matern_inverse(self.nu, value, dim)

    @property
    def capabilities(self) -> frozenset[str]:
        flags = super().capabilities
        return flags if self._half_integer else flags - {"torch"}


_LENGTH_HI = 1e150


def _scaled(scale: float, k) -> np.ndarray:
    """scale * k in float64, inf (not a warning) where the product overflows."""
    with np.errstate(over="ignore"):
        return scale * np.asarray(k, dtype=np.float64)
#: the largest Matérn order accepted (sqrt(2 nu) and the Debye expansion stay accurate)
_MAX_NU = 1e12


def _matern_spectrum(nu: float, z: np.ndarray, dim: int) -> np.ndarray:
    """E = (1 + z^2/(2 nu))^-(nu + d/2), z = ell k (Laplace: nu = 1/2), finite for every z."""
    # exp(-(nu + d/2) log1p(x)), not (1 + x)^-(nu + d/2): forming 1 + x rounds x to ~eps/x
    # relative, which the large exponent (nu -> Gaussian limit) turned into 6e-11 errors at
    # nu = 1e6 (found by tests/test_kernels.py::test_matern_tends_to_gaussian)
    zc = np.minimum(z, 1e150)  # x = z^2/(2 nu) stays finite; E is 0 there anyway
    return np.exp(-(nu + dim / 2.0) * np.log1p(zc * zc / (2.0 * nu)))


def _matern_rate(nu: float, z: np.ndarray, dim: int) -> np.ndarray:
    r""":math:`\lambda = (2\nu + d)\,x\,(1 + x)^{-(\nu + d/2 + 1)}`, :math:`x = z^2/(2\nu)`.

    Evaluated directly while the power does not underflow and in logarithms beyond (where
    :math:`x^{1-p}` can still be representable after :math:`(1+x)^{-p}` has underflowed); 0
    for :math:`z = \infty`, never NaN.
    """
    p = nu + dim / 2.0 + 1.0
    zc = np.minimum(z, 1e150)
    x = zc * zc / (2.0 * nu)
    lp = p * np.log1p(x)
    direct = (2.0 * nu + dim) * x * np.exp(-np.minimum(lp, 700.0))
    # used only where p log1p(x) > 700, i.e. x > 1: log x from log z (no overflow of x even for
    # z = 1e308) and log(1 + x) = log x + log1p(1/x); clipped at 0 elsewhere (no overflow)
    logx = np.maximum(2.0 * np.log(np.maximum(z, 1e-300)) - math.log(2.0 * nu), 0.0)
    inv = np.exp(-logx)
    logged = np.exp(math.log(2.0 * nu + dim) + (1.0 - p) * logx - p * np.log1p(inv))
    out = np.where(lp <= 700.0, direct, logged)
    return np.where(z == 0, 0.0, out)


def _matern_peak(nu: float, ell: float, dim: int) -> tuple[float, float]:
    a = nu + dim / 2.0
    x = 1.0 / a  # ell^2 k^2 / (2 nu) at the maximum of 2a x (1+x)^-(a+1)
    kstar = math.sqrt(2.0 * nu * x) / ell
    return kstar, float(2.0 * a * x * math.exp(-(a + 1.0) * math.log1p(x)))


def _matern_inverse(nu: float, value: float, dim: int) -> float:
    # (1 + z^2/(2 nu))^-(nu + d/2) = value  <=>  z^2 = 2 nu expm1(-log(value) / (nu + d/2))
    return math.sqrt(2.0 * nu * math.expm1(-math.log(value) / (nu + dim / 2.0)))


#: from this argument on, log kve(nu, z) comes from Hankel's asymptotic series (scipy's kve
#: returns NaN beyond z ~ 1e9)
_FAR_Z = 1e6


def _log_kve_far(nu: float, z: np.ndarray) -> np.ndarray:
    r""":math:`\log(K_\nu(z) e^z)` for large z: :math:`\tfrac12\log(\pi/2z) + \log\sum_k a_k(\nu)/z^k`.

    :math:`a_k = \prod_{j \le k}(4\nu^2 - (2j-1)^2) / (k!\,8^k)` (DLMF 10.40.2); with
    :math:`z \geq 10^6` and :math:`4\nu^2 \leq 4\cdot 10^4 z` the terms fall by at least
    0.005 each, so 10 terms leave < 1e-20 relative.
    """
    z = np.asarray(z, dtype=np.float64)
    mu = 4.0 * nu * nu
    term = np.ones_like(z)
    total = np.ones_like(z)
    for k in range(1, 11):
        term = term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * z)
        total = total + term
    return 0.5 * np.log(math.pi / (2.0 * z)) + np.log(total)


def _log_kve(nu: float, z: np.ndarray) -> np.ndarray:
    """log kve(nu, z): scipy below :data:`_FAR_Z` (and where the series would not converge), the series above."""
    z = np.asarray(z, dtype=np.float64)
    far = (z >= _FAR_Z) & (4.0 * nu * nu <= 4e4 * z)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        near = np.log(sp.kve(nu, np.where(far, 1.0, z)))
    if not far.any():
        return near
    out = np.array(near, dtype=np.float64)
    out[far] = _log_kve_far(nu, z[far])
    return out


class Companion(Matern):
    r"""The Laplace companion kernel :math:`\varphi(r) = (1 + r/\tau)\, e^{-r/\tau}` of [F, L].

    The kernel whose sum normalises the Laplace mean shift into a score,
    :math:`m = \tau(\tau + \bar r)\nabla\log\pi_c`. It is the Matérn-3/2 of length
    :math:`\ell = \sqrt3\tau` (the same profile, rates and spectrum, which it inherits), but its
    length scale is :math:`\tau`: ``Companion(tau).length_scale == tau`` and a bandwidth schedule
    ``s(t)`` sets :math:`\tau = s(t)`, the same number ``make_kernel("companion", tau)`` and
    every command's ``--scale`` take.

    Parameters
    ----------
    temperature : float
        :math:`\tau` in :data:`~driftlab._validation.LENGTH_SCALE_RANGE` divided by
        :math:`\sqrt3` (so that :math:`\ell` is in range); default 1; ``scale=`` is an alias.

    Examples
    --------
    >>> from driftlab.kernels import Companion
    >>> k = Companion(0.5)
    >>> k, k.length_scale, round(float(k.profile(0.5)), 6)  # (1 + 1) e^-1
    (Companion(temperature=0.5), 0.5, 0.735759)

    References
    ----------
    Franz et al. 2026 (the companion / sharp normalisation); Li et al. 2026 (the Laplace decomposition).
    """

    name = "companion"
    scale_parameter = "temperature"

    def __init__(self, temperature: float | None = None, *, scale: float | None = None) -> None:
        key, value = one_of_aliases("Companion", temperature=temperature, scale=scale)
        tau = check_length_scale(1.0 if value is None else value, key)
        ell = math.sqrt(3.0) * tau
        if ell > _LENGTH_HI:  # tau within the range, sqrt(3) tau just above it
            raise ValueError(f"{key} must be <= {_LENGTH_HI / math.sqrt(3.0):g} for the companion "
                             f"kernel (length scale sqrt(3) * {key}), got {value!r}")
        super().__init__(ell, nu=1.5)
        self.temperature = tau

    @property
    def length_scale(self) -> float:
        return self.temperature

    @property
    def params(self) -> dict[str, float]:
        return {"temperature": self.temperature}

    def inverse_spectrum(self, value, dim):
        # the Matern-3/2 closed form gives z = ell |k|; in this kernel's own scale z = tau |k|
        z = super().inverse_spectrum(value, dim)
        return None if z is None else z / math.sqrt(3.0)


register_kernel("companion", Companion, aliases=("laplace-companion", "sharp"),
                summary="Laplace companion (1 + r/tau) exp(-r/tau), a Matern-3/2 with length sqrt(3) tau; scale tau")

def _log_matern_form(nu: float, z: np.ndarray) -> np.ndarray:
    r""":math:`\log(\frac{2^{1-\nu}}{\Gamma(\nu)} z^\nu K_\nu(z))` in float64 for any order and z >= 0.

    Scipy's kve below order 30 (Hankel's series in the far field), Debye's uniform expansion
    from order 30 on (where kve overflows for z up to O(1)), the power series at tiny z.
    The Matérn profile, and the inverse multiquadric's spectrum (order beta - d/2).
    """
    if nu >= _DEBYE_NU:
        return _debye_log_phi(nu, z)
    zs = np.maximum(z, 1e-300)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        general = _log_gamma_ratio_norm(nu) + nu * np.log(zs) + _log_kve(nu, zs) - zs
    if nu > 1:
        zt = np.minimum(z, 1e-6)  # the series is used below 1e-6 only (no overflow of z^2)
        series = -(zt * zt) / (4.0 * (nu - 1.0))
        return np.where(z < 1e-6, series, general)
    return np.where(z == 0, 0.0, general)


#: orders at or above which the general Matérn uses Debye's uniform expansion: there scipy's
#: kve(nu, z) overflows for z up to O(1) (and for all z once Gamma(nu) overflows, nu > 171)
_DEBYE_NU = 30.0


def _float_dtype(r):
    dt = getattr(r, "dtype", None)
    return dt if dt is not None and np.issubdtype(dt, np.floating) else np.float64


def _debye_terms(nu, t):
    """sqrt(1+t^2), p = 1/sqrt(1+t^2), the Debye series sum_k (-1)^k u_k(p)/nu^k (k <= 4), d/dp."""
    sq = np.hypot(1.0, t)  # sqrt(1 + t^2) without overflowing t^2 in the far field
    p = 1.0 / sq
    p2 = p * p
    u1 = p * (3.0 - 5.0 * p2) / 24.0
    u2 = p2 * (81.0 + p2 * (-462.0 + 385.0 * p2)) / 1152.0
    u3 = p * p2 * (30375.0 + p2 * (-369603.0 + p2 * (765765.0 - 425425.0 * p2))) / 414720.0
    q4 = -446185740.0 + 185910725.0 * p2
    u4 = p2 * p2 * (4465125.0 + p2 * (-94121676.0 + p2 * (349922430.0 + p2 * q4))) / 39813120.0
    # du = d/dp of the series: u_k'(p) polynomials
    d3 = 91125.0 + p2 * (-1848015.0 + p2 * (5360355.0 - 3828825.0 * p2))
    e4 = -4461857400.0 + 2230928700.0 * p2
    d4 = 17860500.0 + p2 * (-564730056.0 + p2 * (2799379440.0 + p2 * e4))
    du = (-(3.0 - 15.0 * p2) / 24.0 / nu
          + p * (162.0 + p2 * (-1848.0 + 2310.0 * p2)) / 1152.0 / nu**2
          - p2 * d3 / 414720.0 / nu**3
          + p * p2 * d4 / 39813120.0 / nu**4)
    return sq, p, 1.0 - u1 / nu + u2 / nu**2 - u3 / nu**3 + u4 / nu**4, du


def _debye_log_phi(nu, z):
    r"""log of the normalised Matérn profile via Debye's expansion of :math:`K_\nu(\nu t)`.

    With :math:`t = z/\nu`, :math:`\sigma = \sqrt{1+t^2}` and Stirling for
    :math:`\Gamma(\nu)` the large terms cancel analytically:
    :math:`\log\varphi = -\nu t^2/(1+\sigma) + \nu\,\mathrm{log1p}(t^2/(2(1+\sigma)))
    - \tfrac14\mathrm{log1p}(t^2) + \log S(p) - c(\nu)`, :math:`c` the Stirling remainder.
    Truncation error O(nu^-5) (< 1e-9 for nu >= 30). DLMF 10.41.4, 5.11.1.
    """
    t = z / nu
    sq, _, series, _ = _debye_terms(nu, t)
    tt = np.minimum(t, 1.0)
    # a = sq - 1 = t^2 / (1 + sq): the quotient below t = 1 (no cancellation), sq - 1 above
    # (no overflow of t^2); log1p(t^2) = 2 log(sq) above t = 1
    a = np.where(t < 1.0, tt * tt / (1.0 + np.minimum(sq, 2.0)), sq - 1.0)
    log1p_t2 = np.where(t < 1.0, np.log1p(tt * tt), 2.0 * np.log(sq))
    stirling = 1.0 / (12.0 * nu) - 1.0 / (360.0 * nu**3) + 1.0 / (1260.0 * nu**5)
    big = -nu * a + nu * np.log1p(a / 2.0) - 0.25 * log1p_t2 + np.log(series) - stirling
    # small z: two terms of the exact power series (next term O(z^6 / nu^5)); keeps phi(0) = 1
    zs = np.minimum(z, 1e-3)
    small = -zs * zs / (4.0 * (nu - 1.0)) + zs**4 / (32.0 * (nu - 1.0) ** 2 * (nu - 2.0))
    return np.where(z < 1e-3, small, big)


def _debye_dlog_phi(nu, z):
    """d/dz of :func:`_debye_log_phi` (= -K_{nu-1}(z) / K_nu(z))."""
    t = z / nu
    sq, p, series, du = _debye_terms(nu, t)
    big = -t / (1.0 + sq) - (t * p) * p / (2.0 * nu) - du * (t * p) * p * p / (nu * series)
    zs = np.minimum(z, 1e-3)
    small = -zs / (2.0 * (nu - 1.0)) + zs**3 / (8.0 * (nu - 1.0) ** 2 * (nu - 2.0))
    return np.where(z < 1e-3, small, big)


@register_kernel("imq", shape={"beta": 0.5}, aliases=("inverse-multiquadric",))
class InverseMultiquadric(RadialKernel):
    r"""Inverse multiquadric :math:`\varphi(r) = (1 + r^2/c^2)^{-\beta}`.

    Heavy-tailed: its normalised Fourier transform exists in d dimensions only for
    :math:`\beta > d/2`, where :math:`E(k) = \frac{2^{1-\mu}}{\Gamma(\mu)} (ck)^\mu
    K_\mu(ck)`, :math:`\mu = \beta - d/2` (a Matérn form in the transform variable).

    Parameters
    ----------
    scale : float
        :math:`c` in :data:`~driftlab._validation.LENGTH_SCALE_RANGE` (default 1).
    beta : float
        Decay exponent :math:`0 < \beta \leq 10^{12}` (default 1/2, the classical IMQ).
    """

    name = "imq"
    prefers_squared_distance = True
    scale_parameter = "scale"

    def __init__(self, scale: float = 1.0, beta: float = 0.5) -> None:
        self._scale = check_length_scale(scale, "scale")
        self.beta = check_positive(beta, "beta")
        if self.beta > _MAX_NU:
            raise ValueError(f"beta must be <= {_MAX_NU:g} (beyond, beta * r^2 / c^2 products overflow; "
                             f"the Gaussian limit is reached long before), got {beta!r}")

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def length_scale(self) -> float:
        return self.scale

    @property
    def params(self) -> dict[str, float]:
        return {"scale": self.scale, "beta": self.beta}

    def log_profile(self, r):
        return self.log_profile_sq(r * r)

    @property
    def fast_form(self) -> FastForm:
        return FastForm("imq", 1.0 / self.scale**2, beta=self.beta)

    def log_profile_sq(self, r2):
        return -self.beta * B.ops(r2).log1p(r2 / self.scale**2)

    def dlog_profile(self, r):
        return -2.0 * self.beta * r / (self.scale**2 + r * r)

    def check_spectrum(self, dim):
        if self.beta - dim / 2.0 <= 0:
            raise ValueError(
                f"InverseMultiquadric(beta={self.beta}) is not integrable in dim={dim} "
                f"(needs beta > dim/2): its Fourier transform cannot be normalised at k=0, so "
                "the spectrum E(k) and the rates are undefined"
            )

    def _fourier_closed(self, k, dim):
        self.check_spectrum(dim)
        mu = self.beta - dim / 2.0
        z = np.minimum(_scaled(self.scale, k), 1e300)
        return np.exp(_log_matern_form(mu, z))

    def linear_rate(self, k, dim):
        r""":math:`\lambda = \frac{2^{1-\mu}}{\Gamma(\mu)} z^{\mu+1} K_{\mu-1}(z)`, :math:`z = ck`, :math:`\mu = \beta - d/2`."""
        self.check_spectrum(dim)
        mu = self.beta - dim / 2.0
        z = np.minimum(_scaled(self.scale, k), 1e300)
        zs = np.maximum(z, 1e-300)
        if mu > 1:
            # 2^(1-mu)/Gamma(mu) z^(mu+1) K_(mu-1)(z) = z^2 / (2 (mu - 1)) * [Matern-(mu-1) form],
            # whose log is finite for every order (Debye from order 30 on: kve(mu - 1, z)
            # overflowed to inf for large beta) and every z
            with np.errstate(divide="ignore"):
                val = np.exp(2.0 * np.log(zs) - math.log(2.0 * (mu - 1.0)) + _log_matern_form(mu - 1.0, z))
        else:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                # K_{mu-1} = K_{1-mu}; kve(v, z) = kv(v, z) e^z.
                logv = ((1.0 - mu) * math.log(2.0) - math.lgamma(mu) + (mu + 1.0) * np.log(zs)
                        + _log_kve(mu - 1.0, zs) - zs)
                val = np.exp(logv)
        # z -> 0: lambda ~ z^2 / (2 (mu - 1)) for mu > 1, ~ z^{2 mu} terms otherwise; both -> 0.
        return np.where(z == 0, 0.0, val)


@register_kernel("wendland")
class Wendland(RadialKernel):
    r"""Wendland's compactly supported kernel :math:`\varphi_{3,1}(r) = (1-u)_+^4 (1 + 4u)`,
    :math:`u = r/R`.

    Positive definite in d <= 3; exactly zero beyond the radius R, so it cannot see mass
    differences between clusters farther apart than R: the negative control of driftlab's
    identifiability checks. No closed-form Fourier transform (numerical Hankel transform).

    Parameters
    ----------
    radius : float
        Support radius :math:`R` in :data:`~driftlab._validation.LENGTH_SCALE_RANGE`
        (default 1); may be passed as ``scale=``, the keyword every kernel takes for its
        length scale.

    References
    ----------
    H. Wendland, *Scattered Data Approximation*, Cambridge (2005), Table 9.1.
    """

    name = "wendland"
    scale_parameter = "radius"

    def __init__(self, radius: float | None = None, *, scale: float | None = None) -> None:
        key, value = one_of_aliases("Wendland", radius=radius, scale=scale)
        self.radius = check_length_scale(1.0 if value is None else value, key)
        self.support_radius = self.radius

    @property
    def length_scale(self) -> float:
        return self.radius

    @property
    def params(self) -> dict[str, float]:
        return {"radius": self.radius}

    def log_profile(self, r):
        o = B.ops(r)
        u = r / self.radius
        inside = u < 1.0
        # evaluate the formula on u = 0 outside the support: finite in every dtype (clipping
        # 1 - u at 1e-300 gives 0 in float32, log 0 = -inf and then -inf * 0 = NaN), and a
        # zero gradient there
        safe = o.where(inside, u, u * 0.0)
        val = 4.0 * o.log1p(-safe) + o.log1p(4.0 * safe)
        return o.where(inside, val, safe * 0.0 - math.inf)

    def dlog_profile(self, r):
        o = B.ops(r)
        u = r / self.radius
        inside = u < 1.0
        safe = o.where(inside, u, u * 0.0)
        val = -20.0 * safe / ((1.0 - safe) * (1.0 + 4.0 * safe)) / self.radius
        return o.where(inside, val, safe * 0.0)
