r"""Two-sample distances for monitoring generator training (numpy, float64, streamed).

* :func:`energy_distance` — :math:`2E|X-Y| - E|X-X'| - E|Y-Y'|` (U-statistics within sets).
* :func:`mmd2` — unbiased squared MMD with a sum of Gaussian kernels.
* :func:`wasserstein2` — exact :math:`W_2` between two empirical measures (POT ``ot.emd2``).
* :func:`raw_drift_energy` — the raw (un-normalised) :math:`E\|V_\tau\|^2` of [D]'s Algorithm 2
  per temperature: the normalised multi-temperature loss stays O(1) by construction, the raw
  energies are what decreases.
* :func:`mode_coverage` — fraction of mixture modes that receive at least a given share of
  their expected mass.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from driftlab._validation import check_int, check_points, check_positive

__all__ = ["energy_distance", "mmd2", "wasserstein2", "raw_drift_energy", "mode_coverage", "sample_metrics"]

_CHUNK = 1024


def _np(x: Any, name: str) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(check_points(x, name), dtype=np.float64)


def _pair_sum(a: np.ndarray, b: np.ndarray, fn, exclude_diagonal: bool) -> tuple[float, int]:
    """sum_{i,j} fn(|a_i - b_j|^2) streamed over row chunks; optionally i != j (a is b)."""
    total, count = 0.0, 0
    for s in range(0, a.shape[0], _CHUNK):
        blk = a[s:s + _CHUNK]
        r2 = np.sum((blk[:, None, :] - b[None, :, :]) ** 2, axis=-1)
        vals = fn(r2)
        if exclude_diagonal:
            idx = np.arange(blk.shape[0])
            vals[idx, s + idx] = 0.0
            count += vals.size - blk.shape[0]
        else:
            count += vals.size
        total += float(vals.sum())
    return total, count


def energy_distance(x: Any, y: Any) -> float:
    r"""Energy distance :math:`\mathcal E(q, p) = 2E|X-Y| - E|X-X'| - E|Y-Y'|`.

    Within-set means exclude the diagonal (U-statistics), so the estimate is unbiased and can
    be slightly negative when q = p. :math:`\mathcal E \ge 0` with equality iff q = p
    (Székely–Rizzo); for 1-D laws it is twice the Cramér distance :math:`2\int (F-G)^2`.

    Parameters
    ----------
    x : array (n, d), y : array (m, d)   (numpy or torch; n, m >= 2)

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.training import energy_distance
    >>> round(energy_distance(np.array([[0.0], [0.0]]), np.array([[1.0], [1.0]])), 12)
    2.0
    """
    x, y = _np(x, "x"), _np(y, "y")
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"y has dimension {y.shape[1]} but x has dimension {x.shape[1]}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("energy_distance needs at least 2 points in x and in y")
    sq = np.sqrt
    sxy, cxy = _pair_sum(x, y, sq, False)
    sxx, cxx = _pair_sum(x, x, sq, True)
    syy, cyy = _pair_sum(y, y, sq, True)
    return 2.0 * sxy / cxy - sxx / cxx - syy / cyy


def mmd2(x: Any, y: Any, bandwidths: Sequence[float] = (0.05, 0.2, 1.0)) -> float:
    r"""Unbiased squared MMD with :math:`k = \frac1B\sum_b \exp(-|x-y|^2/(2h_b^2))`.

    .. math:: \widehat{\mathrm{MMD}}^2 = \frac{\sum_{i\ne j} k(x_i,x_j)}{n(n-1)}
       + \frac{\sum_{i\ne j} k(y_i,y_j)}{m(m-1)} - \frac{2}{nm}\sum_{ij} k(x_i, y_j)
    """
    x, y = _np(x, "x"), _np(y, "y")
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"y has dimension {y.shape[1]} but x has dimension {x.shape[1]}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("mmd2 needs at least 2 points in x and in y")
    hs = [check_positive(h, "bandwidths") for h in bandwidths]
    if not hs:
        raise ValueError("bandwidths must not be empty")

    def k(r2):
        return sum(np.exp(-r2 / (2.0 * h * h)) for h in hs) / len(hs)

    sxy, cxy = _pair_sum(x, y, k, False)
    sxx, cxx = _pair_sum(x, x, k, True)
    syy, cyy = _pair_sum(y, y, k, True)
    return sxx / cxx + syy / cyy - 2.0 * sxy / cxy


def wasserstein2(x: Any, y: Any, *, num_itermax: int = 1_000_000) -> float:
    r"""Exact :math:`W_2` between the uniform empirical measures of ``x`` and ``y``.

    Solves the linear program :math:`\min_\pi \langle \pi, C\rangle`, :math:`C_{ij} =
    |x_i - y_j|^2`, with POT's network simplex (``ot.emd2``) and returns its square root.
    Cost ``O(n^3)``-ish: keep ``n, m`` at a few thousand.
    """
    import ot

    x, y = _np(x, "x"), _np(y, "y")
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"y has dimension {y.shape[1]} but x has dimension {x.shape[1]}")
    num_itermax = check_int(num_itermax, "num_itermax", minimum=1)
    a = np.full(x.shape[0], 1.0 / x.shape[0])
    b = np.full(y.shape[0], 1.0 / y.shape[0])
    cost = ot.dist(x, y, metric="sqeuclidean")
    val = float(ot.emd2(a, b, cost, numItermax=num_itermax))
    return float(np.sqrt(max(val, 0.0)))


def raw_drift_energy(x: Any, y: Any, temperatures: Sequence[float] = (0.02, 0.05, 0.2),
                     method: str = "alg2") -> dict[float, float]:
    r"""Raw :math:`E_x\|V_\tau(x)\|^2` per temperature (Laplace kernel, negatives = ``x`` with
    self-pairs masked, no normalisation), computed with :func:`driftlab.fields.batch_drift`."""
    from driftlab.fields import batch_drift
    from driftlab.kernels import Laplace

    x, y = _np(x, "x"), _np(y, "y")
    out = {}
    for tau in temperatures:
        v = batch_drift(x, y, x, Laplace(check_positive(tau, "temperatures")), method=method)
        out[float(tau)] = float(np.mean(np.sum(v * v, axis=1)))
    return out


def mode_coverage(x: Any, modes: Any, *, min_share: float = 0.25, weights: Any = None,
                  max_distance: float | None = None) -> dict[str, Any]:
    """Assign each sample to its nearest mode (only if closer than ``max_distance``, when
    given); a mode is covered when it holds at least ``min_share`` times its expected mass.
    Returns ``{"covered": k, "fraction": k/K, "counts": [...]}``."""
    x = _np(x, "x")
    modes = np.asarray(check_points(modes, "modes", dim=x.shape[1]), dtype=np.float64)
    K = modes.shape[0]
    w = np.full(K, 1.0 / K) if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    d2 = np.sum((x[:, None, :] - modes[None, :, :]) ** 2, axis=-1)
    nearest = np.argmin(d2, axis=1)
    if max_distance is not None:
        near = np.min(d2, axis=1) <= check_positive(max_distance, "max_distance") ** 2
        nearest = nearest[near]
    counts = np.bincount(nearest, minlength=K)
    covered = int(np.sum(counts >= min_share * w * x.shape[0]))
    return {"covered": covered, "fraction": covered / K, "counts": counts.tolist()}


def sample_metrics(x: Any, y: Any, *, w2: bool = True, temperatures: Sequence[float] = (0.02, 0.05, 0.2),
                   modes: Any = None) -> dict[str, Any]:
    """All monitoring metrics of generated ``x`` against held-out data ``y`` in one dict."""
    out: dict[str, Any] = {"energy": energy_distance(x, y), "mmd2": mmd2(x, y)}
    if w2:
        out["w2"] = wasserstein2(x, y)
    for tau, e in raw_drift_energy(x, y, temperatures).items():
        out[f"drift_energy_tau{tau:g}"] = e
    if modes is not None:
        out["mode_fraction"] = mode_coverage(x, modes)["fraction"]
    return out
