r"""Identifiability of the Gaussian drift, and the collapse counterexample [T].

* :func:`recover_difference_1d`: from the Gaussian-kernel drift V on a grid and the known q,
  recover :math:`p - q`: integrate :math:`V/s^2 = \partial_x\log(p_s/q_s)`, set
  :math:`p_s = q_s e^{\phi}/Z`, then deconvolve by Fourier inversion
  (:math:`\hat p = \hat p_s e^{s^2k^2/2}`, never dividing by 0 because the Gaussian's
  transform never vanishes). V = 0 gives :math:`\phi` constant, so :math:`p_s = q_s` and
  :math:`p = q`.
* :func:`collapse_counterexample`: q a point mass at a critical point :math:`x^*` of
  :math:`p_s`: :math:`V(x^*) = 0`, zero loss, q != p. The Jacobian of the (frozen-q) field
  there is :math:`I + s^2\nabla^2\log p_s(x^*) = \mathrm{Cov}_{post}(y|x^*)/s^2 \succeq 0`
  (second-order Tweedie): a split of the point mass grows, while the collapsed atom as a
  whole follows :math:`s^2\nabla\log p_s` (Jacobian :math:`s^2\nabla^2\log p_s`, negative at a mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftlab._validation import check_int, check_positive

__all__ = ["recover_difference_1d", "recover_difference_2d", "collapse_counterexample"]


def recover_difference_1d(p: Any, q: Any, s: float, *, half_width: float = 12.0, n: int = 2048,
                          cutoff: float = 1e-7, assumed_variance: float | None = None) -> dict:
    r"""Recover :math:`p - q` (1-D Gaussian mixtures) from the Gaussian drift on a grid.

    The drift is computed as the difference of posterior means (conditioning formulas, not
    the score) and turned into :math:`\nabla\log(p_s/q_s)` by dividing by ``assumed_variance``
    (default :math:`s^2`, the theorem; another value shows what a mis-specified bandwidth does). Frequencies
    where :math:`e^{-s^2k^2/2} <` ``cutoff`` are dropped (they carry only round-off).

    Returns a dict with the grid, the exact and recovered differences and the relative
    L-infinity error.
    """
    s = check_positive(s, "s")
    n = check_int(n, "n", minimum=64)
    x = np.linspace(-half_width, half_width, n, endpoint=False)
    h = x[1] - x[0]
    X = x[:, None]
    V = p.gaussian_posterior(X, s * s).mean()[:, 0] - q.gaussian_posterior(X, s * s).mean()[:, 0]
    g = V / (s * s if assumed_variance is None else check_positive(assumed_variance, "assumed_variance"))
    phi = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * h)])  # trapezoid
    qs = q.smooth(s).pdf(X)
    ps = qs * np.exp(phi - phi.max())
    ps /= ps.sum() * h
    k = 2 * np.pi * np.fft.fftfreq(n, d=h)
    damp = np.exp(-0.5 * (s * k) ** 2)
    D = np.fft.fft(ps - qs)
    keep = damp >= cutoff
    D = np.where(keep, D / np.where(keep, damp, 1.0), 0.0)
    rec = np.real(np.fft.ifft(D))
    exact = p.pdf(X) - q.pdf(X)
    abs_err = float(np.max(np.abs(rec - exact)))
    scale = float(np.max(np.abs(exact)))
    err = abs_err / scale if scale > 0 else abs_err  # p = q: report the absolute error
    return {"x": x, "drift": V, "exact": exact, "recovered": rec, "rel_linf_error": err, "linf_error": abs_err,
            "drift_linf": float(np.max(np.abs(V)))}


def recover_difference_2d(p: Any, q: Any, s: float, *, half_width: float = 9.0, n: int = 256,
                          cutoff: float = 1e-5, assumed_variance: float | None = None) -> dict:
    r"""2-D version of :func:`recover_difference_1d`.

    :math:`\phi = \log(p_s/q_s) + c` is integrated from :math:`V/s^2` along the first axis on
    the line :math:`x_2 = x_2^{(0)}`, then along the second axis (path integral of a gradient
    field, trapezoid rule), then :math:`p_s = q_s e^\phi / Z` is deconvolved by the 2-D FFT.
    """
    s = check_positive(s, "s")
    n = check_int(n, "n", minimum=32)
    g = np.linspace(-half_width, half_width, n, endpoint=False)
    h = g[1] - g[0]
    X1, X2 = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([X1.ravel(), X2.ravel()])
    V = (p.gaussian_posterior(pts, s * s).mean() - q.gaussian_posterior(pts, s * s).mean()).reshape(n, n, 2)
    G = V / (s * s if assumed_variance is None else check_positive(assumed_variance, "assumed_variance"))
    line = np.concatenate([[0.0], np.cumsum(0.5 * (G[1:, 0, 0] + G[:-1, 0, 0]) * h)])  # along x1 at x2 = g[0]
    up = np.concatenate([np.zeros((n, 1)), np.cumsum(0.5 * (G[:, 1:, 1] + G[:, :-1, 1]) * h, axis=1)], axis=1)
    phi = line[:, None] + up
    qs = q.smooth(s).pdf(pts).reshape(n, n)
    ps = qs * np.exp(phi - phi.max())
    ps /= ps.sum() * h * h
    k = 2 * np.pi * np.fft.fftfreq(n, d=h)
    K1, K2 = np.meshgrid(k, k, indexing="ij")
    damp = np.exp(-0.5 * s * s * (K1**2 + K2**2))
    keep = damp >= cutoff
    D = np.fft.fft2(ps - qs)
    rec = np.real(np.fft.ifft2(np.where(keep, D / np.where(keep, damp, 1.0), 0.0)))
    exact = (p.pdf(pts) - q.pdf(pts)).reshape(n, n)
    abs_err = float(np.max(np.abs(rec - exact)))
    scale = float(np.max(np.abs(exact)))
    return {"grid": g, "exact": exact, "recovered": rec, "rel_linf_error": abs_err / scale if scale > 0 else abs_err,
            "linf_error": abs_err}


def collapse_counterexample(p: Any, s: float, x0: Any, *, n_newton: int = 50) -> dict:
    r"""Point mass at a mode of :math:`p_s` (found by Newton from ``x0``): zero drift, zero loss, q != p.

    Returns the critical point, :math:`|V(x^*)|`, the loss :math:`E_q|V|^2`, the squared
    2-Wasserstein distance :math:`W_2^2(\delta_{x^*}, p) = E_p|y - x^*|^2`, the field's Jacobian
    at :math:`x^*` both as :math:`I + s^2\nabla^2\log p_s` and as :math:`\mathrm{Cov}_{post}/s^2`,
    and their eigenvalues.
    """
    s = check_positive(s, "s")
    ps = p.smooth(s)
    x = np.atleast_2d(np.asarray(x0, float))
    for _ in range(n_newton):
        H = ps.score_jacobian(x)[0]
        step = np.linalg.solve(H, ps.score(x)[0])
        x = x - step[None, :]
        if np.linalg.norm(step) < 1e-15:
            break
    post = p.gaussian_posterior(x, s * s)
    m_p = post.mean() - x  # mean shift of p (posterior route)
    m_q = np.zeros_like(x)  # mean shift of the point mass at x*, evaluated at x*
    V = m_p - m_q
    d = p.dim
    J_score = np.eye(d) + s * s * ps.score_jacobian(x)[0]
    J_post = post.covariance()[0] / (s * s)
    mean_p, cov_p = p.mean(), p.covariance()
    w2 = float(np.trace(cov_p) + np.sum((mean_p - x[0]) ** 2))
    return {"x_star": x[0], "drift_norm": float(np.linalg.norm(V)), "loss": float(np.sum(V * V)),
            "w2_squared": w2, "jacobian": J_score, "jacobian_posterior": J_post,
            "jacobian_eigs": np.linalg.eigvalsh(0.5 * (J_score + J_score.T)),
            "collapsed_motion_eigs": np.linalg.eigvalsh(s * s * ps.score_jacobian(x)[0])}
