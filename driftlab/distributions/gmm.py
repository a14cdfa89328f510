"""Gaussian mixtures in R^d: the exact oracles of driftlab.

Gaussian mixtures stay Gaussian mixtures under Gaussian smoothing and under conditioning on
a Gaussian observation, so every Gaussian-kernel quantity (mean shift, drift, score,
posterior, Fisher-Rao metric) has a closed form on them in any dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg as sla
from scipy import special as sp

from driftlab._validation import check_int, check_nonnegative, check_points, check_positive

__all__ = ["GaussianMixture", "GaussianPosterior", "as_generator", "score_difference"]

_LOG_2PI = math.log(2.0 * math.pi)


def as_generator(rng: Any) -> np.random.Generator:
    """A numpy Generator from a seed, a Generator or None (seed 0: driftlab is reproducible)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be an int seed, a numpy Generator or None, got {type(rng).__name__}")


@dataclass(frozen=True)
class GaussianPosterior:
    """A batch of Gaussian-mixture posteriors, one per query point.

    Attributes
    ----------
    log_weights : ndarray, shape (n, K)
        Normalised log mixture weights of each posterior.
    means : ndarray, shape (n, K, d)
        Component means.
    covariances : ndarray, shape (K, d, d)
        Component covariances (the same for every query point).
    """

    log_weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @property
    def weights(self) -> np.ndarray:
        return np.exp(self.log_weights)

    def mean(self) -> np.ndarray:
        """Posterior means, shape (n, d)."""
        return np.einsum("nk,nkd->nd", self.weights, self.means)

    def second_moment(self) -> np.ndarray:
        r""":math:`E|y|^2` under each posterior, shape (n,)."""
        tr = np.trace(self.covariances, axis1=1, axis2=2)  # (K,)
        return np.einsum("nk,nk->n", self.weights, tr[None, :] + np.sum(self.means**2, axis=-1))

    def covariance(self) -> np.ndarray:
        """Posterior covariances, shape (n, d, d)."""
        w = self.weights
        m = self.mean()
        within = np.einsum("nk,kij->nij", w, self.covariances)
        dev = self.means - m[:, None, :]
        between = np.einsum("nk,nki,nkj->nij", w, dev, dev)
        return within + between


class GaussianMixture:
    r"""A Gaussian mixture :math:`\sum_k w_k \mathcal N(\mu_k, \Sigma_k)` in :math:`\mathbb R^d`.

    Parameters
    ----------
    means : array_like, shape (K, d) or (K,)
        Component means (a 1-D array is K one-dimensional components).
    covariances : float or array_like
        ``float`` or shape ``(K,)``: isotropic variances :math:`\Sigma_k = v_k I`;
        shape ``(K, d)``: diagonal variances; shape ``(K, d, d)``: full covariances.
    weights : array_like, shape (K,), optional
        Non-negative mixture weights (normalised here); uniform by default.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.distributions import GaussianMixture
    >>> p = GaussianMixture(means=[[-1.0], [1.0]], covariances=0.25)
    >>> p.smooth(0.5).covariances[:, 0, 0]  # 0.25 + 0.5**2
    array([0.5, 0.5])
    >>> float(p.score(np.zeros((1, 1)))[0, 0]) == 0.0  # symmetric: zero score (maybe -0.0)
    True
    """

    def __init__(self, means: Any, covariances: Any = 1.0, weights: Any = None) -> None:
        mu = np.asarray(means, dtype=np.float64)
        if mu.ndim == 1:
            mu = mu[:, None]
        mu = check_points(mu, "means")
        K, d = mu.shape
        cov = np.asarray(covariances, dtype=np.float64)
        if not np.isfinite(cov).all():
            raise ValueError("covariances contains NaN or inf")
        if cov.ndim == 0:
            cov = np.full(K, float(cov))
        if cov.ndim == 1:
            if cov.shape != (K,):
                raise ValueError(f"isotropic covariances must have shape ({K},), got {cov.shape}")
            if (cov <= 0).any():
                raise ValueError("covariances must be > 0")
            self.cov_type = "spherical"
        elif cov.ndim == 2:
            if cov.shape != (K, d):
                raise ValueError(f"diagonal covariances must have shape ({K}, {d}), got {cov.shape}")
            if (cov <= 0).any():
                raise ValueError("covariances must be > 0")
            self.cov_type = "diag"
        elif cov.ndim == 3:
            if cov.shape != (K, d, d):
                raise ValueError(f"full covariances must have shape ({K}, {d}, {d}), got {cov.shape}")
            if not np.allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-12, atol=1e-14):
                raise ValueError("covariances must be symmetric")
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
            self.cov_type = "full"
        else:
            raise ValueError(f"covariances has an unsupported shape {cov.shape}")
        if weights is None:
            w = np.full(K, 1.0 / K)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (K,):
                raise ValueError(f"weights must have shape ({K},), got {w.shape}")
            if not np.isfinite(w).all() or (w < 0).any() or not w.max() > 0:
                raise ValueError("weights must be finite, non-negative and not all zero")
            w = w / w.max()  # first by the largest: the sum of [1e308, 1e308] overflows
            w = w / w.sum()
        self.means = mu
        self._cov = cov
        self.weights = w
        if self.cov_type == "full":
            try:
                self._chol = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError as exc:
                raise ValueError("covariances must be positive definite") from exc
            self._logdet = 2.0 * np.sum(np.log(np.diagonal(self._chol, axis1=1, axis2=2)), axis=1)
        elif self.cov_type == "diag":
            self._logdet = np.sum(np.log(cov), axis=1)
        else:
            self._logdet = d * np.log(cov)
        # components sharing one covariance matrix: their log-density differences are linear
        # in x and are formed as such (never as the difference of two O(|x|^2) numbers)
        flat = self._cov.reshape(K, -1)
        _, self._group = np.unique(flat, axis=0, return_inverse=True)
        self._group = self._group.reshape(K)

    # ----- basic properties --------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def covariances(self) -> np.ndarray:
        """Full covariance matrices, shape (K, d, d)."""
        K, d = self.means.shape
        if self.cov_type == "full":
            return self._cov.copy()
        if self.cov_type == "diag":
            return np.einsum("ki,ij->kij", self._cov, np.eye(d))
        return self._cov[:, None, None] * np.eye(d)[None]

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, dim={self.dim}, cov_type={self.cov_type!r})"

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        m = self.mean()
        dev = self.means - m
        return np.einsum("k,kij->ij", self.weights, self.covariances) + np.einsum(
            "k,ki,kj->ij", self.weights, dev, dev
        )

    # ----- per-component linear algebra ------------------------------------------
    def _precision_times(self, diff: np.ndarray) -> np.ndarray:
        """Sigma_k^{-1} diff[:, k] for diff of shape (n, K, d)."""
        if self.cov_type == "spherical":
            return diff / self._cov[None, :, None]
        if self.cov_type == "diag":
            return diff / self._cov[None, :, :]
        out = np.empty_like(diff)
        for k in range(self.n_components):
            out[:, k, :] = sla.cho_solve((self._chol[k], True), diff[:, k, :].T).T
        return out

    def _mahalanobis(self, diff: np.ndarray) -> np.ndarray:
        if self.cov_type == "full":
            out = np.empty(diff.shape[:2])
            for k in range(self.n_components):
                z = sla.solve_triangular(self._chol[k], diff[:, k, :].T, lower=True)
                out[:, k] = np.sum(z * z, axis=0)
            return out
        return np.sum(diff * self._precision_times(diff), axis=-1)

    def _component_log_prob(self, x: np.ndarray) -> np.ndarray:
        """log w_k + log N(x; mu_k, Sigma_k), shape (n, K)."""
        diff = x[:, None, :] - self.means[None, :, :]
        maha = self._mahalanobis(diff)
        return np.log(self.weights)[None, :] - 0.5 * (self.dim * _LOG_2PI + self._logdet[None, :] + maha)

    # ----- densities --------------------------------------------------------------
    def _points(self, x: Any) -> np.ndarray:
        x = check_points(x, "x", dim=self.dim)
        return np.asarray(x, dtype=np.float64)

    def log_prob(self, x: Any) -> np.ndarray:
        """Log-density at points ``x`` of shape (n, d); returns shape (n,)."""
        return sp.logsumexp(self._component_log_prob(self._points(x)), axis=1)

    def pdf(self, x: Any) -> np.ndarray:
        return np.exp(self.log_prob(x))

    def _log_responsibilities(self, x: np.ndarray) -> np.ndarray:
        r"""Normalised log posterior component probabilities, shape (n, K), for validated x.

        Far from the components (:math:`|x| = 10^{17}`) the component log-densities are
        :math:`O(|x|^2)` and round to the same number although they differ by
        :math:`O(|x|)`. Each is therefore taken relative to the row's most likely component
        :math:`*`: for components with the same covariance the gap is formed exactly as
        :math:`\log w_k - \log w_* - \tfrac12(\mu_* - \mu_k)^\top\Sigma^{-1}
        ((x - \mu_k) + (x - \mu_*))`, which has no cancellation; components with different
        covariances differ at order :math:`|x|^2` and their direct gap is accurate.
        """
        if self.n_components == 1:
            return np.zeros((x.shape[0], 1))
        with np.errstate(over="ignore", invalid="ignore"):  # |x| > 1e154: -inf, settled below
            lp = self._component_log_prob(x)
        rows = np.arange(x.shape[0])
        diff = x[:, None, :] - self.means[None, :, :]  # (n, K, d)
        logw = np.log(self.weights)

        def gaps(star):
            lin = self._precision_times(diff + diff[rows, star][:, None, :])  # Sigma_k^-1 (d_k + d_*)
            dmu = self.means[star][:, None, :] - self.means[None, :, :]  # mu_* - mu_k
            same = self._group[None, :] == self._group[star][:, None]
            with np.errstate(invalid="ignore"):  # zero weights / overflowed lp: resolved below
                gap_same = logw[None, :] - logw[star][:, None] - 0.5 * np.sum(dmu * lin, axis=-1)
                return np.where(same, gap_same, lp - lp[rows, star][:, None])

        # the rounded lp may crown the wrong component (ties at 1e32): take the largest exact
        # gap as the reference and form the gaps again, so that the top one is exactly 0 and
        # log-sum-exp adds its O(1) terms to O(1) numbers (gaps of 1e16 rounded log 2 away)
        gap = gaps(np.argmax(lp, axis=1))
        if not np.isnan(gap).any():
            gap = gaps(np.argmax(gap, axis=1))
        if np.isnan(gap).any():
            # components with different covariances whose squared distances overflow
            bad = int(np.argmax(np.isnan(gap).any(axis=1)))
            raise ValueError(
                f"x[{bad}] is too far from the mixture components for float64 (squared "
                f"Mahalanobis distances overflow, |x - mu| / std > ~1e154): rescale x and the mixture")
        return gap - sp.logsumexp(gap, axis=1, keepdims=True)

    def responsibilities(self, x: Any) -> np.ndarray:
        """Posterior component probabilities, shape (n, K)."""
        return np.exp(self._log_responsibilities(self._points(x)))

    def score(self, x: Any) -> np.ndarray:
        r"""Score :math:`\nabla_x \log p(x)`, shape (n, d)."""
        x = self._points(x)
        r = np.exp(self._log_responsibilities(x))
        diff = x[:, None, :] - self.means[None, :, :]
        return -np.einsum("nk,nkd->nd", r, self._precision_times(diff))

    def score_jacobian(self, x: Any) -> np.ndarray:
        r"""Hessian of :math:`\log p` (the Jacobian of the score), shape (n, d, d)."""
        x = self._points(x)
        r = np.exp(self._log_responsibilities(x))
        diff = x[:, None, :] - self.means[None, :, :]
        g = -self._precision_times(diff)  # per-component scores (n, K, d)
        s = np.einsum("nk,nkd->nd", r, g)
        prec = np.linalg.inv(self.covariances)  # (K, d, d)
        hess = -np.einsum("nk,kij->nij", r, prec)
        hess += np.einsum("nk,nki,nkj->nij", r, g, g) - np.einsum("ni,nj->nij", s, s)
        return hess

    # ----- transformations --------------------------------------------------------
    def smooth(self, bandwidth: float) -> "GaussianMixture":
        r"""The convolution :math:`p * \mathcal N(0, s^2 I)`: every covariance gains :math:`s^2 I`."""
        s = check_nonnegative(bandwidth, "bandwidth")
        if self.cov_type == "full":
            cov = self._cov + s * s * np.eye(self.dim)[None]
        else:
            cov = self._cov + s * s
        return GaussianMixture(self.means, cov, self.weights)

    def shift(self, offset: Any) -> "GaussianMixture":
        off = np.broadcast_to(np.asarray(offset, dtype=np.float64), (self.dim,))
        return GaussianMixture(self.means + off, self._cov, self.weights)

    def gaussian_posterior(self, x: Any, noise_variance: float) -> GaussianPosterior:
        r"""Posterior of :math:`y \sim p` given :math:`x = y + \sqrt{v}\,\varepsilon`.

        Equivalently the normalised density :math:`\propto p(y)\exp(-|x-y|^2/(2v))`: the
        Gaussian-kernel posterior of the mean shift (with :math:`v = s^2`) and the denoising
        posterior of diffusion models (with :math:`v = 1/\mathrm{SNR}`).

        Returns
        -------
        GaussianPosterior
            Weights :math:`\propto w_k \mathcal N(x; \mu_k, \Sigma_k + vI)`, means
            :math:`\mu_k + \Sigma_k(\Sigma_k + vI)^{-1}(x - \mu_k)`, covariances
            :math:`\Sigma_k - \Sigma_k(\Sigma_k + vI)^{-1}\Sigma_k`.
        """
        v = check_positive(noise_variance, "noise_variance")
        x = self._points(x)
        smoothed = self.smooth(math.sqrt(v))
        logw = smoothed._log_responsibilities(x)
        diff = x[:, None, :] - self.means[None, :, :]
        # Sigma (Sigma + vI)^{-1} diff = diff - v (Sigma + vI)^{-1} diff
        means = x[:, None, :] - v * smoothed._precision_times(diff)
        S = self.covariances
        covs = S - S @ np.linalg.solve(smoothed.covariances, S)
        return GaussianPosterior(logw, means, 0.5 * (covs + np.swapaxes(covs, 1, 2)))

    # ----- sampling ----------------------------------------------------------------
    def sample(self, n: int, rng: Any = None) -> np.ndarray:
        """Draw ``n`` samples, shape (n, d), float64."""
        n = check_int(n, "n", minimum=0)
        gen = as_generator(rng)
        comp = gen.choice(self.n_components, size=n, p=self.weights)
        z = gen.standard_normal((n, self.dim))
        if self.cov_type == "spherical":
            noise = z * np.sqrt(self._cov[comp])[:, None]
        elif self.cov_type == "diag":
            noise = z * np.sqrt(self._cov[comp])
        else:
            noise = np.einsum("nij,nj->ni", self._chol[comp], z)
        return self.means[comp] + noise

    def mass_radius(self, x: np.ndarray, n_std: float = 12.0) -> np.ndarray:
        """Radius around each x containing all components to ``n_std`` standard deviations."""
        x = np.asarray(x, dtype=np.float64)
        sd = np.sqrt(np.max(np.linalg.eigvalsh(self.covariances), axis=1))
        dist = np.linalg.norm(x[:, None, :] - self.means[None, :, :], axis=-1)
        return np.max(dist + n_std * sd[None, :], axis=1)

    @property
    def min_std(self) -> float:
        return float(np.sqrt(np.min(np.linalg.eigvalsh(self.covariances))))


def score_difference(p: GaussianMixture, q: GaussianMixture, x: Any) -> np.ndarray:
    r""":math:`\nabla\log p(x) - \nabla\log q(x)` without the cancellation of two large scores.

    Far from the mass each score is :math:`O(|x|/\sigma^2)` (:math:`1.5\cdot10^{17}` at
    :math:`x = 10^{17}`) while their difference can be :math:`O(1)`; subtracting the two
    scores then returns round-off. With responsibilities :math:`r_k` of p and
    :math:`\rho_l` of q, precisions :math:`P_k, Q_l` and :math:`\bar\nu = \sum_l\rho_l\nu_l`,

    .. math::

        \nabla\log p - \nabla\log q = \sum_k r_k P_k(\mu_k - \bar\nu)
        + \sum_k\sum_l r_k\rho_l\, Q_l(\Sigma^p_k - \Sigma^q_l)P_k(x - \nu_l),

    whose second term is exactly zero for equal covariances and otherwise has no
    cancellation. ``p.smooth(s)`` and ``q.smooth(s)`` give the Gaussian-kernel drift
    :math:`V_{p,q} = s^2(\nabla\log p_s - \nabla\log q_s)`.

    Parameters
    ----------
    p, q : GaussianMixture
        Mixtures of the same dimension.
    x : array_like, shape (n, d)
        Query points.

    Returns
    -------
    ndarray, shape (n, d)

    Examples
    --------
    >>> from driftlab.distributions import GaussianMixture, score_difference
    >>> p = GaussianMixture([[-1.0], [1.0]], 0.65)
    >>> q = GaussianMixture([[0.0]], 0.65)
    >>> round(float(score_difference(p, q, [[1e17]])[0, 0]), 12)  # (1 - 0) / 0.65
    1.538461538462
    """
    for name, m in (("p", p), ("q", q)):
        if not isinstance(m, GaussianMixture):
            raise TypeError(f"{name} must be a GaussianMixture, got {type(m).__name__}")
    if p.dim != q.dim:
        raise ValueError(f"p and q must have the same dimension, got {p.dim} and {q.dim}")
    x = p._points(x)
    r = np.exp(p._log_responsibilities(x))  # (n, K)
    rho = np.exp(q._log_responsibilities(x))  # (n, L)
    nu_bar = rho @ q.means  # (n, d)
    term_a = np.einsum("nk,nkd->nd", r, p._precision_times(p.means[None, :, :] - nu_bar[:, None, :]))
    e = x[:, None, :] - q.means[None, :, :]  # (n, L, d)
    cov_p, cov_q = p.covariances, q.covariances
    groups = np.unique(p._group)
    term_b = np.zeros_like(x)
    for g in groups:
        members = p._group == g
        k = int(np.argmax(members))
        delta = cov_p[k][None, :, :] - cov_q  # (L, d, d): exactly 0 where the covariances agree
        active = np.any(delta != 0, axis=(1, 2))
        if not active.any():
            continue
        weight_g = r[:, members].sum(axis=1)  # (n,)
        pe = np.linalg.solve(cov_p[k], e.reshape(-1, p.dim).T).T.reshape(e.shape)  # P_g e_l
        u = np.einsum("lij,nlj->nli", delta, pe)
        v = q._precision_times(u)  # Q_l u_l
        term_b += weight_g[:, None] * np.einsum("nl,nld->nd", rho * active[None, :], v)
    return term_a + term_b
