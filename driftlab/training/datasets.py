r"""Seeded toy data laws for generator training.

Every dataset is a :class:`ToyDataset` with ``sample(n, rng) -> ndarray (n, d) float64``
(numpy, reproducible from an int seed or a ``numpy.random.Generator``). The 2-D toys follow
the official toy notebook of [D] (swiss roll and checkerboard scaled into ``[-1, 1]^2``);
the mixtures (8-Gaussian ring, two Gaussians, the d-dimensional mixture) carry their exact
:class:`~driftlab.distributions.GaussianMixture` and mode centres (for mode coverage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from driftlab._validation import check_int, check_nonnegative, check_positive
from driftlab.distributions import GaussianMixture
from driftlab.distributions.gmm import as_generator

__all__ = [
    "ToyDataset",
    "DATASETS",
    "get_dataset",
    "swiss_roll",
    "checkerboard",
    "eight_gaussians",
    "two_moons",
    "two_gaussians",
    "gaussian_mixture",
]

#: the largest |coordinate| of the noiseless swiss-roll curve t (cos t, sin t), t in [pi/2, 9 pi/2]
#: (attained by t sin t at t = 9 pi / 2); dividing by it maps the curve into [-1, 1]^2.
_SWISS_SCALE = 4.5 * math.pi


@dataclass(frozen=True)
class ToyDataset:
    """A named sampler of a data law p in R^d.

    Attributes
    ----------
    name : str
    dim : int
    sampler : callable ``(n, rng) -> ndarray (n, dim)``
    mixture : GaussianMixture or None
        The exact law when it is a Gaussian mixture.
    modes : ndarray (K, dim) or None
        Mode centres used by :func:`driftlab.training.metrics.mode_coverage`.
    """

    name: str
    dim: int
    sampler: Callable[[int, np.random.Generator], np.ndarray] = field(repr=False)
    mixture: GaussianMixture | None = field(default=None, repr=False)
    modes: np.ndarray | None = field(default=None, repr=False)

    def sample(self, n: int, rng: Any = None) -> np.ndarray:
        """``n`` samples, shape ``(n, dim)``, float64 (``rng``: int seed, Generator or None)."""
        n = check_int(n, "n", minimum=0)
        out = np.asarray(self.sampler(n, as_generator(rng)), dtype=np.float64)
        return out.reshape(n, self.dim)


def _swiss(n: int, gen: np.random.Generator, noise: float) -> np.ndarray:
    t = 0.5 * math.pi + 4.0 * math.pi * gen.random(n)
    pts = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / _SWISS_SCALE
    return pts + noise * gen.standard_normal((n, 2))


def _checker(n: int, gen: np.random.Generator, noise: float) -> np.ndarray:
    # 8 of the 16 cells of a 4 x 4 board on [-1, 1]^2 (cells with i + j even)
    b = gen.integers(0, 2, n)
    i = 2 * gen.integers(0, 2, n) + b
    j = 2 * gen.integers(0, 2, n) + b
    u = gen.random((n, 2))
    pts = (np.stack([i, j], axis=1) + u - 2.0) / 2.0
    return pts + noise * gen.standard_normal((n, 2))


def _moons(n: int, gen: np.random.Generator, noise: float) -> np.ndarray:
    upper = gen.random(n) < 0.5
    t = math.pi * gen.random(n)
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    pts = np.where(upper[:, None], outer, inner)
    # centre (the law's mean is (0.5, 0.25)) and scale into about [-1, 1]^2
    pts = (pts - np.array([0.5, 0.25])) / 1.5
    return pts + noise * gen.standard_normal((n, 2))


def swiss_roll(noise: float = 0.03) -> ToyDataset:
    r"""Swiss roll of [D]'s toy notebook: :math:`t(\cos t, \sin t)/(4.5\pi)`,
    :math:`t \sim U[\pi/2, 9\pi/2]`, plus :math:`\mathcal N(0, \mathrm{noise}^2 I)`.

    The official notebook divides by the batch's max-abs coordinate; the curve's exact
    maximum :math:`4.5\pi` is used here so that the law does not depend on the batch.

    Examples
    --------
    >>> from driftlab.training import swiss_roll
    >>> swiss_roll().sample(4, rng=0).shape
    (4, 2)
    """
    noise = check_nonnegative(noise, "noise")
    return ToyDataset("swiss-roll", 2, lambda n, g: _swiss(n, g, noise))


def checkerboard(noise: float = 0.05) -> ToyDataset:
    """Checkerboard of [D]'s toy notebook: 8 of 16 cells of side 0.5 in ``[-1, 1]^2``, plus noise."""
    noise = check_nonnegative(noise, "noise")
    return ToyDataset("checkerboard", 2, lambda n, g: _checker(n, g, noise))


def two_moons(noise: float = 0.05) -> ToyDataset:
    """Two interleaving half circles (equal mass), centred and scaled by 1/1.5, plus noise."""
    noise = check_nonnegative(noise, "noise")
    return ToyDataset("two-moons", 2, lambda n, g: _moons(n, g, noise))


def _from_mixture(name: str, mix: GaussianMixture) -> ToyDataset:
    return ToyDataset(name, mix.dim, lambda n, g: mix.sample(n, g), mixture=mix, modes=mix.means.copy())


def eight_gaussians(radius: float = 2.0, std: float = 0.1) -> ToyDataset:
    """Eight equal Gaussians N(mu_k, std^2 I) on a circle of ``radius`` (angles k pi / 4)."""
    radius = check_positive(radius, "radius")
    std = check_positive(std, "std")
    ang = np.arange(8) * math.pi / 4.0
    means = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return _from_mixture("8gaussians", GaussianMixture(means, std**2))


def two_gaussians(separation: float = 4.0, std: float = 0.5) -> ToyDataset:
    """The 2-D two-Gaussian toy of docs/theory.md, the stop-gradient section: N((+-separation/2, 0), std^2 I), equal weights."""
    separation = check_positive(separation, "separation")
    std = check_positive(std, "std")
    means = np.array([[-separation / 2.0, 0.0], [separation / 2.0, 0.0]])
    return _from_mixture("two-gaussians", GaussianMixture(means, std**2))


def gaussian_mixture(dim: int = 8, n_components: int = 4, radius: float = 3.0, std: float = 0.5,
                     seed: int = 0) -> ToyDataset:
    """A d-dimensional isotropic mixture with means drawn uniformly on the sphere of ``radius``
    (seeded), equal weights and variance ``std**2``."""
    dim = check_int(dim, "dim", minimum=1)
    n_components = check_int(n_components, "n_components", minimum=1)
    radius = check_nonnegative(radius, "radius")
    std = check_positive(std, "std")
    gen = np.random.default_rng(check_int(seed, "seed", minimum=0))
    dirs = gen.standard_normal((n_components, dim))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return _from_mixture(f"gmm{dim}d", GaussianMixture(radius * dirs, std**2))


DATASETS: dict[str, Callable[..., ToyDataset]] = {
    "swiss-roll": swiss_roll,
    "checkerboard": checkerboard,
    "8gaussians": eight_gaussians,
    "two-moons": two_moons,
    "two-gaussians": two_gaussians,
    "gmm": gaussian_mixture,
}


def get_dataset(name: str, **kwargs: Any) -> ToyDataset:
    """Dataset by name (``DATASETS``; ``_`` and ``-`` are interchangeable); kwargs go to its factory."""
    if not isinstance(name, str):
        raise TypeError(f"data must be a dataset name, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    key = {"swissroll": "swiss-roll", "moons": "two-moons", "eight-gaussians": "8gaussians",
           "8-gaussians": "8gaussians"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"data must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[key](**kwargs)
