r"""Periodic energy surfaces on the torus: a validating loader, a smooth interpolant with
analytic forces, the minimax (bottleneck) bound and a string-method minimum-energy path.

The alanine-dipeptide (phi, psi) surface ships with driftlab (:func:`alanine_dipeptide`).
Energies are interpolated by the periodic cubic B-spline through the grid values (C^2,
exact at the nodes; coefficients from :func:`scipy.ndimage.spline_filter` with
``mode="grid-wrap"``), so gradients and Hessians are analytic.

>>> from driftlab.spacetime import alanine_dipeptide
>>> surf = alanine_dipeptide()
>>> surf.shape, round(float(surf.energy([[-2.55, 2.70]])[0]), 3)
((89, 89), 0.97)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from driftlab._validation import check_int, check_points, check_positive

__all__ = ["PeriodicSurface", "AlanineDipeptide", "load_periodic_surface", "alanine_dipeptide", "TorusMinimaxBound",
           "torus_minimax_bound", "torus_string_method", "wrap_angle"]

TWO_PI = 2.0 * math.pi


def wrap_angle(a: Any) -> np.ndarray:
    """Angles mapped to [-pi, pi)."""
    a = np.asarray(a, dtype=np.float64)
    return (a + math.pi) % TWO_PI - math.pi


def _bspline_weights(t: np.ndarray, order: int) -> np.ndarray:
    """Cubic B-spline weights (or their ``order``-th derivative) for offsets -1, 0, 1, 2; shape (..., 4)."""
    if order == 0:
        w = [(1 - t) ** 3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6, (-3 * t**3 + 3 * t**2 + 3 * t + 1) / 6, t**3 / 6]
    elif order == 1:
        w = [-((1 - t) ** 2) / 2, 1.5 * t**2 - 2 * t, -1.5 * t**2 + t + 0.5, t**2 / 2]
    else:
        w = [1 - t, 3 * t - 2, 1 - 3 * t, t]
    return np.stack(w, axis=-1)


class PeriodicSurface:
    r"""An energy :math:`U(\phi, \psi)` on the torus :math:`[-\pi, \pi)^2` from grid values.

    Parameters
    ----------
    values : array, shape (n1, n2)
        Energies at the nodes :math:`(-\pi + i h_1, -\pi + j h_2)`, :math:`h = 2\pi / n`.
    name : str
        For display.

    Notes
    -----
    Points are arrays of shape (n, 2) of angles in radians; any real angle is accepted (the
    surface is periodic). ``energy``, ``gradient`` and ``hessian`` evaluate the periodic
    cubic B-spline interpolant, which reproduces the grid values exactly.
    """

    def __init__(self, values: Any, name: str = "surface") -> None:
        from scipy import ndimage

        z = np.asarray(values, dtype=np.float64)
        if z.ndim != 2 or min(z.shape) < 4:
            raise ValueError(f"values must be a 2-D grid with at least 4 nodes per axis, got shape {z.shape}")
        if not np.isfinite(z).all():
            raise ValueError("values must be finite at every node")
        self.values = z
        self.name = name
        self.shape = z.shape
        self.spacing = (TWO_PI / z.shape[0], TWO_PI / z.shape[1])
        self.axes = tuple(-math.pi + np.arange(n) * h for n, h in zip(z.shape, self.spacing))
        self._coef = ndimage.spline_filter(z, order=3, mode="grid-wrap")

    def __repr__(self) -> str:
        return f"PeriodicSurface({self.name!r}, grid {self.shape[0]} x {self.shape[1]})"

    # ----- evaluation -------------------------------------------------------------------
    def _local(self, p: np.ndarray):
        u = [(p[:, k] + math.pi) / self.spacing[k] for k in range(2)]
        i0 = [np.floor(uk).astype(np.int64) for uk in u]
        t = [uk - ik for uk, ik in zip(u, i0)]
        offs = np.arange(-1, 3)
        idx = [(ik[:, None] + offs[None, :]) % n for ik, n in zip(i0, self.shape)]
        block = self._coef[idx[0][:, :, None], idx[1][:, None, :]]  # (n, 4, 4)
        return t, block

    def _eval(self, p: np.ndarray, d1: int, d2: int) -> np.ndarray:
        t, block = self._local(p)
        w1 = _bspline_weights(t[0], d1) / self.spacing[0] ** d1
        w2 = _bspline_weights(t[1], d2) / self.spacing[1] ** d2
        return np.einsum("na,nab,nb->n", w1, block, w2)

    def _points(self, p: Any) -> np.ndarray:
        return np.asarray(check_points(p, "points", dim=2), dtype=np.float64)

    def energy(self, p: Any) -> np.ndarray:
        """U at points of shape (n, 2); shape (n,)."""
        return self._eval(self._points(p), 0, 0)

    __call__ = energy

    def gradient(self, p: Any) -> np.ndarray:
        """grad U, shape (n, 2)."""
        return self._grad(self._points(p))

    def _grad(self, p: np.ndarray) -> np.ndarray:
        return np.stack([self._eval(p, 1, 0), self._eval(p, 0, 1)], axis=1)

    def _energy_grad(self, p: np.ndarray):
        return self._eval(p, 0, 0), self._grad(p)

    def hessian(self, p: Any) -> np.ndarray:
        """Hessian of U, shape (n, 2, 2)."""
        p = self._points(p)
        hxx, hyy, hxy = self._eval(p, 2, 0), self._eval(p, 0, 2), self._eval(p, 1, 1)
        return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)

    def max_curvature(self) -> float:
        """Largest Hessian eigenvalue over the grid nodes (sets stable Langevin steps)."""
        P, Q = np.meshgrid(*self.axes, indexing="ij")
        H = self.hessian(np.stack([P.ravel(), Q.ravel()], axis=1))
        return float(np.linalg.eigvalsh(H).max())

    def local_minimum(self, p0: Any, tol: float = 1e-10, max_iter: int = 200) -> np.ndarray:
        """The local minimum reached from ``p0`` (damped Newton on grad U = 0), wrapped to [-pi, pi)."""
        x = self._points(p0)[:1].copy()
        step = 0.5 * min(self.spacing)
        for _ in range(max_iter):
            g = self._grad(x)[0]
            H = self.hessian(x)[0]
            evals = np.linalg.eigvalsh(H)
            if evals.min() > 0:
                dx = np.linalg.solve(H, g)
            else:
                dx = g / max(abs(evals).max(), 1.0)
            norm = np.linalg.norm(dx)
            if norm > step:
                dx *= step / norm
            x[0] -= dx
            if norm < tol:
                break
        return wrap_angle(x[0])


def _read_grid(path: Path) -> np.ndarray:
    """The (n1, n2) value grid of a ``phi psi z`` table, validated (see :func:`load_periodic_surface`)."""
    try:
        data = np.loadtxt(path, comments="#", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a numeric 'phi psi z' table ({exc})") from None
    if data.ndim != 2 or data.shape[1] != 3 or data.shape[0] < 16:
        raise ValueError(f"{path}: expected rows of 3 columns 'phi psi z' (at least 4 x 4 nodes), "
                         f"got shape {data.shape}")
    if not np.isfinite(data).all():
        bad = int(np.argmax(~np.isfinite(data).all(axis=1)))
        raise ValueError(f"{path}: row {bad + 1} holds a non-finite value")
    grid_index = []
    for k, name in enumerate(("phi", "psi")):
        col = data[:, k]
        levels = np.unique(col)
        n = levels.size
        h = TWO_PI / n
        # regular, periodic spacing over [-pi, pi): level i at -pi + i h; the file's digits are
        # ~1e-9, so 1e-6 of a spacing separates rounding from a wrong grid
        expect = -math.pi + np.arange(n) * h
        err = np.abs(levels - expect).max()
        if err > 1e-6 * h:
            steps = np.diff(levels)
            raise ValueError(f"{path}: {name} values are not a regular periodic grid over [-pi, pi) "
                             f"({n} levels, spacing {steps.min():.6g}..{steps.max():.6g}, expected {h:.6g})")
        grid_index.append(np.rint((col + math.pi) / h).astype(np.int64))
    n1, n2 = int(grid_index[0].max()) + 1, int(grid_index[1].max()) + 1
    counts = np.zeros((n1, n2), dtype=np.int64)
    np.add.at(counts, (grid_index[0], grid_index[1]), 1)
    ax1, ax2 = -math.pi + np.arange(n1) * TWO_PI / n1, -math.pi + np.arange(n2) * TWO_PI / n2
    if (counts > 1).any():
        i, j = np.argwhere(counts > 1)[0]
        raise ValueError(f"{path}: node (phi={ax1[i]:.6f}, psi={ax2[j]:.6f}) appears {counts[i, j]} times; "
                         "every node must be given exactly once")
    if (counts == 0).any():
        i, j = np.argwhere(counts == 0)[0]
        raise ValueError(f"{path}: node (phi={ax1[i]:.6f}, psi={ax2[j]:.6f}) is missing "
                         f"({int((counts == 0).sum())} of {n1 * n2} nodes missing)")
    z = np.empty((n1, n2))
    z[grid_index[0], grid_index[1]] = data[:, 2]
    return z


def load_periodic_surface(path: str | Path, name: str | None = None) -> PeriodicSurface:
    """Load a periodic energy surface from a ``phi psi z`` text table.

    The grid is inferred from the data and validated: each angle takes ``n`` values
    :math:`-\\pi + i\\,2\\pi/n` (regular and periodic: :math:`\\pi` itself is the node
    :math:`-\\pi`), and every node appears exactly once; otherwise a ValueError names the file
    and the offending node.

    Parameters
    ----------
    path : str or Path
    name : str, optional
        Display name (default: the file name).
    """
    path = Path(path)
    return PeriodicSurface(_read_grid(path), name or path.name)


class AlanineDipeptide(PeriodicSurface):
    """The alanine-dipeptide (phi, psi) surface shipped with driftlab (see the package data README).

    ``MINIMUM_A`` and ``MINIMUM_B`` are the endpoints of [S]'s transition-path experiment,
    (-2.55, 2.70) and (0.95, -0.40); ``basin`` tells which local minimum a point descends to.
    """

    MINIMUM_A = (-2.55, 2.70)
    MINIMUM_B = (0.95, -0.40)

    def basin(self, p: Any, n_steps: int = 400) -> np.ndarray:
        """Index of the grid-local minimum reached by steepest descent from each point (see ``minima``)."""
        x = self._points(p).copy()
        step = 0.2 * min(self.spacing)
        for _ in range(check_int(n_steps, "n_steps", minimum=1)):
            g = self._grad(x)
            norm = np.linalg.norm(g, axis=1, keepdims=True)
            x -= step * g / np.maximum(norm, 1.0)
        mins = self.minima()
        dist = np.abs(wrap_angle(x[:, None, :] - mins[None, :, :])).sum(-1)
        return np.argmin(dist, axis=1)

    def minima(self) -> np.ndarray:
        """Local minima of the interpolant (refined from the grid's local minima), shape (k, 2)."""
        if not hasattr(self, "_minima"):
            from scipy import ndimage

            z = self.values
            is_min = z == ndimage.minimum_filter(z, size=3, mode="wrap")
            nodes = np.argwhere(is_min)
            pts = np.array([[self.axes[0][i], self.axes[1][j]] for i, j in nodes])
            self._minima = np.array([self.local_minimum(p[None]) for p in pts])
        return self._minima


def alanine_dipeptide() -> AlanineDipeptide:
    """The alanine-dipeptide (phi, psi) free-energy surface (89 x 89 periodic grid)."""
    ref = resources.files("driftlab.spacetime").joinpath("data/alanine_dipeptide.dat")
    with resources.as_file(ref) as path:
        return AlanineDipeptide(_read_grid(Path(path)), "alanine dipeptide")


# ----- the minimax bound on the torus ----------------------------------------------------------
@dataclass(frozen=True)
class TorusMinimaxBound:
    """Result of :func:`torus_minimax_bound`.

    Attributes
    ----------
    level : float
        min over 4-connected periodic grid paths from a to b of the max node energy.
    saddle_node : ndarray, shape (2,)
        The node whose addition joins a and b (the bottleneck).
    path : ndarray, shape (k, 2)
        A grid path from a to b below the level, as an unwrapped (continuous) curve of angles.
    spacing : tuple of float
    """

    level: float
    saddle_node: np.ndarray
    path: np.ndarray
    spacing: tuple


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def torus_minimax_bound(surface: PeriodicSurface, a: Any, b: Any, refine: int = 1) -> TorusMinimaxBound:
    r"""Minimax energy :math:`\min_{\gamma: a\to b}\max_{\gamma} U` over periodic grid paths.

    Nodes are added in increasing energy (Kruskal's order) and joined to their four periodic
    neighbours with union-find; the level is the energy of the node that first connects the
    nodes nearest to ``a`` and ``b``. With ``refine > 1`` the interpolant is evaluated on a
    grid ``refine`` times finer, which brings the grid level to the continuum saddle energy
    (error O(h^2)).
    """
    refine = check_int(refine, "refine", minimum=1)
    n1, n2 = surface.shape[0] * refine, surface.shape[1] * refine
    ax1 = -math.pi + np.arange(n1) * TWO_PI / n1
    ax2 = -math.pi + np.arange(n2) * TWO_PI / n2
    if refine == 1:
        U = surface.values
    else:
        P, Q = np.meshgrid(ax1, ax2, indexing="ij")
        U = surface._eval(np.stack([P.ravel(), Q.ravel()], axis=1), 0, 0).reshape(n1, n2)

    def node(p, name):
        p = np.asarray(p, dtype=np.float64).ravel()
        if p.shape != (2,) or not np.isfinite(p).all():
            raise ValueError(f"{name} must be a finite point (phi, psi)")
        w = wrap_angle(p)
        return (int(round((w[0] + math.pi) / (TWO_PI / n1))) % n1, int(round((w[1] + math.pi) / (TWO_PI / n2))) % n2)

    ia, ib = node(a, "a"), node(b, "b")
    flat = U.ravel()
    order = np.argsort(flat, kind="stable")
    parent = np.arange(flat.size)
    active = np.zeros(flat.size, dtype=bool)
    ka, kb = ia[0] * n2 + ia[1], ib[0] * n2 + ib[1]
    level, saddle = None, None
    for k in order:
        active[k] = True
        i, j = divmod(int(k), n2)
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nb = ((i + di) % n1) * n2 + (j + dj) % n2
            if active[nb]:
                ra, rb = _find(parent, int(k)), _find(parent, nb)
                if ra != rb:
                    parent[ra] = rb
        if active[ka] and active[kb] and _find(parent, ka) == _find(parent, kb):
            level, saddle = float(flat[k]), (i, j)
            break
    assert level is not None  # the whole torus is connected
    path = _sublevel_path(U <= level, ia, ib)
    pts = np.stack([ax1[path[:, 0]], ax2[path[:, 1]]], axis=1)
    return TorusMinimaxBound(level, np.array([ax1[saddle[0]], ax2[saddle[1]]]), _unwrap(pts),
                             (TWO_PI / n1, TWO_PI / n2))


def _sublevel_path(mask: np.ndarray, start, goal) -> np.ndarray:
    """Breadth-first shortest 4-connected periodic path inside ``mask``; node indices (k, 2)."""
    from collections import deque

    n1, n2 = mask.shape
    prev = -np.ones(mask.shape + (2,), dtype=np.int64)
    seen = np.zeros(mask.shape, dtype=bool)
    seen[start] = True
    queue = deque([start])
    while queue:
        i, j = queue.popleft()
        if (i, j) == goal:
            break
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ni, nj = (i + di) % n1, (j + dj) % n2
            if mask[ni, nj] and not seen[ni, nj]:
                seen[ni, nj] = True
                prev[ni, nj] = (i, j)
                queue.append((ni, nj))
    out = [goal]
    while out[-1] != start:
        out.append(tuple(prev[out[-1]]))
    return np.array(out[::-1])


def _unwrap(pts: np.ndarray) -> np.ndarray:
    """A continuous lift of a curve of angles (no jumps of 2 pi between consecutive points)."""
    steps = wrap_angle(np.diff(pts, axis=0))
    return np.concatenate([pts[:1], pts[:1] + np.cumsum(steps, axis=0)])


def torus_string_method(surface: PeriodicSurface, init: Any, n_images: int = 64, n_iter: int = 4000,
                        dt: float | None = None, relax_ends: bool = True) -> np.ndarray:
    r"""Minimum-energy path by the simplified string method on the torus.

    ``init`` is an initial curve of angles (k, 2) in any lift (e.g.
    :attr:`TorusMinimaxBound.path`); it fixes the homotopy class. Images move by steepest
    descent and are re-spaced to equal arc length after every step (E, Ren & Vanden-Eijnden
    2007); with ``relax_ends`` the end images descend to their minima. Returns the images in
    the same lift, shape (n_images, 2).
    """
    n = check_int(n_images, "n_images", minimum=3)
    steps = check_int(n_iter, "n_iter", minimum=1)
    knots = _unwrap(np.asarray(init, dtype=np.float64).reshape(-1, 2))
    if knots.shape[0] < 2 or not np.isfinite(knots).all():
        raise ValueError("init must be a finite curve of at least 2 points (phi, psi)")
    if dt is None:
        dt = 0.5 / max(surface.max_curvature(), 1.0)
    dt = check_positive(dt, "dt")

    def respace(phi):
        d = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(phi, axis=0), axis=1))])
        if d[-1] <= 0:
            raise ValueError("init has zero length")
        t = np.linspace(0.0, 1.0, n)
        return np.stack([np.interp(t, d / d[-1], phi[:, k]) for k in range(2)], axis=1)

    phi = respace(knots)
    for _ in range(steps):
        g = surface._grad(phi)
        if not relax_ends:
            g[0] = g[-1] = 0.0
        phi = respace(phi - dt * g)
    return phi
