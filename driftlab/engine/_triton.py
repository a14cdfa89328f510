r"""Triton kernel for radial kernel sums (CUDA; CPU through ``TRITON_INTERPRET=1``).

One program owns ``BLOCK_M`` query rows and sweeps the references in ``BLOCK_N`` tiles:
squared distances by *direct differences* (a static loop over the d coordinates, no
matmul expansion, so no cancellation near r = 0), the log-profile in registers, an online
softmax (running maximum, rescaled accumulators) and the weighted reference sum by an
IEEE-precision ``tl.dot`` (no TF32). Outputs the row log-normaliser and the centroid.

Supported profiles (``KIND``): 0 Gaussian ``-p0 r^2``; 1 Laplace ``-p0 r``;
2 exponential-polynomial (half-integer Matérn) ``log(c0 + c1 z + c2 z^2) - z``, ``z = p0 r``;
3 inverse multiquadric ``-p1 log(1 + p0 r^2)``. Anything else uses the torch backend.

Importing this module needs ``triton``; it is an optional dependency (extra ``gpu``).
``TRITON_INTERPRET`` must be set before this module is first imported.
"""

from __future__ import annotations

import triton
import triton.language as tl

from driftlab import _backend as B


@triton.jit
def _kernel_sums(X, Y, LW, OUT_C, OUT_L, n, m, sxn, syn, p0, p1, c0, c1, c2,
                 D: tl.constexpr, KIND: tl.constexpr, HAS_LW: tl.constexpr, MASK_SELF: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < n
    dims = tl.arange(0, BLOCK_D)
    dmask = dims < D
    mx = tl.full([BLOCK_M], float("-inf"), tl.float32)
    s = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for j0 in range(0, m, BLOCK_N):
        cols = j0 + tl.arange(0, BLOCK_N)
        cmask = cols < m
        r2 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
        for k in tl.static_range(D):
            xk = tl.load(X + rows * sxn + k, mask=rmask, other=0.0)
            yk = tl.load(Y + cols * syn + k, mask=cmask, other=0.0)
            diff = yk[None, :] - xk[:, None]
            r2 += diff * diff
        if KIND == 0:
            logit = -p0 * r2
        elif KIND == 1:
            logit = -p0 * tl.sqrt(r2)
        elif KIND == 2:
            z = p0 * tl.sqrt(r2)
            logit = tl.log(c0 + z * (c1 + z * c2)) - z
        else:
            logit = -p1 * tl.log(1.0 + p0 * r2)
        if HAS_LW:
            lw = tl.load(LW + cols, mask=cmask, other=0.0)
            logit += lw[None, :]
        valid = rmask[:, None] & cmask[None, :]
        if MASK_SELF:
            valid = valid & (rows[:, None] != cols[None, :])
        logit = tl.where(valid, logit, float("-inf"))
        new = tl.maximum(mx, tl.max(logit, axis=1))
        safe = tl.where(new == float("-inf"), 0.0, new)
        alpha = tl.exp(mx - safe)
        p = tl.exp(logit - safe[:, None])
        yt = tl.load(Y + cols[:, None] * syn + dims[None, :], mask=cmask[:, None] & dmask[None, :], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p, yt, input_precision="ieee")
        s = s * alpha + tl.sum(p, axis=1)
        mx = new
    ssafe = tl.where(s > 0, s, 1.0)
    cent = acc / ssafe[:, None]
    tl.store(OUT_C + rows[:, None] * BLOCK_D + dims[None, :], cent, mask=rmask[:, None] & dmask[None, :])
    lse = tl.where(s > 0, mx + tl.log(ssafe), float("-inf"))
    tl.store(OUT_L + rows, lse, mask=rmask)


_TUNE_CONFIGS = [
    triton.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=w, num_stages=st)
    for bm, bn, w, st in ((64, 64, 4, 2), (128, 64, 4, 2), (128, 64, 8, 3), (128, 128, 8, 2), (64, 128, 4, 3),
                          (256, 64, 8, 2))
]
#: autotuned launcher for real GPUs (block sizes chosen per (D, KIND, m) by timing)
_kernel_sums_tuned = triton.autotune(configs=_TUNE_CONFIGS, key=["D", "KIND", "m"])(_kernel_sums)


def _interpreting() -> bool:
    import os

    return os.environ.get("TRITON_INTERPRET") == "1"


def kernel_code(kernel):
    """``(KIND, p0, p1, c0, c1, c2)`` for a supported kernel, or None."""
    from driftlab.kernels import Gaussian, InverseMultiquadric, Laplace, Matern

    if isinstance(kernel, Gaussian):
        return 0, 0.5 / kernel.bandwidth**2, 0.0, 0.0, 0.0, 0.0
    if isinstance(kernel, Laplace):
        return 1, 1.0 / kernel.temperature, 0.0, 0.0, 0.0, 0.0
    if isinstance(kernel, Matern) and kernel.nu == 0.5:
        return 1, 1.0 / kernel.length_scale, 0.0, 0.0, 0.0, 0.0
    if isinstance(kernel, Matern) and getattr(kernel, "_half_integer", False) and len(kernel._poly) <= 3:
        poly = list(kernel._poly)[::-1] + [0.0] * (3 - len(kernel._poly))  # ascending c0, c1, c2
        return 2, float(kernel._rate), 0.0, float(poly[0]), float(poly[1]), float(poly[2])
    if isinstance(kernel, InverseMultiquadric):
        return 3, 1.0 / kernel.scale**2, float(kernel.beta), 0.0, 0.0, 0.0
    return None


def triton_sums(kernel, x, y, log_weights=None, mask_self=False, block_m=None, block_n=None):
    """``(log_total, shift)`` for float32 tensors (CUDA, or CPU under the interpreter).

    Block sizes: autotuned on a GPU unless given; 16 x 32 under the interpreter (speed).
    """
    torch = B.torch()
    code = kernel_code(kernel)
    if code is None:
        raise ValueError(f"the triton backend does not support {type(kernel).__name__}")
    kind, p0, p1, c0, c1, c2 = code
    n, d = x.shape
    m = y.shape[0]
    c = y.mean(dim=0)
    xc = (x - c).contiguous()
    yc = (y - c).contiguous()
    block_d = max(16, 1 << (d - 1).bit_length())
    out_c = torch.empty((n, block_d), dtype=torch.float32, device=x.device)
    out_l = torch.empty((n,), dtype=torch.float32, device=x.device)
    lw = log_weights.contiguous() if log_weights is not None else xc  # dummy pointer when absent
    args = (xc, yc, lw, out_c, out_l, n, m, xc.stride(0), yc.stride(0), p0, p1, c0, c1, c2)
    flags = dict(D=d, KIND=kind, HAS_LW=log_weights is not None, MASK_SELF=bool(mask_self), BLOCK_D=block_d)
    if block_m is None and block_n is None and not _interpreting():
        _kernel_sums_tuned[lambda meta: (triton.cdiv(n, meta["BLOCK_M"]),)](*args, **flags)
    else:
        bm = block_m or (16 if _interpreting() else 64)
        bnn = block_n or (32 if _interpreting() else 64)
        _kernel_sums[(triton.cdiv(n, bm),)](*args, BLOCK_M=bm, BLOCK_N=bnn, **flags)
    shift = out_c[:, :d] - xc
    empty = ~torch.isfinite(out_l)
    shift = torch.where(empty[:, None], torch.zeros_like(shift), shift)
    return out_l, shift


__all__ = ["triton_sums", "kernel_code"]
