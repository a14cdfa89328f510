r"""Is the drift field a gradient? Jacobian asymmetry of the fields of [T, L, F, KG].

A field V on :math:`\mathbb R^d` is conservative (locally a gradient) iff its Jacobian is
symmetric. :func:`jacobian_asymmetry` returns :math:`\max_x \|J - J^\top\|_F / \|J\|_F` with
J by central differences (step h: truncation :math:`O(h^2)`, round-off
:math:`O(\epsilon/h)`, both ~1e-9 relative at h = 1e-4 for unit-scale fields).

Fields (p, q Gaussian mixtures, 2-D):

* ``"gaussian"``: :math:`m_p - m_q` with the Gaussian kernel (posterior means) — a gradient,
  :math:`s^2\nabla\log(p_s/q_s)` [T].
* ``"laplace"``: the normalised Laplace drift — not a gradient [F].
* ``"sharp"``: Laplace numerator normalised by the companion kernel sum,
  :math:`E[k_L(y-x)]/E[k_c] = \tau\nabla\log\pi_c` — a gradient [F, L].
* ``"kernel_gradient"``: :math:`E[\nabla_x k]/E[k] = \nabla\log\pi_k` for the Laplace kernel [KG].
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from driftlab.theory.laplace import laplace_moments

__all__ = ["FIELD_KINDS", "drift_field", "jacobian", "jacobian_asymmetry"]

FIELD_KINDS = ("gaussian", "laplace", "sharp", "kernel_gradient")


#: c in the "sharp" field m / (c tau + rbar): c = 1 is the companion kernel (mutation tests monkeypatch it)
_SHARP_OFFSET = 1.0


def drift_field(kind: str, p: Any, q: Any, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """The field ``x (n, d) -> V (n, d)`` of the given kind (see module docstring).

    The "sharp" field is m / (tau + rbar) = tau grad log pi_c (the companion kernel's score).
    """
    if kind == "gaussian":
        return lambda x: p.gaussian_posterior(x, scale**2).mean() - q.gaussian_posterior(x, scale**2).mean()
    if kind not in FIELD_KINDS:
        raise ValueError(f"kind must be one of {FIELD_KINDS}, got {kind!r}")

    def f(x):
        a, b = laplace_moments(p, x, scale, n_grid=600), laplace_moments(q, x, scale, n_grid=600)
        if kind == "laplace":
            return a.mean_shift - b.mean_shift
        if kind == "sharp":
            # E_p[k_L (y - x)] / E_p[k_c] = m / (tau + rbar) = tau * grad log pi_c
            c = _SHARP_OFFSET * scale
            return a.mean_shift / (c + a.rbar)[:, None] - b.mean_shift / (c + b.rbar)[:, None]
        return a.score - b.score

    return f


def jacobian(field: Callable[[np.ndarray], np.ndarray], x: Any, h: float = 1e-4) -> np.ndarray:
    """Central-difference Jacobian ``J[n, i, j] = d V_i / d x_j``, shape (n, d, d)."""
    x = np.atleast_2d(np.asarray(x, float))
    n, d = x.shape
    J = np.empty((n, d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        J[:, :, j] = (field(x + e) - field(x - e)) / (2 * h)
    return J


def jacobian_asymmetry(field: Callable[[np.ndarray], np.ndarray], x: Any, h: float = 1e-4) -> float:
    r""":math:`\max_x \|J - J^\top\|_F / \|J\|_F` over the points ``x``."""
    J = jacobian(field, x, h)
    asym = np.linalg.norm(J - np.swapaxes(J, 1, 2), axis=(1, 2))
    return float(np.max(asym / np.linalg.norm(J, axis=(1, 2))))
