"""Dense float64 reference backend (numpy; materialises the n x m block, small sizes only)."""

from __future__ import annotations

import itertools

import numpy as np

from driftlab import _backend as B
from driftlab.engine._registry import Backend, SumsCall, register

#: largest n * m * images the dense reference accepts (64 MiB of float64 per (n, m) array)
DENSE_MAX_PAIRS = 2**23


def lattice_offsets(d: int, images: int) -> np.ndarray:
    """All integer vectors with entries in ``[-images, images]`` (shape ``((2K+1)^d, d)``)."""
    rng = range(-images, images + 1)
    return np.array(list(itertools.product(rng, repeat=d)), dtype=np.float64).reshape(-1, d)


def dense_sums(kernel, x, y, log_weights=None, mask_self=False, period=None, images=1, wrap="lattice"):
    """Exact ``(log_total, shift)`` in float64.

    ``log_total[i] = log sum_j w_j k(x_i, y_j)`` and ``shift[i] = sum_j a_ij (y_j - x_i)``
    with ``a_ij`` the normalised weights. With ``period = L`` the kernel is the periodised
    one, summed over the lattice images ``y_j + n L`` with ``|n_k| <= images`` after wrapping
    every point into ``[0, L)``; ``wrap="minimum_image"`` keeps only the nearest image.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    m = y.shape[0]
    lw = np.zeros(m) if log_weights is None else np.asarray(log_weights, dtype=np.float64)
    if period is not None:
        x = np.mod(x, period)
        y = np.mod(y, period)
        offs = lattice_offsets(d, images if wrap == "lattice" else 0) * period
    else:
        offs = np.zeros((1, d))
    if n * m * len(offs) > DENSE_MAX_PAIRS:
        raise ValueError(
            f"the dense reference backend is for small problems (n * m * images <= {DENSE_MAX_PAIRS}); "
            f"got {n} x {m} x {len(offs)}: use backend='torch'"
        )
    logs, disps = [], []
    for off in offs:
        diff = (y + off)[None, :, :] - x[:, None, :]
        if period is not None and wrap == "minimum_image":
            diff = diff - period * np.round(diff / period)
        r = np.sqrt(np.sum(diff * diff, axis=2))
        logk = np.asarray(kernel.log_profile(r), dtype=np.float64) + lw[None, :]
        if mask_self:
            is_self = np.eye(n, m, dtype=bool) & np.all(off == 0)
            logk = np.where(is_self, -np.inf, logk)
        logs.append(logk)
        disps.append(diff)
    logk = np.concatenate(logs, axis=1)
    diff = np.concatenate(disps, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = B.scipy_special.logsumexp(logk, axis=1)
        a = np.exp(logk - np.where(np.isfinite(lse), lse, 0.0)[:, None])
    a = np.where(np.isfinite(lse)[:, None], a, 0.0)
    shift = np.einsum("nm,nmd->nd", a, diff)
    return lse, shift


#: the automatic choice uses the dense float64 reference up to this many pairs on the CPU
AUTO_DENSE_PAIRS = 2**16


class DenseBackend(Backend):
    """``"dense"``: :func:`dense_sums` on host float64 copies (any kernel, both torus wraps);
    the automatic choice on the CPU up to :data:`AUTO_DENSE_PAIRS` pairs."""

    name = "dense"
    arrays = "numpy"
    periodic = True

    def auto_rank(self, call: SumsCall) -> float | None:
        return 10.0 if call.device != "cuda" and call.pairs <= AUTO_DENSE_PAIRS else None

    def sums(self, call, x, y, log_weights):
        return dense_sums(call.kernel, x, y, log_weights, call.mask_self, call.period, call.images, call.wrap)


register(DenseBackend())
