r"""Fused CPU/CUDA tiles for the chunked torch backend through ``torch.compile`` (Inductor).

One tile of the fixed-reference pass -- direct differences, the log-profile, the exponent
floor, the optional log-weights and self-mask, ``exp`` -- is one generated loop instead of
~8 tensor passes, followed by the ``(d+1) x cols @ cols x rows`` product. On one CPU thread
this is ~1.7 instead of ~3.1 ns per pair (Laplace, d = 2). The bandwidth, floor and
diagonal offset are passed as 0-d tensors so that a changing bandwidth (annealing) does not
recompile; each distinct tile shape compiles once per process (seconds: the first call is
slow). Needs a working C++ compiler on the CPU (Inductor); the ``"sq_exp"`` (Gaussian) and
``"exp"`` (Laplace, Matérn-1/2) profiles of :class:`driftlab.kernels.FastForm`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil

from driftlab import _backend as B
from driftlab.engine._registry import Backend, SumsCall, register, torch_importable

_CACHE: dict = {}
#: the FastForm kinds the fused tile evaluates (``-a r^2`` and ``-a r``)
KINDS = ("sq_exp", "exp")


def supported(kernel) -> bool:
    """Whether the fused tiles evaluate ``kernel`` (its ``fast_form`` is one of :data:`KINDS`)."""
    form = kernel.fast_form
    return form is not None and form.kind in KINDS


def _make(kind: str, d: int, has_lw: bool, mask_self: bool):
    torch = B.torch()

    def tile(xt, yt, ya_t, lw, coef, floor, off):
        # xt (d, rows), yt (d, cols), ya_t (d + 1, cols), lw (cols,), coef/floor/off 0-d tensors
        diff = yt[0][None, :] - xt[0][:, None]
        r2 = diff * diff
        for k in range(1, d):
            diff = yt[k][None, :] - xt[k][:, None]
            r2 = r2 + diff * diff
        logit = r2 * coef if kind == "sq_exp" else torch.sqrt(r2) * coef
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
    torch = B.torch()
    form = kernel.fast_form
    kind = form.kind
    coef = -form.a
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


@functools.lru_cache(maxsize=4)
def _find_cxx(cxx: str | None) -> str | None:
    if cxx:
        return shutil.which(cxx)
    for name in ("g++", "c++", "clang++"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _cxx_compiler() -> str | None:
    """The C++ compiler Inductor would use on the CPU (``$CXX``, else g++ / c++ / clang++), or None."""
    return _find_cxx(os.environ.get("CXX"))


class CompiledBackend(Backend):
    """``"compiled"``: :func:`~driftlab.engine._torch.torch_sums` with each fast-path tile fused by
    ``torch.compile``; opt-in (never chosen automatically: the first call per tile shape
    compiles for seconds)."""

    name = "compiled"

    def unavailable(self, x=None):
        if not torch_importable():
            return "backend='compiled' needs torch installed"
        cuda = B.is_torch(x) and x.device.type == "cuda"
        if cuda and importlib.util.find_spec("triton") is None:
            return "backend='compiled' on CUDA needs triton (Inductor's GPU code generator)"
        if not cuda and _cxx_compiler() is None:
            return "backend='compiled' needs a C++ compiler for Inductor (g++, c++, clang++ or $CXX)"
        return None

    def unsupported(self, call: SumsCall):
        if not supported(call.kernel) or call.minimum_image or call.distance == "expand":
            return ("compiled tiles support the Gaussian and exponential (Laplace) profiles with direct distances "
                    "in R^d or on a lattice-wrapped torus (not wrap='minimum_image'), got "
                    f"{type(call.kernel).__name__}, wrap={call.wrap if call.period is not None else None!r}, "
                    f"distance={call.distance!r}")
        return None

    def sums(self, call, x, y, log_weights):
        from driftlab.engine._torch import torch_sums

        return torch_sums(call.kernel, x, y, log_weights, call.mask_self, None, call.tile_rows, call.tile_cols,
                          call.distance, compiled=True)


register(CompiledBackend())
