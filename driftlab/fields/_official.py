r"""The official multi-temperature drift pipeline of [D], streamed.

The official training code of [D] computes, for a generated batch ``gen`` and targets
``[gen, neg, pos]`` (the generated batch is always its own self-masked set of negatives;
extra negatives are appended to it), a field ("force") per temperature and sums the
RMS-normalised forces. This module reproduces that computation to round-off, without
ever forming the ``n x (n + m)`` matrix: three streamed passes over target tiles.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from driftlab import _backend as B
from driftlab._validation import (
    check_finite_scalar,
    check_int,
    check_nonnegative,
    check_points,
    check_positive,
    check_same_backend,
)

__all__ = ["official_drift", "OfficialDrift"]

#: the official code's constants: squared distances are clamped at ``1e-8`` (so every
#: distance, self-pairs included, is at least ``1e-4``), the distance scale and the
#: coordinate scale at ``1e-3`` and each temperature's mean squared force at ``1e-8``
_SQ_DIST_EPS = 1e-8
_SCALE_MIN = 1e-3
_FORCE_SQ_MIN = 1e-8
#: largest weight accepted: the weighted sums stay far from overflow (m * w_max^2 << 1e308)
_MAX_WEIGHT = 1e100


class OfficialDrift(NamedTuple):
    r"""The official pipeline's field with the diagnostics its training code returns.

    Attributes
    ----------
    field : array, shape like ``gen``
        :math:`\sum_\tau F_\tau / \mathrm{rms}(F_\tau)`: the goal minus the scaled generated
        points (the official "force", in the official scaled coordinates).
    scale : float
        The distance scale: the weighted mean distance from generated points to all targets
        (self-pairs included, each clipped to :math:`10^{-4}`), pooled over groups.
    loss : array, shape ``(G,)`` or ``()``
        The official per-group loss at ``gen``: the mean of ``field**2`` over points and
        coordinates of each group (the value of the official ``drift_loss``).
    losses : dict of float to float
        For each temperature, the mean squared force before normalisation (the official
        ``loss_{R}`` diagnostic), in the official scaled coordinates.
    """

    field: Any
    scale: float
    loss: Any
    losses: dict


def _check_sets(gen, pos, neg):
    """(G, n, d) views of the three sets, validated; ``grouped`` says whether gen was 3-D."""
    shape = getattr(gen, "shape", None)
    if shape is None:
        import numpy as np

        gen = np.asarray(gen, dtype=float)
        shape = gen.shape
    grouped = len(shape) == 3
    if grouped:
        G = int(shape[0])
        if G < 1:
            raise ValueError(f"gen has no groups (shape {tuple(shape)}): need G >= 1")
    out = []
    for name, arr, allow_empty in (("gen", gen, False), ("pos", pos, False), ("neg", neg, True)):
        if arr is None:
            out.append(None)
            continue
        if grouped:
            arr_shape = getattr(arr, "shape", None)
            if arr_shape is None:
                import numpy as np

                arr = np.asarray(arr, dtype=float)
                arr_shape = arr.shape
            if len(arr_shape) != 3 or arr_shape[0] != G or arr_shape[2] != shape[2]:
                raise ValueError(f"{name} must have shape (G, m, d) = ({G}, m, {shape[2]}) like gen, "
                                 f"got {tuple(arr_shape)}")
            flat = check_points(arr.reshape(-1, shape[2]) if arr_shape[1] else arr.reshape(0, shape[2]),
                                name, dim=int(shape[2]), allow_empty=True)
            if arr_shape[1] == 0 and not allow_empty:
                raise ValueError(f"{name} must hold at least one point per group, got shape {tuple(arr_shape)}")
            out.append(flat.reshape(G, int(arr_shape[1]), int(shape[2])))
        else:
            if name != "gen" and len(getattr(arr, "shape", ())) == 3:
                raise ValueError(f"{name} is grouped (3-D) but gen is not: pass gen as (G, n, d)")
            flat = check_points(arr, name, dim=None if name == "gen" else out[0].shape[2],
                                allow_empty=allow_empty)
            out.append(flat[None])
    check_same_backend({"gen": out[0], "pos": out[1], "neg": out[2]})
    return out[0], out[1], out[2], grouped


def _check_set_weights(w, name: str, like, G: int, m: int, grouped: bool):
    """Weights of shape (G, m) (or (m,) ungrouped) as an array like ``like``, or None."""
    if w is None:
        return None
    import numpy as np

    arr = B.to_numpy(w) if B.is_torch(w) else np.asarray(w, dtype=np.float64)
    want = (G, m) if grouped else (m,)
    if tuple(arr.shape) != want:
        raise ValueError(f"{name} must have shape {want}, got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    if arr.size and arr.max() > _MAX_WEIGHT:
        raise ValueError(f"{name} must be <= {_MAX_WEIGHT:g} (got max {arr.max():.3g}); the official field "
                         "is bilinear in the weights, so rescale them")
    if B.is_torch(w):
        return w.to(dtype=like.dtype, device=like.device).reshape(G, m)
    return B.ops(like).asarray(arr.reshape(G, m), like=like)


def _check_magnitude(sets, dtype_max: float) -> None:
    """Refuse coordinates whose squared distances would overflow the dtype."""
    for name, arr in sets:
        if arr is None or arr.shape[1] == 0:
            continue
        o = B.ops(arr)
        d = arr.shape[-1]
        big = o.scalar(o.max(o.abs(arr).reshape(-1), axis=0))
        limit = math.sqrt(dtype_max / (8.0 * d))
        if not big <= limit:
            raise ValueError(f"{name} has coordinates up to {big:.3g}: squared distances overflow this dtype; "
                             f"coordinates must be below {limit:.3g} (or use float64)")


def official_drift(gen: Any, pos: Any, neg: Any = None, *, weight_gen: Any = None, weight_pos: Any = None,
                   weight_neg: Any = None, temperatures: tuple[float, ...] = (0.02, 0.05, 0.2),
                   distance_scale: float | None = None, floor: float = 1e-6, self_mask_offset: float = 100.0,
                   return_info: bool = False, tile_size: int | None = None):
    r"""The drift field of [D]'s official training code (``drift_loss``), exactly and streamed.

    With targets :math:`T = [\mathrm{gen}, \mathrm{neg}, \mathrm{pos}]` (weights
    :math:`w_j`), distances :math:`d_{ij} = \sqrt{\max(|x_i - t_j|^2, 10^{-8})}` and the
    scale :math:`\bar d = \overline{d\,w} / \bar w` (means over all generated-target pairs,
    self-pairs included, pooled over groups), for each temperature :math:`R`:

    .. math::

        \ell_{ij} = -\frac{d_{ij}/\max(\bar d, 10^{-3}) + 100\,[t_j = x_i]}{R},\quad
        A_{ij} = w_j\sqrt{\max(\mathrm{softmax_{row}}(\ell)_{ij}\,
        \mathrm{softmax_{col}}(\ell)_{ij},\ 10^{-6})},

    :math:`F_i = (\sum_{j\in -} A_{ij}\sum_{j\in +} A_{ij}(t_j - x_i) - \sum_{j\in +}
    A_{ij}\sum_{j\in -} A_{ij}(t_j - x_i))/c` in the coordinates scaled by
    :math:`c = \max(\bar d/\sqrt d, 10^{-3})`, and the field is
    :math:`\sum_R F_R/\sqrt{\max(\overline{F_R^2}, 10^{-8})}`: the official goal minus the
    scaled generated points. The row softmax runs over all targets jointly, the column
    softmax over the generated points of the group.

    Parameters
    ----------
    gen : array, shape (n, d) or (G, n, d)
        The generated batch (the queries; also the self-masked negatives). Grouped input
        gives one field per group; the scale and each temperature's RMS are pooled over
        the groups, as the official code pools them.
    pos : array, shape (m+, d) or (G, m+, d)
        Positives (data).
    neg : array, shape (m-, d) or (G, m-, d), optional
        Extra negatives, appended to ``gen`` (not replacing it).
    weight_gen, weight_pos, weight_neg : array, shape (n,), (m+,), (m-,) or (G, .), optional
        Per-target weights (default 1), applied as the official code applies them
        (classifier-free-guidance weights): they enter the scale's weighted mean and
        multiply the affinities. Non-negative, at most 1e100.
    temperatures : sequence of float
        The official ``R_list``.
    distance_scale : float, optional
        Use this fixed distance scale :math:`\bar d` instead of the data-dependent one.
    floor : float
        The affinity floor on the product of the two softmaxes (official: 1e-6; 0 turns it off).
    self_mask_offset : float
        Added to the normalised self-distances (official: 100).
    return_info : bool
        Return an :class:`OfficialDrift` with the scale and the official losses.
    tile_size : int, optional
        Targets per streamed tile.

    Returns
    -------
    array or OfficialDrift
        The field, same shape, type, dtype and device as ``gen``.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.fields import official_drift
    >>> rng = np.random.default_rng(0)
    >>> gen, pos = rng.normal(size=(64, 2)), rng.normal(size=(64, 2)) + 1.0
    >>> info = official_drift(gen, pos, return_info=True)
    >>> info.field.shape, round(float(info.loss), 6)  # three unit-RMS forces summed
    ((64, 2), 7.678249)

    References
    ----------
    Deng et al. (2026), *Generative modeling via drifting*, official training code
    (``drift_loss``).
    """
    x, yp, yn, grouped = _check_sets(gen, pos, neg)
    G, n, d = x.shape
    if n < 1:
        raise ValueError("gen must hold at least one point")
    if isinstance(temperatures, str) or not hasattr(temperatures, "__iter__"):
        raise TypeError(f"temperatures must be a sequence of positive numbers, got {temperatures!r}")
    temps = tuple(check_positive(t, "temperatures") for t in temperatures)
    if not temps:
        raise ValueError("temperatures must not be empty")
    floor = check_finite_scalar(floor, "floor")
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1), got {floor!r}")
    offset = check_nonnegative(self_mask_offset, "self_mask_offset")
    if distance_scale is not None:
        distance_scale = check_positive(distance_scale, "distance_scale")
    tile = None if tile_size is None else check_int(tile_size, "tile_size", minimum=1)
    o = B.ops(x)
    _check_magnitude((("gen", x), ("pos", yp), ("neg", yn)), float(o.finfo(x).max))
    mn = 0 if yn is None else yn.shape[1]
    w_gen = _check_set_weights(weight_gen, "weight_gen", x, G, n, grouped)
    w_pos = _check_set_weights(weight_pos, "weight_pos", x, G, yp.shape[1], grouped)
    w_neg = _check_set_weights(weight_neg, "weight_neg", x, G, mn, grouped)

    # the target blocks of one group: (points, weights, is the gen block, is negative)
    def blocks(g):
        out = [(x[g], None if w_gen is None else w_gen[g], True, True)]
        if mn:
            out.append((yn[g], None if w_neg is None else w_neg[g], False, True))
        out.append((yp[g], None if w_pos is None else w_pos[g], False, False))
        return out

    def target_tiles(g):
        """(distance tile (n, t), displacement tile (n, t, d), weights (t,) or None, is-self mask, negative)."""
        xg = x[g]
        for pts, w, is_gen, negative in blocks(g):
            m = pts.shape[0]
            t = tile or max(1, min(m, (1 << 22) // max(1, n * (d + 2))))
            for a in range(0, m, t):
                b = min(m, a + t)
                diff = pts[a:b][None, :, :] - xg[:, None, :]
                r = o.sqrt(o.clip_min(o.sqnorm(diff), _SQ_DIST_EPS))
                is_self = None
                if is_gen:
                    is_self = o.arange(n, like=x)[:, None] == (o.arange(b - a, like=x)[None, :] + a)
                yield r, diff, (None if w is None else w[a:b]), is_self, negative

    # pass 0: the distance scale, a weighted mean over all generated-target pairs of all groups
    if distance_scale is None:
        # sums stay on the arrays' device: one host read at the end, not one per tile
        total_dw, total_w = 0.0, 0.0
        for g in range(G):
            for r, _, w, _, _ in target_tiles(g):
                col = o.sum(r, axis=0)
                if w is None:
                    total_dw = total_dw + o.sum(col)
                    total_w = total_w + float(r.shape[1])
                else:
                    total_dw = total_dw + o.sum(col * w)
                    total_w = total_w + o.sum(w)
        total_dw, total_w = o.scalar(total_dw), o.scalar(total_w)
        if not total_w > 0:
            raise ValueError("the target weights (weight_gen, weight_neg, weight_pos) are all zero")
        # mean(d w) / mean(w) = (sum d w / (G n T)) / (sum w / (G T))
        scale = total_dw / (n * total_w)
    else:
        scale = distance_scale
    coord_scale = max(scale / math.sqrt(d), _SCALE_MIN)
    inv_dist_scale = 1.0 / max(scale, _SCALE_MIN)
    log_floor = 0.5 * math.log(floor) if floor > 0 else -math.inf

    def logits(r, is_self, tau):
        dn = r * inv_dist_scale
        if is_self is not None:
            dn = o.where(is_self, dn + offset, dn)
        return dn * (-1.0 / tau)

    forces = []  # per group: list over temperatures of F (n, d) in scaled coordinates
    for g in range(G):
        # pass 1: row log-normalisers over all targets, per temperature
        log_row = [None] * len(temps)
        for r, _, _, is_self, _ in target_tiles(g):
            for k, tau in enumerate(temps):
                part = o.logsumexp(logits(r, is_self, tau), axis=1)
                log_row[k] = part if log_row[k] is None else o.logaddexp(log_row[k], part)
        # pass 2: sums of the weighted affinities and of affinity x displacement, per side
        acc = [[o.zeros((n,), like=x), o.zeros((n, d), like=x), o.zeros((n,), like=x), o.zeros((n, d), like=x)]
               for _ in temps]
        for r, diff, w, is_self, negative in target_tiles(g):
            for k, tau in enumerate(temps):
                lg = logits(r, is_self, tau)
                log_col = o.logsumexp(lg, axis=0, keepdims=True)
                log_a = 0.5 * (2.0 * lg - log_row[k][:, None] - log_col)  # log sqrt(row * col)
                if floor > 0:
                    log_a = o.maximum(log_a, o.full(log_a.shape, log_floor, log_a))
                a = o.exp(log_a)
                if w is not None:
                    a = a * w[None, :]
                side = 0 if negative else 2
                acc[k][side] = acc[k][side] + o.sum(a, axis=1)
                acc[k][side + 1] = acc[k][side + 1] + o.weighted_rows(a, diff)
        forces.append([(s_neg[:, None] * v_pos - s_pos[:, None] * v_neg) * (1.0 / coord_scale)
                       for s_neg, v_neg, s_pos, v_pos in acc])

    field = None
    losses = {}
    for k, tau in enumerate(temps):
        mean_sq = sum(o.scalar(o.sum(f[k] * f[k])) for f in forces) / (G * n * d)
        losses[tau] = mean_sq
        inv = 1.0 / math.sqrt(max(mean_sq, _FORCE_SQ_MIN))
        part = [f[k] * inv for f in forces]
        field = part if field is None else [a + b for a, b in zip(field, part)]
    out = _stack(o, field) if grouped else field[0]
    if not return_info:
        return out
    per_group = [o.mean(f * f) for f in field]
    loss = _stack(o, per_group) if grouped else per_group[0]
    return OfficialDrift(out, float(scale), loss, losses)


def _stack(o, arrays):
    if o.name == "numpy":
        import numpy as np

        return np.stack(arrays)
    return B.torch().stack(arrays)
