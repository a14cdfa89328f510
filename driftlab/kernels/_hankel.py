r"""Numerical normalised d-dimensional Fourier transform of a radial profile.

For a radial function the d-dimensional Fourier transform reduces to a Hankel transform:

.. math::

    E(k) = \frac{\int_0^\infty \varphi(r)\, r^{d-1}\, \Omega_d(kr)\, dr}
                {\int_0^\infty \varphi(r)\, r^{d-1}\, dr},
    \qquad \Omega_d(z) = \Gamma(d/2) (2/z)^{d/2-1} J_{d/2-1}(z),

where :math:`\Omega_d` is the average of :math:`e^{i k\cdot x}` over the sphere
(:math:`\Omega_1 = \cos`, :math:`\Omega_3(z) = \sin z / z`). The integral is cut where the
integrand falls below 1e-18 of its peak and summed by composite 16-point Gauss-Legendre on
panels no wider than a quarter of the oscillation period.

The derivative needs no finite differences: since
:math:`\Omega_d'(z) = -z\,\Omega_{d+2}(z)/d`,

.. math::

    E'(k) = -\frac{k}{d}\,
            \frac{\int_0^\infty \varphi(r)\, r^{d+1}\, \Omega_{d+2}(kr)\, dr}
                  {\int_0^\infty \varphi(r)\, r^{d-1}\, dr},

which :func:`radial_fourier_derivative` evaluates with the same quadrature (the spectral
rate :math:`\lambda(k) = -k E'(k)` of :mod:`driftlab.spectral` uses it).
"""

from __future__ import annotations

import math

import numpy as np
from driftlab._backend import scipy_special as sp

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_MAX_PANELS = 400_000


def sphere_average(z: np.ndarray, dim: int) -> np.ndarray:
    r""":math:`\Omega_d(z)`, the spherical average of :math:`e^{i k \cdot x}` with :math:`|k||x| = z`."""
    z = np.asarray(z, dtype=np.float64)
    nu = dim / 2.0 - 1.0
    if dim == 1:
        return np.cos(z)
    if dim == 3:
        return np.sinc(z / np.pi)
    small = z < 1e-4
    zs = np.where(small, 1.0, z)
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.exp(math.lgamma(dim / 2.0) + nu * np.log(2.0 / zs)) * sp.jv(nu, zs)
    series = 1.0 - z * z / (2.0 * dim)
    return np.where(small, series, big)


def _cutoff(kernel, dim: int) -> float:
    if kernel.support_radius is not None:
        return float(kernel.support_radius)
    ell = kernel.length_scale
    r = ell * np.logspace(-3, 6, 2000)
    with np.errstate(divide="ignore"):
        logf = np.asarray(kernel.log_profile(r), dtype=np.float64) + (dim - 1) * np.log(r)
    peak = np.max(logf)
    above = np.nonzero(logf > peak - math.log(1e18))[0]
    if above[-1] == len(r) - 1:
        raise ValueError(
            f"{kernel!r} decays too slowly in dim={dim} for the numerical Fourier transform "
            "(tail not negligible at 1e6 length scales)"
        )
    return float(r[above[-1] + 1])


def _integrate(kernel, dim: int, k: float, rmax: float, power: int | None = None,
               omega_dim: int | None = None) -> float:
    """Integral of phi(r) r^power Omega_{omega_dim}(k r) over [0, rmax] (defaults: d-1, d)."""
    power = dim - 1 if power is None else power
    omega_dim = dim if omega_dim is None else omega_dim
    ell = kernel.length_scale
    width = ell / 8.0
    if k > 0:
        width = min(width, math.pi / (2.0 * k))
    n = int(math.ceil(rmax / width))
    if n > _MAX_PANELS:
        raise ValueError(
            f"wave number k={k} is too large for the numerical transform of {kernel!r} "
            f"({n} panels needed; limit {_MAX_PANELS})"
        )
    edges = np.linspace(0.0, rmax, n + 1)
    a, b = edges[:-1, None], edges[1:, None]
    r = 0.5 * (b - a) * _GL_X[None, :] + 0.5 * (a + b)
    w = 0.5 * (b - a) * _GL_W[None, :]
    f = np.exp(np.asarray(kernel.log_profile(r), dtype=np.float64)) * r**power
    if k > 0:
        f = f * sphere_average(k * r, omega_dim)
    return float(np.sum(w * f))


def radial_fourier(kernel, k: np.ndarray, dim: int) -> np.ndarray:
    """Numerical :math:`E(|k|)` for any :class:`~driftlab.kernels.RadialKernel` (numpy only)."""
    k = np.asarray(k, dtype=np.float64)
    rmax = _cutoff(kernel, dim)
    norm = _integrate(kernel, dim, 0.0, rmax)
    flat = np.array([_integrate(kernel, dim, float(kk), rmax) / norm for kk in k.ravel()])
    return flat.reshape(k.shape)


def radial_fourier_derivative(kernel, k: np.ndarray, dim: int) -> np.ndarray:
    r"""Numerical :math:`E'(|k|) = dE/d|k|` for any radial kernel (numpy only).

    Uses :math:`\Omega_d'(z) = -z\,\Omega_{d+2}(z)/d` (no finite differences), so the
    accuracy matches :func:`radial_fourier`. The integral is cut where the heavier
    :math:`r^{d+1}` integrand is negligible.
    """
    k = np.asarray(k, dtype=np.float64)
    rmax_norm = _cutoff(kernel, dim)
    rmax = max(rmax_norm, _cutoff(kernel, dim + 2))
    norm = _integrate(kernel, dim, 0.0, rmax_norm)
    flat = np.array([
        -(float(kk) / dim) * _integrate(kernel, dim, float(kk), rmax, power=dim + 1, omega_dim=dim + 2) / norm
        if kk > 0 else 0.0
        for kk in k.ravel()
    ])
    return flat.reshape(k.shape)
