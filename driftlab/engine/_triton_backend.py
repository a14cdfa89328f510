r"""The ``"triton"`` engine backend: what it supports and when it is chosen, without importing triton.

The kernels themselves live in :mod:`driftlab.engine._triton` (which needs ``triton`` at
import); this module registers the backend, maps a kernel's
:class:`~driftlab.kernels.FastForm` to the kernels' profile code (:func:`kernel_code`) and
imports the kernels only when a call runs.
"""

from __future__ import annotations

import functools
import importlib.util
import os

from driftlab import _backend as B
from driftlab.engine._registry import Backend, SumsCall, register

__all__ = ["FMA_MAX_DIM", "TritonBackend", "fits", "kernel_code", "triton_importable"]

#: FastForm kind -> the kernels' ``KIND`` code (0 Gaussian, 1 exponential, 2 polynomial x
#: exponential with at most 3 coefficients, 3 inverse multiquadric)
_KIND = {"sq_exp": 0, "exp": 1, "poly_exp": 2, "imq": 3}
#: coefficients c0, c1, c2 that the ``poly_exp`` profile evaluates (half-integer Matérn up to 5/2)
_MAX_POLY = 3
#: the register-accumulator (``fma``) kernel handles up to this many coordinates; it is also the
#: one that computes a minimum-image torus
FMA_MAX_DIM = 8


def kernel_code(kernel):
    """``(KIND, p0, p1, c0, c1, c2)`` in natural units for a supported kernel, or None.

    Read from ``kernel.fast_form``: ``p0`` is its rate ``a``, ``p1`` the IMQ exponent and
    ``c0, c1, c2`` the ascending polynomial coefficients of a ``"poly_exp"`` profile.
    """
    form = kernel.fast_form
    if form is None or form.kind not in _KIND:
        return None
    kind = _KIND[form.kind]
    if kind == 2:
        if len(form.poly) > _MAX_POLY:
            return None
        c = [float(v) for v in form.poly] + [0.0] * (_MAX_POLY - len(form.poly))
        return 2, float(form.a), 0.0, c[0], c[1], c[2]
    return kind, float(form.a), float(form.beta) if kind == 3 else 0.0, 0.0, 0.0, 0.0


def _block_d(d):
    """Padded row width: >= d + 1 (the constant column), >= 16 for ``tl.dot``."""
    return max(16, 1 << d.bit_length())


def fits(n, m, d):
    """Whether the kernels' 32-bit offsets (``row * BLOCK_D + k``) cover n queries, m references."""
    return max(n, m) * _block_d(d) < 2**31


@functools.lru_cache(maxsize=1)
def triton_importable() -> bool:
    """Whether ``triton`` is installed (without importing it; checked once)."""
    return importlib.util.find_spec("triton") is not None


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


class TritonBackend(Backend):
    """``"triton"``: :func:`driftlab.engine._triton.triton_sums`, float32 on CUDA (CPU tensors
    under ``TRITON_INTERPRET=1``), the kernels :func:`kernel_code` maps, R^d and (d <= 8) the
    minimum-image torus; the first automatic choice on CUDA."""

    name = "triton"

    def unavailable(self, x=None):
        if triton_importable():
            if x is not None and B.is_torch(x) and x.device.type == "cuda":
                return None
            if _interpreting():
                return None
            if x is None and B.torch().cuda.is_available():
                return None
        return "backend='triton' needs triton and a CUDA tensor (or TRITON_INTERPRET=1)"

    def unsupported(self, call: SumsCall):
        if call.minimum_image and call.d > FMA_MAX_DIM:
            return (f"backend='triton' computes wrap='minimum_image' for d <= {FMA_MAX_DIM} only, got d = {call.d} "
                    f"(use backend='torch')")
        if call.dtype != "float32":
            return "backend='triton' computes in float32: pass float32 tensors"
        if kernel_code(call.kernel) is None:
            return f"the triton backend does not support {type(call.kernel).__name__}"
        if not fits(call.n, call.m * call.copies, call.d):
            return (f"the triton backend handles at most 2^31 / {_block_d(call.d)} rows per set at d = {call.d}; "
                    f"got n = {call.n}, m = {call.m * call.copies}: split the call or use backend='torch'")
        return None

    def auto_rank(self, call: SumsCall) -> float | None:
        return 3.0 if call.device == "cuda" else None

    def sums(self, call, x, y, log_weights):
        from driftlab.engine._triton import triton_sums

        return triton_sums(call.kernel, x, y, log_weights, call.mask_self,
                           period=call.period if call.minimum_image else None)


register(TritonBackend())
