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
_MAX_PANELS = 2_000_000


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
    """Upper limit, in length scales, beyond which phi(r) r^(dim-1) is below 1e-18 of its peak."""
    ell = kernel.length_scale
    if kernel.support_radius is not None:
        return float(kernel.support_radius) / ell
    u = np.logspace(-3, 6, 2000)
    with np.errstate(divide="ignore"):
        logf = np.asarray(kernel.log_profile(ell * u), dtype=np.float64) + (dim - 1) * np.log(u)
    peak = np.max(logf)
    above = np.nonzero(logf > peak - math.log(1e18))[0]
    if above[-1] == len(u) - 1:
        raise ValueError(
            f"{kernel!r} decays too slowly in dim={dim} for the numerical Fourier transform "
            "(tail not negligible at 1e6 length scales)"
        )
    return float(u[above[-1] + 1])


#: panels per vectorised chunk (bounds the memory of one quadrature to ~10 MB per array)
_CHUNK = 40_000


def _integrate(kernel, dim: int, z: float, umax: float, power: int | None = None,
               omega_dim: int | None = None) -> tuple[float, float]:
    """Integral of phi(ell u) u^power Omega_{omega_dim}(z u) over u in [0, umax], and its round-off estimate.

    Works in units of the length scale ell (so extreme ell neither underflows u^power nor
    overflows the panel count); ``z = ell k``. The error estimate is eps * sqrt(log2 n) *
    the root sum of squares of |w f| (|log phi| + z u + 16) (each node's value is exact to
    that many ulps: the phase z u is rounded to eps z u, and the errors add like a random
    walk), plus 1e-12 of the sum of |w f| for the quadrature error itself.
    """
    power = dim - 1 if power is None else power
    omega_dim = dim if omega_dim is None else omega_dim
    ell = kernel.length_scale
    width = 1.0 / 8.0
    if z > 0:
        width = min(width, math.pi / (2.0 * z))
    n = int(math.ceil(umax / width))
    if n > _MAX_PANELS:
        raise ValueError(
            f"wave number k={z / ell} is too large for the numerical transform of {kernel!r} "
            f"({n} panels needed; limit {_MAX_PANELS})"
        )
    # panels graded geometrically towards the origin (the profile need not be smooth there:
    # Matern with non-integer 2 nu has r^(2 nu) terms), then uniform
    first = min(width, umax)
    edges = np.concatenate([[0.0], first * np.geomspace(1e-8, 1.0, 9)[:-1], np.linspace(first, umax, n + 1)])
    n = len(edges) - 1
    total, sq, abs_total = 0.0, 0.0, 0.0
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        a, b = edges[lo:hi, None], edges[lo + 1:hi + 1, None]
        u = 0.5 * (b - a) * _GL_X[None, :] + 0.5 * (a + b)
        w = 0.5 * (b - a) * _GL_W[None, :]
        logphi = np.asarray(kernel.log_profile(ell * u), dtype=np.float64)
        f = np.exp(logphi) * u**power
        if z > 0:
            f = f * sphere_average(z * u, omega_dim)
        wf = w * f
        total += float(np.sum(wf))
        abs_total += float(np.sum(np.abs(wf)))
        with np.errstate(invalid="ignore"):
            scale = np.where(wf == 0, 0.0, np.abs(wf) * (np.abs(logphi) + z * u + 16.0))
        sq += float(np.sum(scale * scale))
    err = 4.0 * np.finfo(np.float64).eps * math.sqrt(sq) * math.sqrt(max(math.log2(n * 16), 1.0))
    # plus the quadrature's own error: GL-16 on panels of at most a quarter period (graded at
    # the origin) converges to ~1e-16 of the sum of |w f|: allow 1e-14
    return total, err + 1e-14 * abs_total


def radial_fourier(kernel, k: np.ndarray, dim: int) -> np.ndarray:
    """Numerical :math:`E(|k|)` for any :class:`~driftlab.kernels.RadialKernel` (numpy only)."""
    k = np.asarray(k, dtype=np.float64)
    ell = kernel.length_scale
    umax = _cutoff(kernel, dim)
    norm, _ = _integrate(kernel, dim, 0.0, umax)
    flat = np.array([_integrate(kernel, dim, float(kk) * ell, umax)[0] / norm for kk in k.ravel()])
    return flat.reshape(k.shape)


def radial_fourier_derivative(kernel, k: np.ndarray, dim: int, with_error: bool = False):
    r"""Numerical :math:`E'(|k|) = dE/d|k|` for any radial kernel (numpy only).

    Uses :math:`\Omega_d'(z) = -z\,\Omega_{d+2}(z)/d` (no finite differences), so the
    accuracy matches :func:`radial_fourier`. The integral is cut where the heavier
    :math:`r^{d+1}` integrand is negligible. With ``with_error=True`` also returns the
    round-off estimate of each value (same shape).
    """
    k = np.asarray(k, dtype=np.float64)
    ell = kernel.length_scale
    umax_norm = _cutoff(kernel, dim)
    umax = max(umax_norm, _cutoff(kernel, dim + 2))
    norm, norm_err = _integrate(kernel, dim, 0.0, umax_norm)
    vals, errs = [], []
    for kk in k.ravel():
        if kk == 0:
            vals.append(0.0)
            errs.append(0.0)
            continue
        num, err = _integrate(kernel, dim, float(kk) * ell, umax, power=dim + 1, omega_dim=dim + 2)
        factor = float(kk) * ell * ell / dim / norm
        vals.append(-factor * num)
        errs.append(factor * (err + abs(num) * norm_err / norm))
    out = np.array(vals).reshape(k.shape)
    return (out, np.array(errs).reshape(k.shape)) if with_error else out
