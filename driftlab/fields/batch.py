r"""Batch (sample-set) estimators of the mean shift and of the drift field.

All estimators accept numpy arrays or torch tensors (CPU or CUDA), float32 or float64, and
return the same type, dtype and device. They stream over tiles of the reference sets in log
space (see :mod:`driftlab.fields._streaming`): memory is ``O((N + M) d + N * tile * d)``,
never ``N x M``.

Far from the data (what stays finite, and what is refused):

* :func:`batch_mean_shift` and the ``"separate"``, ``"abc"`` and ``"kernel_gradient"`` drifts
  are self-normalised means: finite and pointing towards the kernel-weighted data wherever
  ``exp(-dist / tau)`` computed directly would underflow to exactly zero, as long as one
  log-kernel value per row is finite.
* ``"joint"`` and ``"alg2"`` return ``exp(log_scale) * centroid_difference``
  (:class:`DriftComponents`, ``return_components=True``). ``log_scale`` and
  ``centroid_difference`` are always finite; the field is formed as
  ``exp(log_scale + log c_max) * (centroid_difference / c_max)`` and is right to round-off
  wherever it is representable, but it is exactly 0 where its size is below the dtype's
  smallest subnormal (float32 1.4e-45, float64 4.9e-324; e.g. the joint factor e^-398 of a
  Gaussian kernel s = 0.5 at 1000 from the data). ``normalize="rms"`` is always finite.
* A query whose every log-kernel value is ``-inf`` although the kernel is positive (distance
  / length scale beyond the range) raises ``ValueError`` instead of returning 0; so does
  ``|x - y| > 1.3e154`` in float64, where squared distances overflow. float32 squared
  distances beyond float32's range (``|x - y| > 1.8e19``) are formed in float64; float32 data
  need kernel length scales in [1e-18, 1e18] (their squares stay float32 numbers), others
  raise ``ValueError``.
* Accuracy: each log-kernel value carries round-off ``eps * |log k|``. The self-normalised
  means and ``"joint"`` depend only on differences of log-kernel values; ``"alg2"``'s factor
  depends on absolute column normalisers, held as (max, log-sum) parts relative to each row's
  largest log-kernel value, so it keeps O(1) accuracy there too (exact batch factors at
  ``|log k| = 2e19``) wherever the log-kernel differences themselves are resolved.

Variants of the drift (``method=``), with :math:`k_{ij} = k(x_i, y_j)`:

``"joint"``
    Row softmax over the joint set :math:`[Y^+ | Y^-]`, :math:`A = k / R`,
    :math:`W^\pm = A^\pm \cdot \mathrm{rowsum}(A^\mp)`, :math:`V = W^+Y^+ - W^-Y^-`.
    Equals :math:`\frac{K^+K^-}{(K^+ + K^-)^2}(\hat m^+ - \hat m^-)`: a positive multiple
    (<= 1/4) of the centroid difference, and exactly unbiased at p = q by exchangeability.
``"alg2"``
    [D] Algorithm 2: :math:`A = \sqrt{\mathrm{softmax}_\mathrm{row} \cdot
    \mathrm{softmax}_\mathrm{col}} = k / \sqrt{R_i C_j}`, same :math:`W^\pm`; self-pairs
    masked when the negatives are the queries. The field is
    :math:`\mathrm{rowsum}(A^+)\,\mathrm{rowsum}(A^-)` times a (column-reweighted) centroid
    difference; unlike ``"joint"`` this factor is *not* bounded by 1/4 (it grows like m/4 for
    a query whose m neighbours are seen by no other query).
``"separate"``
    Positives and negatives normalised separately, :math:`\hat m^+ - \hat m^-`, as several
    public ports do. Biased at p = q when the set sizes differ (kept to demonstrate it).
``"abc"``
    ``"separate"`` with the [ABC] correction of each self-normalised mean,
    :math:`T = (1 - \sum a^2) T_n + \sum a^2 y`: bias :math:`O(1/n^2)`.
``"kernel_gradient"``
    [KG]: :math:`y - x` replaced by :math:`\nabla_x k`; separately normalised this is
    exactly :math:`\nabla\log \hat p_k - \nabla \log \hat q_k` for any kernel (units of
    1/length; for the Gaussian kernel it equals the mean-shift drift divided by
    :math:`s^2`).

The official large-scale pipeline of [D] is :func:`driftlab.fields.official_drift`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from dataclasses import replace

from driftlab import _backend as B
from driftlab._estimators import DEFAULT_ESTIMATOR, estimator_names, get_estimator, register_estimator
from driftlab._validation import (
    check_int,
    check_points,
    check_same_backend,
    check_weights,
)
from driftlab.fields import _streaming as S
from driftlab.kernels import RadialKernel

__all__ = ["batch_mean_shift", "batch_drift", "DriftComponents", "DRIFT_METHODS"]

#: the built-in estimators (the live list, user-registered ones included: ``estimator_names()``)
DRIFT_METHODS = estimator_names()


class DriftComponents(NamedTuple):
    r"""A drift estimate split as ``field = exp(log_scale)[:, None] * centroid_difference``.

    For ``"separate"``, ``"abc"`` and ``"kernel_gradient"`` the scale is 1 (log 0). For
    ``"joint"`` and ``"alg2"`` the scale is the batch factor (``"joint"``: <= 1/4; ``"alg2"``:
    :math:`\mathrm{rowsum}(A^+)\mathrm{rowsum}(A^-)`, unbounded), which can underflow for a
    far-away set: ``field`` is then 0 where its true size is below the dtype's smallest
    subnormal, while ``centroid_difference`` and ``log_scale`` stay finite (``log_scale`` is
    ``-inf`` only on rows where a compactly supported kernel sees no point of one set).
    """

    field: Any
    centroid_difference: Any
    log_scale: Any


def _check_kernel(kernel: Any) -> RadialKernel:
    if not isinstance(kernel, RadialKernel):
        raise TypeError(f"kernel must be a driftlab.kernels.RadialKernel, got {type(kernel).__name__}")
    return kernel


def _check_tile(tile_size: Any) -> int | None:
    return None if tile_size is None else check_int(tile_size, "tile_size", minimum=1)


def _log_weights(weights: Any, like, n: int):
    if weights is None:
        return None
    w = B.to_numpy(weights) if B.is_torch(weights) else weights
    w = np.asarray(w, dtype=np.float64)
    top = float(np.max(w)) if w.size and np.isfinite(w).all() else 0.0
    # normalise by the largest weight first: the sum of [1e308, 1e308] overflows to inf
    w = check_weights(w / top if top > 0 else w, n, "weights")
    if B.is_torch(weights) and B.is_torch(like):
        # keep the autograd graph: weights may be learnable (validated above on a copy)
        t = B.torch()
        wt = weights.to(dtype=like.dtype, device=like.device)
        wt = wt / wt.detach().max()
        return t.log(wt / wt.sum())
    with np.errstate(divide="ignore"):
        lw = np.log(w)
    return B.ops(like).asarray(lw, like=like)


def batch_mean_shift(x: Any, y: Any, kernel: RadialKernel, *, weights: Any = None,
                     correction: str | None = None, mask_self: bool = False,
                     tile_size: int | None = None):
    r"""Mean shift of the (weighted) empirical measure of ``y`` at the query points ``x``.

    .. math::

        \hat m(x_i) = \frac{\sum_j w_j k(x_i, y_j) (y_j - x_i)}{\sum_j w_j k(x_i, y_j)}

    For the Gaussian kernel this is exactly :math:`s^2 \nabla \log \hat p_s(x_i)`, with
    :math:`\hat p_s` the Gaussian KDE of ``y`` (Tweedie; [T], [L]).

    Parameters
    ----------
    x : array, shape (n, d) or (n,)
        Query points (numpy array or torch tensor).
    y : array, shape (m, d) or (m,)
        Reference points, same backend, dtype and device as ``x``.
    kernel : RadialKernel
    weights : array, shape (m,), optional
        Non-negative weights of the reference points.
    correction : {None, "abc"}
        ``"abc"`` applies the [ABC] self-normalisation correction
        :math:`(1 - \sum a^2) T_n + \sum a^2 (y - x)`.
    mask_self : bool
        Exclude the pairs ``i == j`` (``y`` is ``x``).
    tile_size : int, optional
        Reference points per tile (default: about 32 MiB of displacements).

    Returns
    -------
    array, shape (n, d)
        Same type as ``x``. Rows where the kernel vanishes on every reference point
        (compactly supported kernels) get 0: the kernel sees no mass there.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.fields import batch_mean_shift
    >>> from driftlab.kernels import Gaussian
    >>> batch_mean_shift(np.zeros((1, 1)), np.array([[-1.0], [1.0]]), Gaussian(1.0))
    array([[0.]])
    """
    x = check_points(x, "x")
    y = check_points(y, "y")
    check_same_backend({"x": x, "y": y})
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"y has dimension {y.shape[1]} but x has dimension {x.shape[1]}")
    _check_kernel(kernel)
    if correction not in (None, "abc"):
        raise ValueError(f"correction must be None or 'abc', got {correction!r}")
    if mask_self and y.shape[0] != x.shape[0]:
        raise ValueError("mask_self=True needs y to be the query set itself (same length as x)")
    lw = _log_weights(weights, x, y.shape[0])
    acc = S.weighted_mean_shift(kernel, x, y, log_weights=lw, mask_self=mask_self,
                                tile=_check_tile(tile_size), moments=correction == "abc")
    if not (mask_self and y.shape[0] == 1):  # one self-masked point: empty by construction
        S.check_rows(kernel, x, acc, y, x_name="x", ref_name="y")
    return _checked(acc.abc_mean() if correction == "abc" else acc.mean(), kernel)


def _checked(field, kernel):
    """The last guard: a non-finite field for finite input is refused, never returned."""
    o = B.ops(field)
    bad = ~o.isfinite(field)
    if bool(bad.any()):
        i = S.first_true(bad.any(-1) if B.is_torch(bad) else bad.any(axis=-1))
        raise ValueError(f"the field at x[{i}] is not finite for kernel {kernel!r}: its profile or "
                         "radial derivative cannot be evaluated at these distances (length scale "
                         f"{kernel.length_scale:.3g}); use a length scale closer to the data's spread")
    return field


def _check_blocks(kernel, x, pos, neg, positives, negatives, lone_self: bool) -> None:
    S.check_rows(kernel, x, pos, positives, x_name="x", ref_name="positives")
    if not lone_self:
        S.check_rows(kernel, x, neg, negatives, x_name="x", ref_name="negatives")


def _combine(terms, like):
    r"""Row-wise :math:`\sum_t c_t \log\sum_j w^{(t)}_{ij}` from the accumulators' parts
    (max, log s), in float64 (the maxima are exact dtype numbers: their signed sum is then
    exact or nearly so, where the rounded log-totals would cancel catastrophically).
    Rows empty in some accumulator get 0 here (callers mask them)."""
    o = B.ops(like)
    up = (lambda a: a.double()) if B.is_torch(like) else (lambda a: a.astype("float64"))
    total_mx = None
    total_ls = None
    for c, acc in terms:
        mx, ls = acc.log_total_parts()
        mx = up(o.where(o.isfinite(mx), mx, o.zeros(mx.shape, like=mx)))
        ls = up(ls)
        total_mx = c * mx if total_mx is None else total_mx + c * mx
        total_ls = c * ls if total_ls is None else total_ls + c * ls
    out = total_mx + total_ls
    return out.to(like.dtype) if B.is_torch(like) else out.astype(like.dtype)


def _scale_rows(log_scale, centroid):
    """``exp(log_scale)[:, None] * centroid`` without the factor underflowing on its own:
    ``exp(log_scale + log c_max) * (centroid / c_max)`` per row, with ``c_max`` the row's
    largest |component| (e^-110 x 1e20 = 1.7e-28 is a float32 number; e^-110 is not)."""
    o = B.ops(centroid)
    tiny = float(o.finfo(centroid).tiny)
    cmax = o.clip_min(o.max(o.abs(centroid), axis=1), tiny)
    if B.is_torch(cmax):
        cmax = cmax.detach()
    big = o.exp(log_scale + o.log(cmax))
    return big[:, None] * (centroid / cmax[:, None])


def _finite_or_zero(v):
    o = B.ops(v)
    return o.where(o.isfinite(v), v, o.zeros(v.shape, like=v))


def _rms_normalise(field, log_scale, centroid):
    """Rescale to unit RMS (over rows and coordinates) without under/overflow."""
    o = B.ops(field)
    ls = o.where(o.isfinite(log_scale), log_scale, o.full(log_scale.shape, -math.inf, log_scale))
    top = o.max(ls, axis=0)
    if not math.isfinite(o.scalar(top)):
        return field * 0.0
    rel = o.exp(ls - top)[:, None] * centroid
    rms = o.sqrt(o.mean(rel * rel))
    if o.scalar(rms) == 0.0:
        return rel
    return rel / rms


def batch_drift(x: Any, positives: Any, negatives: Any, kernel: RadialKernel, *,
                method: str = DEFAULT_ESTIMATOR, mask_self: bool | str = "auto", normalize: str | None = None,
                tile_size: int | None = None, return_components: bool = False):
    r"""Drift field :math:`V_{p,q}(x) = m_p(x) - m_q(x)` estimated from sample sets.

    Parameters
    ----------
    x : array, shape (n, d)
        Query points (usually the generated batch).
    positives : array, shape (m+, d)
        Samples of the data law p.
    negatives : array, shape (m-, d)
        Samples of the model law q (often ``x`` itself).
    kernel : RadialKernel
    method : str
        A registered estimator (:func:`~driftlab.fields.estimator_names`; built in: ``"joint"``
        (the default), ``"alg2"``, ``"separate"``, ``"abc"``, ``"kernel_gradient"``; see the
        module docstring).
    mask_self : bool or "auto"
        Drop the self-pairs ``(x_i, negatives_i)``; ``"auto"`` does so when ``negatives``
        is (or equals) ``x``.
    normalize : {None, "rms"}
        ``"rms"`` rescales the field to unit root-mean-square over rows and coordinates
        (computed in log space: finite even when the raw batch factor underflows).
    tile_size : int, optional
        Reference points per streamed tile.
    return_components : bool
        Return :class:`DriftComponents` instead of the field alone.

    Returns
    -------
    array, shape (n, d), or DriftComponents
        Same type, dtype and device as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.fields import batch_drift
    >>> from driftlab.kernels import Laplace
    >>> y = np.random.default_rng(0).normal(size=(16, 2))
    >>> float(np.abs(batch_drift(y, y, y, Laplace(1.0), mask_self=False)).max())  # V(x; Y, Y) = 0
    0.0
    """
    x = check_points(x, "x")
    positives = check_points(positives, "positives")
    negatives = check_points(negatives, "negatives")
    check_same_backend({"x": x, "positives": positives, "negatives": negatives})
    d = x.shape[1]
    for name, arr in (("positives", positives), ("negatives", negatives)):
        if arr.shape[1] != d:
            raise ValueError(f"{name} has dimension {arr.shape[1]} but x has dimension {d}")
    _check_kernel(kernel)
    est = get_estimator(method)
    if normalize not in (None, "rms"):
        raise ValueError(f"normalize must be None or 'rms', got {normalize!r}")
    if isinstance(mask_self, str) and mask_self == "auto":
        mask = B.same_points(negatives, x)
    elif isinstance(mask_self, (bool, np.bool_)):
        mask = bool(mask_self)
        if mask and negatives.shape[0] != x.shape[0]:
            raise ValueError("mask_self=True needs negatives to be the query set (same length as x)")
    else:
        raise TypeError(f"mask_self must be True, False or 'auto', got {mask_self!r}")
    if mask and negatives.shape[0] == 1 and method not in ("joint", "alg2"):
        # separately normalised m_q is 0/0 here; returning m_p - 0 would be a silent wrong answer
        # (joint/alg2 give 0, which is what [D] Algorithm 2 computes as written)
        raise ValueError(f"method={method!r}: negatives is the single query point itself; with its "
                         "self-pair masked no negative sample remains, so m_q is undefined")
    tile = _check_tile(tile_size)
    o = B.ops(x)

    lone_self = mask and negatives.shape[0] == 1  # the negatives' only point is masked
    if est.row_sums:
        pos = S.weighted_mean_shift(kernel, x, positives, tile=tile)
        neg = S.weighted_mean_shift(kernel, x, negatives, mask_self=mask, tile=tile)
        _check_blocks(kernel, x, pos, neg, positives, negatives, lone_self)
        # log K+ - log K- from the unrounded parts (max, log s): far away the maxima are
        # ~1e19 and max + log s would round the O(1) information away
        delta = _combine([(1.0, pos), (-1.0, neg)], like=x) if est.log_scale is not None else None
        centroid, log_scale = est.combine(delta, pos.mean(), neg.mean())
        if est.log_scale is not None:
            # a row whose kernel vanishes on a whole set has no drift information: factor 0
            empty = pos.empty | neg.empty
            log_scale = o.where(empty, o.full(log_scale.shape, -math.inf, log_scale), log_scale)
            field = _scale_rows(log_scale, centroid)
        else:
            field = centroid
    else:
        if est.batch is None:
            raise ValueError(f"method={method!r} is registered without a batch implementation")
        centroid, log_scale = est.batch(kernel, x, positives, negatives, mask=mask, tile=tile, lone_self=lone_self)
        if log_scale is None:  # factor 1
            log_scale = o.zeros((x.shape[0],), like=x)
            field = centroid
        else:
            field = _scale_rows(log_scale, centroid)

    if normalize == "rms":
        field = _rms_normalise(field, log_scale, centroid)
    field = _checked(field, kernel)
    if return_components:
        return DriftComponents(field, centroid, log_scale)
    return field


def _alg2_components(kernel, x, positives, negatives, *, mask, tile, lone_self):
    """[D] Algorithm 2: (column-reweighted centroid difference, log rowsum(A+) rowsum(A-))."""
    o = B.ops(x)
    sums = S.alg2_pass(kernel, x, positives, negatives, mask_self=mask, tile=tile)
    pos, neg = sums.pos, sums.neg
    _check_blocks(kernel, x, pos, neg, positives, negatives, lone_self)
    log_scale = _combine([(1.0, pos), (1.0, neg), (-1.0, sums.row)], like=x)
    empty = pos.empty | neg.empty
    log_scale = o.where(empty, o.full(log_scale.shape, -math.inf, log_scale), log_scale)
    return pos.mean() - neg.mean(), log_scale


def _separate_components(kernel, x, positives, negatives, *, mask, tile, lone_self, moments=False,
                         gradient_form=False):
    """Separately normalised sets: the [ABC]-corrected means or the kernel-gradient form."""
    pos = S.weighted_mean_shift(kernel, x, positives, tile=tile, moments=moments, gradient_form=gradient_form)
    neg = S.weighted_mean_shift(kernel, x, negatives, mask_self=mask, tile=tile, moments=moments,
                                gradient_form=gradient_form)
    _check_blocks(kernel, x, pos, neg, positives, negatives, lone_self)
    centroid = pos.abc_mean() - neg.abc_mean() if moments else pos.mean() - neg.mean()
    return centroid, None


def _abc_components(*args, **kwargs):
    return _separate_components(*args, moments=True, **kwargs)


def _kernel_gradient_components(*args, **kwargs):
    return _separate_components(*args, gradient_form=True, **kwargs)


for _name, _impl in (("alg2", _alg2_components), ("abc", _abc_components),
                     ("kernel_gradient", _kernel_gradient_components)):
    register_estimator(replace(get_estimator(_name), batch=_impl), replace=True)
del _name, _impl
