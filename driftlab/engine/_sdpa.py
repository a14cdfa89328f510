r"""Gaussian kernel sums through fused ``scaled_dot_product_attention``.

For the Gaussian kernel the logits are a shifted inner product:
:math:`-|x - y|^2/(2s^2) = x\cdot y/s^2 - |y|^2/(2s^2) - |x|^2/(2s^2)`; the last term is a
per-row constant that the row softmax ignores. Folding :math:`-|y|^2/(2s^2) + \log w` into
one extra key coordinate (with a matching query coordinate equal to 1) turns the weighted
centroid :math:`\sum_j a_{ij} y_j` into one attention call with ``scale=1``:
``q = [x/s, 1]``, ``k = [y/s, -|y|^2/(2s^2) + log w]``, ``v = y``. The data are centred on
the reference mean first, so the logits stay ~ ``R^2/s^2`` and float32 round-off on them is
~ ``eps_32 R^2/s^2`` (stated tolerance of the tests). Fused kernels only (flash on CPU,
flash/memory-efficient on CUDA): the math fallback that would form the n x m matrix is
disabled, so an unsupported configuration raises instead of silently using O(nm) memory.
This backend returns the mean shift only (the attention kernels do not expose the row
normaliser publicly); self-masking is not supported. Any kernel whose
:attr:`~driftlab.kernels.RadialKernel.fast_form` is ``"sq_exp"`` (``log k = -a r^2``,
``a = 1/(2 s^2)``) qualifies.
"""

from __future__ import annotations

import math

from driftlab import _backend as B
from driftlab.engine._registry import Backend, SumsCall, register, torch_importable


def sdpa_shift(kernel, x, y, log_weights=None, allow_math=False):
    """Mean shift ``(n, d)`` of ``y`` at ``x`` for a ``"sq_exp"`` kernel by fused attention."""
    torch = B.torch()
    F = torch.nn.functional
    from torch.nn.attention import SDPBackend, sdpa_kernel

    form = kernel.fast_form
    if form is None or form.kind != "sq_exp":
        raise ValueError(f"backend='sdpa' needs the Gaussian kernel, got {type(kernel).__name__}")
    a = float(form.a)
    s = 1.0 / math.sqrt(2.0 * a)  # the bandwidth, to round-off
    c = y.mean(dim=0)
    xc, yc = x - c, y - c
    extra = -(yc * yc).sum(dim=1, keepdim=True) * a
    if log_weights is not None:
        extra = extra + log_weights[:, None]
    d = x.shape[1]
    e = -(-(d + 1) // 8) * 8  # fused kernels want equal head dims, a multiple of 8 on CUDA
    q = torch.zeros((x.shape[0], e), dtype=x.dtype, device=x.device)
    k = torch.zeros((y.shape[0], e), dtype=x.dtype, device=x.device)
    v = torch.zeros((y.shape[0], e), dtype=x.dtype, device=x.device)
    q[:, :d] = xc / s
    q[:, d] = 1.0
    k[:, :d] = yc / s
    k[:, d] = extra[:, 0]
    v[:, :d] = yc
    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]
    if allow_math:
        backends.append(SDPBackend.MATH)
    with sdpa_kernel(backends):
        out = F.scaled_dot_product_attention(q[None, None], k[None, None], v[None, None], scale=1.0)
    return out[0, 0, :, :d] - xc


class SdpaBackend(Backend):
    """``"sdpa"``: :func:`sdpa_shift`, the Gaussian mean shift through fused attention (no
    normaliser, no self-mask, no minimum-image torus; float32 on CUDA). Automatic on CUDA
    and, above the dense reference's range, on the CPU."""

    name = "sdpa"

    def unavailable(self, x=None):
        return None if torch_importable() else "backend='sdpa' needs torch installed"

    def unsupported(self, call: SumsCall):
        form = call.kernel.fast_form
        if form is None or form.kind != "sq_exp":
            return f"backend='sdpa' needs the Gaussian kernel, got {type(call.kernel).__name__}"
        if call.need_log_total or call.mask_self or call.minimum_image:
            return "backend='sdpa' computes the mean shift only: no log_total, mask_self or minimum-image torus"
        if call.device == "cuda" and call.dtype != "float32":
            return (f"backend='sdpa' on CUDA needs float32 tensors (the fused attention kernels have no "
                    f"torch.{call.dtype}); use backend='torch' for float64")
        return None

    def auto_rank(self, call: SumsCall) -> float | None:
        from driftlab.engine._dense import AUTO_DENSE_PAIRS

        return 2.0 if call.device == "cuda" or call.pairs > AUTO_DENSE_PAIRS else None

    def sums(self, call, x, y, log_weights):
        return None, sdpa_shift(call.kernel, x, y, log_weights)


register(SdpaBackend())
