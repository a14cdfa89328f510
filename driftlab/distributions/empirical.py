"""Empirical (weighted point-mass) measures."""

from __future__ import annotations

from typing import Any

import numpy as np

from driftlab import _backend as B
from driftlab._validation import check_int, check_nonnegative, check_points, check_weights
from driftlab.distributions.gmm import GaussianMixture, as_generator

__all__ = ["EmpiricalMeasure"]


class EmpiricalMeasure:
    r"""The measure :math:`\sum_i w_i \delta_{y_i}`.

    Its Gaussian smoothing is a Gaussian mixture with isotropic components of variance
    :math:`s^2` at the atoms (the Gaussian KDE), so every Gaussian-kernel identity of
    driftlab holds for it exactly ([T]: Tweedie holds for every probability measure).

    Parameters
    ----------
    points : array_like, shape (n, d)
    weights : array_like, shape (n,), optional
        Non-negative weights (normalised here); uniform by default.
    """

    def __init__(self, points: Any, weights: Any = None) -> None:
        pts = check_points(B.to_numpy(points) if B.is_torch(points) else points, "points")
        self.points = np.asarray(pts, dtype=np.float64)
        n = self.points.shape[0]
        if weights is None:
            self.weights = np.full(n, 1.0 / n)
        else:
            w = np.asarray(B.to_numpy(weights) if B.is_torch(weights) else weights, dtype=np.float64)
            top = float(np.max(w)) if w.size and np.isfinite(w).all() else 0.0
            # divide by the largest weight first: the sum of [1e308, 1e308] overflows
            self.weights = check_weights(w / top if top > 0 else w, n)

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def size(self) -> int:
        return self.points.shape[0]

    def __repr__(self) -> str:
        return f"EmpiricalMeasure(n={self.size}, dim={self.dim})"

    def mean(self) -> np.ndarray:
        return self.weights @ self.points

    def smooth(self, bandwidth: float) -> GaussianMixture:
        """The Gaussian KDE :math:`\\sum_i w_i N(y_i, s^2 I)` (requires s > 0)."""
        s = check_nonnegative(bandwidth, "bandwidth")
        if s == 0:
            raise ValueError("bandwidth must be > 0 to smooth an empirical measure")
        return GaussianMixture(self.points, np.full(self.size, s * s), self.weights)

    def sample(self, n: int, rng: Any = None) -> np.ndarray:
        """Resample ``n`` atoms with replacement."""
        n = check_int(n, "n", minimum=0)
        idx = as_generator(rng).choice(self.size, size=n, p=self.weights)
        return self.points[idx]

    def mass_radius(self, x: np.ndarray, n_std: float = 0.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.max(np.linalg.norm(x[:, None, :] - self.points[None], axis=-1), axis=1)
