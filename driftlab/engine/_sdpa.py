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
normaliser publicly); self-masking is not supported.
"""

from __future__ import annotations

from driftlab import _backend as B


def sdpa_shift(kernel, x, y, log_weights=None, allow_math=False):
    torch = B.torch()
    F = torch.nn.functional
    from torch.nn.attention import SDPBackend, sdpa_kernel

    s = float(kernel.bandwidth)
    c = y.mean(dim=0)
    xc, yc = x - c, y - c
    extra = -(yc * yc).sum(dim=1, keepdim=True) * (0.5 / s**2)
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
