r"""Fused CPU/CUDA tiles for the chunked torch backend through ``torch.compile`` (Inductor).

One tile of the fixed-reference pass -- direct differences, the log-profile, the exponent
floor, the optional log-weights and self-mask, ``exp`` -- is one generated loop instead of
~8 tensor passes, followed by the ``(d+1) x cols @ cols x rows`` product. On one CPU thread
this is ~1.7 instead of ~3.1 ns per pair (Laplace, d = 2). The bandwidth, floor and
diagonal offset are passed as 0-d tensors so that a changing bandwidth (annealing) does not
recompile; each distinct tile shape compiles once per process (seconds: the first call is
slow). Needs a working C++ compiler on the CPU (Inductor); Gaussian and Laplace profiles.
"""

from __future__ import annotations

from driftlab import _backend as B

_CACHE: dict = {}


def supported(kernel) -> bool:
    from driftlab.kernels import Gaussian, Laplace

    return isinstance(kernel, (Gaussian, Laplace))


def _make(kind: str, d: int, has_lw: bool, mask_self: bool):
    torch = B.torch()

    def tile(xt, yt, ya_t, lw, coef, floor, off):
        # xt (d, rows), yt (d, cols), ya_t (d + 1, cols), lw (cols,), coef/floor/off 0-d tensors
        diff = yt[0][None, :] - xt[0][:, None]
        r2 = diff * diff
        for k in range(1, d):
            diff = yt[k][None, :] - xt[k][:, None]
            r2 = r2 + diff * diff
        logit = r2 * coef if kind == "gaussian" else torch.sqrt(r2) * coef
        if has_lw:
            logit = logit + lw[None, :]
        if mask_self:
            rows = torch.arange(r2.shape[0], device=r2.device)[:, None] + off
            cols = torch.arange(r2.shape[1], device=r2.device)[None, :]
            logit = torch.where(rows == cols, torch.full_like(logit, float("-inf")), logit)
        p = torch.exp(torch.maximum(logit, floor))
        return torch.mm(ya_t, p.T)

    # Every key shares the code object of ``tile``, and Dynamo counts recompilations per code
    # object: allow one graph per key (kernel, d, weights, self-mask, dtype, device) and mark
    # the shapes dynamic so that tail tiles reuse the graph.
    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    setattr(cfg, name, max(getattr(cfg, name), 64))
    return torch.compile(tile, fullgraph=True, dynamic=True)


def tile_sums(kernel, xt, yt, ya_t, lw, floor, off, mask_self):
    """``(d + 1, rows)`` sums ``[sum_j p_ij y_j | sum_j p_ij]`` for one tile (fixed reference 0)."""
    from driftlab.kernels import Gaussian

    torch = B.torch()
    kind = "gaussian" if isinstance(kernel, Gaussian) else "laplace"
    coef = -0.5 / kernel.bandwidth**2 if kind == "gaussian" else -1.0 / kernel.temperature
    key = (kind, xt.shape[0], lw is not None, bool(mask_self), xt.dtype, xt.device.type)
    if key not in _CACHE:
        _CACHE[key] = _make(kind, xt.shape[0], lw is not None, bool(mask_self))
    scal = {"dtype": xt.dtype, "device": xt.device}
    try:
        return _CACHE[key](xt, yt, ya_t, lw if lw is not None else ya_t[0], torch.tensor(coef, **scal),
                           torch.tensor(floor, **scal), torch.tensor(off, dtype=torch.int64, device=xt.device))
    except Exception as exc:  # Inductor without a working compiler, unsupported platform, ...
        if type(exc).__module__.startswith("torch._dynamo") or "inductor" in type(exc).__module__:
            raise RuntimeError(f"backend='compiled' needs torch.compile (Inductor and a C++ compiler) to work "
                               f"here; use backend='torch'. Cause: {type(exc).__name__}: {str(exc)[:300]}") from exc
        raise
