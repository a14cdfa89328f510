"""Linear operator around non-uniform targets: checks against the nonlinear solver and lambda(k)."""

from __future__ import annotations

import numpy as np
import pytest

from driftlab.kernels import Gaussian, Laplace
from driftlab.spectral import rate
from driftlab.spectral.grid import PeriodicGrid, PeriodicKernel, _rhs
from driftlab.spectral.nonuniform import linear_operator, operator_spectrum, periodic_gmm_density
from tests.conftest import assert_close


@pytest.mark.parametrize("kernel", [Gaussian(0.5), Laplace(0.5)], ids=repr)
def test_uniform_target_reproduces_lambda(kernel):
    # Dense direct sums on n = 128 (h = 0.049): Gaussian spectrally exact (1e-10); Laplace has
    # the O(h^2) trapezoid error of its kink, measured 7.6e-4 at n = 128 for k <= 4.
    grid = PeriodicGrid(128)
    spec = operator_spectrum(kernel, grid, np.ones(128))
    low = (spec["k_dominant"] > 0) & (spec["k_dominant"] <= 4)
    assert low.sum() == 8  # cos and sin for k = 1..4
    tol = 1e-10 if isinstance(kernel, Gaussian) else 2e-3
    assert_close(spec["rates"][low], rate(kernel, spec["k_dominant"][low]), rtol=tol, what="uniform spectrum")
    assert spec["max_imag"] < 1e-12


@pytest.mark.parametrize("kernel", [Gaussian(0.6), Laplace(0.4)], ids=repr)
def test_operator_is_the_derivative_of_the_nonlinear_solver(kernel):
    # Independent check of the linearisation: central difference (step 1e-5) of the FFT-based
    # nonlinear right-hand side of driftlab.spectral.grid around a GMM target. Truncation error
    # ~eps^2 * |F'''| ~ 1e-10, round-off ~1e-16/1e-5 = 1e-11, relative to |L psi| ~ 1.
    grid = PeriodicGrid(64)
    p = periodic_gmm_density(grid, [[1.5], [4.5]], [0.5, 0.7], [0.3, 0.7])
    rng = np.random.default_rng(0)
    psi = np.real(np.fft.ifft(np.fft.fft(rng.standard_normal(64)) * (np.abs(np.fft.fftfreq(64, 1 / 64)) <= 6)))
    psi -= psi.mean()
    pk = PeriodicKernel(kernel, grid)
    f = _rhs(pk, p, pk.mean_shift(p), "nonlinear")
    eps = 1e-5
    fd = (f(p + eps * psi) - f(p - eps * psi)) / (2 * eps)
    Lpsi = linear_operator(kernel, grid, p) @ psi
    assert_close(Lpsi, fd, atol=1e-7 * np.abs(fd).max(), what="L psi vs finite difference")


def test_mass_conservation_and_equilibrium():
    # 1^T L = 0 (divergence form conserves mass) and L p = 0 (q = (1 + eps) p is still an
    # equilibrium: V_{p,cp} = 0); both to round-off relative to the operator norm.
    grid = PeriodicGrid(48)
    p = periodic_gmm_density(grid, [[2.0]], [0.8], [1.0]) + 0.05
    Lop = linear_operator(Laplace(0.5), grid, p)
    scale = np.abs(Lop).max()
    assert np.abs(Lop.sum(axis=0)).max() < 1e-11 * scale * 48
    assert np.abs(Lop @ p).max() < 1e-11 * scale * np.abs(p).sum()
    spec = operator_spectrum(Laplace(0.5), grid, p)
    assert np.all(spec["rates"] > -1e-10)  # linearly stable: no growing mode


def test_bad_target():
    grid = PeriodicGrid(16)
    with pytest.raises(ValueError, match="> 0"):
        linear_operator(Gaussian(1.0), grid, np.zeros(16))
    with pytest.raises(ValueError, match="16 values"):
        linear_operator(Gaussian(1.0), grid, np.ones(10))


def test_gaussian_operator_is_tweedie_form_and_not_a_gradient_flow():
    # For the Gaussian kernel delta m = s^2 grad((phi*psi)/(phi*p)) (Tweedie), so L must equal
    # s^2 div(p grad(D^{-1} C psi)) assembled independently from the same matrices (the discrete
    # identity holds up to aliasing: 7e-6 relative at n = 64, 3e-13 at n = 128; we use n = 128). Around a GMM that operator has a complex pair (-0.4863 +- 0.0694i,
    # converged: identical to 1e-12 at n = 64, 128, 256), whereas the Wasserstein gradient flow of
    # KL(q_s || p_s) -- one extra convolution, s^2 div(p grad(C D^{-1} C psi)) -- has a real
    # spectrum: drifting relaxes with a weak oscillation around non-uniform targets.
    from driftlab.spectral.nonuniform import _dense_periodic_kernel, _diff_matrix

    grid = PeriodicGrid(128)
    p = periodic_gmm_density(grid, [[1.5], [4.5]], [0.5, 0.7], [0.3, 0.7])
    s = 0.5
    Lop = linear_operator(Gaussian(s), grid, p)
    Phi, _ = _dense_periodic_kernel(Gaussian(s), grid)
    D = Phi @ p
    Dx = _diff_matrix(grid, 0)
    A = Dx @ (p[:, None] * Dx)
    # Phi is the unnormalised sampled kernel; the s^2 of Tweedie pairs with grad phi = -g/s^2.
    tweedie = s**2 * A @ (Phi / D[:, None])
    assert np.abs(tweedie - Lop).max() < 1e-9 * np.abs(Lop).max()
    mu = np.linalg.eigvals(Lop)
    i = np.argmax(np.abs(mu.imag))
    assert_close(mu[i].real, -0.48626312871, rtol=1e-9, what="complex pair real part")
    assert_close(abs(mu[i].imag), 0.0694354051578, rtol=1e-9, what="complex pair imaginary part")
    wgf = s**2 * A @ (Phi @ (Phi / D[:, None]))
    assert np.abs(np.linalg.eigvals(wgf).imag).max() < 1e-12 * np.abs(wgf).max()


@pytest.mark.slow
def test_complex_pair_is_converged_in_the_grid():
    # The complex pair around the GMM target is a property of the continuum operator, not of
    # the grid: Gaussian identical to 1e-9 at n = 128 and 256; Laplace converges like h^2
    # (imaginary part 0.08321 at n = 128, 0.08309 at n = 256: change < 2e-4).
    vals = {}
    for n in (128, 256):
        grid = PeriodicGrid(n)
        p = periodic_gmm_density(grid, [[1.5], [4.5]], [0.5, 0.7], [0.3, 0.7])
        for kern in (Gaussian(0.5), Laplace(0.5)):
            mu = np.linalg.eigvals(linear_operator(kern, grid, p))
            vals[(repr(kern), n)] = float(np.max(np.abs(mu.imag)))
    assert abs(vals[("Gaussian(bandwidth=0.5)", 128)] - vals[("Gaussian(bandwidth=0.5)", 256)]) < 1e-9
    assert abs(vals[("Laplace(temperature=0.5)", 128)] - vals[("Laplace(temperature=0.5)", 256)]) < 2e-4
    assert vals[("Laplace(temperature=0.5)", 256)] > 0.08
