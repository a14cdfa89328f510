r"""The Sinkhorn-divergence drift of [T] (docs/theory.md, the Sinkhorn section), from POT's log-domain Sinkhorn.

With the cost :math:`c(x, y) = |x - y|^2 / 2`, entropic regularisation :math:`\varepsilon` and
uniform weights, let :math:`\pi_{qp}` and :math:`\pi_{qq}` be the entropic plans between the
generated set :math:`X` (q) and the data :math:`Y` (p), and between :math:`X` and itself.
The Sinkhorn drift is

.. math::

    V_S(x_i) = E_{\pi_{qp}}[y \mid x_i] - E_{\pi_{qq}}[y \mid x_i],
    \qquad E_\pi[y\mid x_i] = \frac{\sum_j \pi_{ij} y_j}{\sum_j \pi_{ij}}.

* ``n_iter=0`` (no Sinkhorn iteration): the plans are the *one-sided* (row) normalisations
  of the Gibbs kernel :math:`e^{-c/\varepsilon}`, so :math:`E[y|x]` is the Gaussian-kernel
  posterior mean with :math:`s^2 = \varepsilon` and :math:`V_S` is exactly the Gaussian drift
  :math:`\hat m_p - \hat m_q` (separately normalised, self-pair included).
* converged: by the envelope theorem :math:`\nabla_{x_i}\mathrm{OT}_\varepsilon(\alpha,\beta)
  = \sum_j \pi_{ij}(x_i - y_j)`, and :math:`x_i` enters both marginals of
  :math:`\mathrm{OT}_\varepsilon(\alpha,\alpha)`, hence for the Sinkhorn divergence
  :math:`S_\varepsilon = \mathrm{OT}_\varepsilon(\alpha,\beta) - \tfrac12\mathrm{OT}_\varepsilon(\alpha,\alpha)
  - \tfrac12\mathrm{OT}_\varepsilon(\beta,\beta)` with :math:`\alpha = \frac1N\sum\delta_{x_i}`:
  :math:`V_S(x_i) = -N\,\nabla_{x_i} S_\varepsilon`; it vanishes when :math:`\alpha = \beta`.

The plans come from ``ot.bregman.sinkhorn_log`` (numpy or torch backend; differentiable
through the iterations with torch). Memory is ``O(N M)``: the plans are dense.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from driftlab import _backend as B
from driftlab._validation import check_int, check_nonnegative, check_points, check_positive, check_same_backend

__all__ = ["sinkhorn_drift", "sinkhorn_plan", "sinkhorn_divergence", "SinkhornDrift"]


class SinkhornDrift(NamedTuple):
    """Drift with its two conditional means (``field = toward_data - toward_model``)."""

    field: Any
    toward_data: Any
    toward_model: Any


def _cost(x, y):
    diff = x[:, None, :] - y[None, :, :]
    return 0.5 * (diff * diff).sum(-1) if B.is_torch(x) else 0.5 * (diff * diff).sum(axis=-1)


def _uniform(n: int, like):
    o = B.ops(like)
    return o.full((n,), 1.0 / n, like)


def sinkhorn_plan(x: Any, y: Any, eps: float, n_iter: int = 1000, *, tol: float = 1e-9):
    r"""Entropic plan between the uniform measures on ``x`` (n, d) and ``y`` (m, d).

    ``n_iter=0``: the one-sided plan :math:`\pi_{ij} = \frac1n
    \mathrm{softmax}_j(-c_{ij}/\varepsilon)` (rows sum to 1/n, columns free). ``n_iter>0``:
    ``ot.bregman.sinkhorn_log`` with at most ``n_iter`` iterations and marginal tolerance
    ``tol`` (rows exact after its last half-step).
    """
    import ot

    x = check_points(x, "x")
    y = check_points(y, "y", dim=x.shape[1])
    check_same_backend({"x": x, "y": y})
    eps = check_positive(eps, "eps")
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    tol = check_nonnegative(tol, "tol")
    o = B.ops(x)
    cost = _cost(x, y)
    n, m = x.shape[0], y.shape[0]
    if n_iter == 0:
        logits = cost * (-1.0 / eps)
        log_plan = logits - o.logsumexp(logits, axis=1, keepdims=True)
        return o.exp(log_plan) / n
    return ot.bregman.sinkhorn_log(_uniform(n, x), _uniform(m, x), cost, reg=eps, numItermax=n_iter,
                                   stopThr=tol, warn=False)


def _conditional_mean(plan, y):
    return (plan @ y) / plan.sum(1)[:, None] if B.is_torch(plan) else (plan @ y) / plan.sum(axis=1)[:, None]


def sinkhorn_drift(x: Any, y: Any, eps: float, n_iter: int = 1000, *, tol: float = 1e-9,
                   return_parts: bool = False):
    r"""Sinkhorn-divergence drift :math:`V_S(x_i) = E_{\pi_{qp}}[y|x_i] - E_{\pi_{qq}}[x'|x_i]` [T].

    Parameters
    ----------
    x : array, shape (n, d)
        Generated samples (the measure q; also the negatives).
    y : array, shape (m, d)
        Data samples (p).
    eps : float
        Entropic regularisation; the matching Gaussian kernel has bandwidth ``sqrt(eps)``.
    n_iter : int
        Sinkhorn iterations (0: one-sided normalisation = Gaussian drift).
    tol : float
        POT's marginal-error stopping threshold.
    return_parts : bool
        Return :class:`SinkhornDrift` (field and both conditional means).

    Returns
    -------
    array, shape (n, d), same type as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.training import sinkhorn_drift
    >>> from driftlab.fields import batch_drift
    >>> from driftlab.kernels import Gaussian
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(5, 2)), rng.normal(size=(7, 2)) + 1.0
    >>> v0 = sinkhorn_drift(x, y, eps=0.25, n_iter=0)
    >>> bool(np.allclose(v0, batch_drift(x, y, x, Gaussian(0.5), method="separate", mask_self=False)))
    True
    """
    x = check_points(x, "x")
    y = check_points(y, "y", dim=x.shape[1])
    pqp = sinkhorn_plan(x, y, eps, n_iter, tol=tol)
    pqq = sinkhorn_plan(x, x, eps, n_iter, tol=tol)
    to_p = _conditional_mean(pqp, y)
    to_q = _conditional_mean(pqq, x)
    v = to_p - to_q
    return SinkhornDrift(v, to_p, to_q) if return_parts else v


def _ot_eps(x, y, eps, n_iter, tol):
    import ot

    res = ot.solve(_cost(x, y), _uniform(x.shape[0], x), _uniform(y.shape[0], x), reg=eps, reg_type="KL",
                   max_iter=n_iter, tol=tol, grad="autodiff")
    return res.value


def sinkhorn_divergence(x: Any, y: Any, eps: float, n_iter: int = 1000, *, tol: float = 1e-9):
    r"""Debiased Sinkhorn divergence :math:`S_\varepsilon(\alpha,\beta) = \mathrm{OT}_\varepsilon(\alpha,\beta)
    - \frac12\mathrm{OT}_\varepsilon(\alpha,\alpha) - \frac12\mathrm{OT}_\varepsilon(\beta,\beta)`,
    :math:`\mathrm{OT}_\varepsilon = \min_\pi \langle\pi, c\rangle
    + \varepsilon\,\mathrm{KL}(\pi\,|\,\alpha\otimes\beta)`
    (POT ``ot.solve(..., reg_type="KL")``; with torch input autograd differentiates through the
    Sinkhorn iterations)."""
    x = check_points(x, "x")
    y = check_points(y, "y", dim=x.shape[1])
    check_same_backend({"x": x, "y": y})
    eps = check_positive(eps, "eps")
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    return (_ot_eps(x, y, eps, n_iter, tol) - 0.5 * _ot_eps(x, x, eps, n_iter, tol)
            - 0.5 * _ot_eps(y, y, eps, n_iter, tol))
