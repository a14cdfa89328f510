"""A new kernel is one class: registered, it works in rate, peak_rate, rescaling, annealing
schedules and make_kernel without touching any other file."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from conftest import assert_close
from driftlab.kernels import (
    Gaussian,
    Laplace,
    Matern,
    RadialKernel,
    kernel_entry,
    kernel_names,
    make_kernel,
    register_kernel,
    unregister_kernel,
)
from driftlab.spectral import ExponentialSchedule, convergence_time, peak_rate, rate, scaled_kernel


class QuarticExp(RadialKernel):
    """Toy kernel exp(-(r/w)^4): no closed forms at all, length parameter called ``width``."""

    name = "quartic"
    scale_parameter = "width"

    def __init__(self, width: float = 1.0) -> None:
        self.width = float(width)

    @property
    def length_scale(self) -> float:
        return self.width

    @property
    def params(self) -> dict:
        return {"width": self.width}

    def log_profile(self, r):
        u = r / self.width
        return -(u * u) * (u * u)

    def dlog_profile(self, r):
        u = r / self.width
        return -4.0 * u * u * u / self.width


@pytest.fixture
def quartic():
    register_kernel("quartic", QuarticExp, aliases=("quartic-exp",))
    yield QuarticExp
    unregister_kernel("quartic")


def _rate_by_quad(width: float, k: float) -> float:
    """1-D oracle independent of driftlab's Hankel code (scipy QUADPACK)."""
    phi = lambda r: math.exp(-((r / width) ** 4))  # noqa: E731
    # 1-D: E(k) = int phi cos / int phi, E'(k) = -int r phi sin / int phi, so
    # lambda = -k E' = k int r phi sin(kr) / int phi (phi < 1e-1800 beyond 8 widths)
    den = integrate.quad(phi, 0, 8 * width, limit=400)[0]
    num = integrate.quad(lambda r: r * phi(r) * math.sin(k * r), 0, 8 * width, limit=400)[0]
    return k * num / den


def test_registered_toy_kernel_is_built_by_name(quartic):
    assert "quartic" in kernel_names() and "quartic-exp" in kernel_names(aliases=True)
    k = make_kernel("quartic", 0.7)
    assert k == QuarticExp(0.7), k
    assert make_kernel("Quartic_Exp", 0.7) == QuarticExp(0.7)  # case and _/- insensitive
    assert kernel_entry("quartic").factory is QuarticExp
    assert k.capabilities == frozenset({"torch"}), k.capabilities  # no closed forms at all


def test_unregistered_name_lists_the_choices(quartic):
    unregister_kernel("quartic")
    with pytest.raises(ValueError, match="unknown kernel name 'quartic'.*gaussian"):
        make_kernel("quartic", 1.0)
    register_kernel("quartic", QuarticExp)  # for the fixture's teardown


def test_duplicate_registration_is_refused(quartic):
    with pytest.raises(ValueError, match="already registered"):
        register_kernel("quartic", QuarticExp)
    with pytest.raises(ValueError, match="already registered"):
        register_kernel("gaussian", QuarticExp)


def test_toy_kernel_rate_peak_and_rescaling(quartic):
    kern = make_kernel("quartic", 0.7)
    ks = np.array([0.5, 2.0, 5.0])
    got = rate(kern, ks, 1)
    want = [_rate_by_quad(0.7, float(k)) for k in ks]
    # numerical Hankel path vs scipy QUADPACK (abs. error estimates ~1e-14): 1e-11 absolute
    assert_close(got, want, atol=1e-11, what="toy kernel rate", inputs=ks)
    # rescaling by the kernel's own parameter name
    wide = scaled_kernel(kern, 1.4)
    assert wide == QuarticExp(1.4) and kern.with_length_scale(1.4) == QuarticExp(1.4)
    # lambda(k; s) depends on s k only: rate of the rescaled kernel at k/2 equals the original's at k
    assert_close(rate(wide, ks / 2, 1), got, atol=1e-11, what="rescaled toy rate")
    # peak by the generic search; oracle: a dense scan of the QUADPACK rate (spacing 1e-3 in
    # log k: the maximum of a smooth function is within ~1e-7 relative of the scan's best)
    kstar, lmax = peak_rate(kern, 1)
    scan_k = np.exp(np.linspace(math.log(kstar) - 0.05, math.log(kstar) + 0.05, 101))
    scan = max(_rate_by_quad(0.7, float(k)) for k in scan_k)
    assert_close(lmax, scan, rtol=1e-6, what="toy peak")
    assert lmax >= scan * (1 - 1e-9)


def test_toy_kernel_anneals(quartic):
    """An exponential schedule on the toy kernel: the closed form A_k = (E(s(T)) - E(s0))/r
    works through with_length_scale/fourier alone; check against the schedule's own
    Gauss-Legendre quadrature of lambda(k; s(u)) (independent path: rate, not fourier)."""
    kern = make_kernel("quartic", 1.0)
    sched = ExponentialSchedule(2.0, 0.3)
    for k in (0.5, 2.0):
        closed = sched.accumulated_damping(kern, k, 4.0)
        quad = sched.quadrature(kern, k, 4.0, panels=64)
        # both use the numerical Hankel path (round-off ~1e-14) and GL32 on 64 panels: 1e-10
        assert_close(closed, quad, rtol=1e-10, atol=1e-12, what=f"toy A_k k={k}")
    t = convergence_time(kern, [0.5, 1.0], 0.1, ExponentialSchedule(2.0, 0.05))
    assert math.isfinite(t) and t > 0, t


def test_builtin_kernels_registered_with_their_builders():
    assert kernel_names()[:2] == ("gaussian", "laplace")
    assert make_kernel("gaussian", 0.3) == Gaussian(0.3)
    assert make_kernel("laplace", 0.3, nu=7.0) == Laplace(0.3)  # shape parameters it lacks are ignored
    assert make_kernel("sharp", 0.2) == make_kernel("companion", 0.2)
    assert make_kernel("inverse_multiquadric", 0.5, beta=2.0).beta == 2.0
    assert make_kernel("matern", 0.5).nu == 1.5  # the registered default


def test_every_builtin_rescales_to_its_own_family():
    for name in kernel_names():
        kern = make_kernel(name, 0.4, nu=2.5, beta=3.0)
        new = kern.with_length_scale(1.3)
        assert type(new) is type(kern) and new.length_scale == 1.3, (name, new)
        shape = {k: v for k, v in kern.params.items() if k != kern.scale_parameter}
        assert {k: v for k, v in new.params.items() if k != new.scale_parameter} == shape
    with pytest.raises(ValueError, match="1e-150"):
        Gaussian(1.0).with_length_scale(1e-200)


def test_kernel_without_scale_parameter_gives_clear_error():
    class NoScale(QuarticExp):
        scale_parameter = "missing"

    with pytest.raises(TypeError, match="scale_parameter"):
        NoScale(1.0).with_length_scale(2.0)


def test_subclass_may_store_its_own_scale_attribute(quartic):
    """Third-party kernels often keep ``self.scale``: the base class's ``scale`` must not block it."""

    class Stored(QuarticExp):
        scale_parameter = "scale"

        def __init__(self, scale: float = 1.0) -> None:
            self.scale = float(scale)
            super().__init__(scale)

        @property
        def params(self) -> dict:
            return {"scale": self.scale}

    k = Stored(0.25)
    assert k.scale == 0.25 and k.with_length_scale(0.5).scale == 0.5


@pytest.mark.parametrize("name", [n for n in kernel_names()])
@pytest.mark.parametrize("scale", [1e-3, 0.2, 3.0])
def test_registry_scale_is_the_length_scale_schedules_use(name, scale):
    """The number a user passes to ``make_kernel(name, s)`` (the CLI's ``--scale``) is the number a
    bandwidth schedule sets: ``make_kernel(name, s).with_length_scale(s)`` is the same kernel, and
    its ``length_scale`` is ``s``. The companion kernel broke this (``make_kernel`` read tau, the
    schedules sqrt(3) tau), so ``driftlab anneal --kernel companion --scale 0.2`` computed its
    fixed-bandwidth time at length sqrt(3) x smaller than the kernel its header named. Exact."""
    kw = {"nu": 2.5} if name == "matern" else {}
    k = make_kernel(name, scale, **kw)
    assert k.length_scale == scale, (name, scale, k.length_scale)
    again = k.with_length_scale(scale)
    assert again == k, (name, scale, again, k)
    r = np.array([0.0, 0.3, 1.0, 4.0]) * scale
    assert_close(again.profile(r), k.profile(r), rtol=0, atol=0, what=f"{name} rescaled to its own scale",
                 inputs=(name, scale))


def test_companion_is_the_matern_three_halves_of_length_sqrt3_tau():
    """(1 + r/tau) e^{-r/tau} = Matern-3/2 with ell = sqrt(3) tau: same profile, log-gradient, rate
    and spectrum (rtol 1e-14: the same closed forms, evaluated at arguments equal up to round-off)."""
    tau = 0.37
    c, m = make_kernel("companion", tau), Matern(math.sqrt(3) * tau, nu=1.5)
    r = np.linspace(0.0, 10 * tau, 41)
    assert_close(c.profile(r), (1 + r / tau) * np.exp(-r / tau), rtol=1e-14, atol=0, what="companion profile",
                 inputs=tau)
    assert_close(c.profile(r), m.profile(r), rtol=1e-14, atol=0, what="companion vs Matern-3/2", inputs=tau)
    assert_close(c.dlog_profile(r), m.dlog_profile(r), rtol=1e-14, atol=1e-300, what="dlog", inputs=tau)
    k = np.array([0.1, 1.0, 5.0, 40.0])
    for d in (1, 2, 3):
        assert_close(rate(c, k, d), rate(m, k, d), rtol=1e-13, atol=0, what=f"rate d={d}", inputs=k)
        assert_close(c.fourier(k, d), m.fourier(k, d), rtol=1e-13, atol=0, what=f"E(k) d={d}", inputs=k)
        assert peak_rate(c, d) == pytest.approx(peak_rate(m, d), rel=1e-13)
    # the schedule's scale is tau: the schedule at tau is the kernel itself
    assert scaled_kernel(c, tau) == c and scaled_kernel(c, 2 * tau) == make_kernel("companion", 2 * tau)
    sched = ExponentialSchedule(tau, 0.1)
    modes = np.arange(1.0, 4.0)
    t_c = convergence_time(c, modes, 0.1, sched, 1)
    t_m = convergence_time(m, modes, 0.1, ExponentialSchedule(math.sqrt(3) * tau, 0.1), 1)
    assert t_c == pytest.approx(t_m, rel=1e-9), (t_c, t_m)  # quadrature of the same integrand
