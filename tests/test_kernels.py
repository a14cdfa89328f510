"""Kernels: profiles, derivatives and Fourier transforms against independent oracles."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import assert_close
from driftlab.kernels import (
    Companion,
    Gaussian,
    InverseMultiquadric,
    Laplace,
    Matern,
    RadialKernel,
    Wendland,
    make_kernel,
)

ALL_KERNELS = [
    Gaussian(0.7),
    Laplace(0.4),
    Matern(0.4, nu=0.5),
    Matern(0.8, nu=1.5),
    Matern(0.6, nu=2.5),
    Matern(0.8, nu=1.3),
    Matern.companion(0.3),
    InverseMultiquadric(0.9, 0.5),
    InverseMultiquadric(0.9, 2.5),
    Wendland(1.2),
]

mp.mp.dps = 30  # oracle precision: 30 digits


def mp_profile(kernel: RadialKernel, r: float) -> mp.mpf:
    """Independent 30-digit profile from the textbook formulas (not the library's code)."""
    r = mp.mpf(r)
    if isinstance(kernel, Gaussian):
        return mp.exp(-r**2 / (2 * mp.mpf(kernel.bandwidth) ** 2))
    if isinstance(kernel, Laplace):
        return mp.exp(-r / mp.mpf(kernel.temperature))
    if isinstance(kernel, Companion):  # (1 + r/tau) e^{-r/tau}, not through its Matern form
        tau = mp.mpf(kernel.temperature)
        return (1 + r / tau) * mp.exp(-r / tau)
    if isinstance(kernel, Matern):
        nu = mp.mpf(kernel.nu)
        z = mp.sqrt(2 * nu) * r / mp.mpf(kernel.length_scale)
        if z == 0:
            return mp.mpf(1)
        return 2 ** (1 - nu) / mp.gamma(nu) * z**nu * mp.besselk(nu, z)
    if isinstance(kernel, InverseMultiquadric):
        return (1 + r**2 / mp.mpf(kernel.scale) ** 2) ** (-mp.mpf(kernel.beta))
    if isinstance(kernel, Wendland):
        u = r / mp.mpf(kernel.radius)
        return (1 - u) ** 4 * (1 + 4 * u) if u < 1 else mp.mpf(0)
    raise AssertionError(kernel)


@pytest.mark.parametrize("kernel", ALL_KERNELS, ids=repr)
def test_profile_matches_30_digit_oracle(kernel):
    r = np.array([0.0, 0.013, 0.2, 0.77, 1.1, 2.9])
    got = kernel.profile(r)
    want = np.array([float(mp_profile(kernel, v)) for v in r])
    # float64 evaluation of exp/log/Bessel: a few ulps; 1e-13 relative leaves margin for
    # scipy's kve in the general-order Matern.
    assert_close(got, want, rtol=1e-13, atol=1e-300, what=f"{kernel!r} profile", inputs=r)
    assert got[0] == 1.0


@pytest.mark.parametrize("kernel", ALL_KERNELS, ids=repr)
def test_dlog_profile_matches_mpmath_derivative(kernel):
    r = np.array([0.05, 0.3, 0.9, 1.05])
    if kernel.support_radius is not None:
        r = r[r < kernel.support_radius]
    want = np.array([float(mp.diff(lambda t: mp.log(mp_profile(kernel, t)), v)) for v in r])
    # mpmath differentiates at 30 digits; the float64 closed form is accurate to ~1e-14.
    assert_close(kernel.dlog_profile(r), want, rtol=1e-12, atol=1e-14, what=f"{kernel!r} dlog", inputs=r)
    assert_close(kernel.radial_derivative(r), kernel.profile(r) * want, rtol=1e-12, atol=1e-14, what="phi'")


@pytest.mark.parametrize("kernel", ALL_KERNELS, ids=repr)
def test_torch_profile_agrees_with_numpy(kernel):
    torch = pytest.importorskip("torch")
    r = np.linspace(0.0, 2.0, 9)
    if isinstance(kernel, Matern) and not kernel._half_integer:
        with pytest.raises(NotImplementedError, match="half-integer"):
            kernel.log_profile(torch.tensor(r))
        return
    t = kernel.log_profile(torch.tensor(r)).numpy()
    # same float64 formula on both backends: a few ulps of exp/log.
    assert_close(np.exp(t), kernel.profile(r), rtol=1e-14, atol=0, what=f"{kernel!r} torch profile")


def test_log_profile_sq_consistent():
    r = np.linspace(0, 3, 13)
    for k in ALL_KERNELS:
        a, b = np.exp(k.log_profile_sq(r * r)), k.profile(r)
        assert_close(a, b, rtol=1e-14, atol=0, what=f"{k!r} log_profile_sq")


# ----- Fourier transforms -------------------------------------------------------------
def mp_fourier(kernel: RadialKernel, k: float, dim: int) -> float:
    """Independent normalised transform by 1-D mpmath quadrature of the Hankel integral."""
    nu = mp.mpf(dim) / 2 - 1

    def omega(z):
        if z == 0:
            return mp.mpf(1)
        return mp.gamma(mp.mpf(dim) / 2) * (2 / z) ** nu * mp.besselj(nu, z)

    upper = mp.mpf(kernel.support_radius) if kernel.support_radius else mp.inf
    integrand = lambda r: mp_profile(kernel, r) * r ** (dim - 1) * omega(k * r)  # noqa: E731
    if upper == mp.inf and k > 0:
        # oscillatory tail: mpmath's quadosc sums between zeros (plain quad is inaccurate here)
        num = mp.quadosc(integrand, [0, mp.inf], omega=k)
    else:
        num = mp.quad(integrand, [0, upper])
    den = mp.quad(lambda r: mp_profile(kernel, r) * r ** (dim - 1), [0, upper])
    return float(num / den)


@pytest.mark.parametrize("dim", [1, 2, 3, 5])
@pytest.mark.parametrize("kernel", [Gaussian(0.7), Laplace(0.4), Matern(0.8, nu=1.5), Matern(0.8, nu=1.3),
                                    Matern(0.5, nu=3.5), InverseMultiquadric(0.9, 4.5)], ids=repr)
def test_fourier_closed_form_matches_numerical_hankel(kernel, dim):
    """Two independent implementations: closed form vs quadrature of the profile."""
    ks = np.array([0.0, 0.3, 0.7, 2.3, 6.0])
    closed = kernel.fourier(ks, dim, method="closed")
    num = kernel.fourier(ks, dim, method="numerical")
    # numerical Hankel transform: 16-point Gauss-Legendre on sub-period panels, cut at 1e-18
    # of the integrand's peak: ~1e-12 absolute on E(k) <= 1; 1e-10 leaves margin.
    assert_close(num, closed, atol=1e-10, what=f"{kernel!r} FT d={dim}", inputs=ks)


@pytest.mark.parametrize("kernel,dim,k", [
    (Laplace(0.4), 1, 2.3), (Laplace(0.4), 3, 0.7), (Gaussian(0.7), 3, 2.3),
    (Wendland(1.2), 1, 0.7), (Wendland(1.2), 2, 2.3), (Wendland(1.2), 3, 6.0),
], ids=str)
def test_fourier_matches_30_digit_quadrature(kernel, dim, k):
    """mpmath oracle of the Hankel integral (the only oracle for Wendland, which has no closed form)."""
    want = mp_fourier(kernel, k, dim)
    # the library's transform (closed where it exists) vs a 30-digit integral: 1e-10 absolute
    # bounds the numerical path's quadrature error; closed forms agree to ~1e-15.
    assert_close(kernel.fourier([k], dim), [want], atol=1e-10, what=f"{kernel!r} FT d={dim}", inputs=k)


@pytest.mark.parametrize("beta,dim", [(0.51, 1), (2.5, 1), (1.02, 2), (2.5, 3), (1.55, 3)])
def test_heavy_tailed_numerical_transform_matches_closed_form(beta, dim):
    """The numerical transform refused every inverse multiquadric (tail not negligible at 1e6
    length scales); it now sums the power-law tail (k = 0: analytic tail beyond 1e8 length
    scales; k > 0: Euler-averaged half-period blocks). Against the closed Matern-form
    transform: 1e-12 absolute (observed <= 2e-15; beta = 0.51 in 1-D has a tail ~ r^-1.02)."""
    kern = InverseMultiquadric(0.9, beta)
    ks = np.array([0.0, 1e-3, 0.1, 0.7, 2.3, 6.0, 40.0])
    got = kern.fourier(ks, dim, method="numerical")
    want = kern.fourier(ks, dim, method="closed")
    assert_close(got, want, atol=1e-12, what=f"{kern!r} numerical FT d={dim}", inputs=ks)
    with pytest.raises(ValueError, match="beta > dim/2"):  # not integrable: no transform at all
        InverseMultiquadric(0.9, dim / 2).fourier([1.0], dim, method="numerical")


def test_wendland_float32_outside_support_is_minus_inf_not_nan():
    """float32 (numpy and torch): outside the support log phi = -inf exactly, never NaN, and
    the batch mean shift equals the float64 one to float32 round-off (inputs O(1): 1e-6)."""
    from driftlab.fields import batch_mean_shift

    kern = Wendland(1.0)
    r = np.array([0.0, 0.2, 0.999, 1.0, 5.0])
    want = kern.log_profile(r)
    assert np.isneginf(want[3:]).all()
    x = np.array([[0.0], [0.3]])
    y = np.array([[0.2], [0.5], [5.0]])
    ref = batch_mean_shift(x, y, kern)
    got = kern.log_profile(r.astype(np.float32))
    assert np.isneginf(got[3:]).all() and np.isfinite(got[:3]).all(), got
    assert np.isfinite(kern.dlog_profile(r.astype(np.float32))).all()
    assert_close(batch_mean_shift(x.astype(np.float32), y.astype(np.float32), kern), ref, atol=1e-6,
                 what="Wendland float32 numpy")
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    m = batch_mean_shift(xt, torch.tensor(y, dtype=torch.float32), kern)
    (g,) = torch.autograd.grad(m.sum(), xt)
    assert torch.isfinite(g).all(), g
    assert_close(m.detach().numpy(), ref, atol=1e-6, what="Wendland float32 torch")


@given(tau=st.floats(0.05, 5.0), k=st.floats(0.0, 20.0), dim=st.integers(1, 8))
def test_laplace_is_matern_half(tau, k, dim):
    a = Laplace(tau).fourier(k, dim)
    b = Matern(tau, nu=0.5).fourier(k, dim)
    assert_close(a, b, rtol=1e-13, what="Laplace vs Matern-1/2 FT", inputs=(tau, k, dim))
    r = np.array([0.0, tau, 3 * tau])
    assert_close(Laplace(tau).profile(r), Matern(tau, nu=0.5).profile(r), rtol=1e-14, what="profiles")


@given(ell=st.floats(0.1, 3.0), k=st.floats(0.0, 5.0), dim=st.integers(1, 6))
def test_matern_tends_to_gaussian(ell, k, dim):
    # (1 + l^2k^2/(2nu))^-(nu+d/2) -> exp(-l^2k^2/2) with error ~ (l k)^4 / (8 nu) for large nu.
    nu = 1e6
    got = Matern(ell, nu=nu).fourier(k, dim)
    want = Gaussian(ell).fourier(k, dim)
    bound = ((ell * k) ** 4 / (8 * nu) + (ell * k) ** 2 * dim / (4 * nu)) * 2 + 1e-12
    assert abs(got - want) <= bound, (ell, k, dim, got, want)


@pytest.mark.parametrize("nu", [2.5, 10.5, 20.5])
def test_half_integer_matern_float32_far_field_is_finite(nu):
    """float32: the polynomial factor z^p overflowed (3e38) for z ~ 1e3 at nu = 20.5, giving
    log phi = +inf and NaN fields. Compare with float64 to float32 round-off (rtol 1e-5:
    log phi ~ -z is computed from z rounded to 2^-24 relative, plus a few operations)."""
    kern = Matern(1.0, nu=nu)
    r = np.array([0.0, 0.05, 0.9, 3.0, 300.0, 3000.0, 1e5])
    want_lp, want_dl = kern.log_profile(r), kern.dlog_profile(r)
    backends = [np.asarray]
    try:
        import torch

        backends.append(lambda a: torch.tensor(a))
    except ImportError:  # pragma: no cover
        pass
    for to in backends:
        r32 = to(r.astype(np.float32))
        lp, dl = kern.log_profile(r32), kern.dlog_profile(r32)
        lp = np.asarray(lp, dtype=np.float64)
        dl = np.asarray(dl, dtype=np.float64)
        assert np.isfinite(lp).all() and np.isfinite(dl).all(), (lp, dl)
        assert_close(lp, want_lp, rtol=1e-5, atol=1e-6, what=f"Matern {nu} float32 log phi")
        assert_close(dl, want_dl, rtol=1e-5, atol=1e-6, what=f"Matern {nu} float32 dlog phi")


@given(r=st.floats(0.0, 10.0), tau=st.floats(0.01, 5.0))
def test_companion_kernel_profile(r, tau):
    want = (1 + r / tau) * math.exp(-r / tau)
    assert_close(Matern.companion(tau).profile(np.array([r])), [want], rtol=1e-12, atol=1e-300,
                 what="companion", inputs=(r, tau))


@given(k=st.floats(0.0, 50.0), dim=st.integers(1, 12))
def test_fourier_bounded_by_one_and_monotone(k, dim):
    for kern in (Gaussian(0.5), Laplace(0.5), Matern(0.5, nu=2.5)):
        e1, e2 = kern.fourier([k, k + 0.1], dim)
        assert 0 <= e2 <= e1 <= 1, (kern, k, dim, e1, e2)


# ----- validation ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_nonpositive_parameters_rejected(bad):
    for ctor, name in ((Gaussian, "bandwidth"), (Laplace, "temperature"), (Wendland, "radius")):
        with pytest.raises(ValueError, match=name):
            ctor(bad)
        with pytest.raises(ValueError, match="scale"):  # the error names the keyword used
            ctor(scale=bad)
    with pytest.raises(ValueError, match="nu"):
        Matern(1.0, nu=bad)
    with pytest.raises(ValueError, match="beta"):
        InverseMultiquadric(1.0, bad)


def test_parameter_type_errors_and_fourier_input():
    with pytest.raises(TypeError, match="bandwidth"):
        Gaussian("1.0")
    with pytest.raises(ValueError, match="k must be >= 0"):
        Gaussian(1.0).fourier([-1.0], 2)
    with pytest.raises(ValueError, match="dim"):
        Gaussian(1.0).fourier([1.0], 0)
    with pytest.raises(ValueError, match="beta > dim/2"):
        InverseMultiquadric(1.0, 0.5).fourier([1.0], 2)
    with pytest.raises(ValueError, match="no closed-form"):
        Wendland(1.0).fourier([1.0], 1, method="closed")
    with pytest.raises(ValueError, match="unknown kernel"):
        make_kernel("cauchy", 1.0)


def test_make_kernel_names_and_equality():
    assert make_kernel("gaussian", 0.3) == Gaussian(0.3)
    assert make_kernel("companion", 0.2) == Companion(0.2) == Matern.companion(0.2)  # profile: test_kernel_registry
    assert make_kernel("matern", 1.0, nu=2.5) == Matern(1.0, nu=2.5)
    assert Gaussian(1.0) != Laplace(1.0)
    assert len({Gaussian(1.0), Gaussian(1.0), Laplace(1.0)}) == 2


@pytest.mark.parametrize("nu", [29.9, 45.3, 150.0, 1.0e4])
def test_matern_large_order_is_finite_and_matches_mpmath(nu):
    """scipy's kve(nu, z) overflows for z up to O(1) once nu >~ 40 (and everywhere past nu ~ 171):
    the profile must stay finite and exact. Oracle: mpmath Bessel K at 30 digits. Tolerance
    2e-9 absolute on log phi: Debye's expansion truncated after u4 errs O(|u5| / nu^5) < 1e-9
    at nu >= 30, plus float64 round-off of O(nu) terms that cancel analytically."""
    kern = Matern(1.0, nu=nu)
    rate = math.sqrt(2.0 * nu)
    z = np.array([1e-9, 1e-4, 0.05, 0.7, 3.0, 25.0])
    want_lp, want_dl = [], []
    with mp.workdps(30):
        for zi in z:
            n, zz = mp.mpf(nu), mp.mpf(float(zi))
            k_n = mp.besselk(n, zz)
            lp = (1 - n) * mp.log(2) - mp.loggamma(n) + n * mp.log(zz) + mp.log(k_n)
            want_lp.append(float(lp))
            want_dl.append(float(-mp.besselk(n - 1, zz) / k_n) * rate)
    got_lp = kern.log_profile(z / rate)
    got_dl = kern.dlog_profile(z / rate)
    assert np.isfinite(got_lp).all() and np.isfinite(got_dl).all(), (got_lp, got_dl)
    assert_close(got_lp, want_lp, atol=2e-9, what="large-nu Matern log profile", inputs=(nu, z))
    assert_close(got_dl, want_dl, rtol=1e-8, atol=1e-300, what="large-nu Matern dlog",
                 inputs=(nu, z))


def test_matern_general_order_keeps_float32():
    """Non-half-integer orders are computed in float64 by scipy; the result must come back in
    the caller's dtype (same type, dtype out, like every other kernel)."""
    r = np.array([0.0, 0.3, 2.0], dtype=np.float32)
    for kern in (Matern(1.0, nu=1.2), Matern(1.0, nu=0.7), Matern(1.0, nu=80.0)):
        assert kern.log_profile(r).dtype == np.float32
        assert kern.dlog_profile(r).dtype == np.float32


@pytest.mark.parametrize("nu", [2.5, 40.5, 1e6])
@pytest.mark.parametrize("dim", [1, 3])
def test_matern_fourier_matches_mpmath_at_small_k(nu, dim):
    # Oracle: (1 + l^2 k^2 / (2 nu))^-(nu + d/2) at 40 digits. The float64 form exp(-(nu + d/2)
    # log1p(x)) is exact to ~eps * (1 + |exponent|) relative (|exponent| <= 20 here), so 1e-13
    # is round-off with margin; the naive (1 + x)^-p was off by 6e-11 at nu = 1e6, k = 2^-8.
    import mpmath as mp

    mp.mp.dps = 40
    ell = 1.3
    for k in (2.0**-8, 1e-3, 0.5, 3.0):
        x = mp.mpf(ell) ** 2 * mp.mpf(k) ** 2 / (2 * mp.mpf(nu))
        want = float((1 + x) ** (-(mp.mpf(nu) + mp.mpf(dim) / 2)))
        got = float(Matern(ell, nu=nu).fourier(k, dim))
        assert abs(got - want) <= 1e-13 * want, (nu, dim, k, got, want, got - want)


# ----- representable parameter range ---------------------------------------------------
from driftlab._validation import LENGTH_SCALE_RANGE  # noqa: E402

LO, HI = LENGTH_SCALE_RANGE


@pytest.mark.parametrize("ctor", [Gaussian, Laplace, Wendland, InverseMultiquadric,
                                  lambda s: Matern(s, nu=1.5), Matern.companion],
                         ids=["gaussian", "laplace", "wendland", "imq", "matern", "companion"])
@pytest.mark.parametrize("bad", [1e-170, 1e-320, 1e200, 2e150, 5e-151])
def test_length_scale_outside_representable_range_is_refused(ctor, bad):
    """Gaussian(1e-170) used to raise ZeroDivisionError, Gaussian(1e200) OverflowError,
    Laplace(1e-320) and InverseMultiquadric(1e-200) were accepted and gave 0 mean shifts:
    every constructor refuses a length scale outside [1e-150, 1e150] with the range named."""
    with pytest.raises(ValueError, match=r"1e-150.*1e\+150"):
        ctor(bad)


@pytest.mark.parametrize("s", [LO, 1e-100, 1e100, HI])
def test_length_scales_at_the_ends_of_the_range_work(s):
    """Within the range every kernel evaluates: at r = s (Wendland: s/2) the profiles are closed
    forms (exp(-1/2), exp(-1), 2^-beta, (1 + sqrt3) e^-sqrt3, 3/16) to float64 round-off (rtol 1e-14),
    and the batch mean shift of a symmetric pair is exactly the midpoint offset."""
    from driftlab.fields import batch_mean_shift

    cases = [(Gaussian(s), 1.0, math.exp(-0.5)), (Laplace(s), 1.0, math.exp(-1.0)),
             (InverseMultiquadric(s, 0.5), 1.0, 2 ** -0.5),
             (Matern(s, nu=1.5), 1.0, (1 + math.sqrt(3)) * math.exp(-math.sqrt(3))),
             (Wendland(s), 0.5, 0.5**4 * 3.0)]
    for kern, u, want in cases:
        got = float(kern.profile(np.array([u * s]))[0])
        assert_close(got, want, rtol=1e-14, what=f"{kern!r} profile at r = {u} s")
        x = np.array([[0.0]])
        y = np.array([[0.5 * s], [1.5 * s]])
        m = batch_mean_shift(x, y, kern)
        # weights k(0.5 s), k(1.5 s): the exact shift is their weighted mean offset
        w = np.exp(kern.log_profile(np.array([0.5 * s, 1.5 * s])))
        exact = (w[0] * 0.5 * s + w[1] * 1.5 * s) / w.sum()
        assert np.isfinite(m).all(), (kern, m)
        assert_close(m[0, 0], exact, rtol=1e-13, what=f"{kern!r} mean shift at s={s}")


def test_matern_general_order_far_field_log_profile():
    """Matern(nu=1.2).log_profile(1e12) was NaN (scipy's kve(1.2, z) is NaN for z >~ 1e12).
    Oracle: mpmath at 30 digits of log(2^(1-nu)/Gamma(nu) z^nu K_nu(z)); the far-field
    asymptotic series is exact to < 1e-15 relative on log phi ~ -z there."""
    kern = Matern(1.0, nu=1.2)
    r = np.array([1e5, 1e9, 1e12, 1e15, 1e100])
    got = kern.log_profile(r)
    with mp.workdps(30):
        nu = mp.mpf(1.2)
        want = []
        for v in r:
            z = mp.sqrt(2 * nu) * mp.mpf(float(v))
            want.append(float((1 - nu) * mp.log(2) - mp.loggamma(nu) + nu * mp.log(z) + mp.log(mp.besselk(nu, z))))
    assert np.isfinite(got).all(), got
    assert_close(got, want, rtol=1e-14, what="Matern-1.2 far-field log phi", inputs=r)
    dl = kern.dlog_profile(r)
    assert np.isfinite(dl).all(), dl
    # -K_{nu-1}/K_nu * sqrt(2 nu) -> -sqrt(2 nu) (1 + O(1/z)): rtol 1e-5 at z >= 1.5e5
    assert_close(dl, -math.sqrt(2.4) * np.ones_like(r), rtol=1e-5, what="far-field dlog")


def test_scale_keyword_and_aliases():
    """One keyword for the length scale (scale=) on every kernel; the old names stay as aliases;
    giving both is refused."""
    assert Gaussian(scale=0.3) == Gaussian(0.3) == Gaussian(bandwidth=0.3)
    assert Laplace(scale=0.3) == Laplace(temperature=0.3)
    assert Wendland(scale=0.3) == Wendland(radius=0.3)
    assert InverseMultiquadric(scale=0.3, beta=2.0) == InverseMultiquadric(0.3, 2.0)
    assert Matern(scale=0.3, nu=2.5) == Matern(length_scale=0.3, nu=2.5) == Matern(0.3, nu=2.5)
    for kern in (Gaussian(0.3), Laplace(0.3), Wendland(0.3), InverseMultiquadric(0.3), Matern(0.3, nu=0.5)):
        assert kern.length_scale == 0.3 and kern.scale == 0.3, kern
    with pytest.raises(TypeError, match="bandwidth"):
        Gaussian(0.3, scale=0.3)
    with pytest.raises(TypeError, match="temperature"):
        Laplace(scale=0.3, temperature=0.3)
    with pytest.raises(TypeError, match="length_scale"):
        Matern(length_scale=0.3, nu=1.5, scale=0.3)


def test_matern_nu_is_keyword_only():
    """Matern(0.05) used to set nu = 0.05 silently: nu is keyword-only (and required)."""
    with pytest.raises(TypeError, match="nu"):
        Matern(0.05)
    with pytest.raises(TypeError, match="keyword"):
        Matern(2.5, 1.0)
    assert Matern(0.05, nu=2.5).length_scale == 0.05


@pytest.mark.parametrize("beta", [20.0, 100.0])
def test_imq_large_beta_spectrum_is_finite_and_exact(beta):
    """InverseMultiquadric(1, 100).fourier(1e-6, dim=3) was inf (scipy's kve(98.5, z) overflows
    for z up to O(1)). Oracle: 2^(1-mu)/Gamma(mu) z^mu K_mu(z), mu = beta - 3/2, and the rate
    z^2/(2(mu-1)) times the order mu-1 form, at 30 digits with mpmath. rtol 1e-8: Debye's
    expansion (orders >= 30) is truncated at O(nu^-5) < 1e-9 on the log."""
    from driftlab.spectral import rate

    kern = InverseMultiquadric(1.0, beta)
    z = np.array([1e-6, 1e-3, 0.5, 3.0, 40.0])
    with mp.workdps(30):
        mu = mp.mpf(beta) - mp.mpf(3) / 2
        form = lambda v, x: 2 ** (1 - v) / mp.gamma(v) * x**v * mp.besselk(v, x)  # noqa: E731
        want_e = [float(form(mu, mp.mpf(float(x)))) for x in z]
        want_l = [float(mp.mpf(float(x)) ** 2 / (2 * (mu - 1)) * form(mu - 1, mp.mpf(float(x)))) for x in z]
    got_e, got_l = kern.fourier(z, 3), rate(kern, z, 3)
    assert np.isfinite(got_e).all() and np.isfinite(got_l).all(), (got_e, got_l)
    assert_close(got_e, want_e, rtol=1e-8, atol=1e-300, what=f"{kern!r} E(k)", inputs=z)
    assert_close(got_l, want_l, rtol=1e-8, atol=1e-300, what=f"{kern!r} rate", inputs=z)


@pytest.mark.parametrize("nu", [1.2, 2.5, 50.0, 1e6])
def test_matern_far_field_is_finite_for_every_order(nu):
    """At r = 1e200 (z = sqrt(2 nu) r) the Debye branch overflowed t^2 (orders >= 30) and the
    small-z series z^4: log phi = -z + (nu - 1/2) log z + O(1) exactly, so log phi / (-z) = 1
    to 1e-12 relative, and dlog phi = -sqrt(2 nu) (1 + O(nu / z)) to 1e-12."""
    kern = Matern(1.0, nu=nu)
    r = np.array([1e100, 1e200])
    z = math.sqrt(2 * nu) * r
    lp, dl = kern.log_profile(r), kern.dlog_profile(r)
    assert np.isfinite(lp).all() and np.isfinite(dl).all(), (lp, dl)
    assert_close(lp / -z, [1.0, 1.0], rtol=1e-12, what=f"Matern {nu} far log phi")
    assert_close(dl, [-math.sqrt(2 * nu)] * 2, rtol=1e-12, what=f"Matern {nu} far dlog")


def test_capability_flags_say_what_each_kernel_provides():
    full = {"torch", "closed_fourier", "closed_rate", "closed_peak", "closed_inverse", "fast_form"}
    assert Gaussian(1.0).capabilities == full
    assert Laplace(1.0).capabilities == full
    assert Matern(1.0, nu=2.5).capabilities == full
    assert Matern(1.0, nu=1.2).capabilities == full - {"torch", "fast_form"}  # scipy Bessel path
    assert InverseMultiquadric(1.0, 2.0).capabilities == {"torch", "closed_fourier", "closed_rate", "fast_form"}
    assert Wendland(1.0).capabilities == {"torch", "compact_support"}
    # the flags match behaviour: a closed inverse really inverts the spectrum (round-off 1e-13)
    for kern in (Gaussian(0.7), Laplace(0.7), Matern(0.7, nu=3.5)):
        for dim in (1, 4):
            for value in (0.9, 0.3, 1e-6):
                z = kern.inverse_spectrum(value, dim)
                assert_close(kern.fourier(z / kern.length_scale, dim), value, rtol=1e-13,
                             what=f"{kern!r} inverse spectrum d={dim}")


def test_matern_order_range():
    with pytest.raises(ValueError, match="nu must be <= 1e\\+12"):
        Matern(1.0, nu=1e13)
    with pytest.raises(ValueError, match="beta must be <= 1e\\+12"):
        InverseMultiquadric(1.0, 1e300)
    # at the top of the range everything is finite (dlog = -2 beta r / (c^2 + r^2) exactly)
    kern = InverseMultiquadric(1.0, 1e12)
    r = np.array([0.0, 1e-5, 1.0, 1e100])
    assert np.isfinite(kern.log_profile(r)).all()
    assert_close(kern.dlog_profile(r), -2e12 * r / (1 + r * r), rtol=1e-15, atol=0, what="imq dlog")


def test_half_integer_matern_dlog_is_relatively_exact_at_small_r():
    """dlog_profile of the half-integer Matern was formed as -1 + P'(z)/P(z): relative error
    ~eps/z near the origin (5e-13 at z = 1e-4, 2e-8 at z = 1e-8). Closed forms: nu = 3/2 gives
    -a z/(1 + z), nu = 5/2 gives -a z (1 + z) / (3 + 3 z + z^2), a = sqrt(2 nu)/l; rtol 1e-14
    (a few ulps of Horner sums of positive terms), also in float32 at 1e-6 (its own eps)."""
    ell = 0.7
    z = np.array([1e-300, 1e-12, 1e-8, 1e-4, 0.3, 0.99, 1.0, 3.0])
    for nu, closed in ((1.5, lambda z: -z / (1 + z)), (2.5, lambda z: -z * (1 + z) / (3 + 3 * z + z * z))):
        kern = Matern(ell, nu=nu)
        a = math.sqrt(2 * nu) / ell
        r = z / a
        assert_close(kern.dlog_profile(r), a * closed(z), rtol=1e-14, atol=0, what=f"Matern {nu} dlog", inputs=z)
        got32 = kern.dlog_profile(r[1:].astype(np.float32))
        assert_close(got32, a * closed(z[1:]), rtol=1e-6, atol=0, what=f"Matern {nu} dlog float32")
