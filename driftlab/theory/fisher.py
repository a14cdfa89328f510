r"""Reverse Fisher divergence, the exact Gaussian drifting flow and the DMD link [T, L].

With the Gaussian kernel of bandwidth s, :math:`V = s^2(\nabla\log p_s - \nabla\log q_s)`, so
the drifting loss :math:`E_q|V|^2` is :math:`s^4` times a *reverse* Fisher divergence
(averaged under the model q). For Gaussian :math:`p = \mathcal N(\mu_p, S_p)`,
:math:`q = \mathcal N(\mu_q, S_q)`, with :math:`A = (S_p + s^2I)^{-1}`,
:math:`B = (S_q + s^2I)^{-1}`, the field is affine,
:math:`V(x) = s^2[(B - A)(x - \mu_q) + A(\mu_p - \mu_q)]`, hence

.. math:: E_q|V|^2 = s^4\left[\mathrm{tr}((B-A)S_q(B-A)) + |A(\mu_p - \mu_q)|^2\right]

and the population drifting flow :math:`\dot x = V_{p,q_t}(x)` keeps q Gaussian:
:math:`\dot\mu = s^2A(\mu_p - \mu)`, :math:`\dot S = MS + SM^\top`, :math:`M = s^2(B_t - A)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftlab._validation import check_int, check_positive

__all__ = [
    "gaussian_mean_shift",
    "reverse_fisher_closed",
    "reverse_fisher_montecarlo",
    "gaussian_flow_ode",
    "gaussian_flow_euler_moments",
    "particle_flow",
    "dmd_direction",
]


def _as_gaussian(mu: Any, S: Any, name: str = ""):
    """A mean (d,) and a covariance (d, d): finite, symmetric and positive semi-definite."""
    label = f" {name}" if name else ""
    mu = np.atleast_1d(np.asarray(mu, float))
    S = np.atleast_2d(np.asarray(S, float))
    if mu.ndim != 1 or not np.isfinite(mu).all():
        raise ValueError(f"mean{label} must be a finite vector, got {mu!r}")
    if S.shape != (mu.size, mu.size):
        raise ValueError(f"covariance{label} must have shape ({mu.size}, {mu.size}), got {S.shape}")
    if not np.isfinite(S).all():
        raise ValueError(f"covariance{label} must be finite, got {S!r}")
    scale = max(float(np.abs(S).max()), np.finfo(float).tiny)
    if np.abs(S - S.T).max() > 1e-12 * scale:
        raise ValueError(f"covariance{label} must be symmetric, got {S!r}")
    lam_min = float(np.linalg.eigvalsh(0.5 * (S + S.T)).min())
    if lam_min < -1e-12 * scale:
        raise ValueError(f"covariance{label} must be positive semi-definite, smallest eigenvalue {lam_min:.3g}")
    return mu, S


def _same_dim(a: np.ndarray, b: np.ndarray) -> None:
    if a.size != b.size:
        raise ValueError(f"the two Gaussians must have the same dimension, got {a.size} and {b.size}")


def gaussian_mean_shift(mu: Any, S: Any, x: np.ndarray, s: float) -> np.ndarray:
    r"""Gaussian-kernel mean shift of :math:`\mathcal N(\mu, S)` as posterior mean minus x.

    Computed by conditioning (:math:`E[y|x] = \mu + S(S+s^2I)^{-1}(x-\mu)`), *not* from the
    score, so it is an independent route to Tweedie's formula.
    """
    mu, S = _as_gaussian(mu, S)
    s = check_positive(s, "s")
    d = mu.size
    K = S @ np.linalg.inv(S + s * s * np.eye(d))
    return mu[None, :] + (np.asarray(x, float) - mu[None, :]) @ K.T - x


def reverse_fisher_closed(mu_p, S_p, mu_q, S_q, s: float) -> float:
    r""":math:`s^4[\mathrm{tr}((B-A)S_q(B-A)) + |A(\mu_p-\mu_q)|^2]`."""
    s = check_positive(s, "s")
    mu_p, S_p = _as_gaussian(mu_p, S_p, "S_p")
    mu_q, S_q = _as_gaussian(mu_q, S_q, "S_q")
    _same_dim(mu_p, mu_q)
    d = mu_p.size
    A = np.linalg.inv(S_p + s * s * np.eye(d))
    B = np.linalg.inv(S_q + s * s * np.eye(d))
    D = B - A
    return float(s**4 * (np.trace(D @ S_q @ D) + np.sum((A @ (mu_p - mu_q)) ** 2)))


def reverse_fisher_montecarlo(mu_p, S_p, mu_q, S_q, s: float, n: int = 20000, rng: Any = 0) -> tuple[float, float]:
    """Monte Carlo :math:`E_q|V|^2` with V from the two posterior means; returns (mean, standard error)."""
    from driftlab.distributions import as_generator

    mu_p, S_p = _as_gaussian(mu_p, S_p, "S_p")
    mu_q, S_q = _as_gaussian(mu_q, S_q, "S_q")
    _same_dim(mu_p, mu_q)
    s = check_positive(s, "s")
    n = check_int(n, "n", minimum=2)
    x = as_generator(rng).multivariate_normal(mu_q, S_q, size=n)
    V = gaussian_mean_shift(mu_p, S_p, x, s) - gaussian_mean_shift(mu_q, S_q, x, s)
    v2 = np.sum(V * V, axis=1)
    return float(v2.mean()), float(v2.std(ddof=1) / np.sqrt(n))


def _rhs(mu_p, A, s, d):
    def f(_t, z):
        mu, S = z[:d], z[d:].reshape(d, d)
        B = np.linalg.inv(S + s * s * np.eye(d))
        M = s * s * (B - A)
        return np.concatenate([s * s * A @ (mu_p - mu), (M @ S + S @ M.T).ravel()])

    return f


def gaussian_flow_ode(mu_p, S_p, mu0, S0, s: float, times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Solve the mean/covariance ODE of the population Gaussian drifting flow (RK45, rtol 1e-10).

    Returns means (T, d) and covariances (T, d, d) at ``times``.
    """
    from scipy.integrate import solve_ivp

    mu_p, S_p = _as_gaussian(mu_p, S_p, "S_p")
    mu0, S0 = _as_gaussian(mu0, S0, "S0")
    _same_dim(mu_p, mu0)
    s = check_positive(s, "s")
    d = mu_p.size
    A = np.linalg.inv(S_p + s * s * np.eye(d))
    times = np.atleast_1d(np.asarray(times, float))
    if times.ndim != 1 or not np.isfinite(times).all() or (times < 0).any() or (np.diff(times) < 0).any():
        raise ValueError(f"times must be finite, >= 0 and non-decreasing, got {times!r}")
    sol = solve_ivp(_rhs(mu_p, A, s, d), (0.0, float(times[-1])), np.concatenate([mu0, S0.ravel()]),
                    t_eval=times, rtol=1e-10, atol=1e-12)
    z = sol.y.T
    return z[:, :d], z[:, d:].reshape(-1, d, d)


def gaussian_flow_euler_moments(mu_p, S_p, mu0, S0, s: float, dt: float, n_steps: int):
    r"""Exact moment recursion of the *Euler* particle scheme in the mean-field limit.

    The field is affine, :math:`x \mapsto x + \eta(Mx + c)`, so a Gaussian maps to a Gaussian:
    :math:`\mu \leftarrow \mu + \eta s^2A(\mu_p - \mu)`, :math:`S \leftarrow (I+\eta M)S(I+\eta M)^\top`.
    """
    mu_p, S_p = _as_gaussian(mu_p, S_p, "S_p")
    mu, S = _as_gaussian(mu0, S0, "S0")
    _same_dim(mu_p, mu)
    s = check_positive(s, "s")
    dt = check_positive(dt, "dt")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    d = mu_p.size
    I = np.eye(d)
    A = np.linalg.inv(S_p + s * s * I)
    mus, Ss = [mu.copy()], [S.copy()]
    for _ in range(n_steps):
        B = np.linalg.inv(S + s * s * I)
        M = s * s * (B - A)
        mu = mu + dt * s * s * A @ (mu_p - mu)
        S = (I + dt * M) @ S @ (I + dt * M).T
        mus.append(mu.copy())
        Ss.append(S.copy())
    return np.array(mus), np.array(Ss)


def particle_flow(mu_p, S_p, x0: np.ndarray, s: float, dt: float, n_steps: int):
    r"""Particles moved by :math:`V = m_p - m_{\hat q}`: exact :math:`m_p`, :math:`\hat q` the particles' own
    empirical measure (finite-sum Gaussian mean shift, self included). Returns means and covariances per step."""
    from scipy.special import logsumexp

    mu_p, S_p = _as_gaussian(mu_p, S_p, "S_p")
    x = np.array(x0, float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] != mu_p.size or not np.isfinite(x).all():
        raise ValueError(f"x0 must be finite particles of shape (N >= 2, {mu_p.size}), got shape {x.shape}")
    s = check_positive(s, "s")
    dt = check_positive(dt, "dt")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    mus, Ss = [x.mean(0)], [np.cov(x.T).reshape(x.shape[1], x.shape[1])]
    for _ in range(n_steps):
        d2 = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
        logk = -d2 / (2 * s * s)
        P = np.exp(logk - logsumexp(logk, axis=1, keepdims=True))
        mq = P @ x - x
        x = x + dt * (gaussian_mean_shift(mu_p, S_p, x, s) - mq)
        mus.append(x.mean(0))
        Ss.append(np.cov(x.T).reshape(x.shape[1], x.shape[1]))
    return np.array(mus), np.array(Ss)


def dmd_direction(p: Any, q: Any, x_t: Any, sigma: float, *, weight: float | None = None) -> np.ndarray:
    r"""DMD's update direction :math:`w(\sigma)[\nabla\log p_\sigma(x_t) - \nabla\log q_\sigma(x_t)]`.

    ``p``, ``q``: GaussianMixture or EmpiricalMeasure (real and fake laws; their noised scores
    are exact mixture scores). Default weight :math:`\sigma^2`. Drifting with the Gaussian
    kernel of bandwidth s is this direction at :math:`\sigma = s` evaluated at the *clean*
    sample :math:`x_t = x` [L].
    """
    sigma = check_positive(sigma, "sigma")
    w = sigma**2 if weight is None else weight
    return w * (p.smooth(sigma).score(x_t) - q.smooth(sigma).score(x_t))
