r"""High-precision (mpmath, 40 working digits) checks of the mean-shift identities.

Each check builds random measures from a seed (empirical measures in d dimensions, 1-D
Gaussian mixtures), evaluates both sides of an identity by *different* routes (finite sums or
``mpmath.quad`` for the left side; ``mpmath.diff`` numerical differentiation at high precision
or closed forms for the right side) and returns the largest relative discrepancy. The claim
is that it is below 1e-30 (the working precision is 40 digits; ``mpmath.diff`` and
``mpmath.quad`` lose a few).

Identities (r = |y - x|, u = (y - x)/r, posterior :math:`\propto \pi(dy)k(x,y)`) [T, L, F]:

* Gaussian kernel: :math:`m = s^2\nabla\log\pi_s` (:func:`tweedie_empirical`, :func:`tweedie_gmm_1d`).
* Laplace: :math:`\nabla\log\pi_k = E[u]/\tau` and
  :math:`m = \tau\bar r\,\nabla\log\pi_k + \mathrm{Cov}(r, u)` (:func:`laplace_decomposition`).
* Companion: :math:`m = \tau(\tau + \bar r)\nabla\log\pi_c`, :math:`\pi_c = \int(\tau + r)e^{-r/\tau}d\pi`
  (:func:`companion_identity`).
* Scale mixture: :math:`e^{-r/\tau} = E_{v\sim\tau^2\chi^2_1}e^{-r^2/(2v)}` and the Laplace
  mean shift is the posterior mixture of Tweedie fields :math:`E_{v|x}[v\nabla\log Z_v]`
  (:func:`scale_mixture_kernel`, :func:`scale_mixture_mean_shift`).
* Normalised Fourier transform of the Laplace kernel in d dims (:func:`laplace_fourier_numeric`).

Each function takes the claimed formula's key constant as an optional argument (for
mutation tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath as mp
import numpy as np

__all__ = [
    "DPS",
    "PreciseResult",
    "tweedie_empirical",
    "tweedie_gmm_1d",
    "laplace_decomposition",
    "companion_identity",
    "scale_mixture_kernel",
    "scale_mixture_mean_shift",
    "laplace_fourier_numeric",
]

#: Working precision (decimal digits) of every check here.
DPS = 40


@dataclass(frozen=True)
class PreciseResult:
    """Largest relative discrepancy of an identity over the test points."""

    max_rel_error: float
    n_points: int
    dps: int = DPS


def _rng_measure(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, d))
    w = rng.uniform(0.2, 1.0, size=n)
    w = w / w.sum()
    xs = rng.normal(scale=1.3, size=(3, d)) + 0.1  # away from atoms (Laplace is kinked there)
    return ([[mp.mpf(float(v)) for v in row] for row in pts], [mp.mpf(float(v)) for v in w],
            [[mp.mpf(float(v)) for v in row] for row in xs])


def _dist(x, y):
    return mp.sqrt(mp.fsum((a - b) ** 2 for a, b in zip(x, y)))


def _grad_log(fun, x):
    """Gradient of log fun at x by high-precision numerical differentiation (mpmath.diff)."""
    d = len(x)
    out = []
    for j in range(d):
        order = tuple(1 if i == j else 0 for i in range(d))
        out.append(mp.diff(lambda *z: mp.log(fun(list(z))), x, order))
    return out


def _rel(a, b):
    num = mp.sqrt(mp.fsum((u - v) ** 2 for u, v in zip(a, b)))
    den = mp.sqrt(mp.fsum(v**2 for v in b))
    return float(num / den)


def _posterior_moments(pts, w, x, logk):
    """Z, E[y - x], E[r], E[u] under the posterior w_i k(x, y_i) (exact finite sums)."""
    d = len(x)
    ks = [wi * mp.exp(logk(_dist(x, y))) for wi, y in zip(w, pts)]
    Z = mp.fsum(ks)
    rs = [_dist(x, y) for y in pts]
    m = [mp.fsum(k * (y[j] - x[j]) for k, y in zip(ks, pts)) / Z for j in range(d)]
    rbar = mp.fsum(k * r for k, r in zip(ks, rs)) / Z
    ubar = [mp.fsum(k * (y[j] - x[j]) / r for k, y, r in zip(ks, pts, rs)) / Z for j in range(d)]
    cov = [mp.fsum(k * (r - rbar) * ((y[j] - x[j]) / r - ubar[j]) for k, y, r in zip(ks, pts, rs)) / Z
           for j in range(d)]
    return Z, m, rbar, ubar, cov


#: the claimed Tweedie factor c in m = c s^2 grad log pi_s (1; mutation tests monkeypatch it)
_CLAIMED_FACTOR = 1.0


def tweedie_empirical(seed: int = 0, n: int = 12, dim: int = 3, s: float = 0.8) -> PreciseResult:
    r"""Gaussian mean shift of an empirical measure vs :math:`s^2\nabla\log\pi_s`.

    Left side: exact finite sum. Right side: ``mpmath.diff`` of the log KDE.
    """
    with mp.workdps(DPS):
        pts, w, xs = _rng_measure(seed, n, dim)
        s = mp.mpf(s)
        logk = lambda r: -r**2 / (2 * s**2)  # noqa: E731
        Zf = lambda x: mp.fsum(wi * mp.exp(logk(_dist(x, y))) for wi, y in zip(w, pts))  # noqa: E731
        err = 0.0
        for x in xs:
            _, m, *_ = _posterior_moments(pts, w, x, logk)
            rhs = [_CLAIMED_FACTOR * s**2 * g for g in _grad_log(Zf, x)]
            err = max(err, _rel(m, rhs))
        return PreciseResult(err, len(xs))


def _gmm_1d(seed: int):
    rng = np.random.default_rng(seed)
    K = 3
    mus = [mp.mpf(float(v)) for v in rng.normal(scale=1.5, size=K)]
    vs = [mp.mpf(float(v)) for v in rng.uniform(0.2, 1.0, size=K)]
    ws = rng.uniform(0.3, 1.0, size=K)
    ws = [mp.mpf(float(v)) for v in ws / ws.sum()]
    xs = [mp.mpf(float(v)) for v in rng.normal(scale=1.5, size=2)]
    return mus, vs, ws, xs


def _gmm_pdf(y, mus, vs, ws):
    return mp.fsum(w * mp.exp(-(y - m) ** 2 / (2 * v)) / mp.sqrt(2 * mp.pi * v) for m, v, w in zip(mus, vs, ws))


def tweedie_gmm_1d(seed: int = 0, s: float = 0.7) -> PreciseResult:
    r"""Gaussian mean shift of a 1-D GMM by ``mpmath.quad`` vs :math:`c s^2` x closed-form score of :math:`p_s`."""
    with mp.workdps(DPS):
        mus, vs, ws, xs = _gmm_1d(seed)
        s = mp.mpf(s)
        err = 0.0
        for x in xs:
            f = lambda y: _gmm_pdf(y, mus, vs, ws) * mp.exp(-(y - x) ** 2 / (2 * s**2))  # noqa: E731
            Z = mp.quad(f, [-mp.inf, x, mp.inf])
            N = mp.quad(lambda y: f(y) * (y - x), [-mp.inf, x, mp.inf])
            vs_s = [v + s**2 for v in vs]
            ps = _gmm_pdf(x, mus, vs_s, ws)
            dps_ = mp.fsum(w * mp.exp(-(x - m) ** 2 / (2 * v)) / mp.sqrt(2 * mp.pi * v) * (-(x - m) / v)
                           for m, v, w in zip(mus, vs_s, ws))
            err = max(err, _rel([N / Z], [_CLAIMED_FACTOR * s**2 * dps_ / ps]))
        return PreciseResult(err, len(xs))


def laplace_decomposition(seed: int = 0, n: int = 12, dim: int = 3, tau: float = 0.6,
                          drop_covariance: bool = False, gmm_1d: bool = False) -> PreciseResult:
    r"""Laplace: :math:`m = \tau\bar r\nabla\log\pi_k + \mathrm{Cov}(r,u)` on an empirical measure.

    :math:`\nabla\log\pi_k` by ``mpmath.diff`` of the log kernel sum (not by the identity
    :math:`E[u]/\tau`), Cov computed as :math:`E[(r-\bar r)(u-\bar u)]`. Also checks
    :math:`\nabla\log\pi_k = E[u]/\tau` and :math:`|\nabla\log\pi_k| \le 1/\tau`.
    """
    if gmm_1d:
        return _laplace_decomposition_gmm_1d(seed, tau, drop_covariance)
    with mp.workdps(DPS):
        pts, w, xs = _rng_measure(seed, n, dim)
        tau = mp.mpf(tau)
        logk = lambda r: -r / tau  # noqa: E731
        Zf = lambda x: mp.fsum(wi * mp.exp(logk(_dist(x, y))) for wi, y in zip(w, pts))  # noqa: E731
        err = 0.0
        for x in xs:
            _, m, rbar, ubar, cov = _posterior_moments(pts, w, x, logk)
            g = _grad_log(Zf, x)
            if mp.sqrt(mp.fsum(v**2 for v in g)) > 1 / tau:
                return PreciseResult(float("inf"), len(xs))
            rhs = [tau * rbar * gj + (0 if drop_covariance else cj) for gj, cj in zip(g, cov)]
            err = max(err, _rel(m, rhs), _rel([u / tau for u in ubar], g))
        return PreciseResult(err, len(xs))


def _laplace_decomposition_gmm_1d(seed: int, tau: float, drop_covariance: bool) -> PreciseResult:
    """1-D GMM version: every posterior moment by ``mpmath.quad`` (split at the kink y = x)."""
    with mp.workdps(DPS):
        mus, vs, ws, xs = _gmm_1d(seed)
        tau = mp.mpf(tau)
        err = 0.0
        for x in xs:
            Z, m, rbar = _laplace_gmm_1d_moments(x, mus, vs, ws, tau)
            f = lambda y: _gmm_pdf(y, mus, vs, ws) * mp.exp(-abs(y - x) / tau)  # noqa: E731
            iv = [-mp.inf, x, mp.inf]
            ubar = mp.quad(lambda y: f(y) * mp.sign(y - x), iv) / Z
            cov = mp.quad(lambda y: f(y) * (abs(y - x) - rbar) * (mp.sign(y - x) - ubar), iv) / Z

            def Zf(z):
                return mp.quad(lambda y: _gmm_pdf(y, mus, vs, ws) * mp.exp(-abs(y - z[0]) / tau), [-mp.inf, z[0], mp.inf])

            g = _grad_log(Zf, [x])[0]
            if abs(g) > 1 / tau:
                return PreciseResult(float("inf"), len(xs))
            rhs = tau * rbar * g + (0 if drop_covariance else cov)
            err = max(err, _rel([m], [rhs]), _rel([ubar / tau], [g]))
        return PreciseResult(err, len(xs))


def _laplace_gmm_1d_moments(x, mus, vs, ws, tau):
    """1-D GMM, Laplace kernel by quadrature (split at the kink y = x): Z, m, rbar, Z_c."""
    f = lambda y: _gmm_pdf(y, mus, vs, ws) * mp.exp(-abs(y - x) / tau)  # noqa: E731
    iv = [-mp.inf, x, mp.inf]
    Z = mp.quad(f, iv)
    m = mp.quad(lambda y: f(y) * (y - x), iv) / Z
    rbar = mp.quad(lambda y: f(y) * abs(y - x), iv) / Z
    return Z, m, rbar


def companion_identity(seed: int = 0, n: int = 12, dim: int = 3, tau: float = 0.6, offset: float = 1.0,
                       gmm_1d: bool = False) -> PreciseResult:
    r""":math:`m_{Laplace} = \tau(c\tau + \bar r)\nabla\log\pi_c` with c = ``offset`` (claim: c = 1).

    Empirical measure in ``dim`` dims (finite sums), or a 1-D GMM (``gmm_1d=True``,
    ``mpmath.quad``); :math:`\nabla\log\pi_c` by ``mpmath.diff``.
    """
    with mp.workdps(DPS):
        tau = mp.mpf(tau)
        err = 0.0
        if gmm_1d:
            mus, vs, ws, xs = _gmm_1d(seed)
            for x in xs:
                _, m, rbar = _laplace_gmm_1d_moments(x, mus, vs, ws, tau)

                def pic(z):
                    g = lambda y: _gmm_pdf(y, mus, vs, ws) * (tau + abs(y - z[0])) * mp.exp(-abs(y - z[0]) / tau)  # noqa: E731
                    return mp.quad(g, [-mp.inf, z[0], mp.inf])

                gc = _grad_log(pic, [x])
                err = max(err, _rel([m], [tau * (offset * tau + rbar) * gc[0]]))
            return PreciseResult(err, len(xs))
        pts, w, xs = _rng_measure(seed, n, dim)
        logk = lambda r: -r / tau  # noqa: E731
        pic = lambda x: mp.fsum(wi * (tau + _dist(x, y)) * mp.exp(-_dist(x, y) / tau) for wi, y in zip(w, pts))  # noqa: E731
        for x in xs:
            _, m, rbar, _, _ = _posterior_moments(pts, w, x, logk)
            gc = _grad_log(pic, x)
            err = max(err, _rel(m, [tau * (offset * tau + rbar) * g for g in gc]))
        return PreciseResult(err, len(xs))


def _chi2_1(wv):
    return wv ** mp.mpf(-0.5) * mp.exp(-wv / 2) / mp.sqrt(2 * mp.pi)


def scale_mixture_kernel(rs=(0.1, 0.7, 2.0, 5.0), tau: float = 0.8, scale: float = 1.0) -> PreciseResult:
    r""":math:`\int_0^\infty \chi^2_1(w) e^{-r^2/(2c\tau^2 w)}dw` vs :math:`e^{-r/\tau}` (claim c = 1)."""
    with mp.workdps(DPS):
        tau = mp.mpf(tau)
        err = 0.0
        for r in rs:
            r = mp.mpf(r)
            lhs = mp.quad(lambda wv: _chi2_1(wv) * mp.exp(-r**2 / (2 * scale * tau**2 * wv)), [0, r / tau, 1, mp.inf])
            err = max(err, _rel([lhs], [mp.exp(-r / tau)]))
        return PreciseResult(err, len(rs))


def scale_mixture_mean_shift(seed: int = 0, n: int = 8, dim: int = 2, tau: float = 0.6) -> PreciseResult:
    r"""Laplace mean shift (finite sum) vs :math:`E_{v|x}[v\,\nabla\log Z_v(x)]` (quadrature over v).

    :math:`Z_v(x) = \sum_i w_i e^{-|y_i-x|^2/(2v)}`, posterior over v
    :math:`\propto \tau^{-2}\chi^2_1(v/\tau^2) Z_v(x)`; :math:`v\nabla\log Z_v` is the
    Tweedie field of bandwidth :math:`\sqrt v` (written as its finite-sum mean shift).
    """
    with mp.workdps(DPS):
        pts, w, xs = _rng_measure(seed, n, dim)
        tau = mp.mpf(tau)
        err = 0.0
        for x in xs:
            _, m, *_ = _posterior_moments(pts, w, x, lambda r: -r / tau)
            r2 = [_dist(x, y) ** 2 for y in pts]

            def Zv(wv):
                return mp.fsum(wi * mp.exp(-ri / (2 * tau**2 * wv)) for wi, ri in zip(w, r2))

            def Nv(wv, j):
                return mp.fsum(wi * mp.exp(-ri / (2 * tau**2 * wv)) * (y[j] - x[j]) for wi, ri, y in zip(w, r2, pts))

            iv = [0, mp.mpf(1) / 4, 1, 4, mp.inf]
            den = mp.quad(lambda wv: _chi2_1(wv) * Zv(wv), iv)
            # v grad log Z_v = N_v / Z_v (Tweedie at bandwidth sqrt v); weight chi2 * Z_v / den
            rhs = [mp.quad(lambda wv: _chi2_1(wv) * Nv(wv, j), iv) / den for j in range(dim)]
            err = max(err, _rel(m, rhs))
        return PreciseResult(err, len(xs))


def laplace_fourier_numeric(dims=(1, 2, 3, 5), ks=(0.5, 1.7), tau: float = 0.9, exponent_shift: float = 0.0) -> PreciseResult:
    r"""Hankel transform of :math:`e^{-r/\tau}` by quadrature vs :math:`(1+\tau^2k^2)^{-(d+1)/2 - \delta}`.

    :math:`\hat\varphi(k) \propto k^{1-d/2}\int_0^\infty e^{-r/\tau} J_{d/2-1}(kr) r^{d/2} dr`,
    normalised by its k -> 0 value :math:`\Gamma(d)\tau^d / (2^{d/2-1}\Gamma(d/2))`.
    """
    with mp.workdps(DPS):
        tau = mp.mpf(tau)
        err = 0.0
        for d in dims:
            nu = mp.mpf(d) / 2 - 1
            norm0 = mp.gamma(d) * tau**d / (2**nu * mp.gamma(mp.mpf(d) / 2))
            for k in ks:
                k = mp.mpf(k)
                f = lambda r: mp.exp(-r / tau) * mp.besselj(nu, k * r) * r ** (mp.mpf(d) / 2)  # noqa: E731
                pts = [0] + [j * mp.pi / k for j in range(1, 60)] + [mp.inf]
                val = k ** (-nu) * mp.quad(f, pts) / norm0
                claim = (1 + tau**2 * k**2) ** (-(mp.mpf(d) + 1) / 2 - exponent_shift)
                err = max(err, _rel([val], [claim]))
        return PreciseResult(err, len(dims) * len(ks))
