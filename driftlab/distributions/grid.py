"""Densities tabulated on 1-D and 2-D grids (for quadrature oracles and PDE solvers)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy import interpolate

from driftlab._validation import check_int, check_points
from driftlab.distributions.gmm import as_generator

__all__ = ["GridDensity"]


class GridDensity:
    r"""A probability density tabulated on a regular grid in one or two dimensions.

    Values are normalised to unit mass by the trapezoidal rule; between nodes the density
    is interpolated (cubic in 1-D, bilinear in 2-D) and it is zero outside the box.

    Parameters
    ----------
    axes : sequence of 1-D arrays
        One strictly increasing, evenly spaced axis per dimension (1 or 2 of them).
    values : array_like
        Non-negative density values, shape ``tuple(len(a) for a in axes)``.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.distributions import GridDensity
    >>> x = np.linspace(-8, 8, 801)
    >>> g = GridDensity([x], np.exp(-x**2 / 2))
    >>> round(float(g.pdf(np.zeros((1, 1)))[0]), 6)  # 1/sqrt(2 pi)
    0.398942
    """

    def __init__(self, axes: Any, values: Any) -> None:
        axes = [np.asarray(a, dtype=np.float64) for a in axes]
        if len(axes) not in (1, 2):
            raise ValueError(f"axes must hold 1 or 2 axes, got {len(axes)}")
        for i, a in enumerate(axes):
            if a.ndim != 1 or a.size < 4:
                raise ValueError(f"axes[{i}] must be 1-D with at least 4 nodes")
            h = np.diff(a)
            if (h <= 0).any() or not np.allclose(h, h[0], rtol=1e-9):
                raise ValueError(f"axes[{i}] must be strictly increasing and evenly spaced")
        vals = np.asarray(values, dtype=np.float64)
        shape = tuple(a.size for a in axes)
        if vals.shape != shape:
            raise ValueError(f"values must have shape {shape}, got {vals.shape}")
        if not np.isfinite(vals).all() or (vals < 0).any():
            raise ValueError("values must be finite and non-negative")
        mass = vals
        for i, a in reversed(list(enumerate(axes))):
            mass = np.trapezoid(mass, a, axis=i)
        if mass <= 0:
            raise ValueError("values must have positive mass")
        self.axes = axes
        self.values = vals / mass
        if len(axes) == 1:
            self._interp = interpolate.CubicSpline(axes[0], self.values, extrapolate=False)
        else:
            self._interp = interpolate.RegularGridInterpolator(
                axes, self.values, method="linear", bounds_error=False, fill_value=0.0
            )

    @classmethod
    def from_function(cls, fn: Callable[[np.ndarray], np.ndarray], lo: Any, hi: Any, n: int) -> "GridDensity":
        """Tabulate ``fn(points (m, d)) -> (m,)`` on ``n`` nodes per axis over the box [lo, hi]."""
        n = check_int(n, "n", minimum=4)
        lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
        hi = np.atleast_1d(np.asarray(hi, dtype=np.float64))
        if lo.shape != hi.shape or lo.size not in (1, 2) or not (hi > lo).all():
            raise ValueError("lo and hi must be 1 or 2 numbers with hi > lo")
        axes = [np.linspace(a, b, n) for a, b in zip(lo, hi)]
        mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, lo.size)
        return cls(axes, np.asarray(fn(mesh), dtype=np.float64).reshape((n,) * lo.size))

    @property
    def dim(self) -> int:
        return len(self.axes)

    def __repr__(self) -> str:
        return f"GridDensity(shape={self.values.shape})"

    def pdf(self, x: Any) -> np.ndarray:
        x = np.asarray(check_points(x, "x", dim=self.dim), dtype=np.float64)
        if self.dim == 1:
            out = self._interp(x[:, 0])
            return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)
        return np.clip(self._interp(x), 0.0, None)

    def mass_radius(self, x: np.ndarray, n_std: float = 0.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        corners = np.stack(np.meshgrid(*[a[[0, -1]] for a in self.axes], indexing="ij"), -1).reshape(-1, self.dim)
        return np.max(np.linalg.norm(x[:, None, :] - corners[None], axis=-1), axis=1)

    @property
    def min_std(self) -> float:
        """The grid spacing: the finest feature the table can resolve."""
        return float(min(a[1] - a[0] for a in self.axes))

    def sample(self, n: int, rng: Any = None) -> np.ndarray:
        """Draw from the piecewise-constant (cell-centred) version of the table."""
        n = check_int(n, "n", minimum=0)
        gen = as_generator(rng)
        p = self.values.ravel() / self.values.sum()
        idx = gen.choice(p.size, size=n, p=p)
        sub = np.unravel_index(idx, self.values.shape)
        pts = []
        for a, i in zip(self.axes, sub):
            h = a[1] - a[0]
            pts.append(np.clip(a[i] + (gen.random(n) - 0.5) * h, a[0], a[-1]))
        return np.stack(pts, axis=1)
