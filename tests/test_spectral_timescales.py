"""Schedules (accumulated damping) and convergence times T(K; eps)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from driftlab.kernels import Gaussian, Laplace, Matern, Wendland
from driftlab.spectral import (
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    LinearSchedule,
    StepSchedule,
    admissible_rate,
    anneal_table,
    best_fixed_bandwidth,
    convergence_time,
    fit_law,
    make_schedule,
    min_initial_bandwidth,
    mode_times,
    rate,
)
from tests.conftest import assert_close

KERNELS = [Gaussian(1.0), Laplace(1.0), Matern(1.0, nu=2.5)]
K = np.array([0.3, 1.0, 2.0, 5.0, 17.0])


# ---------------------------------------------------------------- accumulated damping
def test_exponential_gaussian_matches_stated_formula():
    # A_k(T) = (1/r)[exp(-s(T)^2 k^2/2) - exp(-s0^2 k^2/2)]: the stated formula typed out.
    s0, r, t = 2.0, 0.15, np.array([0.0, 1.0, 7.0, 40.0])
    sT = s0 * np.exp(-r * t)
    for k in (0.5, 3.0):
        expected = (np.exp(-(sT * k) ** 2 / 2) - np.exp(-(s0 * k) ** 2 / 2)) / r
        got = ExponentialSchedule(s0, r).accumulated_damping(Gaussian(1.0), k, t)
        assert_close(got, expected, rtol=1e-14, atol=1e-15, what="gaussian A_k")


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
@pytest.mark.parametrize("schedule", [
    ExponentialSchedule(3.0, 0.2), ExponentialSchedule(3.0, 0.2, s_min=0.1), StepSchedule.halving(2.0, 4, 3.0),
    ConstantSchedule(0.7)], ids=repr)
@pytest.mark.parametrize("dim", [1, 3])
def test_closed_forms_match_quadrature(kernel, schedule, dim):
    # Composite 32-point Gauss-Legendre on 400 panels per smooth piece of a smooth integrand:
    # error far below 1e-12; closed forms are round-off exact.
    t = np.array([0.5, 4.0, 30.0])
    for k in K:
        assert_close(schedule.accumulated_damping(kernel, k, t, dim),
                     schedule.quadrature(kernel, k, t, dim, panels=400), rtol=1e-11, atol=1e-13,
                     what=f"A_k k={k}")


def test_linear_gaussian_vs_erf_closed_form():
    # Independent oracle: with x = s k, int x^2 e^{-x^2/2} dx = -x e^{-x^2/2} + sqrt(pi/2) erf(x/sqrt2);
    # A_k(t) = D/((s0 - s1) k) [G(s0 k) - G(s(t) k)]. Quadrature error ~1e-14; the oracle
    # itself cancels two O(1) numbers, so an absolute round-off of ~1e-15 is allowed.
    s0, s1, D = 2.0, 0.1, 10.0
    sch = LinearSchedule(s0, s1, D)

    def G(x):
        return -x * np.exp(-x * x / 2) + math.sqrt(math.pi / 2) * special.erf(x / math.sqrt(2))

    for k in (0.5, 2.0, 9.0):
        for t in (2.0, 10.0):
            st_ = float(sch.bandwidth(t))
            expected = D / ((s0 - s1) * k) * (G(s0 * k) - G(st_ * k))
            assert_close(sch.accumulated_damping(Gaussian(1.0), k, t), expected, rtol=1e-12, atol=1e-15,
                         what="linear A_k")


def test_cosine_and_linear_bandwidths():
    c = CosineSchedule(2.0, 0.5, 4.0)
    assert_close(c.bandwidth([0.0, 2.0, 4.0, 9.0]), [2.0, 1.25, 0.5, 0.5], rtol=1e-15, what="cosine s(t)")
    assert_close(LinearSchedule(2.0, 0.5, 4.0).bandwidth([1.0, 5.0]), [1.625, 0.5], rtol=1e-15, what="linear s(t)")


@given(s0=st.floats(0.05, 10), r=st.floats(1e-3, 5), k=st.floats(1e-3, 100), t=st.floats(0, 1e3))
def test_exponential_damping_is_bounded_by_one_over_r(s0, r, k, t):
    for kern in (Gaussian(1.0), Laplace(1.0)):
        sch = ExponentialSchedule(s0, r)
        a = float(sch.accumulated_damping(kern, k, t))
        lim = float(sch.limit_damping(kern, k))
        assert -1e-12 <= a <= lim * (1 + 1e-12) + 1e-15
        assert lim <= 1.0 / r


# ---------------------------------------------------------------- convergence times
def test_mode_times_hit_the_target_by_quadrature():
    # The root found for each mode is checked with the independent quadrature of A_k
    # (GL32 x 300 panels: error << 1e-10). r = 0.1 < r_max for all these modes at eps = 1e-2.
    M = math.log(1e2)
    K = np.array([1.0, 2.0, 5.0, 17.0])
    for kern in KERNELS:
        for sch in (ExponentialSchedule(3.0, 0.1), LinearSchedule(3.0, 0.1, 20.0), CosineSchedule(3.0, 0.1, 20.0),
                    StepSchedule.halving(3.0, 5, 4.0), ExponentialSchedule(3.0, 0.1, 0.05)):
            T = mode_times(kern, K, 1e-2, sch, dim=2)
            A = np.array([float(sch.quadrature(kern, k, t, dim=2, panels=300)) for k, t in zip(K, T)])
            assert_close(A, np.full_like(A, M), rtol=1e-10, what=f"{kern!r} {sch!r}")


def test_gaussian_annealed_time_closed_form_and_doubling():
    # T_k = (1/r) log(s0 / s_T), s_T^2 k^2 / 2 = -log(M r + exp(-s0^2 k^2/2)); typed out.
    s0, r, eps = 3.0, 0.1, 1e-2
    M = math.log(1 / eps)
    k = np.arange(1, 33, dtype=float)
    sT = np.sqrt(-2 * np.log(M * r + np.exp(-(s0 * k) ** 2 / 2))) / k
    assert_close(mode_times(Gaussian(1.0), k, eps, ExponentialSchedule(s0, r)), np.log(s0 / sT) / r,
                 rtol=1e-12, what="T_k")
    T = [convergence_time(Gaussian(1.0), np.arange(1, n + 1), eps, ExponentialSchedule(s0, r)) for n in (64, 128)]
    # For K >= 8, e^{-s0^2K^2/2} < 1e-100, so each doubling adds exactly log 2 / r (round-off).
    assert_close(T[1] - T[0], math.log(2) / r, rtol=1e-10, what="doubling cost")


def test_admissible_rate_and_initial_bandwidth_boundaries():
    modes, eps, s0 = np.arange(1, 9), 1e-2, 2.0
    for kern in (Gaussian(1.0), Laplace(1.0)):
        rmax = admissible_rate(kern, modes, eps, s0)
        assert math.isfinite(convergence_time(kern, modes, eps, ExponentialSchedule(s0, rmax * (1 - 1e-6))))
        assert convergence_time(kern, modes, eps, ExponentialSchedule(s0, rmax * (1 + 1e-6))) == math.inf
        r = 0.5 * rmax
        s_min0 = min_initial_bandwidth(kern, 1.0, eps, r)
        assert math.isfinite(convergence_time(kern, modes, eps, ExponentialSchedule(s_min0 * (1 + 1e-6), r)))
        assert convergence_time(kern, modes, eps, ExponentialSchedule(s_min0 * (1 - 1e-6), r)) == math.inf
    with pytest.raises(ValueError, match="admissible bound"):
        min_initial_bandwidth(Gaussian(1.0), 1.0, eps, 1.01 / math.log(100))


def test_best_fixed_bandwidth_beats_dense_scan_and_equalises_ends():
    # Brute force over 20001 log-spaced bandwidths is the independent oracle: the optimiser
    # must do at least as well (up to 1e-9 relative, the scan spacing being ~1e-4).
    for kern in (Gaussian(1.0), Laplace(1.0)):
        for Kmax in (2, 8, 32):
            modes = np.arange(1, Kmax + 1, dtype=float)
            s, lam = best_fixed_bandwidth(kern, modes)
            grid = np.logspace(-4, 1, 20001)
            scan = np.array([rate(kern, modes * g, 1).min() for g in grid[::20]]).max()
            assert lam >= scan * (1 - 1e-9)
            # unimodal rate: the optimum equalises the lowest and the highest mode
            assert_close(rate(kern, s * 1.0, 1), rate(kern, s * Kmax, 1), rtol=1e-6, what="equalised ends")


def test_asymptotic_laws():
    M = math.log(100)
    Ks = np.array([64, 128, 256, 512, 1024], dtype=float)
    # Fixed Laplace in d dims: T = M / lambda(K) ~ K^{d+1}; at tau K >= 64 the relative
    # correction to the slope is ~ (d+3)/(tau K)^2 < 2e-3.
    for d in (1, 2, 3):
        T = [convergence_time(Laplace(1.0), np.arange(1, int(k) + 1), 1e-2, dim=d) for k in Ks]
        fit = fit_law(Ks, T, "power")
        assert abs(fit["slope"] - (d + 1)) < 5e-3 and fit["r2"] > 0.99999
    # Fixed Gaussian s = 1: log T = log M + K^2/2 - 2 log K: slope in K^2 -> 1/2; the log term
    # biases the local slope by -1/K^2, i.e. at most 1/400 = 0.5% of 1/2 over K = 20..30.
    Kg = np.arange(20, 31, dtype=float)
    T = [convergence_time(Gaussian(1.0), np.arange(1, int(k) + 1), 1e-2) for k in Kg]
    fit = fit_law(Kg, T, "exp-k2")
    assert abs(fit["slope"] - 0.5) < 0.005 * 0.5 and fit["r2"] > 0.99999
    # Annealed Gaussian: T = const + log(K)/r exactly once e^{-s0^2 K^2/2} is negligible.
    T = [convergence_time(Gaussian(1.0), np.arange(1, int(k) + 1), 1e-2, ExponentialSchedule(3.0, 0.1)) for k in Ks]
    fit = fit_law(Ks, T, "log")
    assert_close(fit["slope"], 10.0, rtol=1e-9, what="1/r")
    assert fit["r2"] > 1 - 1e-12
    assert M > 0


def test_anneal_table_columns_and_ordering():
    rows = anneal_table(Gaussian(1.0), [1, 4, 16], 1e-2, s0=3.0, r=0.1)
    assert [r["K"] for r in rows] == [1, 4, 16]
    assert rows[-1]["T_annealed"] < rows[-1]["T_tuned"] < rows[-1]["T_fixed"]


# ---------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="r must be > 0"):
        ExponentialSchedule(1.0, -0.1)
    with pytest.raises(ValueError, match="s_min must be < s0"):
        ExponentialSchedule(1.0, 0.1, s_min=2.0)
    with pytest.raises(ValueError, match="durations"):
        StepSchedule((1.0, 0.5), (1.0, 1.0))
    with pytest.raises(ValueError, match="eps must be in"):
        convergence_time(Gaussian(1.0), [1.0], 1.5)
    with pytest.raises(ValueError, match="modes must be > 0"):
        convergence_time(Gaussian(1.0), [0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="t must be finite"):
        ConstantSchedule(1.0).accumulated_damping(Gaussian(1.0), 1.0, -1.0)
    with pytest.raises(TypeError, match="schedule"):
        convergence_time(Gaussian(1.0), [1.0], 0.1, schedule="fast")
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("zigzag", 1.0)
    with pytest.raises(ValueError, match="law"):
        fit_law([1, 2, 3], [1, 2, 3], "cubic")
    with pytest.raises(ValueError, match="finite"):
        fit_law([1, 2, 3], [1, 2, math.inf], "log")
    # Wendland works through the numerical path (no closed form), with finite times.
    assert math.isfinite(convergence_time(Wendland(1.0), [1.0, 2.0], 0.1))


def test_tuned_fixed_bandwidth_asymptotics():
    # Derived here (not stated in the papers): equalising the lowest and highest mode gives
    #   Gaussian: T* -> M K^2 / (4 log K)   (ratio 1 + O(log log K / log K); measured 1.00001 at K = 1e3),
    #   Laplace:  T* ~ K^{2(d+1)/(d+3)}     (local log-log slope over K = 1e3..1e6 within 1e-3).
    # Only the end modes matter for a unimodal rate, so modes = [1, K].
    M = math.log(100)
    for K in (1e3, 1e4):
        T = M / best_fixed_bandwidth(Gaussian(1.0), [1.0, K])[1]
        assert_close(T * 4 * math.log(K) / (M * K**2), 1.0, rtol=2e-5, what="gaussian K^2/(4 log K)")
    Ks = np.array([1e3, 1e4, 1e5, 1e6])
    for d in (1, 3):
        T = [M / best_fixed_bandwidth(Laplace(1.0), [1.0, K], d)[1] for K in Ks]
        assert abs(fit_law(Ks, T, "power")["slope"] - 2 * (d + 1) / (d + 3)) < 2e-3


def test_make_schedule_by_name():
    # The names used by the particle simulator; exact values by construction.
    assert isinstance(make_schedule("constant", 0.5), ConstantSchedule)
    e = make_schedule("exponential", 2.0, r=0.5, s_min=0.1)
    assert_close(e.bandwidth([0.0, 1.0, 100.0]), [2.0, 2.0 * math.exp(-0.5), 0.1], rtol=1e-15, what="exp s(t)")
    st_ = make_schedule("step", 3.0, s1=0.02, duration=2.0)
    assert st_.values[0] == 3.0 and st_.values[-1] == pytest.approx(0.02, rel=1e-14)
    assert max(a / b for a, b in zip(st_.values, st_.values[1:])) <= 2.0
    assert_close(st_.bandwidth(1e9), 0.02, rtol=1e-14, what="final level")
    assert isinstance(make_schedule("cosine", 2.0, s1=0.1, duration=5.0), CosineSchedule)
    with pytest.raises(ValueError, match="needs r"):
        make_schedule("exponential", 2.0)


@given(s0=st.floats(0.1, 5), s1=st.floats(0.01, 0.09), D=st.floats(0.5, 50), k=st.floats(0.1, 40),
       t=st.lists(st.floats(0, 200), min_size=2, max_size=6))
def test_accumulated_damping_is_nondecreasing_in_time(s0, s1, D, k, t):
    # lambda >= 0, so A_k(t) must be non-decreasing along every schedule (1e-12 slack for round-off).
    t = np.sort(np.array(t))
    for sch in (ExponentialSchedule(s0, 1.0 / D), ExponentialSchedule(s0, 1.0 / D, s_min=s1), LinearSchedule(s0, s1, D),
                CosineSchedule(s0, s1, D), make_schedule("step", s0, s1=s1, duration=D / 4)):
        for kern in (Gaussian(1.0), Laplace(1.0)):
            a = sch.accumulated_damping(kern, k, t)
            assert np.all(np.diff(a) >= -1e-12 * max(1.0, float(np.abs(a).max())))


@given(s0=st.floats(0.1, 10), factor=st.floats(1.01, 10), r=st.floats(0.01, 1), k=st.floats(0.05, 5))
def test_coarser_start_accumulates_more_damping(s0, factor, r, k):
    # A_k(inf) = (1 - E(k; s0))/r increases with s0 (E decreasing in s k): the "coarse enough" rule.
    for kern in (Gaussian(1.0), Laplace(1.0), Matern(1.0, nu=2.5)):
        a1 = float(ExponentialSchedule(s0, r).limit_damping(kern, k))
        a2 = float(ExponentialSchedule(s0 * factor, r).limit_damping(kern, k))
        assert a2 >= a1 - 1e-15


def test_schedule_to_dict():
    assert ExponentialSchedule(2.0, 0.1).to_dict() == {"kind": "exponential", "s0": 2.0, "r": 0.1, "s_min": 0.0}
    assert StepSchedule((1.0, 0.5), (2.0,)).to_dict() == {"kind": "step", "values": [1.0, 0.5], "durations": [2.0]}


@pytest.mark.parametrize("s", [1e-150, 1e-100, 1e100, 1e150])
def test_timescales_at_extreme_length_scales_are_scale_invariant(s):
    """lambda(k; s) and E(k; s) depend on s k only, so times at length scale s and wave
    numbers k/s equal the unit-scale ones. At s = 1e-100 the best fixed bandwidth's rate was
    off by 2e-6 (the optimiser's tolerance is relative to |log s| ~ 230) and the IMQ's
    min_initial_bandwidth could not bracket its root (s_hi carried a stray factor ell).
    Tolerance 1e-12 relative: round-off of the rescaled arguments, brentq xtol 1e-14."""
    from driftlab.kernels import InverseMultiquadric

    modes = np.array([1.0, 2.0, 3.0])
    for make in (Gaussian, Laplace, lambda v: InverseMultiquadric(v, 2.0)):
        kern, unit = make(s), make(1.0)
        sched, sched1 = ExponentialSchedule(2 * s, 0.1), ExponentialSchedule(2.0, 0.1)
        assert_close(convergence_time(kern, modes / s, 0.1, sched), convergence_time(unit, modes, 0.1, sched1),
                     rtol=1e-12, what=f"{kern!r} annealed T")
        b, b1 = best_fixed_bandwidth(kern, modes / s), best_fixed_bandwidth(unit, modes)
        assert_close(b[0] / s, b1[0], rtol=1e-10, what=f"{kern!r} s*")  # optimiser xatol 1e-12 in log s
        assert_close(b[1], b1[1], rtol=1e-12, what=f"{kern!r} best min rate")
        assert_close(min_initial_bandwidth(kern, 1 / s, 0.1, 0.1) / s, min_initial_bandwidth(unit, 1.0, 0.1, 0.1),
                     rtol=1e-12, what=f"{kern!r} s0 min")
        assert_close(admissible_rate(kern, modes / s, 0.1, s), admissible_rate(unit, modes, 0.1, 1.0),
                     rtol=1e-12, what=f"{kern!r} r max")


@pytest.mark.parametrize("s", [1e-150, 1e150])
def test_schedules_at_extreme_length_scales(s):
    """Every schedule at bandwidths ~s and wave numbers ~1/s damps exactly as at unit scale
    (A_k depends on s k only): closed forms and the Gauss-Legendre quadrature both agree with
    the unit-scale closed form to round-off (1e-14 relative)."""
    pairs = [(ExponentialSchedule(2 * s, 0.1, s_min=s / 2), ExponentialSchedule(2.0, 0.1, s_min=0.5)),
             (ExponentialSchedule(2 * s, 0.1), ExponentialSchedule(2.0, 0.1)),
             (LinearSchedule(2 * s, s / 2, 3.0), LinearSchedule(2.0, 0.5, 3.0)),
             (CosineSchedule(2 * s, s / 2, 3.0), CosineSchedule(2.0, 0.5, 3.0)),
             (StepSchedule.halving(2 * s, 3, 1.0), StepSchedule.halving(2.0, 3, 1.0)),
             (ConstantSchedule(s), ConstantSchedule(1.0))]
    k = np.array([1.0, 3.0])
    for sch, unit in pairs:
        for kern in (Gaussian(1.0), Laplace(1.0)):
            want = unit.accumulated_damping(kern, k, 5.0)
            assert_close(sch.accumulated_damping(kern, k / s, 5.0), want, rtol=1e-14, what=f"{sch!r} A_k")
            assert_close(sch.quadrature(kern, k / s, 5.0), want, rtol=1e-14, what=f"{sch!r} quadrature")


def test_best_fixed_bandwidth_is_exact_to_round_off():
    """The bounded search alone stops ~1e-8 relative from the optimum (its tolerance is
    relative to |log s|); the optimum is polished to round-off. Closed forms: one mode at the
    peak s k = sqrt(2) (Gaussian) or sqrt(2/(d+1)) (Laplace); modes 1 and 2 of a Gaussian
    cross where x e^(-x/2) = 4x e^(-2x), i.e. s^2 = (4/3) log 2. Tolerance 1e-14 relative."""
    s, lam = best_fixed_bandwidth(Gaussian(1.0), [1.0], 2)
    assert_close(s, math.sqrt(2.0), rtol=1e-14, what="gaussian one-mode s*")
    assert_close(lam, 2 / math.e, rtol=1e-14, what="gaussian peak rate")
    s, _ = best_fixed_bandwidth(Laplace(1.0), [1.0], 2)
    assert_close(s, math.sqrt(2.0 / 3.0), rtol=1e-14, what="laplace one-mode s*")
    s, lam = best_fixed_bandwidth(Gaussian(1.0), [1.0, 2.0], 3)
    x = 4.0 * math.log(2.0) / 3.0
    assert_close(s, math.sqrt(x), rtol=1e-14, what="gaussian two-mode s*")
    assert_close(lam, x * math.exp(-x / 2), rtol=1e-14, what="gaussian two-mode rate")
