"""Hypothesis strategies for drift fields: point sets, drift problems, kernels, temperatures,
Gaussian-mixture pairs and p = q sample pairs (in the manner of ``hypothesis.extra.numpy``).

Every strategy documents its ranges; all arrays are numpy float64 and finite. Points are
``scale * u`` with ``u`` uniform-ish in [-1, 1] (hypothesis floats, so examples shrink towards
small sets and zeros), offset by a per-set shift of at most ``scale``.

>>> from hypothesis import given
>>> from driftlab.testing import strategies as dst
>>> @given(dst.drift_problems(max_dim=4))
... def test_shapes(problem):
...     x, y_pos, y_neg = problem
...     assert x.shape[1] == y_pos.shape[1] == y_neg.shape[1]
>>> test_shapes()
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "point_sets",
    "drift_problems",
    "kernels",
    "temperatures",
    "gaussian_mixtures",
    "gaussian_mixture_pairs",
    "equal_law_samples",
]

_UNIT = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False, width=64)


def _check_range(lo, hi, name, minimum):
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo < minimum or hi < lo:
        raise ValueError(f"{name}: need integers {minimum} <= min <= max, got ({lo!r}, {hi!r})")


def point_sets(*, dim: int | None = None, min_points: int = 1, max_points: int = 32,
               min_dim: int = 1, max_dim: int = 8, scale: float = 1.0):
    """An ``(m, d)`` float64 array, ``min_points <= m <= max_points``.

    Parameters
    ----------
    dim : int, optional
        Fix ``d``; otherwise ``min_dim <= d <= max_dim``.
    scale : float
        Coordinates lie in ``[-2 scale, 2 scale]`` (a point cloud of spread <= scale plus a
        shift of at most scale).
    """
    _check_range(min_points, max_points, "points", 1)
    if dim is None:
        _check_range(min_dim, max_dim, "dim", 1)
    return _point_sets(dim, min_points, max_points, min_dim, max_dim, float(scale))


@st.composite
def _point_sets(draw, dim, min_points, max_points, min_dim, max_dim, scale):
    if dim is None:
        dim = draw(st.integers(min_dim, max_dim))
    m = draw(st.integers(min_points, max_points))
    u = draw(hnp.arrays(np.float64, (m, dim), elements=_UNIT))
    shift = draw(hnp.arrays(np.float64, (dim,), elements=_UNIT))
    return float(scale) * (u + shift[None, :])


@st.composite
def drift_problems(draw, *, min_dim: int = 1, max_dim: int = 64, max_points: int = 24,
                   min_scale: float = 1e-2, max_scale: float = 1e2, unequal_sizes: bool = True):
    """``(x, y_pos, y_neg)`` sharing a dimension ``min_dim <= d <= max_dim``, each with 1 to
    ``max_points`` points, at a common data scale log-uniform in ``[min_scale, max_scale]``;
    with ``unequal_sizes`` the two reference sets differ in size."""
    _check_range(min_dim, max_dim, "dim", 1)
    d = draw(st.integers(min_dim, max_dim))
    scale = 10 ** draw(st.floats(math.log10(min_scale), math.log10(max_scale)))
    x = draw(point_sets(dim=d, max_points=max_points, scale=scale))
    y_pos = draw(point_sets(dim=d, max_points=max_points, scale=scale))
    if unequal_sizes:
        sizes = [k for k in range(1, max(max_points, 2) + 1) if k != y_pos.shape[0]]
        m_neg = draw(st.sampled_from(sizes))
        y_neg = draw(point_sets(dim=d, min_points=m_neg, max_points=m_neg, scale=scale))
    else:
        y_neg = draw(point_sets(dim=d, max_points=max_points, scale=scale))
    return x, y_pos, y_neg


def temperatures(*, data_scale: float = 1.0, min_relative: float = 1e-3, max_relative: float = 1e2):
    """A positive float ``data_scale * 10**e``, ``e`` uniform in
    ``[log10 min_relative, log10 max_relative]`` (default 1e-3 to 1e2 of the data scale)."""
    if not (0 < min_relative <= max_relative and math.isfinite(max_relative)):
        raise ValueError(f"need 0 < min_relative <= max_relative < inf, got {min_relative!r}, {max_relative!r}")
    lo, hi = math.log10(min_relative), math.log10(max_relative)
    return st.floats(lo, hi).map(lambda e: float(data_scale) * 10.0**e)


def kernels(*, names=("gaussian", "laplace", "companion", "matern", "imq"), min_scale: float = 1e-2,
            max_scale: float = 1e2):
    """A :class:`driftlab.kernels.RadialKernel` named in ``names`` (see
    :func:`driftlab.kernels.make_kernel`) with a length scale log-uniform in
    ``[min_scale, max_scale]``."""
    from driftlab.kernels import make_kernel

    names = tuple(names)
    if not names:
        raise ValueError("names must not be empty")
    scales = st.floats(math.log10(min_scale), math.log10(max_scale)).map(lambda e: 10.0**e)
    return st.builds(make_kernel, st.sampled_from(names), scales)


@st.composite
def gaussian_mixtures(draw, *, dim: int = 2, max_components: int = 3, max_mean: float = 3.0,
                      min_std: float = 0.1, max_std: float = 2.0):
    """A :class:`driftlab.distributions.GaussianMixture` in ``dim`` dimensions: 1 to
    ``max_components`` isotropic components, means in ``[-max_mean, max_mean]^d``, standard
    deviations in ``[min_std, max_std]``, weights in [0.1, 1] (normalised)."""
    from driftlab.distributions import GaussianMixture

    k = draw(st.integers(1, max_components))
    means = draw(hnp.arrays(np.float64, (k, dim), elements=_UNIT)) * max_mean
    stds = draw(hnp.arrays(np.float64, (k,), elements=st.floats(min_std, max_std)))
    weights = draw(hnp.arrays(np.float64, (k,), elements=st.floats(0.1, 1.0)))
    return GaussianMixture(means, stds**2, weights)


@st.composite
def gaussian_mixture_pairs(draw, *, dim: int = 2, max_components: int = 3, **kwargs):
    """``(p, q)``: two independent :func:`gaussian_mixtures` of the same dimension."""
    return (draw(gaussian_mixtures(dim=dim, max_components=max_components, **kwargs)),
            draw(gaussian_mixtures(dim=dim, max_components=max_components, **kwargs)))


def equal_law_samples(*, dim: int = 2, min_points: int = 1, max_points: int = 16):
    """``(y_pos, y_neg)`` drawn from one Gaussian mixture (p = q) with unequal set sizes in
    ``[min_points, max_points]``: the inputs at which an unbiased estimator averages to zero."""
    _check_range(min_points, max_points, "points", 1)
    if max_points == min_points:
        raise ValueError("unequal set sizes need max_points > min_points")
    return _equal_law_samples(dim, min_points, max_points)


@st.composite
def _equal_law_samples(draw, dim, min_points, max_points):
    law = draw(gaussian_mixtures(dim=dim))
    m_pos = draw(st.integers(min_points, max_points))
    m_neg = draw(st.integers(min_points, max_points).filter(lambda k: k != m_pos))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = law.sample(m_pos + m_neg, rng)
    return y[:m_pos], y[m_pos:]
