"""Building blocks of the simulation experiments, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import assert_close
from driftlab.kernels import Gaussian, Laplace
from driftlab.simulation import mode_amplitudes, torus_mode_problem
from driftlab.spectral import euler_rate, rate
from driftlab.spectral.schedules import ConstantSchedule, ExponentialSchedule

pytest.importorskip("torch")


def test_quantile_target_has_the_prescribed_fourier_coefficients():
    from analysis.simulation_anneal import quantile_target_1d

    modes, amp, m = [1, 2, 4, 8], 0.1, 2000
    y = quantile_target_1d(m, modes, amp)
    k = 2 * np.pi * np.array([[1.0], [2.0], [4.0], [8.0], [3.0]])
    coef = np.exp(1j * (y @ k.T)).mean(axis=0)
    # p = 1 + amp sum cos(2 pi n x) has E_p[cos 2 pi n x] = amp / 2 (n in modes), 0 otherwise;
    # stratified quantiles integrate smooth periodic functions with error O((n / m)^2) ~ 2e-5
    assert_close(coef.real, [amp / 2] * 4 + [0.0], atol=1e-4, what="quantile target coefficients")
    assert_close(coef.imag, np.zeros(5), atol=1e-4, what="imaginary parts")


def test_mode_problem_initial_amplitude():
    eps = 0.05
    for dim, mode in ((1, (3,)), (2, (2, 1))):
        x, y, k = torus_mode_problem(1024 if dim == 1 else 32**2, 64, dim, mode=mode, eps=eps)
        a = mode_amplitudes(x, y, k[None, :])[0]
        # displacement construction: density 1 + eps cos(k.x) + O(eps^2) -> coefficient eps/2 + O(eps^2)
        assert abs(a.real - eps / 2) < 2 * eps**2 and abs(a.imag) < 1e-12


def test_euler_time_matches_closed_form_for_fixed_bandwidth():
    from analysis.simulation_anneal import euler_time

    kern, eta, eps = Laplace(0.05), 0.5, 0.1
    k = 2 * np.pi * 3
    lam = float(rate(kern, k, 1))
    expected = eta * math.ceil(math.log(1 / eps) / (eta * float(euler_rate(lam, eta))) - 1e-12)
    got = euler_time(kern, [k], eps, ConstantSchedule(0.05), eta, 1, 100.0)
    assert got == pytest.approx(expected, abs=1e-12)
    # annealing from a coarse s0: the stepped damping must reach at least the continuous one's
    # target no later than the cap, and an inadmissible rate must never converge
    assert math.isinf(euler_time(Gaussian(1.0), [2 * np.pi * 8], 1e-3, ExponentialSchedule(0.2, 2.0), 0.5, 1, 60.0))


def test_ladder_and_fit():
    from analysis.simulation_anneal import ladder
    from analysis.simulation_modes import _fit

    assert ladder(16) == [1, 2, 4, 8, 16]
    t = np.arange(10.0)
    assert _fit(t, 0.3 * np.exp(-0.25 * t)) == pytest.approx(0.25, rel=1e-12)  # exact exponential
