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

__all__ = ["GaussianMixture", "GaussianPosterior", "as_generator"]

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
            if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError("weights must be finite, non-negative and not all zero")
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

    def responsibilities(self, x: Any) -> np.ndarray:
        """Posterior component probabilities, shape (n, K)."""
        lp = self._component_log_prob(self._points(x))
        return np.exp(lp - sp.logsumexp(lp, axis=1, keepdims=True))

    def score(self, x: Any) -> np.ndarray:
        r"""Score :math:`\nabla_x \log p(x)`, shape (n, d)."""
        x = self._points(x)
        lp = self._component_log_prob(x)
        r = np.exp(lp - sp.logsumexp(lp, axis=1, keepdims=True))
        diff = x[:, None, :] - self.means[None, :, :]
        return -np.einsum("nk,nkd->nd", r, self._precision_times(diff))

    def score_jacobian(self, x: Any) -> np.ndarray:
        r"""Hessian of :math:`\log p` (the Jacobian of the score), shape (n, d, d)."""
        x = self._points(x)
        lp = self._component_log_prob(x)
        r = np.exp(lp - sp.logsumexp(lp, axis=1, keepdims=True))
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
        lp = smoothed._component_log_prob(x)
        logw = lp - sp.logsumexp(lp, axis=1, keepdims=True)
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
