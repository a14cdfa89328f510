r"""Standard initial conditions and targets for the simulator.

* :func:`torus_mode_problem` -- uniform target on ``[0, L)^d`` and particles carrying one
  density mode :math:`q = p(1 + \epsilon\cos(k\cdot x))` (to first order in epsilon), built by
  displacing base points along :math:`u(x) = -\epsilon\,k\sin(k\cdot x)/|k|^2`
  (:math:`-\nabla\cdot u = \epsilon\cos k\cdot x`). ``layout="grid"`` uses stratified
  lattice points (no Monte Carlo noise), ``"random"`` iid uniform points (noise
  :math:`\sim N^{-1/2}` in every mode).
* :func:`gmm_problem` -- a Gaussian-mixture target in R^d (means on a scaled simplex of
  directions) and a standard normal start.
"""

from __future__ import annotations

import math

import numpy as np

from driftlab._validation import check_int, check_positive

__all__ = ["torus_mode_problem", "gmm_problem", "PROBLEMS", "grid_points"]


def grid_points(n: int, dim: int, period: float) -> np.ndarray:
    """``side^dim >= n`` cell-centred lattice points of the torus, first n in a fixed order."""
    side = int(math.ceil(n ** (1.0 / dim) - 1e-9))
    axes = [(np.arange(side) + 0.5) * period / side] * dim
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    if pts.shape[0] != n:
        raise ValueError(f"layout='grid' needs n to be a perfect {dim}-th power, got {n}")
    return pts


def torus_mode_problem(n: int, m: int, dim: int = 1, *, mode=(1,), eps: float = 0.05, period: float = 1.0,
                       layout: str = "grid", target_layout: str | None = None, seed: int = 0):
    """Return ``(particles (n, d), target (m, d), k)`` with ``k = 2 pi mode / L``.

    Examples
    --------
    >>> x, y, k = torus_mode_problem(8, 8, mode=(1,), eps=0.1)
    >>> x.shape, y.shape, round(float(k[0]), 6)
    ((8, 1), (8, 1), 6.283185)
    """
    n = check_int(n, "n", minimum=1)
    m = check_int(m, "m", minimum=1)
    dim = check_int(dim, "dim", minimum=1)
    eps = float(eps)
    if not 0 <= eps < 1:
        raise ValueError(f"eps must be in [0, 1), got {eps}")
    period = check_positive(period, "period")
    mode = np.asarray(mode, dtype=np.float64).reshape(-1)
    if mode.shape[0] != dim or not np.any(mode):
        raise ValueError(f"mode must be a non-zero integer vector with {dim} components, got {mode}")
    if layout not in ("grid", "random") or (target_layout or layout) not in ("grid", "random"):
        raise ValueError("layout and target_layout must be 'grid' or 'random'")
    rng = np.random.default_rng(seed)
    k = 2.0 * np.pi * mode / period
    base = grid_points(n, dim, period) if layout == "grid" else rng.uniform(0, period, size=(n, dim))
    phase = base @ k
    x = np.mod(base - eps * np.outer(np.sin(phase), k) / float(k @ k), period)
    tl = target_layout or layout
    y = grid_points(m, dim, period) if tl == "grid" else rng.uniform(0, period, size=(m, dim))
    return x, y, k


def gmm_problem(n: int, m: int, dim: int = 2, *, n_components: int = 4, radius: float = 3.0,
                component_std: float = 0.5, seed: int = 0):
    """Return ``(particles, target, mixture)``: N(0, I) start, GMM target with means at ``radius``."""
    from driftlab.distributions import GaussianMixture

    n = check_int(n, "n", minimum=1)
    m = check_int(m, "m", minimum=1)
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_components, dim))
    means = radius * means / np.linalg.norm(means, axis=1, keepdims=True)
    gmm = GaussianMixture(means, np.full(n_components, component_std**2))
    return rng.normal(size=(n, dim)), gmm.sample(m, rng), gmm


PROBLEMS = ("torus-mode", "gmm")
