r"""Symbolic (sympy) proofs of the exact identities behind drifting.

Every public function returns a sympy expression (or matrix) that equals the difference
"left-hand side minus right-hand side" of one identity; :func:`is_zero` decides whether it
simplifies to exactly 0. The *claimed* right-hand sides are module-level private functions
(``_claimed_*``) so that a mutation test can monkeypatch a perturbed formula and watch the proof
fail; the public signatures carry no such hook.

Identities ([T], [L], [F]; docs/theory.md):

* Tweedie: the Gaussian-kernel mean shift of any 1-D density equals
  :math:`s^2 \partial_x \log p_s` (:func:`tweedie_general_1d`), and for
  :math:`p = \mathcal N(\mu, \Sigma)` in d dimensions
  :math:`m(x) = -s^2(\Sigma + s^2 I)^{-1}(x - \mu)` (:func:`tweedie_gaussian_closed_form`).
* The normalised d-dimensional Fourier transform of the Laplace kernel is
  :math:`(1 + \tau^2 k^2)^{-(d+1)/2}` for symbolic d (:func:`laplace_fourier_general_dim`, via the
  scale mixture) and by direct radial integrals for d = 1, 2, 3 (:func:`laplace_fourier_radial`).
* :math:`e^{-r/\tau} = E_{v \sim \tau^2\chi^2_1}[e^{-r^2/(2v)}]` (:func:`laplace_scale_mixture`).
* Companion kernel: :math:`\nabla_x[(\tau + r)e^{-r/\tau}] = \frac{y - x}{\tau} e^{-r/\tau}`
  (:func:`companion_gradient`), hence :math:`m_{Laplace} = \tau(\tau + \bar r)\nabla\log\pi_c`;
  Laplace: :math:`\nabla_x e^{-r/\tau} = \frac{u}{\tau}e^{-r/\tau}` (:func:`laplace_gradient`).
* Low-temperature constant: the Laplace kernel's second moment is :math:`(d+1)\tau^2 I`
  (:func:`laplace_second_moment`).
* DMD link [L]: the Gaussian drift of two Gaussians equals DMD's real-minus-fake score
  direction at noise level s, evaluated at the clean sample, times s^2 (:func:`dmd_identity`).
* Reverse Fisher [T]: :math:`E_q V^2` for 1-D Gaussians in closed form (:func:`reverse_fisher_1d`).

Examples
--------
>>> from driftlab.theory.symbolic import is_zero, laplace_scale_mixture
>>> is_zero(laplace_scale_mixture())
True
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Callable

import sympy as sp

__all__ = [
    "is_zero",
    "tweedie_general_1d",
    "tweedie_gaussian_closed_form",
    "laplace_fourier_general_dim",
    "laplace_fourier_radial",
    "laplace_scale_mixture",
    "companion_gradient",
    "laplace_gradient",
    "laplace_second_moment",
    "dmd_identity",
    "reverse_fisher_1d",
    "PROOFS",
]

_s = sp.Symbol("s", positive=True)
_tau = sp.Symbol("tau", positive=True)
_k = sp.Symbol("k", positive=True)
_r = sp.Symbol("r", positive=True)
_d = sp.Symbol("d", positive=True)


def is_zero(expr) -> bool:
    """True when ``expr`` (scalar or matrix) is exactly 0; False when it is not (or not provably).

    A quick screen first evaluates the expression at a fixed random point (30 digits), with
    any undefined function ``p(y)`` replaced by a concrete positive function: a clearly
    non-zero value returns False without the (slow) symbolic simplification. Otherwise the
    expression must simplify to 0, so True always means an exact 0. An expression
    ``Integral(f)/Z`` is 0 when its integrand f simplifies to 0 (the sufficient condition
    used by the Tweedie proof).
    """
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    expr = sp.sympify(expr)
    num, _den = sp.fraction(sp.together(expr))
    if isinstance(num, sp.Integral):
        return _integrand_is_zero(num.function)
    if not expr.has(sp.Integral, sp.Derivative, sp.core.function.AppliedUndef) and _screen_nonzero(expr):
        return False
    return sp.simplify(sp.expand_func(sp.simplify(expr))) == 0


def _screen_nonzero(expr) -> bool:
    rng = random.Random(12345)
    point = {sym: sp.Rational(rng.randint(3, 29), rng.randint(7, 17)) for sym in expr.free_symbols}
    try:
        val = complex(sp.N(expr.subs(point), 30))
    except (TypeError, ValueError):  # pragma: no cover - unevaluable: let simplify decide
        return False
    return abs(val) > 1e-20


def _integrand_is_zero(f) -> bool:
    concrete = f.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef),
                         lambda e: sp.exp(-e.args[0] ** 2 / 3) * (2 + sp.sin(e.args[0])))
    if _screen_nonzero(concrete):
        return False
    return sp.simplify(f) == 0


def _claimed_tweedie_factor(s):
    """The claimed Tweedie factor c(s) = s^2 (a mutation test replaces it via monkeypatch)."""
    return s**2


def _claimed_tweedie_factor_h(h):
    """The claimed factor for the kernel exp(-(y-x)^2/h): h/2."""
    return h / 2


def _claimed_laplace_exponent(d):
    """The claimed exponent of the Laplace spectrum (1 + tau^2 k^2)^e: e = -(d+1)/2."""
    return -(d + 1) / 2


def _claimed_mixture_scale(tau):
    """The claimed chi-square scale of the Laplace scale mixture: tau^2."""
    return tau**2


def tweedie_general_1d(*, h_kernel: bool = False):
    r"""Mean shift minus :math:`c\,\partial_x \log p_s` for an arbitrary 1-D density ``p``.

    With :math:`Z(x) = \int p(y) e^{-(y-x)^2/(2s^2)} dy` (the normalising constant of
    :math:`\mathcal N(0, s^2)` cancels in the log-derivative) and
    :math:`N(x) = \int p(y)(y - x) e^{-(y-x)^2/(2s^2)} dy`, returns
    :math:`N/Z - c\,\partial_x \log Z` with :math:`c = s^2`. The derivative
    passes under the integral (Leibniz), so this is Tweedie's argument for *every* p [T, L].
    With ``h_kernel=True`` the kernel is :math:`e^{-(y-x)^2/h}` (``s`` stands for h) and the
    claimed factor is :math:`h/2`.
    """
    x, y = sp.symbols("x y", real=True)
    p = sp.Function("p")
    if h_kernel:  # kernel exp(-(y-x)^2/h) written with s standing for h: claimed factor h/2
        c = _claimed_tweedie_factor_h(_s)
        kern = sp.exp(-(y - x) ** 2 / _s)
    else:
        c = _claimed_tweedie_factor(_s)
        kern = sp.exp(-(y - x) ** 2 / (2 * _s**2))
    Z = sp.Integral(p(y) * kern, (y, -sp.oo, sp.oo))
    N = sp.Integral(p(y) * kern * (y - x), (y, -sp.oo, sp.oo))
    dZ = sp.diff(Z, x)  # sympy differentiates under the integral sign (Leibniz rule)
    # N/Z - c dZ/Z with the two integrals over the same range merged into one
    return sp.Integral(sp.expand(N.function - c * dZ.function), (y, -sp.oo, sp.oo)) / Z


def tweedie_gaussian_closed_form(dim: int = 2) -> sp.Matrix:
    r"""Gaussian-kernel mean shift of :math:`\mathcal N(\mu, \Sigma)` minus its closed form.

    The kernel posterior :math:`\propto \mathcal N(y;\mu,\Sigma)e^{-|y-x|^2/(2s^2)}` has a
    quadratic log-density, so its mean is the stationary point; that mean minus x is compared
    with :math:`s^2\nabla_x\log\mathcal N(x;\mu,\Sigma+s^2I) = -s^2(\Sigma+s^2I)^{-1}(x-\mu)`
    for a generic symmetric :math:`\Sigma` (symbols, ``dim`` x ``dim``).
    """
    xs = sp.Matrix(sp.symbols(f"x0:{dim}", real=True))
    ys = sp.Matrix(sp.symbols(f"y0:{dim}", real=True))
    mu = sp.Matrix(sp.symbols(f"mu0:{dim}", real=True))
    S = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"S{min(i, j)}{max(i, j)}", real=True))
    P = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"P{min(i, j)}{max(i, j)}", real=True))  # = S^-1
    logpost = -((ys - mu).T * P * (ys - mu))[0] / 2 - ((ys - xs).T * (ys - xs))[0] / (2 * _s**2)
    sol = sp.solve([sp.diff(logpost, v) for v in ys], list(ys), dict=True)[0]
    post_mean = ys.subs(sol).subs({P[i, j]: S.inv()[i, j] for i in range(dim) for j in range(dim)})
    c = _claimed_tweedie_factor(_s)
    closed = -c * (S + _s**2 * sp.eye(dim)).inv() * (xs - mu)
    return post_mean - xs - closed


def laplace_fourier_general_dim():
    r"""Normalised d-dim Fourier transform of :math:`e^{-r/\tau}` minus :math:`(1+\tau^2k^2)^{-(d+1)/2}`.

    Uses the scale mixture (:func:`laplace_scale_mixture`) and the Gaussian transform
    :math:`\int e^{-|z|^2/(2v)} e^{-ik\cdot z}dz = (2\pi v)^{d/2}e^{-vk^2/2}`: with
    :math:`v = \tau^2 w`, :math:`w\sim\chi^2_1`, the transform is proportional to
    :math:`\int_0^\infty w^{(d-1)/2} e^{-w(1+\tau^2k^2)/2}dw`, a Gamma integral; d is a symbol.
    """
    w = sp.Symbol("w", positive=True)
    F = sp.integrate(w ** ((_d - 1) / 2) * sp.exp(-w * (1 + _tau**2 * _k**2) / 2), (w, 0, sp.oo))
    e = _claimed_laplace_exponent(_d)
    return F / F.subs(_k, 0) - (1 + _tau**2 * _k**2) ** e


def gaussian_fourier_1d():
    r""":math:`\int e^{-z^2/(2v)} e^{-ikz}dz - \sqrt{2\pi v}e^{-vk^2/2}` (the ingredient above)."""
    z = sp.Symbol("z", real=True)
    v = sp.Symbol("v", positive=True)
    F = sp.integrate(sp.exp(-z**2 / (2 * v)) * sp.exp(-sp.I * _k * z), (z, -sp.oo, sp.oo))
    return F - sp.sqrt(2 * sp.pi * v) * sp.exp(-v * _k**2 / 2)


def laplace_fourier_radial(dim: int):
    r"""Direct radial transform of :math:`e^{-r/\tau}` for d in {1, 2, 3}, normalised, minus the claim.

    d = 1: :math:`2\int_0^\infty \cos(kr)e^{-r/\tau}dr`; d = 2: :math:`2\pi\int_0^\infty r J_0(kr)
    e^{-r/\tau}dr`; d = 3: :math:`\frac{4\pi}{k}\int_0^\infty r\sin(kr)e^{-r/\tau}dr`.
    """
    if dim == 1:
        integrand = 2 * sp.cos(_k * _r)
    elif dim == 2:
        integrand = 2 * sp.pi * _r * sp.besselj(0, _k * _r)
    elif dim == 3:
        integrand = 4 * sp.pi / _k * _r * sp.sin(_k * _r)
    else:
        raise ValueError(f"dim must be 1, 2 or 3 for the direct radial integral, got {dim!r}")
    F = sp.integrate(integrand * sp.exp(-_r / _tau), (_r, 0, sp.oo))
    F0 = sp.limit(F, _k, 0)
    e = _claimed_laplace_exponent(sp.Integer(dim))
    return F / F0 - (1 + _tau**2 * _k**2) ** e


def laplace_scale_mixture():
    r""":math:`E_{v\sim c\chi^2_1}[e^{-r^2/(2v)}] - e^{-r/\tau}` with :math:`c = \tau^2`."""
    w = sp.Symbol("w", positive=True)
    c = _claimed_mixture_scale(_tau)
    chi2 = w ** sp.Rational(-1, 2) * sp.exp(-w / 2) / sp.sqrt(2 * sp.pi)
    E = sp.integrate(chi2 * sp.exp(-_r**2 / (2 * c * w)), (w, 0, sp.oo))
    return E - sp.exp(-_r / _tau)


def _coords(dim: int):
    xs = sp.Matrix(sp.symbols(f"x0:{dim}", real=True))
    ys = sp.Matrix(sp.symbols(f"y0:{dim}", real=True))
    r = sp.sqrt(((ys - xs).T * (ys - xs))[0])
    return xs, ys, r


def _claimed_companion_offset(tau):
    """The claimed offset c of the companion kernel (c + r) e^{-r/tau}: c = tau."""
    return tau


def _claimed_second_moment(d, tau):
    """The claimed per-axis second moment of e^{-|z|/tau} in d dims: (d + 1) tau^2."""
    return (d + 1) * tau**2


def _claimed_dmd_weight(sigma):
    """The claimed weight of the DMD direction: sigma^2."""
    return sigma**2


def _claimed_reverse_fisher_1d(s, A, B, vq, mp, mq):
    """The claimed closed form of E_q V^2 for 1-D Gaussians: s^4 [(B - A)^2 v_q + A^2 (m_p - m_q)^2]."""
    return s**4 * ((B - A) ** 2 * vq + A**2 * (mp - mq) ** 2)


def companion_gradient(dim: int = 3) -> sp.Matrix:
    r""":math:`\nabla_x[(c + r)e^{-r/\tau}] - \frac{y-x}{\tau}e^{-r/\tau}` with :math:`c = \tau`."""
    xs, ys, r = _coords(dim)
    c = _claimed_companion_offset(_tau)
    kc = (c + r) * sp.exp(-r / _tau)
    grad = sp.Matrix([sp.diff(kc, v) for v in xs])
    return grad - (ys - xs) / _tau * sp.exp(-r / _tau)


def laplace_gradient(dim: int = 3) -> sp.Matrix:
    r""":math:`\nabla_x e^{-r/\tau} - \frac{u}{\tau}e^{-r/\tau}`, :math:`u = (y-x)/r`."""
    xs, ys, r = _coords(dim)
    grad = sp.Matrix([sp.diff(sp.exp(-r / _tau), v) for v in xs])
    return grad - (ys - xs) / r / _tau * sp.exp(-r / _tau)


def laplace_second_moment():
    r"""Per-axis second moment of :math:`e^{-|z|/\tau}` in d dims minus :math:`(d+1)\tau^2`.

    Radial law :math:`\propto r^{d-1}e^{-r/\tau}`, so :math:`E z_1^2 = E r^2/d`; this constant
    is the Gaussian-equivalent :math:`s^2` of the low-temperature law
    :math:`m = (d+1)\tau^2\nabla\log p + O(\tau^4)`.
    """
    num = sp.integrate(_r ** (_d + 1) * sp.exp(-_r / _tau), (_r, 0, sp.oo))
    den = sp.integrate(_r ** (_d - 1) * sp.exp(-_r / _tau), (_r, 0, sp.oo))
    c = _claimed_second_moment(_d, _tau)
    return sp.gammasimp(num / den / _d) - c


@lru_cache(maxsize=None)
def _generic_gaussian_moments():
    r"""Integrals :math:`\int y^n e^{-a y^2 + b y} dy`, n = 0, 1, 2, integrated once by sympy."""
    y, b = sp.Symbol("y", real=True), sp.Symbol("b", real=True)
    a = sp.Symbol("a", positive=True)
    return a, b, tuple(sp.integrate(y**n * sp.exp(-a * y**2 + b * y), (y, -sp.oo, sp.oo)) for n in range(3))


def _gaussian_integral(poly_in_y, exponent, y):
    r""":math:`\int P(y) e^{E(y)} dy` for a polynomial P of degree <= 2 and a quadratic E."""
    a, b, moments = _generic_gaussian_moments()
    E = sp.Poly(sp.expand(exponent), y)
    if E.degree() != 2:
        raise ValueError("exponent must be quadratic in y")
    c2, c1, c0 = (E.coeff_monomial(y**2), E.coeff_monomial(y), E.coeff_monomial(1))
    P = sp.Poly(sp.expand(poly_in_y), y)
    total = sum(P.coeff_monomial(y**n) * moments[n] for n in range(P.degree() + 1))
    return sp.exp(c0) * total.subs({a: -c2, b: c1})


def _gauss_mean_shift_1d(mu, v, x):
    """Gaussian-kernel mean shift of N(mu, v) at x, by integration (not by Tweedie)."""
    y = sp.Symbol("y", real=True)
    expo = -(y - mu) ** 2 / (2 * v) - (y - x) ** 2 / (2 * _s**2)
    Z = _gaussian_integral(sp.Integer(1), expo, y)
    N = _gaussian_integral(y - x, expo, y)
    return sp.simplify(N / Z)


def dmd_identity():
    r"""Drift (kernel mean-shift difference) minus :math:`\sigma^2` x DMD direction at :math:`\sigma=s`.

    DMD [L] updates along :math:`s_{real}(x_t) - s_{fake}(x_t)` with
    :math:`s_{real} = \nabla\log p_\sigma`; drifting evaluates it at the clean sample
    :math:`x_t = x`. For 1-D Gaussians p, q the mean shifts are integrated directly.
    """
    x, mp, mq = sp.symbols("x m_p m_q", real=True)
    vp, vq = sp.symbols("v_p v_q", positive=True)
    V = _gauss_mean_shift_1d(mp, vp, x) - _gauss_mean_shift_1d(mq, vq, x)
    sig = _s  # DMD noise level
    score = lambda m, v: -(x - m) / (v + sig**2)  # noqa: E731  score of N(m, v + sigma^2)
    w = _claimed_dmd_weight(sig)
    return V - w * (score(mp, vp) - score(mq, vq))


def reverse_fisher_1d():
    r""":math:`E_{x\sim q}[V(x)^2]` (integrated) minus the closed form, 1-D Gaussians.

    With :math:`A = 1/(v_p+s^2)`, :math:`B = 1/(v_q+s^2)`:
    :math:`E_q V^2 = s^4[(B-A)^2 v_q + A^2(\mu_p-\mu_q)^2]`, which is
    :math:`s^4 E_q|\nabla\log p_s - \nabla\log q_s|^2` [T].
    """
    x, mp, mq = sp.symbols("x m_p m_q", real=True)
    vp, vq = sp.symbols("v_p v_q", positive=True)
    V = _gauss_mean_shift_1d(mp, vp, x) - _gauss_mean_shift_1d(mq, vq, x)
    EV2 = _gaussian_integral(V**2, -(x - mq) ** 2 / (2 * vq), x) / sp.sqrt(2 * sp.pi * vq)
    A, B = 1 / (vp + _s**2), 1 / (vq + _s**2)
    form = _claimed_reverse_fisher_1d(_s, A, B, vq, mp, mq)
    return EV2 - form


#: name -> zero-argument callable returning the "should be 0" expression.
PROOFS: dict[str, Callable] = {
    "tweedie_general_1d": tweedie_general_1d,
    "tweedie_h_kernel": lambda: tweedie_general_1d(h_kernel=True),
    "tweedie_gaussian_2d": lambda: tweedie_gaussian_closed_form(2),
    "gaussian_fourier_1d": gaussian_fourier_1d,
    "laplace_fourier_general_dim": laplace_fourier_general_dim,
    "laplace_fourier_radial_1d": lambda: laplace_fourier_radial(1),
    "laplace_fourier_radial_2d": lambda: laplace_fourier_radial(2),
    "laplace_fourier_radial_3d": lambda: laplace_fourier_radial(3),
    "laplace_scale_mixture": laplace_scale_mixture,
    "companion_gradient_3d": lambda: companion_gradient(3),
    "laplace_gradient_3d": lambda: laplace_gradient(3),
    "laplace_second_moment": laplace_second_moment,
    "dmd_identity": dmd_identity,
    "reverse_fisher_1d": reverse_fisher_1d,
}
