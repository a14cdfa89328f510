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


def _cutoff(kernel, dim: int) -> float | None:
    """Upper limit, in length scales, beyond which phi(r) r^(dim-1) is below 1e-18 of its peak
    (None when that takes more than 1e6 length scales: a heavy, power-law tail)."""
    ell = kernel.length_scale
    if kernel.support_radius is not None:
        return float(kernel.support_radius) / ell
    u = np.logspace(-3, 6, 2000)
    with np.errstate(divide="ignore"):
        logf = np.asarray(kernel.log_profile(ell * u), dtype=np.float64) + (dim - 1) * np.log(u)
    peak = np.max(logf)
    above = np.nonzero(logf > peak - math.log(1e18))[0]
    if above[-1] == len(u) - 1:
        return None  # heavy tail: not negligible at 1e6 length scales (see _heavy_integral)
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


#: tails still above 1e-18 of the peak beyond this many length scales take the tail methods
_SLOW_TAIL = 1e3
#: heavy tails: the head [0, _HEAD] (length scales) by panels, the rest by the tail methods
_HEAD = 64.0
#: the power-law tail of the k = 0 integrals starts here (length scales)
_TAIL_START = 1e8
#: half-period blocks of the oscillatory tail, and the averaging passes that sum them
_BLOCKS, _PASSES = 80, 40


def _panels_integral(kernel, z, power, omega_dim, edges):
    """GL-16 sum of phi(ell u) u^power Omega(z u) over the given panel edges (no estimate)."""
    ell = kernel.length_scale
    a, b = edges[:-1, None], edges[1:, None]
    u = 0.5 * (b - a) * _GL_X[None, :] + 0.5 * (a + b)
    w = 0.5 * (b - a) * _GL_W[None, :]
    f = np.exp(np.asarray(kernel.log_profile(ell * u), dtype=np.float64)) * u**power
    if z > 0:
        f = f * sphere_average(z * u, omega_dim)
    wf = w * f
    return float(np.sum(wf)), float(np.sum(np.abs(wf)))


def _tail_exponent(kernel, u: float) -> float:
    """Local power p of phi(ell u) ~ u^-p: -u d log(phi)/du."""
    ell = kernel.length_scale
    return float(-u * ell * np.asarray(kernel.dlog_profile(np.array([ell * u])), dtype=np.float64)[0])


def _heavy_integral(kernel, dim: int, z: float, power: int, omega_dim: int) -> tuple[float, float]:
    r"""Integral over [0, inf) of phi(ell u) u^power Omega(z u) for a power-law tail, and its error estimate.

    k = 0: panels on [0, 1], log-spaced panels (u = e^t) on [1, 1e8], and the power-law tail
    :math:`\varphi(U) U^{q+1}/(p - q - 1)` beyond U = 1e8 with the local exponent p (its
    drift between U/10 and U bounds the tail's error). k > 0: panels on [0, 64] and the
    oscillatory rest in half-period blocks whose partial sums are averaged repeatedly (the
    Euler transform of an asymptotically alternating series), the last two averages giving
    the error estimate.
    """
    ell = kernel.length_scale
    eps = np.finfo(np.float64).eps
    if z == 0:
        head, ahead = _panels_integral(kernel, 0.0, power, omega_dim, np.linspace(0.0, 1.0, 9))
        t = np.linspace(0.0, math.log(_TAIL_START), int(math.ceil(math.log(_TAIL_START) / 0.125)) + 1)
        mid, amid = _panels_integral(kernel, 0.0, power, omega_dim, np.exp(t))
        p, p10 = _tail_exponent(kernel, _TAIL_START), _tail_exponent(kernel, _TAIL_START / 10)
        q = power + 1.0
        if not p > q:
            raise ValueError(f"{kernel!r} is not integrable against r^{power}: its tail decays like "
                             f"r^-{p:.6g} (needs an exponent > {q:g})")
        phi_u = float(np.exp(np.asarray(kernel.log_profile(np.array([ell * _TAIL_START])), dtype=np.float64)[0]))
        tail = phi_u * _TAIL_START**q / (p - q)
        # the exponent's drift over the last decade bounds the power-law approximation
        tail_err = tail * abs(p - p10) / (p - q) + 64 * eps * (ahead + amid + tail)
        return head + mid + tail, tail_err + 1e-14 * (ahead + amid)
    n = int(math.ceil(_HEAD / min(1.0 / 8.0, math.pi / (2.0 * z))))
    if n > _MAX_PANELS:
        raise ValueError(f"wave number k={z / ell} is too large for the numerical transform of {kernel!r} "
                         f"({n} panels needed; limit {_MAX_PANELS})")
    head, err_head = _integrate(kernel, dim, z, _HEAD, power=power, omega_dim=omega_dim)
    h = math.pi / z
    sums, total, abs_total = [], 0.0, 0.0
    for m in range(_BLOCKS):
        a = _HEAD + m * h
        width = min(h / 2.0, max(1.0 / 8.0, a / 8.0))
        edges = np.linspace(a, a + h, int(math.ceil(h / width)) + 1)
        v, av = _panels_integral(kernel, z, power, omega_dim, edges)
        total += v
        abs_total += av
        sums.append(total)
    seq = np.array(sums)
    prev = seq[-2]
    for _ in range(_PASSES):
        prev = seq[-2]
        seq = 0.5 * (seq[1:] + seq[:-1])
    tail = float(seq[-1])
    return head + tail, err_head + abs(tail - float(prev)) + 64 * eps * abs_total


def _full_integral(kernel, dim: int, z: float, power: int, omega_dim: int) -> tuple[float, float]:
    """Integral over [0, inf) of phi(ell u) u^power Omega_{omega_dim}(z u) and its error estimate."""
    umax = _cutoff(kernel, power + 1)
    if umax is None or umax > _SLOW_TAIL:
        return _heavy_integral(kernel, dim, z, power, omega_dim)
    return _integrate(kernel, dim, z, umax, power=power, omega_dim=omega_dim)


def radial_fourier(kernel, k: np.ndarray, dim: int) -> np.ndarray:
    """Numerical :math:`E(|k|)` for any :class:`~driftlab.kernels.RadialKernel` (numpy only).

    Profiles with a power-law tail (the inverse multiquadric) are summed by the tail methods
    of :func:`_heavy_integral`.
    """
    k = np.asarray(k, dtype=np.float64)
    ell = kernel.length_scale
    norm, _ = _full_integral(kernel, dim, 0.0, dim - 1, dim)
    flat = np.array([_full_integral(kernel, dim, float(kk) * ell, dim - 1, dim)[0] / norm if kk > 0 else 1.0
                     for kk in k.ravel()])
    return flat.reshape(k.shape)


def radial_fourier_derivative(kernel, k: np.ndarray, dim: int, with_error: bool = False):
    r"""Numerical :math:`E'(|k|) = dE/d|k|` for any radial kernel (numpy only).

    Uses :math:`\Omega_d'(z) = -z\,\Omega_{d+2}(z)/d` (no finite differences), so the
    accuracy matches :func:`radial_fourier`. The integral is cut where the heavier
    :math:`r^{d+1}` integrand is negligible (power-law tails: see :func:`_heavy_integral`).
    With ``with_error=True`` also returns the error estimate of each value (same shape).
    """
    k = np.asarray(k, dtype=np.float64)
    ell = kernel.length_scale
    norm, norm_err = _full_integral(kernel, dim, 0.0, dim - 1, dim)
    vals, errs = [], []
    for kk in k.ravel():
        if kk == 0:
            vals.append(0.0)
            errs.append(0.0)
            continue
        num, err = _full_integral(kernel, dim, float(kk) * ell, dim + 1, dim + 2)
        factor = float(kk) * ell * ell / dim / norm
        vals.append(-factor * num)
        errs.append(factor * (err + abs(num) * norm_err / norm))
    out = np.array(vals).reshape(k.shape)
    return (out, np.array(errs).reshape(k.shape)) if with_error else out
