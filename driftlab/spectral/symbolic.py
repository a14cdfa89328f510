r"""Symbolic (sympy) derivation of the relaxation rates from the continuity equation.

:func:`derive_rate_1d` starts from the *nonlinear* 1-D dynamics, uniform target
:math:`p \equiv 1`, perturbed model :math:`q = 1 + \epsilon\cos(kx)`:

.. math::

    m_q(x) = \frac{-\int z\,\varphi(|z|)\,q(x-z)\,dz}{\int \varphi(|z|)\,q(x-z)\,dz},\qquad
    V = m_p - m_q,\qquad \partial_t q = -\partial_x(qV),

evaluates the integrals in closed form, differentiates :math:`\partial_t q` with respect to
:math:`\epsilon` at 0 (the linearisation) and divides by :math:`\cos(kx)`; the result must
be :math:`-\lambda(k)` and independent of x (that it is x-independent shows each Fourier
mode is an eigenfunction). :func:`derive_rate_3d` does the same for a plane wave in 3-D,
where the linearised equation reduces to
:math:`\lambda(k) = k\int z_1\varphi(|z|)\sin(kz_1)\,d^3z / \int\varphi\,d^3z
= -k\,\partial_k E(k)` with the radial (sinc) transform.

Kernels: ``"gaussian"`` (:math:`e^{-z^2/(2s^2)}`) and ``"laplace"`` (:math:`e^{-|z|/\tau}`).

>>> from driftlab.spectral.symbolic import derive_rate_1d
>>> derive_rate_1d("laplace")
2*k**2*tau**2/(k**2*tau**2 + 1)**2
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["derive_rate_1d", "derive_rate_3d", "expected_rate"]


def _half_integral(sp, expr, z):
    """Integral over z in (0, oo) of expr (sympy), simplified."""
    return sp.simplify(sp.integrate(expr, (z, 0, sp.oo), conds="none"))


@lru_cache(maxsize=None)
def derive_rate_1d(kernel: str):
    """Return the sympy expression of lambda(k) derived from the 1-D continuity equation."""
    sp = __import__("sympy")
    x, z = sp.symbols("x z", real=True)
    k, s, tau, eps = sp.symbols("k s tau epsilon", positive=True)
    if kernel == "gaussian":
        phi = sp.exp(-z**2 / (2 * s**2))
    elif kernel == "laplace":
        phi = sp.exp(-z / tau)  # on z > 0; the kernel is even, handled below
    else:
        raise ValueError(f"kernel must be 'gaussian' or 'laplace', got {kernel!r}")
    # q(x - z) = 1 + eps [cos kx cos kz + sin kx sin kz]; phi even, z*phi odd: integrate over z > 0.
    norm0 = 2 * _half_integral(sp, phi, z)
    norm_c = 2 * _half_integral(sp, phi * sp.cos(k * z), z)
    num_s = 2 * _half_integral(sp, z * phi * sp.sin(k * z), z)
    numerator = -(eps * sp.sin(k * x) * num_s)  # -int z phi q(x-z) dz (the constant part vanishes)
    denominator = norm0 + eps * sp.cos(k * x) * norm_c
    m_q = numerator / denominator
    V = 0 - m_q  # m_p = 0 for the uniform target
    q = 1 + eps * sp.cos(k * x)
    dq_dt = -sp.diff(q * V, x)
    linear = sp.diff(dq_dt, eps).subs(eps, 0)
    lam = sp.simplify(-linear / sp.cos(k * x))
    if lam.has(x):
        raise AssertionError(f"linearised rate depends on x: {lam}")
    return lam


@lru_cache(maxsize=None)
def derive_rate_3d(kernel: str):
    """lambda(k) for a 3-D plane wave: -k dE/dk with E from the radial sinc transform."""
    sp = __import__("sympy")
    r = sp.symbols("r", positive=True)
    k, s, tau = sp.symbols("k s tau", positive=True)
    if kernel == "gaussian":
        phi = sp.exp(-r**2 / (2 * s**2))
    elif kernel == "laplace":
        phi = sp.exp(-r / tau)
    else:
        raise ValueError(f"kernel must be 'gaussian' or 'laplace', got {kernel!r}")
    norm = sp.integrate(phi * r**2, (r, 0, sp.oo), conds="none")
    ft = sp.integrate(phi * r**2 * sp.sin(k * r) / (k * r), (r, 0, sp.oo), conds="none")
    E = sp.simplify(ft / norm)
    return sp.simplify(-k * sp.diff(E, k))


def expected_rate(kernel: str, dim: int):
    """The stated closed forms as sympy expressions (to compare with the derivations)."""
    sp = __import__("sympy")
    k, s, tau = sp.symbols("k s tau", positive=True)
    if kernel == "gaussian":
        return s**2 * k**2 * sp.exp(-s**2 * k**2 / 2)
    if kernel == "laplace":
        return (dim + 1) * tau**2 * k**2 / (1 + tau**2 * k**2) ** sp.Rational(dim + 3, 2)
    raise ValueError(f"kernel must be 'gaussian' or 'laplace', got {kernel!r}")
