r"""Linearisation around a non-uniform target: the discretised linear operator and its spectrum.

For a target density p (positive on a periodic grid) put :math:`q = p + \epsilon\psi`,
:math:`\int\psi = 0`. With :math:`D = \varphi * p`, :math:`N = g * p` (:math:`g = z\varphi`)
and :math:`m_\pi = -(g*\pi)/(\varphi*\pi)`, the first-order change of the mean shift is
:math:`\delta m = -(g*\psi)/D + N(\varphi*\psi)/D^2`, :math:`V = m_p - m_q = -\epsilon\,\delta m`,
and the linearised continuity equation reads

.. math::  \partial_t\psi = \mathcal L\psi = \nabla\cdot\big(p\,\delta m[\psi]\big).

For a uniform p this reduces to :math:`-\lambda(k)` on each Fourier mode (checked in the
tests); for a Gaussian kernel :math:`\delta m = s^2\nabla\big((\varphi*\psi)/(\varphi*p)\big)`.
:func:`linear_operator` assembles :math:`\mathcal L` as a dense matrix (direct periodic
convolution sums, no FFT, so densities as small as 1e-30 keep their relative accuracy;
derivatives spectral), :func:`operator_spectrum` returns the relaxation rates
:math:`-\mathrm{Re}\,\mu` of its eigenvalues :math:`\mu` sorted ascending (the zero mode, total
mass, comes first) with the largest imaginary part and, per eigenvector, its dominant wave
number, so that the rates can be set beside :math:`\lambda(k)`.

Examples
--------
>>> import numpy as np
>>> from driftlab.kernels import Gaussian
>>> from driftlab.spectral import rate
>>> from driftlab.spectral.grid import PeriodicGrid, kernel_reach
>>> from driftlab.spectral.nonuniform import operator_spectrum
>>> grid = PeriodicGrid(32)
>>> spec = operator_spectrum(Gaussian(0.5), grid, np.ones(32))
>>> low = (spec["k_dominant"] > 0) & (spec["k_dominant"] <= 4)  # uniform target: Fourier modes
>>> bool(np.allclose(spec["rates"][low], rate(Gaussian(0.5), spec["k_dominant"][low]), rtol=1e-10))
True
"""

from __future__ import annotations

import math

import numpy as np

from driftlab.kernels import RadialKernel
from driftlab.spectral.grid import PeriodicGrid, kernel_reach
from driftlab.spectral.rates import _check_kernel

__all__ = ["linear_operator", "operator_spectrum", "periodic_gmm_density"]


def _dense_periodic_kernel(kernel: RadialKernel, grid: PeriodicGrid):
    """Dense matrices Phi[i, j] = phi_per(x_i - x_j) h^d and G_a[i, j] = g_per,a(x_i - x_j) h^d."""
    xs = [c.ravel() for c in grid.coordinates()]
    L = grid.length
    reach = kernel_reach(kernel)
    m_max = int(math.ceil(reach / L)) + 1
    n = xs[0].size
    Phi = np.zeros((n, n))
    G = [np.zeros((n, n)) for _ in xs]
    diffs = [x[:, None] - x[None, :] for x in xs]
    for shift in np.array(np.meshgrid(*([range(-m_max, m_max + 1)] * grid.dim), indexing="ij")).reshape(grid.dim, -1).T:
        zz = [d + s * L for d, s in zip(diffs, shift)]
        r = np.sqrt(sum(z * z for z in zz))
        val = np.exp(np.asarray(kernel.log_profile(r), dtype=np.float64))
        Phi += val
        for a in range(grid.dim):
            G[a] += zz[a] * val
    vol = grid.h**grid.dim
    return Phi * vol, [g * vol for g in G]


def _diff_matrix(grid: PeriodicGrid, axis: int) -> np.ndarray:
    """Spectral differentiation matrix along ``axis`` (acting on raveled grid functions)."""
    n = grid.n
    k = 2 * np.pi * np.fft.fftfreq(n, d=grid.h)
    if n % 2 == 0:
        k[n // 2] = 0.0  # Nyquist derivative of a real function is set to 0
    eye = np.eye(n)
    d1 = np.real(np.fft.ifft(1j * k[:, None] * np.fft.fft(eye, axis=0), axis=0))
    if grid.dim == 1:
        return d1
    i1 = np.eye(n)
    return np.kron(d1, i1) if axis == 0 else np.kron(i1, d1)


def linear_operator(kernel: RadialKernel, grid: PeriodicGrid, target) -> np.ndarray:
    r"""Dense matrix of :math:`\mathcal L\psi = \nabla\cdot(p\,\delta m[\psi])` on the grid.

    Parameters
    ----------
    kernel : RadialKernel
    grid : PeriodicGrid
        At most ~2000 points in all (dense matrices).
    target : array_like
        Target density values on the grid, shape ``grid.shape`` or raveled; positive.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, N)``, ``N = n**dim``.
    """
    kernel = _check_kernel(kernel)
    if not isinstance(grid, PeriodicGrid):
        raise TypeError("grid must be a PeriodicGrid")
    N = grid.n**grid.dim
    if N > 4096:
        raise ValueError(f"grid has {N} points; the dense operator is limited to 4096")
    p = np.asarray(target, dtype=np.float64).ravel()
    if p.size != N:
        raise ValueError(f"target must have {N} values (grid.shape={grid.shape}), got {p.size}")
    if not np.isfinite(p).all() or (p <= 0).any():
        raise ValueError("target must be finite and > 0 everywhere on the grid")
    Phi, G = _dense_periodic_kernel(kernel, grid)
    D = Phi @ p
    Nvec = [g @ p for g in G]
    out = np.zeros((N, N))
    for a in range(grid.dim):
        dm = -G[a] / D[:, None] + (Nvec[a] / D**2)[:, None] * Phi  # delta m_a = dm @ psi
        out += _diff_matrix(grid, a) @ (p[:, None] * dm)
    return out


def operator_spectrum(kernel: RadialKernel, grid: PeriodicGrid, target) -> dict:
    """Eigen-decomposition of :func:`linear_operator`: rates, imaginary parts, dominant wave numbers.

    Returns
    -------
    dict
        ``rates`` (N,) = -Re(eigenvalues) ascending; ``imag`` (N,) the matching imaginary
        parts; ``k_dominant`` (N,) the |k| carrying most of each eigenvector's energy;
        ``max_imag`` the largest |imaginary part| (0 for a self-adjoint-like operator).
    """
    Lop = linear_operator(kernel, grid, target)
    mu, vec = np.linalg.eig(Lop)
    order = np.argsort(-mu.real)
    mu, vec = mu[order], vec[:, order]
    ks = grid.wavevectors()
    kmag = np.sqrt(sum(k.ravel() ** 2 for k in ks))
    vh = np.fft.fftn(vec.reshape(grid.shape + (-1,)), axes=tuple(range(grid.dim))).reshape(-1, vec.shape[1])
    kdom = kmag[np.argmax(np.abs(vh), axis=0)]
    return {"rates": -mu.real, "imag": mu.imag, "k_dominant": kdom, "max_imag": float(np.max(np.abs(mu.imag)))}


def periodic_gmm_density(grid: PeriodicGrid, means, sigmas, weights) -> np.ndarray:
    """A normalised mixture of wrapped Gaussians on the grid's torus (1-D or 2-D, isotropic)."""
    xs = grid.coordinates()
    L = grid.length
    means = np.atleast_2d(np.asarray(means, dtype=np.float64))
    if means.shape[1] != grid.dim:
        means = means.reshape(-1, grid.dim)
    sig = np.asarray(sigmas, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    if not (len(sig) == len(w) == len(means)) or (sig <= 0).any() or (w <= 0).any():
        raise ValueError("means, sigmas and weights must have matching lengths; sigmas, weights > 0")
    dens = np.zeros(grid.shape)
    m_img = int(math.ceil(10 * sig.max() / L)) + 1
    for mu, s, wt in zip(means, sig, w):
        comp = np.ones(grid.shape)
        for x, m in zip(xs, mu):
            acc = np.zeros(grid.shape)
            for j in range(-m_img, m_img + 1):
                acc += np.exp(-((x - m + j * L) ** 2) / (2 * s * s))
            comp *= acc / (math.sqrt(2 * math.pi) * s)
        dens += wt * comp
    dens /= np.sum(dens) * grid.h**grid.dim
    return dens
