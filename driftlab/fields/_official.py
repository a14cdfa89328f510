"""The official multi-temperature drift pipeline of [D]."""

from __future__ import annotations

import math
from typing import Any

from driftlab import _backend as B
from driftlab._validation import (
    check_finite_scalar,
    check_nonnegative,
    check_points,
    check_positive,
    check_same_backend,
)
from driftlab.fields import _streaming as S
from driftlab.fields.batch import _check_tile, _same_points
from driftlab.kernels import Laplace

__all__ = ["official_drift"]


def official_drift(x: Any, positives: Any, negatives: Any = None, *,
                   temperatures: tuple[float, ...] = (0.02, 0.05, 0.2), floor: float = 1e-6,
                   self_mask_offset: float = 100.0, normalize_distances: bool = True,
                   tile_size: int | None = None):
    r"""The large-scale drift pipeline of [D] (Laplace kernels on normalised distances).

    For each temperature :math:`\tau`: logits :math:`\ell_{ij} = -\tilde d_{ij}/\tau` with
    :math:`\tilde d = d / \bar d` (distances divided by their batch mean over all query x
    reference pairs, self-pairs excluded) and :math:`+\,\mathrm{offset}` added to the
    normalised self-distances; :math:`A = \sqrt{\max(\mathrm{softmax_{row}} \cdot
    \mathrm{softmax_{col}},\ \mathrm{floor})}` (so every affinity is at least
    :math:`\sqrt{\mathrm{floor}} = 10^{-3}`), :math:`W^\pm = A^\pm \mathrm{rowsum}(A^\mp)`,
    :math:`V_\tau = W^+Y^+ - W^-Y^-`; each :math:`V_\tau` is rescaled to unit RMS and the
    results are summed.

    Three streamed passes over the reference tiles (mean distance; row log-normalisers;
    accumulation), all temperatures at once; never an ``N x M`` matrix.

    Parameters
    ----------
    x : array, shape (n, d)
    positives : array, shape (m+, d)
    negatives : array, shape (m-, d), optional
        Defaults to ``x`` (the generated batch) with its self-pairs masked.
    temperatures : tuple of float
    floor : float
        Lower bound on the product of row and column softmax (0 disables it).
    self_mask_offset : float
        Added to the normalised self-distances when the negatives are ``x``.
    normalize_distances : bool
        Divide distances by their batch mean (True in [D]).
    """
    x = check_points(x, "x")
    positives = check_points(positives, "positives", dim=x.shape[1])
    if negatives is None:
        negatives = x
    negatives = check_points(negatives, "negatives", dim=x.shape[1])
    check_same_backend({"x": x, "positives": positives, "negatives": negatives})
    if isinstance(temperatures, str) or not hasattr(temperatures, "__iter__"):
        raise TypeError(f"temperatures must be a sequence of positive numbers, "
                        f"got {temperatures!r}")
    temps = tuple(check_positive(t, "temperatures") for t in temperatures)
    if not temps:
        raise ValueError("temperatures must not be empty")
    floor = check_finite_scalar(floor, "floor")
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1), got {floor!r}")
    self_mask_offset = check_nonnegative(self_mask_offset, "self_mask_offset")  # NaN -> NaN field
    mask = _same_points(negatives, x)
    tile = _check_tile(tile_size)
    o = B.ops(x)
    n, d = x.shape
    unit = Laplace(1.0)
    blocks = ((positives, False), (negatives, mask))

    def distance_tiles():
        for blk, (block, masked) in enumerate(blocks):
            m = block.shape[0]
            t = tile or S.default_tile(n, d, m, x.dtype.itemsize)
            for a, b in S.tiles(m, t):
                diff, r, _ = S.tile_geometry(unit, x, block[a:b], need_r=True)
                is_self = None
                if masked:
                    rows = o.arange(n, like=x)[:, None]
                    cols = o.arange(b - a, like=x)[None, :] + a
                    is_self = rows == cols
                yield blk, diff, r, is_self

    # pass 0: mean distance over non-self pairs
    if normalize_distances:
        total, count = 0.0, 0
        for blk, diff, r, is_self in distance_tiles():
            if is_self is not None:
                total += o.scalar(o.sum(o.where(is_self, r * 0.0, r)))
                count += r.shape[0] * r.shape[1] - int(o.scalar(o.sum(is_self * 1.0)))
            else:
                total += o.scalar(o.sum(r))
                count += r.shape[0] * r.shape[1]
        mean_d = total / max(count, 1)
        if mean_d <= 0:
            raise ValueError("all distances are zero: the point sets coincide at one point")
    else:
        mean_d = 1.0

    def logits(r, is_self, tau):
        dn = r / mean_d
        if is_self is not None:
            dn = o.where(is_self, dn + self_mask_offset, dn)
        return dn * (-1.0 / tau)

    # pass 1: row log-normalisers R_i per temperature
    log_row = [o.full((n,), -math.inf, x) for _ in temps]
    for blk, diff, r, is_self in distance_tiles():
        for k, tau in enumerate(temps):
            log_row[k] = o.logaddexp(log_row[k], o.logsumexp(logits(r, is_self, tau), axis=1))

    # pass 2: accumulate sum_j A_ij, sum_j A_ij (y_j - x_i) per block and temperature
    log_floor = 0.5 * math.log(floor) if floor > 0 else -math.inf
    sums = {(k, blk): [o.zeros((n,), like=x), o.zeros((n, d), like=x)] for k in range(len(temps)) for blk in (0, 1)}
    for blk, diff, r, is_self in distance_tiles():
        for k, tau in enumerate(temps):
            lg = logits(r, is_self, tau)
            log_col = o.logsumexp(lg, axis=0, keepdims=True)
            log_a = lg - 0.5 * (log_row[k][:, None] + log_col)  # log sqrt(row * col)
            log_a = o.maximum(log_a, o.full(log_a.shape, log_floor, log_a))
            w = o.exp(log_a)
            sums[(k, blk)][0] = sums[(k, blk)][0] + o.sum(w, axis=1)
            sums[(k, blk)][1] = sums[(k, blk)][1] + o.weighted_rows(w, diff)
    total_field = None
    for k in range(len(temps)):
        a_pos, s_pos = sums[(k, 0)]
        a_neg, s_neg = sums[(k, 1)]
        v = a_neg[:, None] * s_pos - a_pos[:, None] * s_neg
        rms = o.sqrt(o.mean(v * v))
        if o.scalar(rms) > 0:
            v = v / rms
        total_field = v if total_field is None else total_field + v
    return total_field

