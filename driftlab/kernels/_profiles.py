"""Concrete radial kernels: Gaussian, Laplace, Matérn, inverse multiquadric, Wendland."""

from __future__ import annotations

import math

import numpy as np
from scipy import special as sp

from driftlab import _backend as B
from driftlab._validation import check_positive
from driftlab.kernels._base import RadialKernel, _log_gamma_ratio_norm

__all__ = ["Gaussian", "Laplace", "Matern", "InverseMultiquadric", "Wendland"]


class Gaussian(RadialKernel):
    r"""Gaussian kernel :math:`\varphi(r) = \exp(-r^2 / (2 s^2))`.

    The theory kernel of [T]: its mean shift is exactly :math:`s^2 \nabla \log \pi_s`
    (Tweedie), so the drift is a score difference. Fourier transform (any d):
    :math:`E(k) = \exp(-s^2 k^2 / 2)`.

    Parameters
    ----------
    bandwidth : float
        :math:`s > 0`.

    Examples
    --------
    >>> from driftlab.kernels import Gaussian
    >>> float(Gaussian(2.0).profile(2.0))  # exp(-1/2)
    0.6065306597126334
    """

    name = "gaussian"
    prefers_squared_distance = True

    def __init__(self, bandwidth: float = 1.0) -> None:
        self.bandwidth = check_positive(bandwidth, "bandwidth")

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

    def dlog_profile(self, r):
        return -r / self.bandwidth**2

    def _fourier_closed(self, k, dim):
        return np.exp(-0.5 * (self.bandwidth * k) ** 2)


class Laplace(RadialKernel):
    r"""Laplace kernel :math:`\varphi(r) = \exp(-r/\tau)`, the kernel of [D].

    Normalised d-dimensional Fourier transform
    :math:`E(k) = (1 + \tau^2 k^2)^{-(d+1)/2}` (a Matérn-1/2 kernel with length
    :math:`\tau`).

    Parameters
    ----------
    temperature : float
        :math:`\tau > 0`.

    Examples
    --------
    >>> from driftlab.kernels import Laplace
    >>> float(Laplace(0.5).fourier(2.0, dim=1))  # (1 + 1)^(-1)
    0.5
    """

    name = "laplace"

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = check_positive(temperature, "temperature")

    @property
    def length_scale(self) -> float:
        return self.temperature

    @property
    def params(self) -> dict[str, float]:
        return {"temperature": self.temperature}

    def log_profile(self, r):
        return r * (-1.0 / self.temperature)

    def dlog_profile(self, r):
        return r * 0.0 - 1.0 / self.temperature

    def _fourier_closed(self, k, dim):
        return (1.0 + (self.temperature * k) ** 2) ** (-(dim + 1) / 2.0)


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
    nu : float
        Smoothness :math:`\nu > 0`.
    length_scale : float
        :math:`\ell > 0`.

    References
    ----------
    Rasmussen & Williams, *Gaussian Processes for Machine Learning*, eq. (4.14)-(4.17).
    """

    name = "matern"

    def __init__(self, nu: float = 1.5, length_scale: float = 1.0) -> None:
        self.nu = check_positive(nu, "nu")
        self._length = check_positive(length_scale, "length_scale")
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

    @classmethod
    def companion(cls, temperature: float) -> "Matern":
        r"""The Laplace companion kernel :math:`(1 + r/\tau) e^{-r/\tau}` of [F, L]."""
        tau = check_positive(temperature, "temperature")
        return cls(nu=1.5, length_scale=math.sqrt(3.0) * tau)

    @property
    def length_scale(self) -> float:
        return self._length

    @property
    def params(self) -> dict[str, float]:
        return {"nu": self.nu, "length_scale": self._length}

    def _horner(self, coeffs, z):
        acc = z * 0.0 + coeffs[0]
        for c in coeffs[1:]:
            acc = acc * z + c
        return acc

    def log_profile(self, r):
        o = B.ops(r)
        z = r * self._rate
        if self._half_integer:
            return -z + o.log(self._horner(self._poly, z))
        if o.name != "numpy":
            o.kv(self.nu, z)  # raises a clear NotImplementedError for torch
        z = np.asarray(z, dtype=np.float64)
        zs = np.maximum(z, 1e-300)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            general = _log_gamma_ratio_norm(self.nu) + self.nu * np.log(zs) + np.log(sp.kve(self.nu, zs)) - zs
        if self.nu > 1:
            series = -(z * z) / (4.0 * (self.nu - 1.0))
            return np.where(z < 1e-6, series, general)
        return np.where(z == 0, 0.0, general)

    def dlog_profile(self, r):
        o = B.ops(r)
        z = r * self._rate
        if self._half_integer:
            p = len(self._poly) - 1
            dcoeffs = [c * (p - i) for i, c in enumerate(self._poly[:-1])]
            if not dcoeffs:
                return z * 0.0 - self._rate
            return (-1.0 + self._horner(dcoeffs, z) / self._horner(self._poly, z)) * self._rate
        if o.name != "numpy":
            o.kv(self.nu, z)
        z = np.asarray(z, dtype=np.float64)
        zs = np.maximum(z, 1e-300)
        with np.errstate(over="ignore", invalid="ignore"):
            ratio = sp.kve(self.nu - 1.0, zs) / sp.kve(self.nu, zs)
        return np.where(z == 0, 0.0 if self.nu > 0.5 else -np.inf, -ratio * self._rate)

    def _fourier_closed(self, k, dim):
        return (1.0 + (self._length * k) ** 2 / (2.0 * self.nu)) ** (-(self.nu + dim / 2.0))


class InverseMultiquadric(RadialKernel):
    r"""Inverse multiquadric :math:`\varphi(r) = (1 + r^2/c^2)^{-\beta}`.

    Heavy-tailed: its normalised Fourier transform exists in d dimensions only for
    :math:`\beta > d/2`, where :math:`E(k) = \frac{2^{1-\mu}}{\Gamma(\mu)} (ck)^\mu
    K_\mu(ck)`, :math:`\mu = \beta - d/2` (a Matérn form in the transform variable).

    Parameters
    ----------
    scale : float
        :math:`c > 0`.
    beta : float
        Decay exponent :math:`\beta > 0` (default 1/2, the classical IMQ).
    """

    name = "imq"
    prefers_squared_distance = True

    def __init__(self, scale: float = 1.0, beta: float = 0.5) -> None:
        self.scale = check_positive(scale, "scale")
        self.beta = check_positive(beta, "beta")

    @property
    def length_scale(self) -> float:
        return self.scale

    @property
    def params(self) -> dict[str, float]:
        return {"scale": self.scale, "beta": self.beta}

    def log_profile(self, r):
        return self.log_profile_sq(r * r)

    def log_profile_sq(self, r2):
        return -self.beta * B.ops(r2).log1p(r2 / self.scale**2)

    def dlog_profile(self, r):
        return -2.0 * self.beta * r / (self.scale**2 + r * r)

    def _fourier_closed(self, k, dim):
        mu = self.beta - dim / 2.0
        if mu <= 0:
            raise ValueError(
                f"InverseMultiquadric(beta={self.beta}) is not integrable in dim={dim} "
                f"(needs beta > dim/2): its Fourier transform cannot be normalised at k=0"
            )
        z = self.scale * np.asarray(k, dtype=np.float64)
        zs = np.maximum(z, 1e-300)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            val = np.exp(_log_gamma_ratio_norm(mu) + mu * np.log(zs) + np.log(sp.kve(mu, zs)) - zs)
        return np.where(z < 1e-8, 1.0, val)


class Wendland(RadialKernel):
    r"""Wendland's compactly supported kernel :math:`\varphi_{3,1}(r) = (1-u)_+^4 (1 + 4u)`,
    :math:`u = r/R`.

    Positive definite in d <= 3; exactly zero beyond the radius R, so it cannot see mass
    differences between clusters farther apart than R: the negative control of driftlab's
    identifiability checks. No closed-form Fourier transform (numerical Hankel transform).

    Parameters
    ----------
    radius : float
        Support radius :math:`R > 0`.

    References
    ----------
    H. Wendland, *Scattered Data Approximation*, Cambridge (2005), Table 9.1.
    """

    name = "wendland"

    def __init__(self, radius: float = 1.0) -> None:
        self.radius = check_positive(radius, "radius")
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
        one_minus = o.clip_min(1.0 - u, 1e-300)
        val = 4.0 * o.log(one_minus) + o.log1p(4.0 * u)
        return o.where(inside, val, val * 0.0 - math.inf)

    def dlog_profile(self, r):
        o = B.ops(r)
        u = r / self.radius
        inside = u < 1.0
        one_minus = o.clip_min(1.0 - u, 1e-300)
        val = -20.0 * u / (one_minus * (1.0 + 4.0 * u)) / self.radius
        return o.where(inside, val, val * 0.0)
