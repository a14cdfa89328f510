r"""Observables of a particle configuration relative to the target sample set.

* :func:`mode_amplitudes` -- Fourier coefficients :math:`\hat q(k) - \hat p(k)` with
  :math:`\hat q(k) = \frac1N\sum_i e^{ik\cdot x_i}` (the quantity whose decay rate the
  spectral theory predicts, [T]; docs/theory.md, the spectral section).
* :func:`mmd2` -- squared maximum mean discrepancy with a Gaussian kernel (unbiased-free
  V-statistic; minimum-image distances on a torus).
* :func:`energy_distance` -- Székely's energy distance :math:`2E|X-Y| - E|X-X'| - E|Y-Y'|` (R^d).
* :func:`sliced_w2` -- sliced 2-Wasserstein distance over fixed random directions (R^d;
  equal-size sets by quantile matching).

All are float64 numpy computations on (sub)samples, streamed in row blocks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mode_amplitudes", "mmd2", "energy_distance", "sliced_w2", "wave_vectors"]

_BLOCK = 512


def wave_vectors(modes, period: float | None) -> np.ndarray:
    """Integer lattice vectors n -> k = 2 pi n / L on a torus; raw wave vectors in R^d."""
    k = np.atleast_2d(np.asarray(modes, dtype=np.float64))
    return k * (2.0 * np.pi / period) if period is not None else k


def mode_amplitudes(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""Complex :math:`\frac1N\sum_i e^{ik\cdot x_i} - \frac1M\sum_j e^{ik\cdot y_j}`, shape (K,)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return np.exp(1j * (x @ k.T)).mean(axis=0) - np.exp(1j * (y @ k.T)).mean(axis=0)


def _pair_mean(a, b, fn, period):
    tot = 0.0
    for i in range(0, a.shape[0], _BLOCK):
        diff = a[i:i + _BLOCK, None, :] - b[None, :, :]
        if period is not None:
            diff = diff - period * np.round(diff / period)
        tot += fn(np.sqrt(np.sum(diff * diff, axis=2))).sum()
    return tot / (a.shape[0] * b.shape[0])


def mmd2(x, y, bandwidth: float, period: float | None = None) -> float:
    """Squared MMD (V-statistic) with the Gaussian kernel of ``bandwidth``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)

    def k(r):
        return np.exp(-0.5 * (r / bandwidth) ** 2)

    return float(_pair_mean(x, x, k, period) + _pair_mean(y, y, k, period) - 2.0 * _pair_mean(x, y, k, period))


def energy_distance(x, y) -> float:
    """Energy distance (V-statistic, >= 0) between the point sets (R^d)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)

    def ident(r):
        return r

    return float(2.0 * _pair_mean(x, y, ident, None) - _pair_mean(x, x, ident, None) - _pair_mean(y, y, ident, None))


def sliced_w2(x, y, directions: np.ndarray) -> float:
    r"""Sliced :math:`W_2`: :math:`\big(\frac1P\sum_p W_2^2(\theta_p\cdot X, \theta_p\cdot Y)\big)^{1/2}`.

    1-D :math:`W_2` by matching ``max(N, M)`` quantile levels of the two projections.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    px = np.sort(x @ directions.T, axis=0)
    py = np.sort(y @ directions.T, axis=0)
    n = max(px.shape[0], py.shape[0])
    levels = (np.arange(n) + 0.5) / n
    qx = px[np.minimum((levels * px.shape[0]).astype(int), px.shape[0] - 1)]
    qy = py[np.minimum((levels * py.shape[0]).astype(int), py.shape[0] - 1)]
    return float(np.sqrt(np.mean((qx - qy) ** 2)))
