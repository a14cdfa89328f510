"""Independent grid solver of the continuity equation vs the rate formula lambda(k) = -k E'(k)."""

from __future__ import annotations

import numpy as np
import pytest

from driftlab.kernels import Gaussian, Laplace, Matern
from driftlab.spectral import CosineSchedule, ExponentialSchedule, StepSchedule, euler_rate, rate
from driftlab.spectral.grid import PeriodicGrid, measure_mode_rates, simulate_modes
from tests.conftest import assert_close

MODES_1D = [(1,), (2,), (3,), (6,)]


def test_linear_gaussian_1d_matches_to_round_off():
    # Gaussian periodised kernel sampled at h = 2pi/64 (s = 0.5): trapezoid error ~e^{-(pi s/h)^2}
    # (negligible), RK4 with lambda dt <= 0.0074 -> error ~1e-11 relative. Tolerance 1e-9.
    res = measure_mode_rates(Gaussian(0.5), PeriodicGrid(64), MODES_1D, t_end=1.0, dt=0.01)
    assert_close(res["measured"], rate(Gaussian(0.5), res["k"]), rtol=1e-9, what="gaussian 1-D linear")


@pytest.mark.parametrize("kernel", [Laplace(0.5), Matern(0.5, nu=1.5)], ids=repr)
def test_linear_rough_kernels_1d_converge_with_grid(kernel):
    # Laplace has a kink at 0: the trapezoid sums converge like h^2 (measured error 2.0e-4 at
    # n = 256, 1.25e-5 at n = 1024: a factor 16 for 4x finer). Matérn-3/2 is C^2: error ~3e-10.
    errs = []
    for n in (256, 1024):
        res = measure_mode_rates(kernel, PeriodicGrid(n), MODES_1D, t_end=0.5, dt=0.01)
        errs.append(np.max(np.abs(res["measured"] / rate(kernel, res["k"]) - 1)))
    assert errs[1] < 2e-5
    if isinstance(kernel, Laplace):
        assert 12 < errs[0] / errs[1] < 20  # second-order convergence of the kink


def test_nonlinear_small_amplitude_matches_linear_rate():
    # Full nonlinear equation with a 1e-6 perturbation: the rate error is O(amplitude) from mode
    # coupling (measured ~1e-4 at amplitude 1e-4), so 1e-5 at amplitude 1e-6 is generous.
    res = measure_mode_rates(Gaussian(0.5), PeriodicGrid(64), MODES_1D, t_end=1.0, dt=0.01,
                             kind="nonlinear", amplitude=1e-6)
    assert_close(res["measured"], rate(Gaussian(0.5), res["k"]), rtol=1e-5, what="nonlinear 1-D")
    lap = measure_mode_rates(Laplace(0.5), PeriodicGrid(1024), [(1,), (3,)], t_end=0.5, dt=0.01,
                             kind="nonlinear", amplitude=1e-6)
    # plus the h^2 discretisation error of the kink (1.3e-5 at n = 1024)
    assert_close(lap["measured"], rate(Laplace(0.5), lap["k"]), rtol=3e-5, what="nonlinear laplace")


def test_two_dimensional_modes():
    # 2-D lattice modes |k| = 1, sqrt2, sqrt5, 3 on the 2pi torus; same error budget as 1-D.
    modes = [(1, 0), (1, 1), (2, 1), (3, 0)]
    res = measure_mode_rates(Gaussian(0.5), PeriodicGrid(32, dim=2), modes, t_end=0.5, dt=0.01)
    assert_close(res["measured"], rate(Gaussian(0.5), res["k"], dim=2), rtol=1e-9, what="gaussian 2-D")
    res = measure_mode_rates(Gaussian(0.5), PeriodicGrid(32, dim=2), modes, t_end=0.5, dt=0.01,
                             kind="nonlinear", amplitude=1e-6)
    assert_close(res["measured"], rate(Gaussian(0.5), res["k"], dim=2), rtol=1e-5, what="gaussian 2-D nonlinear")
    # Laplace in 2-D: the d-dependent rate 3 tau^2k^2/(1+tau^2k^2)^{5/2} (not the 1-D one);
    # n = 128 has a measured discretisation error of 4.4e-6.
    res = measure_mode_rates(Laplace(1.0), PeriodicGrid(128, dim=2), modes, t_end=0.1, dt=0.02)
    assert_close(res["measured"], rate(Laplace(1.0), res["k"], dim=2), rtol=2e-5, what="laplace 2-D")
    assert not np.allclose(res["measured"], rate(Laplace(1.0), res["k"], dim=1), rtol=1e-2)


def test_euler_steps_follow_the_log_correction():
    # Explicit Euler with eta = 0.5: each step multiplies the mode by 1 - eta*lambda exactly,
    # so the measured rate is -log(1 - eta lambda)/eta to round-off (and differs from lambda by 25%).
    res = measure_mode_rates(Gaussian(0.5), PeriodicGrid(64), [(1,), (3,)], t_end=2.0, dt=0.5, method="euler")
    lam = rate(Gaussian(0.5), res["k"])
    assert_close(res["measured"], euler_rate(lam, 0.5), rtol=1e-9, what="euler rate")
    assert np.all(res["measured"] > lam * 1.05)


def test_grid_bad_input():
    with pytest.raises(ValueError, match="dim must be 1 or 2"):
        PeriodicGrid(16, dim=3)
    with pytest.raises(ValueError, match="zero mode"):
        measure_mode_rates(Gaussian(0.5), PeriodicGrid(16), [(0,)])
    with pytest.raises(ValueError, match="Nyquist"):
        measure_mode_rates(Gaussian(0.5), PeriodicGrid(16), [(8,)])
    with pytest.raises(ValueError, match="kind"):
        measure_mode_rates(Gaussian(0.5), PeriodicGrid(16), [(1,)], kind="weird")


@pytest.mark.slow
def test_two_dimensional_laplace_high_resolution():
    # n = 256 in 2-D (65536 points): measured rate error 5.4e-7 (linear) and ~5e-7 plus the
    # O(amplitude) coupling (nonlinear, amplitude 1e-6); tolerance 5e-6.
    modes = [(1, 0), (1, 1), (2, 1), (3, 0)]
    for kind in ("linear", "nonlinear"):
        res = measure_mode_rates(Laplace(1.0), PeriodicGrid(256, dim=2), modes, t_end=0.2, dt=0.02, kind=kind,
                                 amplitude=1e-6)
        assert_close(res["measured"], rate(Laplace(1.0), res["k"], dim=2), rtol=5e-6, what=f"laplace 2-D {kind}")


@pytest.mark.parametrize("schedule", [ExponentialSchedule(1.0, 0.5), StepSchedule.halving(1.0, 3, 0.5),
                                      CosineSchedule(1.0, 0.3, 1.5)], ids=repr)
def test_annealed_grid_solver_follows_accumulated_damping(schedule):
    # Independent check of the schedule theory: the grid solver re-samples the kernel at
    # s(t) at every RK4 stage; each mode must decay like exp(-A_k(t)). Gaussian, linearised:
    # RK4 + sampling error measured <= 2e-10 in log amplitude (tolerance 1e-8).
    out = simulate_modes(Gaussian(1.0), PeriodicGrid(128), [(1,), (3,), (6,)], amplitude=1e-6, t_end=2.0,
                         dt=0.01, schedule=schedule)
    A = np.stack([schedule.accumulated_damping(Gaussian(1.0), k, out["t"]) for k in out["k"]], axis=1)
    assert_close(-np.log(out["amp"]), A, atol=1e-8, what="log amplitude vs -A_k(t)")
    assert A.max() > 0.5  # the check is not vacuous


def test_annealed_nonlinear_laplace():
    # Full nonlinear equation, Laplace tau0 = 1 annealed at r = 0.5, n = 1024: measured 8.3e-6
    # (h^2 kink error + O(amplitude) coupling); tolerance 3e-5 in log amplitude.
    sch = ExponentialSchedule(1.0, 0.5)
    out = simulate_modes(Laplace(1.0), PeriodicGrid(1024), [(1,), (3,), (6,)], amplitude=1e-6, t_end=2.0,
                         dt=0.02, kind="nonlinear", schedule=sch)
    A = np.stack([sch.accumulated_damping(Laplace(1.0), k, out["t"]) for k in out["k"]], axis=1)
    assert_close(-np.log(out["amp"]), A, atol=3e-5, what="nonlinear annealed laplace")
