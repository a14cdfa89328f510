r"""The Müller–Brown potential, its grid minimax bound and minimum-energy path (string method).

:math:`U(x, y) = \sum_{i=1}^4 A_i \exp(a_i(x-x_i)^2 + b_i(x-x_i)(y-y_i) + c_i(y-y_i)^2)` with the
standard constants (Müller & Brown 1979). Minima A(-0.558, 1.442), B(0.623, 0.028),
C(-0.050, 0.467); the lowest barrier between A and B is the saddle S1(-0.822, 0.624) at
U = -40.665, which is the minimax bound :math:`\min_{\text{paths } A\to B}\max U`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy import ndimage

from driftlab._validation import check_int, check_points, check_positive

__all__ = ["MullerBrown", "MinimaxBound", "grid_minimax_bound", "string_method", "refine_stationary_point"]


class MullerBrown:
    """Müller–Brown potential: ``energy``, ``gradient`` and ``hessian`` on points of shape (n, 2)."""

    A = np.array([-200.0, -100.0, -170.0, 15.0])
    a = np.array([-1.0, -1.0, -6.5, 0.7])
    b = np.array([0.0, 0.0, 11.0, 0.6])
    c = np.array([-10.0, -10.0, -6.5, 0.7])
    x0 = np.array([1.0, 0.0, -0.5, -1.0])
    y0 = np.array([0.0, 0.5, 1.5, 1.0])
    #: approximate stationary points (refined by :func:`refine_stationary_point`)
    MINIMUM_A = (-0.558224, 1.441726)
    MINIMUM_B = (0.623499, 0.028038)
    MINIMUM_C = (-0.050011, 0.466694)
    SADDLE_1 = (-0.822002, 0.624313)
    SADDLE_2 = (0.212487, 0.292988)
    #: a box holding the Boltzmann mass: U on its edge >= U_A + 180 (edge density <= e^-9 for kT <= 20)
    BOX_LO = (-2.2, -1.0)
    BOX_HI = (1.6, 2.6)

    def _terms(self, p):
        p = np.asarray(p, dtype=np.float64)
        dx = p[:, :1] - self.x0[None]
        dy = p[:, 1:2] - self.y0[None]
        e = self.A[None] * np.exp(self.a * dx * dx + self.b * dx * dy + self.c * dy * dy)
        return dx, dy, e

    def energy(self, p: Any) -> np.ndarray:
        p = check_points(p, "points", dim=2)
        return self._terms(p)[2].sum(axis=1)

    __call__ = energy

    def gradient(self, p: Any) -> np.ndarray:
        p = check_points(p, "points", dim=2)
        return self._grad(np.asarray(p, dtype=np.float64))

    def _grad(self, p: np.ndarray) -> np.ndarray:
        dx, dy, e = self._terms(p)
        gx = (e * (2 * self.a * dx + self.b * dy)).sum(axis=1)
        gy = (e * (self.b * dx + 2 * self.c * dy)).sum(axis=1)
        return np.stack([gx, gy], axis=1)

    def _energy_grad(self, p: np.ndarray):
        dx, dy, e = self._terms(p)
        gx = (e * (2 * self.a * dx + self.b * dy)).sum(axis=1)
        gy = (e * (self.b * dx + 2 * self.c * dy)).sum(axis=1)
        return e.sum(axis=1), np.stack([gx, gy], axis=1)

    def hessian(self, p: Any) -> np.ndarray:
        p = np.asarray(check_points(p, "points", dim=2), dtype=np.float64)
        dx, dy, e = self._terms(p)
        px = 2 * self.a * dx + self.b * dy
        py = self.b * dx + 2 * self.c * dy
        hxx = (e * (px * px + 2 * self.a)).sum(axis=1)
        hyy = (e * (py * py + 2 * self.c)).sum(axis=1)
        hxy = (e * (px * py + self.b)).sum(axis=1)
        return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)

    def basin(self, p: Any, n_steps: int = 2000, step: float = 1e-4) -> np.ndarray:
        """Index (0 = A, 1 = B, 2 = C) of the minimum reached by gradient descent from each point."""
        x = np.array(check_points(p, "points", dim=2), dtype=np.float64)
        for _ in range(check_int(n_steps, "n_steps", minimum=1)):
            g = self._grad(x)
            x -= step * np.clip(g, -1e4, 1e4)
        mins = np.array([self.MINIMUM_A, self.MINIMUM_B, self.MINIMUM_C])
        return np.argmin(np.linalg.norm(x[:, None] - mins[None], axis=-1), axis=1)


def refine_stationary_point(potential: MullerBrown, x0: Any, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Newton's method on grad U = 0 from x0 (finds minima and saddles alike)."""
    x = np.asarray(x0, dtype=np.float64).reshape(1, 2).copy()
    for _ in range(max_iter):
        g = potential._grad(x)[0]
        dx = np.linalg.solve(potential.hessian(x)[0], g)
        x[0] -= dx
        if np.linalg.norm(dx) < tol:
            break
    return x[0]


@dataclass(frozen=True)
class MinimaxBound:
    """Result of :func:`grid_minimax_bound`."""

    level: float  # min over grid paths of max U (4-connected grid paths through nodes)
    saddle_node: np.ndarray  # the node whose addition connects the two basins
    spacing: tuple


def grid_minimax_bound(energy: Callable[[np.ndarray], np.ndarray], a: Any, b: Any, lo: Any, hi: Any,
                       n: int = 301, tol: float = 1e-6) -> MinimaxBound:
    r"""Minimax energy :math:`\min_{\gamma: a\to b}\max_{x\in\gamma} U(x)` over 4-connected grid paths.

    Bisection on the level c: a and b are joined by a path with max U <= c iff they lie in
    one connected component of the sub-level set :math:`\{U \le c\}` (``scipy.ndimage.label``).
    The grid value converges to the continuum bound (the saddle energy) at O(h^2).
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    n = check_int(n, "n", minimum=5)
    check_positive(tol, "tol")
    axes = [np.linspace(lo[i], hi[i], n) for i in range(2)]
    X, Y = np.meshgrid(*axes, indexing="ij")
    U = np.asarray(energy(np.stack([X.ravel(), Y.ravel()], axis=1)), dtype=np.float64).reshape(X.shape)
    if not np.isfinite(U).all():
        raise ValueError("energy returned non-finite values on the grid (NaN/inf energies are not allowed)")
    h = tuple(float(ax[1] - ax[0]) for ax in axes)

    def node(p, name):
        p = np.asarray(p, dtype=np.float64).ravel()
        if p.shape != (2,) or not np.isfinite(p).all():
            raise ValueError(f"{name} must be a finite 2-D point")
        if (p < lo).any() or (p > hi).any():
            raise ValueError(f"{name} = {p.tolist()} lies outside the grid box [{lo.tolist()}, {hi.tolist()}]")
        return tuple(int(round((p[i] - lo[i]) / h[i])) for i in range(2))

    ia, ib = node(a, "a"), node(b, "b")
    c_lo, c_hi = max(U[ia], U[ib]), float(U.max())

    def joined(c):
        lab, _ = ndimage.label(U <= c)
        return lab[ia] != 0 and lab[ia] == lab[ib]

    if joined(c_lo):
        return MinimaxBound(c_lo, np.array([axes[0][ia[0]], axes[1][ia[1]]]), h)
    while c_hi - c_lo > tol:
        mid = 0.5 * (c_lo + c_hi)
        if joined(mid):
            c_hi = mid
        else:
            c_lo = mid
    # the exact grid level is the largest node value on the joining component below c_hi
    lab, _ = ndimage.label(U <= c_hi)
    comp = lab == lab[ia]
    cand = np.where(comp & (U > c_lo))
    k = int(np.argmax(U[cand]))
    i, j = cand[0][k], cand[1][k]
    return MinimaxBound(float(U[i, j]), np.array([axes[0][i], axes[1][j]]), h)


def string_method(potential: MullerBrown, a: Any, b: Any, n_images: int = 64, n_iter: int = 20000,
                  dt: float = 1e-4, via: Any = None) -> np.ndarray:
    r"""Minimum-energy path by the simplified string method (E, Ren & Vanden-Eijnden 2007).

    Images move by steepest descent :math:`\varphi \leftarrow \varphi - \Delta t\,\nabla U` and are
    re-spaced to equal arc length after every step; endpoints relax to the minima. Returns
    the images, shape (n_images, 2). ``via`` adds an intermediate point to the initial string.
    """
    n = check_int(n_images, "n_images", minimum=3)
    pts = [np.asarray(a, dtype=np.float64)] + ([np.asarray(via, dtype=np.float64)] if via is not None else []) \
        + [np.asarray(b, dtype=np.float64)]
    knots = np.stack(pts)
    seg = np.linalg.norm(np.diff(knots, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)]) / seg.sum()
    t = np.linspace(0, 1, n)
    phi = np.stack([np.interp(t, s, knots[:, j]) for j in range(2)], axis=1)
    for _ in range(check_int(n_iter, "n_iter", minimum=1)):
        g = potential._grad(phi)
        phi = phi - dt * np.clip(g, -1e5, 1e5)
        d = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(phi, axis=0), axis=1))])
        d /= d[-1]
        phi = np.stack([np.interp(t, d, phi[:, j]) for j in range(2)], axis=1)
    return phi
