"""Private streaming core of the batch estimators (no validation here: callers validate).

Every estimator is a pass (or two) over column tiles of the reference set: for a tile of
``t`` reference points it forms the ``(n, t, d)`` displacements ``y_j - x_i`` by direct
differences (never the matmul expansion of ``torch.cdist``, which loses digits near zero
distance), the ``(n, t)`` log-kernel values, and folds them into per-row accumulators with
a running maximum (online log-sum-exp). Memory is ``O((n + m) d + n t d)``; the ``n x m``
matrix is never formed. The same code runs on numpy and torch through ``driftlab._backend``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from driftlab import _backend as B

NEG_INF = -math.inf
#: bytes allowed for one (n, t, d) displacement tile when tile_size is not given
TILE_BYTES = 32 * 2**20


def default_tile(n: int, d: int, m: int, itemsize: int) -> int:
    return max(1, min(m, TILE_BYTES // max(1, n * max(d, 1) * itemsize)))


def tiles(m: int, tile: int):
    for start in range(0, m, tile):
        yield start, min(start + tile, m)


#: sqrt(float64 max): beyond this |x - y| the squared distance overflows float64
SQRT_MAX64 = math.sqrt(1.7976931348623157e308)


def needs_wide_geometry(x, *sets) -> bool:
    """True when some squared distance ``|y - x|^2`` may overflow the dtype of ``x``.

    A cheap bound from the largest coordinates, ``d (max|x| + max|y|)^2``, taken once per
    call (the streamed tiles then need no check in the usual case).
    """
    o = B.ops(x)
    top = o.scalar(o.max(o.abs(x), axis=None)) if x.shape[0] else 0.0
    top += max((o.scalar(o.max(o.abs(y), axis=None)) for y in sets if y.shape[0]), default=0.0)
    limit = float(o.finfo(x).max)
    return max(1, x.shape[1]) * top * top >= 0.25 * limit


#: kernel length scales usable with float32 data: their squares stay normal float32 numbers
FLOAT32_LENGTH_RANGE = (1e-18, 1e18)


def check_kernel_backend(kernel, x) -> None:
    """TypeError (naming the kernel and x) for torch input to a kernel evaluated by scipy only;
    ValueError for float32 data with a length scale whose square leaves float32's range (the
    kernel's constants, e.g. 1 / (2 s^2), would be 0 or inf there)."""
    caps = getattr(kernel, "capabilities", None)
    if B.is_torch(x) and caps is not None and "torch" not in caps:
        raise TypeError(f"kernel {kernel!r} has no torch implementation (its profile needs scipy): "
                        "pass numpy arrays as x and the reference points")
    lo, hi = FLOAT32_LENGTH_RANGE
    if x.dtype.itemsize < 8 and not lo <= kernel.length_scale <= hi:
        raise ValueError(f"kernel {kernel!r}: length scale {kernel.length_scale:.3g} is outside "
                         f"[{lo:g}, {hi:g}], the range usable with float32 x; pass float64 data "
                         "or rescale the data together with the length scale")


def _too_far(detail: str) -> ValueError:
    return ValueError(
        "x is too far from the reference points for the floating-point range: " + detail
        + "; rescale x, the reference points and the kernel's length scale by one common factor "
        "(the mean shift scales with them)")


def tile_geometry(kernel, x, yt, *, need_r: bool, wide: bool | None = None):
    """Displacements ``y - x`` (n, t, d), distances r (n, t) or None, log-kernel (n, t).

    ``wide`` (see :func:`needs_wide_geometry`; ``None``: check this tile) selects the path for
    squared distances beyond the dtype's range: float32 forms them and the log-kernel in
    float64 (every float32 displacement squares finitely there; the log-kernel is rounded back
    to float32), float64 refuses |x - y| > 1.3e154 with a ValueError.
    """
    o = B.ops(x)
    diff = yt[None, :, :] - x[:, None, :]
    r2 = o.sqnorm(diff)
    if wide is None:
        wide = not bool(o.isfinite(r2).all())
    # a log-kernel beyond the range is -inf, a failed one NaN: callers check the rows (see
    # check_rows) and raise a ValueError, so no floating-point warning here
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if wide:
            return _wide_geometry(kernel, diff, r2, need_r)
        if kernel.prefers_squared_distance and not need_r:
            return diff, None, kernel.log_profile_sq(r2)
        # sqrt with a zero (sub)gradient at r = 0: self-pairs must not poison autograd with 0 * inf
        pos = r2 > 0
        r = o.where(pos, o.sqrt(o.where(pos, r2, r2 * 0.0 + 1.0)), r2 * 0.0)
        return diff, r, kernel.log_profile(r)


def robust_norm(diff, r):
    """|diff| where |diff|^2 underflowed (|diff| < 1e-154 in float64, 1e-19 in float32):
    ``c sqrt(sum (diff / c)^2)`` with ``c = max|diff_k|`` there, ``r`` elsewhere. The kernel
    gradient needs the unit vector diff / r at every r > 0 (Laplace's has length 1/tau)."""
    o = B.ops(diff)
    tiny = float(o.finfo(diff).tiny)
    small = r < 1e3 * math.sqrt(tiny)
    if not bool(small.any()):
        return r
    c = o.max(o.abs(diff), axis=-1)
    pos = c > 0
    safe = o.where(pos, c, c * 0.0 + 1.0)
    q = o.where(pos, o.sqnorm(diff / safe[..., None]), c * 0.0 + 1.0)  # >= 1: sqrt has a finite gradient
    scaled = o.where(pos, c * o.sqrt(q), c * 0.0)
    return o.where(small, scaled, r)


def _wide_geometry(kernel, diff, r2, need_r):
    o = B.ops(diff)
    if not bool(o.isfinite(diff).all()):
        raise _too_far(f"some displacement y - x overflows {diff.dtype} (|x - y| > {float(o.finfo(diff).max):.3g})")
    if diff.dtype.itemsize >= 8:
        if not bool(o.isfinite(r2).all()):
            raise _too_far(f"|x - y|^2 overflows float64 for |x - y| > {SQRT_MAX64:.2g}")
        wide_diff, wide_r2 = diff, r2
    else:
        wide_diff = diff.double() if B.is_torch(diff) else diff.astype("float64")
        wide_r2 = o.sqnorm(wide_diff)
    pos = wide_r2 > 0
    r64 = o.where(pos, o.sqrt(o.where(pos, wide_r2, wide_r2 * 0.0 + 1.0)), wide_r2 * 0.0)
    if kernel.prefers_squared_distance and not need_r:
        logk = kernel.log_profile_sq(wide_r2)
        r = None
    else:
        logk = kernel.log_profile(r64)
        r = r64
    if diff.dtype.itemsize < 8:
        cast = (lambda a: a.to(diff.dtype)) if B.is_torch(diff) else (lambda a: a.astype(diff.dtype))
        logk = cast(logk)
        if r is not None:
            r = cast(r)
            if not bool(o.isfinite(r).all()):
                raise _too_far(f"some distance |x - y| overflows {diff.dtype}")
    return diff, r, logk


def mask_diagonal(logk, start: int):
    """Set log k(x_i, y_j) = -inf where i == j (global column index start + local)."""
    o = B.ops(logk)
    n, t = logk.shape
    rows = o.arange(n, like=logk)[:, None]
    cols = o.arange(t, like=logk)[None, :] + start
    return o.where(rows == cols, NEG_INF, logk)


class RowAccumulator:
    r"""Per-row streaming sums :math:`\sum_j w_{ij}`, :math:`\sum_j w_{ij} v_{ij}` with
    :math:`w = e^{\ell}` held relative to a running maximum of :math:`\ell`.

    With ``moments=True`` it also keeps :math:`\sum w^2`, :math:`\sum w^2 v` and
    :math:`\sum w^2 v^2` (for the [ABC] correction and Monte Carlo standard errors).
    """

    def __init__(self, like, n: int, d: int, moments: bool = False) -> None:
        o = self.o = B.ops(like)
        self.mx = o.full((n,), NEG_INF, like)
        self.s = o.zeros((n,), like)
        self.acc = o.zeros((n, d), like)
        self.moments = moments
        if moments:
            self.s2 = o.zeros((n,), like)
            self.acc2 = o.zeros((n, d), like)
            self.acc3 = o.zeros((n, d), like)

    def add(self, logw, vec) -> None:
        o = self.o
        new = o.maximum(self.mx, o.max(logw, axis=1))
        safe = o.where(o.isfinite(new), new, self.s * 0.0)
        scale = o.exp(self.mx - safe)
        # floor the exponent so that exp never returns a subnormal or zero (on x86 that leaves
        # the vectorised path, 5-12x slower per element), then drop the floored terms: a weight
        # below tiny is 0 here, not 1.6 tiny (which times |y - x| = 3e38 in float32 was 5.7).
        # Dropping errs by less than tiny |y - x| per point; empty rows are told by their maximum.
        z = logw - safe[:, None]
        floor = math.log(o.finfo(self.s).tiny) + 0.5
        w = o.exp(o.clip_min(z, floor))
        keep = (z > floor) & o.isfinite(new)[:, None]  # rows with no finite logit yet stay empty
        w = o.where(keep, w, w * 0.0)
        self.s = self.s * scale + o.sum(w, axis=1)
        self.acc = self.acc * scale[:, None] + o.weighted_rows(w, vec)
        if self.moments:
            w2 = w * w
            sc2 = scale * scale
            self.s2 = self.s2 * sc2 + o.sum(w2, axis=1)
            wv = o.weighted_rows(w2, vec)
            self.acc2 = self.acc2 * sc2[:, None] + wv
            with np.errstate(over="ignore", invalid="ignore"):  # only the standard error reads it
                self.acc3 = self.acc3 * sc2[:, None] + o.weighted_rows(w2, vec * vec)
        self.mx = new

    @property
    def empty(self):
        """Rows that received no positive weight (kernel zero on the whole set)."""
        return ~self.o.isfinite(self.mx)

    @property
    def failed(self):
        """Rows whose log-weights contained NaN (a kernel evaluation failed)."""
        return self.mx != self.mx

    def log_total(self):
        r"""Row-wise :math:`\log\sum_j w_{ij}` (``-inf`` for empty rows)."""
        o = self.o
        tiny = o.finfo(self.s).tiny
        return o.where(self.empty, self.mx, self.mx + o.log(o.clip_min(self.s, tiny)))

    def log_total_parts(self):
        r"""``(max, log s)`` with :math:`\log\sum_j w_{ij}` = max + log s, unrounded.

        Far from the data the maximum is huge (-2e19 at x = 2e19, Laplace tau = 1) and
        max + log s rounds log s away; differences of log-totals must be formed from the parts.
        Empty rows give ``(-inf, 0)``.
        """
        o = self.o
        tiny = o.finfo(self.s).tiny
        return self.mx, o.where(self.empty, self.s * 0.0, o.log(o.clip_min(self.s, tiny)))

    def mean(self):
        r"""Row-wise weighted mean :math:`\sum_j w_{ij} v_{ij} / \sum_j w_{ij}` (0 on empty rows)."""
        o = self.o
        return self.acc / o.clip_min(self.s, o.finfo(self.s).tiny)[:, None]

    def sum_sq_weights(self):
        r""":math:`\sum_j a_{ij}^2` with :math:`a = w / \sum w` (moments only)."""
        o = self.o
        s = o.clip_min(self.s, o.finfo(self.s).tiny)
        # divide twice: s * s underflows to 0 on empty rows (s = tiny) and 0 / 0 is NaN
        return self.s2 / s / s

    def abc_mean(self):
        r"""[ABC]-corrected mean :math:`(1 - \sum a^2) T_n + \sum a^2 v` (moments only)."""
        o = self.o
        s = o.clip_min(self.s, o.finfo(self.s).tiny)
        t = self.acc / s[:, None]
        sa2 = (self.s2 / s / s)[:, None]  # not / (s * s): that is 0 / 0 on empty rows
        return (1.0 - sa2) * t + self.acc2 / s[:, None] / s[:, None]

    def mean_stderr(self):
        r"""Delta-method standard error of the self-normalised mean (moments only).

        :math:`\widehat{SE}^2 = \sum_j a_j^2 (v_j - T)^2`, the usual linearisation of the
        ratio estimator :math:`T = \sum w v / \sum w`.
        """
        o = self.o
        s = o.clip_min(self.s, o.finfo(self.s).tiny)
        t = self.acc / s[:, None]
        var = (self.acc3 - 2.0 * t * self.acc2 + t * t * self.s2[:, None]) / s[:, None] / s[:, None]
        return o.sqrt(o.clip_min(var, 0.0))


def weighted_mean_shift(kernel, x, y, *, log_weights=None, mask_self=False, tile=None,
                        moments=False, gradient_form=False) -> RowAccumulator:
    r"""Stream :math:`\sum_j k(x_i, y_j) w_j (y_j - x_i)` (or the kernel-gradient vector)
    and return the accumulator.

    ``gradient_form=True`` replaces :math:`y - x` by :math:`-\varphi'(r)/\varphi(r)\,(y-x)/r`,
    i.e. the accumulated mean becomes :math:`\nabla_x \log \sum_j w_j k(x, y_j)` ([KG]).
    """
    n, d = x.shape
    m = y.shape[0]
    tile = tile or default_tile(n, d, m, x.dtype.itemsize)
    check_kernel_backend(kernel, x)
    acc = RowAccumulator(x, n, d, moments=moments)
    o = B.ops(x)
    wide = needs_wide_geometry(x, y)
    for a, b in tiles(m, tile):
        diff, r, logk = tile_geometry(kernel, x, y[a:b], need_r=gradient_form, wide=wide)
        if log_weights is not None:
            logk = logk + log_weights[None, a:b]
        if mask_self:
            logk = mask_diagonal(logk, a)
        if gradient_form:
            r = robust_norm(diff, r)
            pos = r > 0
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked later
                # -phi'/phi times the unit vector (y - x)/r: forming (phi'/phi)/r first overflows
                # at tiny r (1/(tau r) = 1e450 for tau = 1e-150, r = 1e-300) though the product
                # is at most 1/tau
                unit = diff / o.where(pos, r, r * 0.0 + 1.0)[:, :, None]
                coef = o.where(pos, -kernel.dlog_profile(r), r * 0.0)
                vec = coef[:, :, None] * unit
        else:
            vec = diff
        acc.add(logk, vec)
    return acc


class RowLogSum(RowAccumulator):
    """Row-wise streaming log-sum-exp held as (running max, sum relative to it): no vectors."""

    def __init__(self, like, n: int) -> None:
        o = self.o = B.ops(like)
        self.mx = o.full((n,), NEG_INF, like)
        self.s = o.zeros((n,), like)
        self.moments = False

    def add(self, logw, vec=None) -> None:
        o = self.o
        new = o.maximum(self.mx, o.max(logw, axis=1))
        safe = o.where(o.isfinite(new), new, self.s * 0.0)
        scale = o.exp(self.mx - safe)
        z = logw - safe[:, None]
        floor = math.log(o.finfo(self.s).tiny) + 0.5
        w = o.exp(o.clip_min(z, floor))
        w = o.where((z > floor) & o.isfinite(new)[:, None], w, w * 0.0)
        self.s = self.s * scale + o.sum(w, axis=1)
        self.mx = new


@dataclass
class Alg2Sums:
    """Per-row results of one Algorithm-2 pass for the positive and negative blocks."""

    pos: RowAccumulator
    neg: RowAccumulator
    row: RowLogSum  # row log-sum-exp of the raw logits over [pos | neg]


class ShiftedRowAccumulator(RowAccumulator):
    r"""A :class:`RowAccumulator` fed log-weights relative to a per-row reference ``ref``:
    :math:`\log\sum_j w_{ij}` = ``ref + max + log s``, reported as the parts
    ``(ref, max + log s)``. With ``ref`` a log-kernel value of the row (exactly a dtype number)
    the O(1) information survives log-kernel values of 1e19 in size."""

    def __init__(self, like, n: int, d: int) -> None:
        super().__init__(like, n, d)
        self.ref = self.s * 0.0

    def rebase(self, ref) -> None:
        """Hold the sums relative to a new per-row reference (same rows, shifted logs)."""
        o = self.o
        shift = ref - self.ref
        self.mx = o.where(o.isfinite(self.mx), self.mx - shift, self.mx)
        self.ref = ref

    def log_total_parts(self):
        mx, ls = super().log_total_parts()
        o = self.o
        return o.where(self.empty, mx, self.ref), o.where(self.empty, ls, mx + ls)

    def log_total(self):
        ref, rest = self.log_total_parts()
        o = self.o
        return o.where(self.empty, ref, ref + rest)


def alg2_pass(kernel, x, positives, negatives, *, mask_self: bool, tile=None) -> Alg2Sums:
    r"""One streamed pass of [D] Algorithm 2 without floor.

    :math:`A_{ij} = k_{ij} / \sqrt{R_i C_j}`; since :math:`R_i` is a per-row constant the
    accumulators use log-weights :math:`\log k_{ij} - \tfrac12 \log C_j` and the factor
    :math:`R_i^{-1/2}` is applied at the end (``row``). Each column tile holds every query
    row, so :math:`C_j = \sum_i k_{ij}` is complete within its tile.

    Far from the data the log-kernel values are huge (-2e19) and every float formed from
    them is known to ulp(2e19) only, while the batch factor is O(1). So nothing is formed as
    such a float: the column normaliser is held as (column max :math:`M_j`, log-sum), the
    log-weight as :math:`\tfrac12(\log k_{ij} - B_i) + \tfrac12(\log k_{ij} - M_j - \log
    c_j)` relative to the row's running maximum :math:`B_i` (differences of nearby dtype
    numbers, exact), and the accumulators report ``(B_i / 2, O(1) rest)``.
    """
    n, d = x.shape
    o = B.ops(x)
    out = []
    check_kernel_backend(kernel, x)
    row = RowLogSum(x, n)
    wide = needs_wide_geometry(x, positives, negatives)
    for block, is_neg in ((positives, False), (negatives, True)):
        m = block.shape[0]
        t = tile or default_tile(n, d, m, x.dtype.itemsize)
        acc = ShiftedRowAccumulator(x, n, d)
        for a, b in tiles(m, t):
            diff, _, logk = tile_geometry(kernel, x, block[a:b], need_r=False, wide=wide)
            if is_neg and mask_self:
                logk = mask_diagonal(logk, a)
            row.add(logk)
            ref = o.where(o.isfinite(row.mx), row.mx, row.s * 0.0)  # (n,) row reference B_i
            col_max = o.max(logk, axis=0, keepdims=True)  # (1, t)
            col_ok = o.isfinite(col_max)
            zero_col = o.zeros(col_max.shape, like=col_max)
            dev = logk - o.where(col_ok, col_max, zero_col)
            with np.errstate(divide="ignore"):  # unseen columns: log 0, replaced just below
                log_c = o.log(o.sum(o.exp(dev), axis=0, keepdims=True))  # >= 0 where seen
            log_c = o.where(col_ok, log_c, zero_col)
            acc.rebase(0.5 * ref)
            fed = 0.5 * (logk - ref[:, None]) + 0.5 * (dev - log_c)
            acc.add(fed, diff)
        out.append(acc)
    return Alg2Sums(out[0], out[1], row)


def check_rows(kernel, x, acc, ref, *, x_name: str = "x", ref_name: str = "y", structural=None) -> None:
    """Refuse rows whose kernel weights all underflowed (or failed), never returning 0 for them.

    A row with every log-kernel value ``-inf`` for a kernel that is positive everywhere
    (``support_radius is None``) is numerically empty, not empty: the exact mean shift there
    is finite (the nearest points' limit). ``structural`` marks rows that are empty by
    construction (a self-masked single point). Compactly supported kernels keep their
    documented 0 on rows outside the support. One host synchronisation per call.
    """
    if bool(acc.failed.any()):
        i = first_true(acc.failed)
        raise ValueError(f"kernel {kernel!r} returned NaN log-values for {x_name}[{i}] against {ref_name} "
                         "(its profile cannot be evaluated at these distances)")
    if kernel.support_radius is not None:
        return
    empty = acc.empty
    if structural is not None:
        empty = empty & ~structural
    if not bool(empty.any()):
        return
    i = first_true(empty)
    xi = np.asarray(B.to_numpy(x[i]) if B.is_torch(x) else x[i], dtype=np.float64)
    yr = np.asarray(B.to_numpy(ref) if B.is_torch(ref) else ref, dtype=np.float64)
    with np.errstate(over="ignore"):
        near = float(np.min(np.linalg.norm(yr - xi[None, :], axis=1)))
    ell = kernel.length_scale
    raise ValueError(
        f"{x_name}[{i}] is too far from {ref_name} relative to the kernel's length scale: every log "
        f"k({x_name}[{i}], {ref_name}_j) underflows to -inf in {x.dtype} (nearest distance {near:.3g}, "
        f"{near / ell:.3g} x the length scale {ell:.3g} of {kernel!r}). The exact field is finite there "
        "but outside the representable range: keep the log-kernel finite (|log k| below "
        f"{float(B.ops(x).finfo(x).max):.3g}), e.g. with a larger length scale or data rescaled together "
        "with it")


def first_true(mask) -> int:
    if B.is_torch(mask):
        return int(mask.nonzero()[0, 0])
    return int(np.flatnonzero(mask)[0])
