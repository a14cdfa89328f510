"""Chunked torch backend (CPU and CUDA): 2-D tiles, fixed-reference exponent, exact fallback.

For a row block of ``tile_rows`` queries and a column tile of ``tile_cols`` references the
``(rows, cols)`` logits are formed in one reusable buffer, exponentiated in place and folded
into per-row accumulators by a matrix product with ``[y | 1]``. Memory is
``O((n + m) d + tile_rows * tile_cols)``, linear in n and m.

Fixed reference instead of an online maximum: every profile in driftlab satisfies
``log phi(r) <= log phi(0) = 0``, so ``exp(logit - max_j log w_j)`` cannot overflow and the
running-max bookkeeping (two extra passes per tile) is skipped. Rows whose sum is so small
that underflow could matter (``s < m * tiny / eps``: the far-field trap of docs/theory.md, Estimators and their traps),
or non-finite, are recomputed with the safe online log-sum-exp. The result is the same to
round-off as the online algorithm, at the cost of the fast path.

Exponent arguments are floored at ``log(tiny) + 0.5`` before ``exp``: on x86 CPUs an
exponential whose result is subnormal or zero leaves the vectorised fast path (measured
12.7 ns instead of 1.0 ns per element, one thread), which made far pairs -- most pairs
at small bandwidth or in high d -- an order of magnitude slower. A term below
``e^floor = 1.6 tiny`` then counts as ``e^floor``: at most ``m e^floor``, i.e. <= 1.4 eps
relative to any row sum that the fast path keeps (``s >= m tiny / eps``) and ~1e-38 relative
in the online fallback, whose largest term is 1. Rows with no finite logit (a compact kernel
out of reach, all weights zero) are detected by their maximum and stay empty.
"""

from __future__ import annotations

import math

from driftlab import _backend as B
from driftlab.engine._registry import Backend, SumsCall, register, torch_importable

#: CPU tiles: 256 x 2048 (4 MiB of float64 logits) instead of 256 x 8192: on one thread at
#: N = M = 16384 (d = 2 float32/float64, d = 8 float32, Gaussian and Laplace) 1.08-1.27x faster
#: in one sweep, 1.16-1.43x in 5 of 6 cases of a second (0.91x: Gaussian d = 2 float32); noisy
#: 2-core machine. ``python benchmarks/bench_engine.py --threads 1 --tiles-sweep``
CPU_TILE_ROWS = 256
CPU_TILE_COLS = 2048
#: the fused (``compiled``) tiles do one pass per tile and prefer wide ones: 256 x 8192 ran
#: 1.05-1.08x faster than 256 x 2048 (same sweep, one thread)
COMPILED_TILE_COLS = 8192
CUDA_TILE_ROWS = 2048
CUDA_TILE_COLS = 8192


def default_tiles(device_type: str) -> tuple[int, int]:
    if device_type == "cuda":
        return CUDA_TILE_ROWS, CUDA_TILE_COLS
    return CPU_TILE_ROWS, CPU_TILE_COLS


def _logits(kernel, xb, yb, y2b, x2b, out, period, distance, need_disp, scratch=None, ytb=None, form=None):
    """Fill ``out`` (rows, cols) with log k(x_i, y_j); return displacement stack or None.

    ``form``: the kernel's :attr:`~driftlab.kernels.RadialKernel.fast_form` (read once per
    call): ``"sq_exp"`` and ``"exp"`` profiles are one in-place scaling of the tile, any
    other kernel goes through its ``log_profile_sq`` / ``log_profile``.
    """
    torch = B.torch()

    disp = None
    if distance == "expand":
        torch.addmm(y2b[None, :], xb, yb.T, beta=1.0, alpha=-2.0, out=out)
        out.add_(x2b[:, None]).clamp_min_(0.0)
    else:
        d = xb.shape[1]
        if need_disp:
            disp = torch.empty((d,) + tuple(out.shape), dtype=out.dtype, device=out.device)
        for k in range(d):
            tmp = disp[k] if need_disp else (out if k == 0 else (scratch if scratch is not None else torch.empty_like(out)))
            # ytb: the tile's coordinates stored (d, cols), so each coordinate row is contiguous
            # (a strided column of yb costs a cache line per element: 10x slower at d = 32)
            torch.sub((ytb[k] if ytb is not None else yb[:, k])[None, :], xb[:, k, None], out=tmp)
            if period is not None:
                tmp.sub_(torch.round(tmp * (1.0 / period)).mul_(period))
            if k == 0 and not need_disp:
                out.square_()
            elif k == 0:
                torch.mul(tmp, tmp, out=out)
            else:
                out.addcmul_(tmp, tmp)
    kind = None if form is None else form.kind
    if kind == "sq_exp":
        out.mul_(-form.a)
    elif kind == "exp":
        out.sqrt_().mul_(-form.a)
    elif kernel.prefers_squared_distance:
        out.copy_(kernel.log_profile_sq(out))
    else:
        out.copy_(kernel.log_profile(out.sqrt_()))
    return disp


def torch_sums(kernel, x, y, log_weights=None, mask_self=False, period=None,
               tile_rows=None, tile_cols=None, distance="auto", compiled=False):
    """``(log_total, shift)`` for torch tensors ``x`` (n, d), ``y`` (m, d), same dtype/device.

    ``period``: minimum-image displacements on the torus ``[0, L)^d`` (direct differences).
    ``distance``: ``"direct"`` (exact differences), ``"expand"`` (``|x|^2 + |y|^2 - 2 x.y``
    on centred data: faster for large d, absolute error ~ eps * R^2 in r^2) or ``"auto"``
    (direct for d <= 8 or non-squared-distance kernels, expand otherwise; always direct on
    a torus). ``compiled``: fuse each tile of the fast pass with ``torch.compile``
    (:mod:`driftlab.engine._compiled`; Gaussian/Laplace, direct distances, no torus).
    """
    torch = B.torch()
    n, d = x.shape
    m = y.shape[0]
    form = kernel.fast_form
    dr, dc = default_tiles(x.device.type)
    if compiled:
        dc = max(dc, COMPILED_TILE_COLS)
    bn = min(tile_rows or dr, n)
    if period is not None and tile_cols is None:
        dc = max(256, dc // max(d, 1))  # the (d, rows, cols) displacement stack stays ~ one tile
    bt = min(tile_cols or dc, m)
    if distance == "auto":
        distance = "expand" if (d > 8 and kernel.prefers_squared_distance) else "direct"
    if period is not None:
        distance = "direct"
        c = None
        xc, yc = x, y
    else:
        c = y.mean(dim=0)
        xc, yc = x - c, y - c
    need_disp = period is not None
    yct = yc.T.contiguous() if distance == "direct" else None
    if compiled:
        from driftlab.engine import _compiled

        if not _compiled.supported(kernel) or period is not None or distance != "direct":
            raise ValueError("compiled tiles support the Gaussian and exponential (Laplace) profiles with direct "
                             "distances in R^d (no torus)")
        xct = xc.T.contiguous()
    # [y | 1] stored transposed: the per-tile product is acc^T += ya^T @ P^T, a (d+1) x cols by
    # cols x rows GEMM -- 5x faster on the CPU than P @ ya, whose output has only d + 1 columns
    # (0.25 vs 1.34 ns per pair, one thread; benchmarks/bench_engine.py)
    ya_t = torch.cat([yc, torch.ones((m, 1), dtype=x.dtype, device=x.device)], dim=1).T.contiguous()
    y2 = (yc * yc).sum(dim=1) if distance == "expand" else None
    x2 = (xc * xc).sum(dim=1) if distance == "expand" else None
    if log_weights is not None:
        lw_ref = float(log_weights[torch.isfinite(log_weights)].max()) if bool(torch.isfinite(log_weights).any()) else 0.0
        lw = log_weights - lw_ref
    else:
        lw_ref, lw = 0.0, None
    finfo = torch.finfo(x.dtype)
    thresh = m * finfo.tiny / finfo.eps
    floor = math.log(finfo.tiny) + 0.5  # exp(floor) is a normal number: see the module docstring
    buf = torch.empty((bn, bt), dtype=x.dtype, device=x.device)
    scratch = torch.empty((bn, bt), dtype=x.dtype, device=x.device) if (d > 1 and distance == "direct") else None
    lse = torch.empty((n,), dtype=x.dtype, device=x.device)
    shift = torch.empty((n, d), dtype=x.dtype, device=x.device)

    def block(i0, i1, rows, online):
        xb = xc[rows] if rows is not None else xc[i0:i1]
        nb = xb.shape[0]
        acc_t = torch.zeros((d + 1, nb), dtype=x.dtype, device=x.device)
        acc = acc_t.T  # (nb, d + 1) view
        mx = torch.full((nb, 1), -math.inf, dtype=x.dtype, device=x.device) if online else None
        out_full = buf if nb <= bn else torch.empty((nb, bt), dtype=x.dtype, device=x.device)
        for j0 in range(0, m, bt):
            j1 = min(j0 + bt, m)
            if compiled and not online:
                acc_t.add_(_compiled.tile_sums(kernel, xct[:, i0:i1], yct[:, j0:j1], ya_t[:, j0:j1],
                                               None if lw is None else lw[j0:j1], floor, i0 - j0, mask_self))
                continue
            out = out_full[:nb, : j1 - j0]
            disp = _logits(kernel, xb, yc[j0:j1], None if y2 is None else y2[j0:j1],
                           None if x2 is None else x2[i0:i1] if rows is None else x2[rows],
                           out, period, distance, need_disp,
                           None if scratch is None else scratch[:nb, : j1 - j0] if nb <= bn else None,
                           None if yct is None else yct[:, j0:j1], form)
            if lw is not None:
                out.add_(lw[None, j0:j1])
            if mask_self:
                if rows is None:
                    off = i0 - j0
                    if -nb < off < j1 - j0:
                        out.diagonal(offset=off).fill_(-math.inf)
                else:
                    hit = (rows >= j0) & (rows < j1)
                    if bool(hit.any()):
                        idx = torch.nonzero(hit).flatten()
                        out[idx, rows[idx] - j0] = -math.inf
            if online:
                new = torch.maximum(mx, out.amax(dim=1, keepdim=True))
                safe = torch.where(torch.isfinite(new), new, torch.zeros_like(new))
                acc.mul_(torch.exp(mx - safe))
                out.sub_(safe)
                mx = new
            out.clamp_min_(floor).exp_()
            if need_disp:
                acc[:, :d].add_(torch.einsum("nt,knt->nk", out, disp))
                acc[:, d].add_(out.sum(dim=1))
            else:
                acc_t.addmm_(ya_t[:, j0:j1], out.T)
        s = acc[:, d]
        ref = mx[:, 0] if online else torch.zeros_like(s)
        ref = torch.where(torch.isfinite(ref), ref, torch.zeros_like(ref))
        safe_s = s.clamp_min(finfo.tiny)
        sh = acc[:, :d] / safe_s[:, None]
        if not need_disp:
            sh = sh - xb
        empty = s <= 0
        if online:  # no finite logit at all (compact kernel out of reach, all weights zero, ...)
            empty = empty | ~torch.isfinite(mx[:, 0])
        sh = torch.where(empty[:, None], torch.zeros_like(sh), sh)
        ls = torch.where(empty, torch.full_like(s, -math.inf), ref + torch.log(safe_s)) + lw_ref
        return ls, sh, s

    for i0 in range(0, n, bn):
        i1 = min(i0 + bn, n)
        ls, sh, s = block(i0, i1, None, online=False)
        bad = ~torch.isfinite(s) | (s < thresh)
        if bool(bad.any()):
            rows = torch.nonzero(bad).flatten() + i0
            ls2, sh2, _ = block(i0, i1, rows, online=True)
            ls[rows - i0] = ls2
            sh[rows - i0] = sh2
        lse[i0:i1] = ls
        shift[i0:i1] = sh
    return lse, shift


class TorchBackend(Backend):
    """``"torch"``: :func:`torch_sums`, chunked tiles on any torch device, any radial kernel;
    the automatic fallback (lowest rank) everywhere."""

    name = "torch"

    def unavailable(self, x=None):
        return None if torch_importable() else "backend='torch' needs torch installed"

    def auto_rank(self, call: SumsCall) -> float | None:
        return 1.0

    def sums(self, call, x, y, log_weights):
        return torch_sums(call.kernel, x, y, log_weights, call.mask_self, call.period if call.minimum_image else None,
                          call.tile_rows, call.tile_cols, call.distance)


register(TorchBackend())
