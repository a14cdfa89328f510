"""Rates lambda(k) = -|k| E'(|k|): closed forms vs numerical Hankel path vs mpmath vs sympy."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern, Wendland
from driftlab.kernels._hankel import radial_fourier_derivative
from driftlab.spectral import euler_rate, max_stable_step, peak_rate, rate, scaled_kernel, spectrum, timescale
from tests.conftest import assert_close

K_GRID = np.array([0.0, 0.1, 0.5, 1.0, 1.7, 3.0, 6.0, 12.0])


# ---------------------------------------------------------------- closed forms, exact values
def test_gaussian_peak_is_two_over_e_at_sqrt2():
    # Pure float64 evaluation of x e^{-x/2} at x = 2: round-off only (1e-15).
    for s in (0.3, 1.0, 2.5):
        kstar, lmax = peak_rate(Gaussian(s), dim=3)
        assert_close(kstar, math.sqrt(2) / s, rtol=1e-15, what="k*")
        assert_close(lmax, 2 / math.e, rtol=1e-15, what="lambda max")
        assert_close(rate(Gaussian(s), kstar, dim=3), 2 / math.e, rtol=1e-14, what="rate at k*")


@pytest.mark.parametrize("dim", [1, 2, 3, 7])
def test_laplace_closed_form_and_peak(dim):
    tau = 0.4
    k = K_GRID
    x = (tau * k) ** 2
    expected = (dim + 1) * x / (1 + x) ** ((dim + 3) / 2)  # the derived formula, written out
    assert_close(rate(Laplace(tau), k, dim), expected, rtol=1e-14, what="laplace rate")
    kstar, lmax = peak_rate(Laplace(tau), dim)
    assert_close(tau**2 * kstar**2, 2 / (dim + 1), rtol=1e-14, what="laplace argmax")
    assert_close(lmax, 2 * ((dim + 1) / (dim + 3)) ** ((dim + 3) / 2), rtol=1e-14, what="laplace max")
    # The peak is a maximum: a dense scan never exceeds it (exact comparison up to round-off).
    scan = rate(Laplace(tau), np.linspace(0, 20 / tau, 20001), dim)
    assert scan.max() <= lmax * (1 + 1e-12)


def test_euler_stability_bounds_match_stated():
    # 2 / lambda_max: e for every Gaussian, 4 for the 1-D Laplace kernel (exact arithmetic).
    assert_close(max_stable_step(Gaussian(0.7)), math.e, rtol=1e-14, what="gaussian eta max")
    assert_close(max_stable_step(Laplace(0.2), dim=1), 4.0, rtol=1e-14, what="laplace eta max")


def test_imq_beta1_dim1_is_z_exp_minus_z():
    # (1 + r^2/c^2)^-1 in 1-D has E(k) = exp(-ck), so lambda = ck exp(-ck) (elementary oracle).
    c = 0.8
    z = c * K_GRID
    assert_close(rate(InverseMultiquadric(c, 1.0), K_GRID, dim=1), z * np.exp(-z), rtol=1e-13, atol=1e-300,
                 what="imq rate")


# ---------------------------------------------------------------- mpmath 30-digit oracles
def _mp_rate_2d(profile, k):
    """lambda(k) = k int r^2 phi J1(kr) dr / int r phi dr  (2-D: E = int r phi J0 / int r phi)."""
    mp.mp.dps = 30
    num = mp.quad(lambda r: r**2 * profile(r) * mp.besselj(1, k * r), [0, 1, 5, 20, 60, mp.inf])
    den = mp.quad(lambda r: r * profile(r), [0, mp.inf])
    return float(k * num / den)


@pytest.mark.parametrize("k", [0.3, 1.0, 2.5])
def test_matern_non_half_integer_vs_quadpack(k):
    # Independent implementation: QUADPACK's Fourier-integral routine (QAWF, weight='sin') on
    # the profile phi(r) = 2^{1-nu}/Gamma(nu) z^nu K_nu(z) from scipy.special.kv. QAWF's
    # absolute error estimate is ~1e-10 here, hence rtol 1e-8. (An mpmath version of this
    # oracle takes minutes because mpmath's besselk is slow; see the 2-D mpmath test below.)
    from scipy import special

    nu, ell = 1.7, 0.9
    a = math.sqrt(2 * nu) / ell

    def prof(r):
        z = a * r
        return 2 ** (1 - nu) / math.gamma(nu) * z**nu * special.kv(nu, z) if r > 0 else 1.0

    num = integrate.quad(lambda r: r * prof(r), 0, np.inf, weight="sin", wvar=k)[0]
    den = integrate.quad(prof, 0, np.inf)[0]
    assert_close(rate(Matern(ell, nu=nu), k, dim=1), k * num / den, rtol=1e-8, what="matern 1-D")


@pytest.mark.parametrize("k", [0.5, 2.0, 6.0])
def test_laplace_2d_bessel_path_vs_mpmath(k):
    tau = 0.5
    expected = _mp_rate_2d(lambda r: mp.exp(-r / tau), k)
    # closed form: round-off; numerical Hankel path: composite GL16 quadrature, converged to ~1e-14.
    assert_close(rate(Laplace(tau), k, dim=2), expected, rtol=1e-12, what="laplace 2-D closed")
    assert_close(rate(Laplace(tau), k, dim=2, method="numerical"), expected, rtol=1e-10,
                 what="laplace 2-D numerical")


# ---------------------------------------------------------------- numerical path vs closed forms
@pytest.mark.parametrize("kernel", [Gaussian(0.7), Laplace(0.3), Matern(0.8, nu=2.5), Matern(0.5, nu=1.3),
                                    Matern.companion(0.4)], ids=repr)
@pytest.mark.parametrize("dim", [1, 2, 3, 6])
def test_numerical_rate_matches_closed_form(kernel, dim):
    # The Hankel-transform quadrature resolves each oscillation with >= 64 nodes; its error is
    # at the float64 round-off of the cancellation in the oscillatory sum (observed <= 2e-15).
    k = K_GRID / kernel.length_scale
    assert_close(rate(kernel, k, dim, method="numerical"), rate(kernel, k, dim, method="closed"),
                 atol=1e-11, what=f"{kernel!r} d={dim}")


def test_numerical_derivative_of_transform_matches_finite_difference():
    # Independent of the Omega_d' identity: central differences of the numerical transform
    # (step 1e-4: truncation ~1e-8 * E''' , round-off ~1e-16/1e-4 = 1e-12) for a kernel with no closed form.
    w = Wendland(1.3)
    for dim in (1, 2, 3):
        k = np.array([0.4, 1.5, 4.0])
        h = 1e-4
        fd = (w.fourier(k + h, dim) - w.fourier(k - h, dim)) / (2 * h)
        assert_close(radial_fourier_derivative(w, k, dim), fd, atol=1e-8, what=f"wendland dE/dk d={dim}")


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_low_k_rate_is_second_moment_over_d(dim):
    # lambda(k) = k^2 <r^2>/d + O(k^4), <r^2> = int phi r^{d+1} / int phi r^{d-1}: the moment is
    # computed by scipy quad of the profile (independent of any transform). At k*ell = 1e-3 the
    # O(k^2) relative correction is ~1e-6, hence rtol 1e-5.
    for kern in (Wendland(1.1), Laplace(0.6), Matern(0.7, nu=2.5), Gaussian(0.9)):
        rmax = kern.support_radius or 60 * kern.length_scale
        prof = lambda r: float(np.exp(kern.log_profile(np.float64(r))))  # noqa: E731
        m2 = integrate.quad(lambda r: prof(r) * r ** (dim + 1), 0, rmax, limit=200)[0]
        m0 = integrate.quad(lambda r: prof(r) * r ** (dim - 1), 0, rmax, limit=200)[0]
        k = 1e-3 / kern.length_scale
        assert_close(rate(kern, k, dim) / k**2, m2 / m0 / dim, rtol=1e-5, what=f"{kern!r} low-k d={dim}")


def test_matern_large_nu_tends_to_gaussian():
    # Matérn-nu spectrum (1 + l^2k^2/2nu)^-(nu+d/2) -> exp(-l^2k^2/2) with O(1/nu) error:
    # at nu = 1e6 and l k <= 3 the difference is < 1e-4 (bound: (lk)^4/(8 nu) * max ~ 1e-5).
    k = np.linspace(0, 3, 13)
    for dim in (1, 3):
        assert_close(rate(Matern(1.0, nu=1e6), k, dim), rate(Gaussian(1.0), k, dim), atol=1e-4,
                     what=f"matern->gaussian d={dim}")


# ---------------------------------------------------------------- sympy derivation
@pytest.mark.parametrize("kernel", ["gaussian", "laplace"])
def test_sympy_derivation_from_continuity_equation(kernel):
    import sympy as sp

    from driftlab.spectral.symbolic import derive_rate_1d, derive_rate_3d, expected_rate

    # Exact symbolic identity (no tolerance): the linearised nonlinear continuity equation
    # in 1-D and the 3-D plane-wave reduction reproduce the closed forms.
    assert sp.simplify(derive_rate_1d(kernel) - expected_rate(kernel, 1)) == 0
    assert sp.simplify(derive_rate_3d(kernel) - expected_rate(kernel, 3)) == 0


# ---------------------------------------------------------------- properties
@given(s=st.floats(0.05, 20), k=st.floats(0, 50), dim=st.integers(1, 8))
def test_scale_invariance_and_nonnegativity(s, k, dim):
    # lambda(k; s) depends on s k only (round-off: 1e-12 relative + tiny absolute for underflow).
    for make in (Gaussian, Laplace, lambda v: Matern(v, nu=2.5)):
        a = rate(make(s), k, dim)
        b = rate(make(1.0), s * k, dim)
        assert a >= 0
        assert_close(a, b, rtol=1e-12, atol=1e-300, what="scale invariance")
        assert_close(rate(scaled_kernel(make(1.0), s), k, dim), a, rtol=1e-15, atol=1e-300, what="scaled_kernel")


@given(tau=st.floats(0.05, 5), dim=st.integers(1, 10))
def test_laplace_decays_polynomially_gaussian_exponentially(tau, dim):
    # High-frequency tails: Laplace ~ (d+1)/(tau k)^{d+1}; at tau k = 1e4 the relative
    # correction is ~(d+3)/2 * 1e-8, so rtol 1e-6.
    k = 1e4 / tau
    assert_close(rate(Laplace(tau), k, dim), (dim + 1) * (tau * k) ** (-(dim + 1)), rtol=1e-6, what="tail")
    assert rate(Gaussian(tau), k, dim) == 0.0  # e^{-5e7} underflows: the exponential bottleneck


@given(lam=st.floats(0, 0.7), eta=st.floats(1e-6, 1.0))
def test_euler_rate_limits(lam, eta):
    e = float(euler_rate(lam, eta))
    assert e >= lam * (1 - 1e-12)  # -log(1-x)/eta >= x/eta: Euler over-damps
    if eta * lam < 1e-3:
        assert_close(e, lam, rtol=1e-3, what="small-step limit")  # relative bias eta*lam/2 < 5e-4


# ---------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="bandwidth"):
        Gaussian(-1.0)
    with pytest.raises(ValueError, match="k must be >= 0"):
        rate(Gaussian(1.0), -1.0)
    with pytest.raises(ValueError, match="k must be finite"):
        rate(Gaussian(1.0), np.nan)
    with pytest.raises(ValueError, match="k = 0"):
        timescale(Gaussian(1.0), 0.0)
    with pytest.raises(ValueError, match="dim must be >= 1"):
        rate(Gaussian(1.0), 1.0, dim=0)
    with pytest.raises(TypeError, match="dim"):
        rate(Gaussian(1.0), 1.0, dim=1.5)
    with pytest.raises(TypeError, match="kernel"):
        rate("gaussian", 1.0)
    with pytest.raises(ValueError, match="method"):
        rate(Gaussian(1.0), 1.0, method="magic")
    with pytest.raises(ValueError, match="no closed-form"):
        rate(Wendland(1.0), 1.0, method="closed")
    with pytest.raises(ValueError, match="beta > dim/2"):
        rate(InverseMultiquadric(1.0, 0.5), 1.0, dim=1)
    with pytest.raises(ValueError, match="unstable"):
        euler_rate(0.5, 4.0)
    with pytest.raises(ValueError, match="eta"):
        euler_rate(0.5, -1.0)


def test_spectrum_rows_and_infinite_timescale():
    rows = spectrum(Gaussian(1.0), [1.0, math.sqrt(2), 50.0])
    assert list(rows[0]) == ["k", "rate", "timescale", "rate/peak"], list(rows[0])
    # the Gaussian's peak rate is 2/e at k* = sqrt(2)/s (closed form): rate/peak is 1 there and
    # exp(1/2)/2 = lambda(1)/(2/e) at k = 1, with lambda(1) = exp(-1/2); float64 round-off only
    assert_close(rows[1]["rate/peak"], 1.0, rtol=1e-15, what="rate/peak at k* = sqrt 2")
    assert_close(rows[0]["rate/peak"], math.exp(-0.5) / (2 / math.e), rtol=1e-15, what="rate/peak at k = 1")
    assert rows[2]["rate"] == 0.0 and rows[2]["timescale"] == math.inf  # underflow -> documented inf
    assert_close(rows[0]["timescale"], math.exp(0.5), rtol=1e-15, what="1/lambda(1)")


def test_generic_peak_search_matches_dense_scan():
    # Kernels without a closed-form peak go through scan + bounded search; a 20001-point scan
    # (spacing 4e-4 in log k -> relative rate error ~1e-7 at a smooth maximum) is the oracle.
    for kern, dim in ((InverseMultiquadric(1.0, 2.0), 1), (InverseMultiquadric(0.5, 3.0), 3)):
        kstar, lmax = peak_rate(kern, dim)
        scan = rate(kern, np.geomspace(1e-2, 1e2, 20001) / kern.length_scale, dim)
        assert lmax >= scan.max() * (1 - 1e-12)
        assert lmax <= scan.max() * (1 + 1e-6)
        assert_close(rate(kern, kstar, dim), lmax, rtol=1e-14, what="rate at k*")


# ---------------------------------------------------------------- extreme inputs
def _mp_matern_rate(nu, ell, k, dim):
    """lambda = (2 nu + d) x (1 + x)^-(nu + d/2 + 1), x = (ell k)^2 / (2 nu), at 40 digits."""
    with mp.workdps(40):
        nu, z = mp.mpf(nu), mp.mpf(ell) * mp.mpf(k)
        x = z * z / (2 * nu)
        return float((2 * nu + dim) * x * (1 + x) ** (-(nu + mp.mpf(dim) / 2 + 1)))


def _mp_imq_rate(c, beta, k, dim):
    """2^(1-mu)/Gamma(mu) z^(mu+1) K_(mu-1)(z), z = c k, mu = beta - d/2, at 40 digits."""
    with mp.workdps(40):
        mu = mp.mpf(beta) - mp.mpf(dim) / 2
        z = mp.mpf(c) * mp.mpf(k)
        return float(2 ** (1 - mu) / mp.gamma(mu) * z ** (mu + 1) * mp.besselk(mu - 1, z))


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("k", [1e3, 1e50, 1e100, 1e200, 1e308])
def test_closed_rates_are_exact_or_zero_at_huge_k(k, dim):
    """rate(Gaussian(1), 1e200) was NaN (inf * 0) and Laplace/Matern gave 0 where the exact
    rate is representable (x (1 + x)^-p underflowed in the power first, e.g. 2e-200 at
    tau k = 1e100). Oracle: the closed forms at 40 digits with mpmath; 1e-13 relative
    (float64 logs of O(500)-sized exponents: ~500 eps) or exact 0 where the value underflows."""
    cases = [(Laplace(1.0), _mp_matern_rate(0.5, 1.0, k, dim)), (Matern(2.0, nu=2.5), _mp_matern_rate(2.5, 2.0, k, dim)),
             (Matern(0.3, nu=1e6), _mp_matern_rate(1e6, 0.3, k, dim))]
    with mp.workdps(40):
        g = mp.mpf(k) ** 2
        cases.append((Gaussian(1.0), float(g * mp.exp(-g / 2))))
    if k < 1e300:
        cases.append((InverseMultiquadric(1.0, 4.0), _mp_imq_rate(1.0, 4.0, k, dim)))
    for kern, want in cases:
        got = rate(kern, np.array([k]), dim)
        assert np.isfinite(got).all(), (kern, k, got)
        if want < 1e-300:  # below the normal range: 0 or a subnormal, never NaN
            assert 0.0 <= got[0] <= 1e-300, (kern, k, got, want)
        else:
            assert_close(got, [want], rtol=1e-13, atol=0, what=f"{kern!r} rate at k={k}")


def test_rates_at_the_ends_of_the_length_scale_range():
    """Length scales 1e-150 and 1e150 with k = 1/s: the rate is the unit-scale one (lambda
    depends on s k only) to round-off (1e-14 relative), and the peak rescales exactly."""
    for s in (1e-150, 1e150):
        for make in (Gaussian, Laplace, lambda v: Matern(v, nu=2.5), lambda v: InverseMultiquadric(v, 2.0)):
            kern, unit = make(s), make(1.0)
            ks = np.array([0.5, 1.0, 3.0])
            assert_close(rate(kern, ks / s, 2), rate(unit, ks, 2), rtol=1e-14, what=f"{kern!r} rate")
            kstar, lmax = peak_rate(kern, 2)
            k1, l1 = peak_rate(unit, 2)
            assert_close(kstar * s, k1, rtol=1e-12, what=f"{kern!r} k*")  # generic search: xatol 1e-10
            assert_close(lmax, l1, rtol=1e-14, what=f"{kern!r} lambda max")


_RANGE_CASES = [pytest.param(kern, dim, z, id=f"{kern!r}-d{dim}-top{z[-1]:g}",
                              marks=[pytest.mark.slow] if z[-1] > 300 and not (dim == 1 and kern.name == "gaussian") else [])
                 for kern in (Gaussian(1.0), Laplace(0.5), Matern(2.0, nu=2.5), Matern(1.0, nu=1.3))
                 for dim in (1, 3)
                 for z in ((0.3, 3.0, 30.0, 300.0), (3000.0, 1e4))]


@pytest.mark.parametrize("kernel,dim,z", _RANGE_CASES)
def test_numerical_rate_over_its_whole_range(kernel, dim, z):
    """The numerical path returned negative rates at large k (round-off of the oscillatory
    quadrature, up to -1e-12): now it is within its own round-off estimate of the closed
    form over the whole documented range k ell <= 1e4 (estimate <= 1e-9 absolute there;
    values within their estimate of 0 come back as 0, so no spurious negative rate)."""
    from driftlab.kernels._hankel import radial_fourier_derivative

    # (the top of the range, k ell in [3e3, 1e4], takes ~10 s per kernel: slow profile, except
    # the Gaussian in 1-D)
    k = np.array(z) / kernel.length_scale
    closed = rate(kernel, k, dim, method="closed")
    num = rate(kernel, k, dim, method="numerical")
    _, err = radial_fourier_derivative(kernel, k, dim, with_error=True)
    bound = k * err
    assert (bound <= 1e-9).all(), bound
    assert (num >= 0).all(), num  # these kernels' spectra are monotone: every rate is >= 0
    bad = np.abs(num - closed) > bound
    assert not bad.any(), f"{kernel!r} d={dim}: k={k[bad]} num={num[bad]} closed={closed[bad]} bound={bound[bad]}"


def test_numerical_rate_refuses_beyond_its_range():
    with pytest.raises(ValueError, match=r"k must be <= 10000 / length_scale.*method='closed'"):
        rate(Gaussian(1.0), 1e200, method="numerical")
    with pytest.raises(ValueError, match=r"k must be <= 10000 / length_scale = 1e\+06"):
        rate(Wendland(0.01), 2e6, method="numerical")
    assert rate(Wendland(0.01), 1e6, method="numerical") >= 0


def test_spectrum_cli_prints_zero_at_huge_k():
    """`driftlab spectrum --k 1e200` printed nan with exit 0."""
    from click.testing import CliRunner

    from driftlab.cli import main

    res = CliRunner().invoke(main, ["spectrum", "--k", "1e200", "--format", "json"])
    assert res.exit_code == 0, res.output
    import json

    row = json.loads(res.output)[0]
    assert row["rate"] == 0.0 and row["timescale"] == "inf", row


@pytest.mark.parametrize("beta,dim", [(0.51, 1), (2.0, 1), (1.02, 2), (1.6, 3), (4.5, 3)])
def test_numerical_rate_supports_inverse_multiquadrics(beta, dim):
    """method='numerical' refused every inverse multiquadric; where the transform exists
    (beta > d/2) it now matches the closed form 2^(1-mu)/Gamma(mu) z^(mu+1) K_(mu-1)(z)
    within its error estimate (<= 1e-9 absolute for k c <= 1e3), and is refused with the
    reason where it does not."""
    from driftlab.kernels._hankel import radial_fourier_derivative

    kern = InverseMultiquadric(0.9, beta)
    k = np.array([1e-3, 0.3, 1.0, 3.0, 30.0, 1e3]) / 0.9
    closed = rate(kern, k, dim, method="closed")
    num = rate(kern, k, dim, method="numerical")
    _, err = radial_fourier_derivative(kern, k, dim, with_error=True)
    bound = k * err
    assert (bound <= 1e-9).all(), bound
    bad = np.abs(num - closed) > bound
    assert not bad.any(), f"{kern!r} d={dim}: k={k[bad]} num={num[bad]} closed={closed[bad]} bound={bound[bad]}"
    with pytest.raises(ValueError, match="beta > dim/2"):
        rate(InverseMultiquadric(0.9, dim / 2), 1.0, dim, method="numerical")


def test_generic_peak_search_finds_peaks_far_from_the_length_scale():
    """An IMQ with large beta is a Gaussian of bandwidth c / sqrt(2 beta): its peak sits near
    k = 2 sqrt(beta) / c, six decades from 1/c at beta = 1e12, where the scan used to stop
    (it refused). Gaussian limit: k* -> 2 sqrt(beta)/c, lambda_max -> 2/e with O(1/beta)
    corrections (tolerance 1e-5); the refined maximum matches a local dense scan (1e-9)."""
    for beta in (1e6, 1e12):
        kern = InverseMultiquadric(1.0, beta)
        kstar, lmax = peak_rate(kern, 3)
        assert_close(kstar, 2 * math.sqrt(beta), rtol=1e-5, what=f"beta={beta} k*")
        assert_close(lmax, 2 / math.e, rtol=1e-5, what=f"beta={beta} lambda max")
        scan = rate(kern, kstar * np.linspace(0.99, 1.01, 2001), 3)
        assert scan.max() <= lmax * (1 + 1e-9), (scan.max(), lmax)


def test_spectrum_rate_over_peak_does_not_depend_on_the_k_requested():
    # rate/peak divides by the kernel's fastest rate over all k (peak_rate), not by the largest
    # rate among the requested k: the same k reads the same number whatever else is asked.
    # Laplace tau = 1, d = 1: lambda(k) = 2k^2/(1+k^2)^2 (closed form), lambda_max = 1/2 at k* = 1,
    # so rate/peak at k = 3 is 4 * 9 / 100 = 0.36 exactly (up to float64 round-off)
    kern = Laplace(1.0)
    alone = spectrum(kern, [3.0])[0]["rate/peak"]
    with_peak = spectrum(kern, [1.0, 3.0])[1]["rate/peak"]
    far = spectrum(kern, [3.0, 30.0])[0]["rate/peak"]
    for got in (alone, with_peak, far):
        assert_close(got, 0.36, rtol=1e-14, what="Laplace rate/peak at k = 3")
    assert alone == with_peak == far, (alone, with_peak, far)
