r"""Kernel sums over query and reference sets sharded across the ranks of ``torch.distributed``.

Every rank holds a block of the queries ``x`` (rows ``offset_r .. offset_r + n_r`` of the
global set, in rank order) and gets back the sums of those rows over the *whole* reference
set, exactly what :func:`driftlab.engine.kernel_sums` gives on one process for the
concatenated sets, up to the order of the floating-point additions. The references reach
each rank in one of three ways (``references=``):

``"all_gather"`` (default)
    every rank passes its block of ``y``; the blocks are all-gathered so that each rank
    sums over all ``M`` references in one engine call. Traffic ``M d`` values received per
    rank and call, memory ``O(N d / R + M d)`` per rank.
``"ring"``
    every rank passes its block of ``y``; the blocks travel round a ring of ranks
    (``batch_isend_irecv`` to rank ``r + 1``, from ``r - 1``, overlapped with the sums of
    the block in hand). Each step gives a partial ``(L_b, s_b)`` that merges exactly in log
    space, as the partial outputs of ring attention do:

    .. math::

        L = \operatorname{logaddexp}(L_a, L_b), \qquad
        s = e^{L_a - L} s_a + e^{L_b - L} s_b .

    Same traffic as the all-gather (``M d`` per rank, in ``R - 1`` messages), memory
    ``O((N + M) d / R)`` per rank.
``"replicated"``
    every rank passes the whole reference set already (a fixed data set loaded by each
    rank); no reference traffic.

``mask_self=True`` drops the pairs ``i == j`` of the *global* indices: the references are
the queries (pass ``y=None``, or the same block), so the self pair of a query lives in the
reference block of its own rank; that block is summed with the engine's own self-mask and
merged with the others. A torus (``period=``, both ``wrap`` modes) is handled by the engine
on every block: the lattice images of a block are the images of its points.

The process group is the caller's (``torch.distributed.init_process_group``, e.g. under
``torchrun``): gloo for CPU tensors or numpy arrays, NCCL for CUDA tensors (the arrays are
moved to the group's device for the messages only). Every rank must call with the same
options; the first collective exchanges the block sizes, dimension, dtype and a validity
flag, so an invalid input on one rank raises a ValueError on every rank instead of leaving
the others waiting. An error in a rank's engine call (a refused block, out of memory) is kept
while the rank passes the ring's messages on; a last small all-gather of failure flags makes
every rank raise. A rank that dies mid-call makes the others' messages fail (gloo: at once on
a closed connection, at the latest after the group's ``timeout``).

A later distributed simulator calls this once per step and per set: the moving particles
(``references="all_gather"`` or ``"ring"``, ``mask_self`` for the negatives) and the data
(``"replicated"`` when every rank loads it, else sharded).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftlab import _backend as B
from driftlab._validation import check_int
from driftlab.engine.api import KernelSums, _validate, kernel_sums_trusted

__all__ = ["REFERENCE_MODES", "distributed_kernel_sums", "merge_partial_sums", "shard_bounds"]

REFERENCE_MODES = ("all_gather", "ring", "replicated")

_DTYPES = ("float32", "float64")


def shard_bounds(n: int, world_size: int) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` blocks of ``range(n)`` for ``world_size`` ranks, sizes
    differing by at most one (the first ``n % world_size`` ranks one longer).

    >>> shard_bounds(5, 2)
    [(0, 3), (3, 5)]
    """
    n = check_int(n, "n", minimum=0)
    world_size = check_int(world_size, "world_size", minimum=1)
    q, r = divmod(n, world_size)
    out, start = [], 0
    for k in range(world_size):
        stop = start + q + (1 if k < r else 0)
        out.append((start, stop))
        start = stop
    return out


def merge_partial_sums(a: KernelSums, b: KernelSums) -> KernelSums:
    r"""Merge the sums of the same queries over two disjoint reference sets (torch tensors).

    ``log_total = logaddexp(L_a, L_b)`` and ``shift = e^{L_a - L} s_a + e^{L_b - L} s_b``;
    a row that sees neither set keeps ``log_total = -inf`` and ``shift = 0`` (as the
    engine returns for an empty row).

    Parameters
    ----------
    a, b : KernelSums
        Partial sums with ``log_total`` (n,) and ``shift`` (n, d), torch tensors.

    Returns
    -------
    KernelSums
    """
    torch = B.torch()
    la, lb = a.log_total, b.log_total
    lt = torch.logaddexp(la, lb)
    finite = torch.isfinite(lt)
    safe = torch.where(finite, lt, torch.zeros_like(lt))
    wa = torch.where(finite, torch.exp(la - safe), torch.zeros_like(lt))
    wb = torch.where(finite, torch.exp(lb - safe), torch.zeros_like(lt))
    return KernelSums(lt, wa[:, None] * a.shift + wb[:, None] * b.shift)


def _all_gather(dist):
    """``all_gather_single`` (torch >= 2.13; ``all_gather_into_tensor`` before it was renamed)."""
    return getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor


def _empty(n, d, like):
    torch = B.torch()
    return KernelSums(torch.full((n,), -np.inf, dtype=like.dtype, device=like.device),
                      torch.zeros((n, d), dtype=like.dtype, device=like.device))


def distributed_kernel_sums(x: Any, y: Any, kernel, *, log_weights: Any = None, mask_self: bool = False,
                            references: str = "all_gather", group: Any = None, period: float | None = None,
                            wrap: str = "lattice", images: int = 1, backend: str = "auto",
                            tile_rows: int | None = None, tile_cols: int | None = None,
                            distance: str = "auto", num_threads: int | None = None) -> KernelSums:
    r"""Kernel sums of this rank's queries over a reference set spread over (or copied to) all ranks.

    Collective: every rank of ``group`` calls it with its own blocks and the same options.
    The result equals, row for row, :func:`driftlab.engine.kernel_sums` of the concatenated
    queries over the concatenated references (rank order) on one process, up to round-off
    from the different order of the additions.

    Parameters
    ----------
    x : array (n_r, d)
        This rank's queries (numpy array or torch tensor, float32/float64). Blocks may differ
        in length and may be empty.
    y : array (m_r, d) or None
        ``references="all_gather"`` or ``"ring"``: this rank's block of the references;
        ``"replicated"``: the whole reference set (the same on every rank). None: the
        references are the queries (the block ``x``; with ``"replicated"`` not allowed).
    kernel : RadialKernel
    log_weights : array, optional
        Log-weights of the references this rank passes (length of ``y``).
    mask_self : bool
        Drop the pairs of equal global index: needs ``y`` to be the queries (``y is None``
        or ``y`` the same length as ``x`` on every rank, for ``"replicated"`` the
        concatenated queries).
    references : {"all_gather", "ring", "replicated"}
        How the references reach each rank (see the module docstring).
    group : ProcessGroup, optional
        The ``torch.distributed`` group (default: the world group, which must be initialised).
    period, wrap, images, backend, tile_rows, tile_cols, distance, num_threads
        As :func:`driftlab.engine.kernel_sums`; ``backend="sdpa"`` (no normalisers) only where
        no partial sums are merged (``"all_gather"``/``"replicated"`` without ``mask_self``).

    Returns
    -------
    KernelSums
        ``log_total`` (n_r,) and ``shift`` (n_r, d) of this rank's queries, in the array
        type, dtype and device of ``x``.

    Raises
    ------
    ValueError
        On every rank, when the input of any rank is invalid or the backend refuses a rank's
        block (the message names the rank).
    RuntimeError
        When torch.distributed is not initialised, a peer fails during the exchange, or the
        engine call of a rank fails otherwise (on every rank).

    Examples
    --------
    Under ``torchrun --nproc_per_node=2``::

        import torch.distributed as dist
        dist.init_process_group("gloo")
        lo, hi = shard_bounds(len(x_all), dist.get_world_size())[dist.get_rank()]
        out = distributed_kernel_sums(x_all[lo:hi], None, Gaussian(1.0), mask_self=True,
                                      references="ring")
    """
    torch = B.torch()
    dist = torch.distributed
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("distributed_kernel_sums needs an initialised torch.distributed process group "
                           "(torch.distributed.init_process_group, e.g. under torchrun)")
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    comm_device = torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend(group) == "nccl" else torch.device("cpu")

    # -- local validation; the verdict travels with the block sizes so that all ranks agree
    error = None
    like = x
    try:
        if references not in REFERENCE_MODES:
            raise ValueError(f"references must be one of {REFERENCE_MODES}, got {references!r}")
        if not isinstance(mask_self, bool):
            raise TypeError(f"mask_self must be a bool, got {type(mask_self).__name__}")
        if backend == "sdpa" and (references == "ring" or mask_self):
            raise ValueError("backend='sdpa' gives no row normalisers, which references='ring' and "
                             "mask_self=True need to merge partial sums; choose another backend")
        if y is None and references == "replicated":
            raise ValueError("y=None (references are the queries) needs references='all_gather' or 'ring'")
        if num_threads is not None:
            check_int(num_threads, "num_threads", minimum=1)
        # this rank's blocks, checked as kernel_sums checks them (empty blocks allowed; the
        # self-mask pairs global indices, so it is checked below, not per block)
        xv, yv, lw, period, images = _validate(x, x if y is None else y, kernel, log_weights, False, period, wrap,
                                               images, backend, tile_rows, tile_cols, distance, allow_empty=True)
        like = xv
        if yv.dtype != xv.dtype:
            raise ValueError(f"x and y must have the same dtype, got {xv.dtype} and {yv.dtype}")
        if mask_self and y is not None and references != "replicated" and yv.shape[0] != xv.shape[0]:
            raise ValueError(f"mask_self=True needs y to be the queries: this rank's y has {yv.shape[0]} rows, "
                             f"x has {xv.shape[0]}")
        dtype_name = str(xv.dtype).removeprefix("torch.")
        if dtype_name not in _DTYPES:
            raise ValueError(f"x must be float32 or float64, got {dtype_name}")
        meta = [0, int(xv.shape[0]), int(yv.shape[0]), int(xv.shape[1]), _DTYPES.index(dtype_name),
                REFERENCE_MODES.index(references), int(mask_self), int(lw is not None)]
    except (ValueError, TypeError) as exc:
        error = exc
        meta = [1, 0, 0, 0, 0, 0, 0, 0]
    metas = torch.zeros((world * len(meta),), dtype=torch.int64, device=comm_device)
    _all_gather(dist)(metas, torch.tensor(meta, dtype=torch.int64, device=comm_device), group=group)
    metas = metas.cpu().numpy().reshape(world, len(meta))
    if error is not None:
        raise error
    bad = [int(k) for k in np.flatnonzero(metas[:, 0])]
    if bad:
        raise ValueError(f"distributed_kernel_sums: the input of rank(s) {bad} is invalid (see their error)")
    for col, what in ((3, "dimension d"), (4, "dtype"), (5, "references mode"), (6, "mask_self"),
                      (7, "presence of log_weights")):
        if len(set(metas[:, col].tolist())) != 1:
            raise ValueError(f"distributed_kernel_sums: the ranks disagree on the {what}: {metas[:, col].tolist()}")
    ns, ms = metas[:, 1], metas[:, 2]
    d = int(metas[0, 3])
    if mask_self and references == "replicated" and int(ms[0]) != int(ns.sum()):
        raise ValueError(f"mask_self=True with references='replicated' needs y to be all the queries "
                         f"({int(ns.sum())} rows), got {int(ms[0])}")
    if mask_self and references != "replicated" and not np.array_equal(ns, ms):
        raise ValueError(f"mask_self=True needs y to be the queries on every rank: x blocks {ns.tolist()}, "
                         f"y blocks {ms.tolist()}")
    if references == "replicated" and len(set(ms.tolist())) != 1:
        raise ValueError(f"references='replicated' needs the same reference set on every rank, got lengths "
                         f"{ms.tolist()}")

    # -- everything as torch on the compute device of x
    xt = xv if B.is_torch(xv) else torch.from_numpy(np.ascontiguousarray(xv))
    yt = yv if B.is_torch(yv) else torch.from_numpy(np.ascontiguousarray(yv))
    lwt = None if lw is None else (lw if B.is_torch(lw) else torch.from_numpy(np.ascontiguousarray(lw)))
    opts = {"period": period, "wrap": wrap, "images": images, "backend": backend, "tile_rows": tile_rows,
            "tile_cols": tile_cols, "distance": distance, "need_log_total": backend != "sdpa",
            "num_threads": num_threads}
    n = int(ns[rank])
    offset = int(ns[:rank].sum())

    failure = []

    def block(ys, lws, mask):
        """The engine on this rank's queries and one reference block. An error is kept (and
        the block counted empty) so that this rank still passes the ring's messages on; the
        ranks compare notes after the last message."""
        if n == 0 or ys.shape[0] == 0 or failure:
            return _empty(n, d, xt)
        try:
            return kernel_sums_trusted(xt, ys, kernel, log_weights=lws, mask_self=mask, **opts)
        except Exception as exc:  # noqa: BLE001 - re-raised below, on every rank
            failure.append(exc)
            return _empty(n, d, xt)

    def pack(ys, lws):
        """References (and log-weights as an extra column) in one buffer on the comm device."""
        cols = [ys] if lws is None else [ys, lws[:, None]]
        return torch.cat(cols, dim=1).to(comm_device)

    def unpack(buf, rows):
        buf = buf[:rows].to(xt.device)
        return (buf[:, :d], None) if lwt is None else (buf[:, :d].contiguous(), buf[:, d].contiguous())

    width = d + (0 if lwt is None else 1)
    mmax = int(ms.max()) if world else 0
    if references == "all_gather":
        padded = torch.zeros((mmax, width), dtype=xt.dtype, device=comm_device)
        padded[:ms[rank]] = pack(yt, lwt)
        gathered = torch.zeros((world * mmax, width), dtype=xt.dtype, device=comm_device)
        _all_gather(dist)(gathered, padded, group=group)
        parts = [unpack(gathered[k * mmax:(k + 1) * mmax], int(ms[k])) for k in range(world)]
        if not mask_self:
            y_all = torch.cat([p[0] for p in parts], dim=0)
            lw_all = None if lwt is None else torch.cat([p[1] for p in parts], dim=0)
            out = block(y_all, lw_all, False)
        else:
            out = _merge_own_block(block, parts, rank, lwt is not None)
    elif references == "replicated":
        if not mask_self:
            out = block(yt, lwt, False)
        else:  # the own rows [offset, offset + n) masked, the rest (before and after) not
            parts = [(yt[:offset], None if lwt is None else lwt[:offset]),
                     (yt[offset:offset + n], None if lwt is None else lwt[offset:offset + n]),
                     (yt[offset + n:], None if lwt is None else lwt[offset + n:])]
            out = _merge_own_block(block, parts, 1, lwt is not None)
    else:
        out = _ring(block, pack, unpack, yt, lwt, ms, mmax, width, rank, world, mask_self, xt, comm_device,
                    group)
    _agree_on_failure(failure, rank, world, comm_device, group)
    lt = out.log_total
    sh = out.shift
    if B.is_torch(like):
        return KernelSums(lt, sh)
    return KernelSums(None if lt is None else lt.cpu().numpy(), sh.cpu().numpy())


def _agree_on_failure(failure, rank, world, comm_device, group):
    """One small all-gather of failure flags after the sums: an engine error on any rank
    (a refused block, out of memory) raises on every rank; the failing rank re-raises its own."""
    torch = B.torch()
    dist = torch.distributed
    exc = failure[0] if failure else None
    code = 0 if exc is None else (1 if isinstance(exc, (ValueError, TypeError)) else 2)
    flags = torch.zeros((world,), dtype=torch.int64, device=comm_device)
    _all_gather(dist)(flags, torch.tensor([code], dtype=torch.int64, device=comm_device), group=group)
    flags = flags.cpu().tolist()
    if not any(flags):
        return
    notes = [None] * world
    dist.all_gather_object(notes, None if exc is None else f"{type(exc).__name__}: {exc}"[:300], group=group)
    if exc is not None:
        raise exc
    bad = [k for k in range(world) if flags[k]]
    what = "; ".join(f"rank {k}: {notes[k]}" for k in bad)
    kind = ValueError if all(flags[k] == 1 for k in bad) else RuntimeError
    raise kind(f"distributed_kernel_sums failed on another rank ({what})")


def _merge_own_block(block, parts, own, weighted):
    """Sums over ``parts``: the block ``own`` with the self-mask, the others concatenated without."""
    torch = B.torch()
    others = [p for k, p in enumerate(parts) if k != own]
    mine = block(parts[own][0], parts[own][1], True)
    if not others:
        return mine
    y_rest = torch.cat([p[0] for p in others], dim=0)
    lw_rest = torch.cat([p[1] for p in others], dim=0) if weighted else None
    rest = block(y_rest, lw_rest, False)
    return merge_partial_sums(mine, rest)


def _ring(block, pack, unpack, yt, lwt, ms, mmax, width, rank, world, mask_self, xt, comm_device, group):
    """Pass the reference blocks round the ring, merging each step's partial sums in log space.

    At step ``s`` rank ``r`` holds the block of rank ``(r - s) mod R``; it posts the send of
    that block to ``r + 1`` and the receive of the next from ``r - 1`` before summing over it,
    so the transfer overlaps the sums. Memory: two buffers of ``max_r m_r`` rows.
    """
    torch = B.torch()
    dist = torch.distributed
    cur = torch.zeros((mmax, width), dtype=xt.dtype, device=comm_device)
    cur[:ms[rank]] = pack(yt, lwt)
    nxt = torch.empty_like(cur)
    acc = None
    for step in range(world):
        src = (rank - step) % world
        reqs = []
        if step < world - 1 and world > 1:
            ops = [dist.P2POp(dist.isend, cur, (rank + 1) % world, group=group),
                   dist.P2POp(dist.irecv, nxt, (rank - 1) % world, group=group)]
            reqs = dist.batch_isend_irecv(ops)
        ys, lws = unpack(cur, int(ms[src]))
        part = block(ys, lws, mask_self and src == rank)
        acc = part if acc is None else merge_partial_sums(acc, part)
        for req in reqs:
            req.wait()
        if reqs:
            cur, nxt = nxt, cur
    return acc
