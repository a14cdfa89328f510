r"""Triton kernel for radial kernel sums (CUDA; CPU through ``TRITON_INTERPRET=1``).

One program owns ``BLOCK_M`` query rows and sweeps the references in ``BLOCK_N`` tiles.
Squared distances by *direct differences* (a static loop over the d coordinates, no
cancellation near r = 0; loads from padded row-major or, ``layout="coord"``, contiguous
coordinate-major copies) or, opt-in for squared-distance kernels, by the centred
inner-product expansion on the tensor cores; the log-profile in base-2 units (one ``exp2``
per pair, constants pre-scaled by log2 e). Three ways to sum (``method``):

* ``fma``: fixed reference exponent 0 (every profile has log k <= 0 and the log-weights are
  shifted to max 0), per-pair register accumulators of ``p`` and ``p (y - x)`` on the FMA
  units, one row reduction at the end (d <= 8);
* ``dot``: online softmax (running maximum, rescaled accumulator) with the weighted
  reference sum *and* the normaliser in one ``tl.dot`` with the augmented references
  ``[y | 1 | 0...]`` (3xTF32 on the tensor cores: float32 accuracy), any d;
* ``dot_fixed``: the same tensor-core product with the fixed reference of ``fma``.

The fixed-reference methods redo rows whose normaliser is too small to trust with ``dot``.
Only the last, partial reference tile is masked. Outputs the row log-normaliser and the
shift. Per pair: ``2d`` FMA-pipe operations for the distance, a few for the profile, one
``ex2`` on the special-function units (H100: ~4.1e12 ex2/s bounds the pair rate).

Supported profiles (``KIND``): 0 Gaussian ``-p0 r^2``; 1 Laplace ``-p0 r``;
2 exponential-polynomial (half-integer Matérn) ``log(c0 + c1 z + c2 z^2) - z``, ``z = p0 r``;
3 inverse multiquadric ``-p1 log(1 + p0 r^2)``. Anything else uses the torch backend.

Importing this module needs ``triton``; it is an optional dependency (extra ``gpu``).
``TRITON_INTERPRET`` must be set before this module is first imported.
"""

from __future__ import annotations

import math

import triton
import triton.language as tl

from driftlab import _backend as B
from driftlab.engine._triton_backend import FMA_MAX_DIM, _block_d, fits, kernel_code

LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453


@triton.jit
def _coord_diff(XC, YC, rows, cols, rmask, cmask, n, m, K: tl.constexpr, BLOCK_D: tl.constexpr,
                CMAJOR: tl.constexpr, MASKED: tl.constexpr):
    """(BLOCK_M, BLOCK_N) differences y_jK - x_iK of coordinate K.

    ``CMAJOR``: XC, YC are coordinate-major (d, n) / (d, m) copies, so a tile's coordinate is one
    contiguous (vectorisable) load; else they are the padded row-major (n, BLOCK_D) arrays.
    """
    if CMAJOR:
        yp = YC + K * m + cols
        xp = XC + K * n + rows
    else:
        yp = YC + cols * BLOCK_D + K
        xp = XC + rows * BLOCK_D + K
    if MASKED:
        yk = tl.load(yp, mask=cmask, other=0.0)
    else:
        yk = tl.load(yp)
    return yk[None, :] - tl.load(xp, mask=rmask, other=0.0)[:, None]


@triton.jit
def _logit(r2, LW, rows, cols, cmask, p0, p1, c0, c1, c2, KIND: tl.constexpr, HAS_LW: tl.constexpr,
           MASK_SELF: tl.constexpr, MASKED: tl.constexpr, UNIT: tl.constexpr = False,
           SQRT_FMA: tl.constexpr = False):
    """log2 k(r) + log2 w_j for a tile of squared distances (p0 pre-scaled, see ``_base2``);
    -inf on masked columns and, with ``MASK_SELF``, on the diagonal. ``UNIT``: distances in
    units where the rate is 1 (kinds 0-2, see ``_unit_scale``; kind 0 then takes ``r2 = -r^2``);
    ``SQRT_FMA``: r by
    :func:`_sqrt_fma` instead of the special-function unit."""
    if KIND == 0:
        if UNIT:
            logit = r2  # the caller passes -r^2 at unit rate (see _fma_tile)
        else:
            logit = r2 * (-p0)
    elif KIND == 3:
        logit = tl.log2(1.0 + p0 * r2) * (-p1)
    else:
        if SQRT_FMA:
            r = _sqrt_fma(r2)
        else:
            r = tl.sqrt(r2)
        if KIND == 1:
            if UNIT:
                logit = -r
            else:
                logit = r * (-p0)
        else:
            if UNIT:
                z = r
            else:
                z = p0 * r  # p0 = rate (natural units)
            logit = tl.log2(c0 + z * (c1 + z * c2)) - z * 1.4426950408889634
    if HAS_LW:
        if MASKED:
            logit += tl.load(LW + cols, mask=cmask, other=float("-inf"))[None, :]
        else:
            logit += tl.load(LW + cols)[None, :]
    elif MASKED:
        logit = tl.where(cmask[None, :], logit, float("-inf"))
    if MASK_SELF:
        logit = tl.where(rows[:, None] != cols[None, :], logit, float("-inf"))
    return logit


@triton.jit
def _dot_tile(XC, YC, YA, LW, rows, cols, rmask, n, m, dims, xt, acc, mx, p0, p1, c0, c1, c2,
              D: tl.constexpr, BLOCK_D: tl.constexpr, KIND: tl.constexpr, HAS_LW: tl.constexpr,
              MASK_SELF: tl.constexpr, EXPAND: tl.constexpr, PREC: tl.constexpr, ONLINE: tl.constexpr,
              CMAJOR: tl.constexpr, MASKED: tl.constexpr):
    """One reference tile: add ``p @ [y | 1]``, with ``p`` relative to the running row maximum
    (``ONLINE``: the accumulator is rescaled when it grows) or to the fixed reference 0."""
    cmask = cols < m
    if MASKED:
        yt = tl.load(YA + cols[:, None] * BLOCK_D + dims[None, :], mask=cmask[:, None], other=0.0)
    else:
        yt = tl.load(YA + cols[:, None] * BLOCK_D + dims[None, :])
    if EXPAND:
        # |x|^2 + |y|^2 - 2 x.y on centred data (3xTF32 dot: error ~ eps32 R^2 in r^2)
        x2 = tl.sum(xt * xt, axis=1)
        y2 = tl.sum(yt * yt, axis=1) - 1.0  # column D of yt is the constant 1
        r2 = x2[:, None] + y2[None, :] - 2.0 * tl.dot(xt, tl.trans(yt), input_precision=PREC)
        r2 = tl.maximum(r2, 0.0)
    else:
        # Layout anchor: starting r2 from a (zeroed) tensor-core product puts the whole
        # tile in the accumulator layout, so p needs no shared-memory trip before the
        # second product (measured 1.6x on an H100, benchmarks/bench_triton.py).
        r2 = tl.dot(xt, tl.trans(yt), input_precision="tf32") * 0.0
        for k in tl.static_range(D):
            diff = _coord_diff(XC, YC, rows, cols, rmask, cmask, n, m, k, BLOCK_D, CMAJOR, MASKED)
            r2 += diff * diff
    logit = _logit(r2, LW, rows, cols, cmask, p0, p1, c0, c1, c2, KIND, HAS_LW, MASK_SELF, MASKED)
    if ONLINE:
        new = tl.maximum(mx, tl.max(logit, axis=1))
        safe = tl.where(new == float("-inf"), 0.0, new)
        p = tl.exp2(logit - safe[:, None])
        acc = acc * tl.exp2(mx - safe)[:, None] + tl.dot(p, yt, input_precision=PREC)
    else:
        new = mx  # stays 0: logit <= 0 (profile <= 1, weights normalised), no overflow
        acc += tl.dot(tl.exp2(logit), yt, input_precision=PREC)
    return acc, new


@triton.jit
def _kernel_sums(XC, YC, X, YA, LW, OUT_C, OUT_L, n, m, MB, p0, p1, c0, c1, c2,
                 D: tl.constexpr, BLOCK_D: tl.constexpr, KIND: tl.constexpr, HAS_LW: tl.constexpr,
                 MASK_SELF: tl.constexpr, EXPAND: tl.constexpr, PREC: tl.constexpr, ONLINE: tl.constexpr,
                 CMAJOR: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < n
    dims = tl.arange(0, BLOCK_D)
    xt = tl.load(X + rows[:, None] * BLOCK_D + dims[None, :], mask=rmask[:, None], other=0.0)
    if ONLINE:
        mx = tl.full([BLOCK_M], float("-inf"), tl.float32)
    else:
        mx = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    m_full = (m // BLOCK_N) * BLOCK_N
    for j0 in range(0, m_full, BLOCK_N):
        acc, mx = _dot_tile(XC, YC, YA, LW, rows, j0 + tl.arange(0, BLOCK_N), rmask, n, m, dims, xt, acc, mx,
                            p0, p1, c0, c1, c2, D, BLOCK_D, KIND, HAS_LW, MASK_SELF, EXPAND, PREC, ONLINE,
                            CMAJOR, False)
    if m_full < m:
        acc, mx = _dot_tile(XC, YC, YA, LW, rows, m_full + tl.arange(0, BLOCK_N), rmask, n, m, dims, xt, acc, mx,
                            p0, p1, c0, c1, c2, D, BLOCK_D, KIND, HAS_LW, MASK_SELF, EXPAND, PREC, ONLINE,
                            CMAJOR, True)
    s = tl.sum(tl.where(dims[None, :] == D, acc, 0.0), axis=1)  # column D accumulated the weights
    ssafe = tl.where(s > 0, s, 1.0)
    cent = acc / ssafe[:, None]
    tl.store(OUT_C + rows[:, None] * BLOCK_D + dims[None, :], cent, mask=rmask[:, None])
    lse = tl.where(s > 0, (mx + tl.log2(ssafe)) * 0.6931471805599453, float("-inf"))
    tl.store(OUT_L + rows, lse, mask=rmask)


#: 2^f ~= 1 + f (C1 + f (C2 + f (C3 + f (C4 + f C5)))) on |f| <= 1/2: near-minimax in relative error
#: (Lawson's iteration in float64; float64 max relative error 1.1e-7, 1.6e-7 = 1.3 ulp after float32
#: rounding and float32 Horner; the special-function unit's ``ex2.approx`` is documented at
#: 2^-22.5 = 1.8e-7); ``tests/test_engine_triton_fma.py`` re-derives the bound with mpmath
EXP2_POLY = (0.6931470632553101, 0.24022217094898224, 0.0555061511695385, 0.009672933258116245,
             0.001330221421085298)
#: the FMA-pipe square root: ``0x5f375a86 - (bits >> 1)`` (Lomont's constant, 1.8e-3 relative) and
#: three Newton steps of the reciprocal square root (4.6e-6, then float32 round-off)
RSQRT_MAGIC = 0x5F375A86


@triton.jit
def _exp2_fma(t):
    """2^t for t <= 0 (t = -inf allowed) on the FMA pipe: round-to-nearest reduction by the
    1.5 * 2^23 shifter, a degree-5 polynomial in f = t - n (|f| <= 1/2) and the integer n added
    to the exponent field. Results below 2^-126 flush to 0, as the special-function unit's
    ``ex2.approx.ftz`` does (n >= -126 with f >= 0 keeps the exponent field >= 1)."""
    k = t + 12582912.0
    nf = k - 12582912.0
    f = t - nf
    p = 0.001330221421085298 * f + 0.009672933258116245
    p = p * f + 0.0555061511695385
    p = p * f + 0.24022217094898224
    p = p * f + 0.6931470632553101
    p = p * f + 1.0
    bits = p.to(tl.int32, bitcast=True) + (k.to(tl.int32, bitcast=True) << 23)
    return tl.where(t >= -126.0, bits.to(tl.float32, bitcast=True), 0.0)


@triton.jit
def _sqrt_fma(x):
    """sqrt(x) for x >= 0 on the FMA pipe (integer estimate of 1/sqrt, three Newton steps, x / sqrt x);
    exact 0 at x = 0, float32 round-off (a few ulp) elsewhere."""
    y = (0x5F375A86 - (x.to(tl.int32, bitcast=True) >> 1)).to(tl.float32, bitcast=True)
    h = 0.5 * x
    y = y * (1.5 - h * y * y)
    y = y * (1.5 - h * y * y)
    y = y * (1.5 - h * y * y)
    return x * y


@triton.jit
def _wrapped_diff(XC, YC, rows, cols, rmask, cmask, n, m, per, inv_per, K: tl.constexpr,
                  BLOCK_D: tl.constexpr, CMAJOR: tl.constexpr, MASKED: tl.constexpr, WRAP: tl.constexpr):
    """Differences of coordinate K; ``WRAP``: the minimum image ``dl - L rint(dl / L)`` (rint by
    the 1.5 * 2^23 shifter: round half to even, |dl / L| < 2^22; ``inv_per`` = 1 / L rounded, so a
    displacement within an ulp of exactly L / 2 may take either of its two equally near images)."""
    dk = _coord_diff(XC, YC, rows, cols, rmask, cmask, n, m, K, BLOCK_D, CMAJOR, MASKED)
    if WRAP:
        dk = dk - per * ((dk * inv_per + 12582912.0) - 12582912.0)
    return dk


@triton.jit
def _fma_tile(XC, YC, LW, rows, rid, cols, rmask, cmask, n, m, acc, mx, p0, p1, c0, c1, c2, per, inv_per,
              D: tl.constexpr, BLOCK_D: tl.constexpr, KIND: tl.constexpr, HAS_LW: tl.constexpr,
              MASK_SELF: tl.constexpr, CMAJOR: tl.constexpr, MASKED: tl.constexpr, UNIT: tl.constexpr,
              EXP_FMA: tl.constexpr, SQRT_FMA: tl.constexpr, WRAP: tl.constexpr, ONLINE: tl.constexpr):
    """One (BLOCK_M, BLOCK_N) tile of the sums, accumulated elementwise.

    ``acc`` is the tuple ``(sum p, sum p (y_0 - x_0), ..., sum p (y_{D-1} - x_{D-1}))`` of
    register tiles (a Triton tuple: the coordinate loop is unrolled at compile time); ``mx`` the
    row reference (0, or the running maximum with ``ONLINE``, when the accumulators are rescaled
    as it grows). ``EXP_FMA`` / ``SQRT_FMA``: this tile's exponentials / square roots on the FMA
    pipe instead of the special-function unit."""
    # NEG (Gaussian at unit rate): accumulate -r^2 itself, the negations folding into the
    # multiply-adds (a separate negation before the ex2 costs an instruction per pair)
    NEG: tl.constexpr = UNIT and KIND == 0
    d0 = _wrapped_diff(XC, YC, rows, cols, rmask, cmask, n, m, per, inv_per, 0, BLOCK_D, CMAJOR, MASKED, WRAP)
    diffs = (d0,)
    if NEG:
        r2 = 0.0 - d0 * d0
    else:
        r2 = d0 * d0
    for k in tl.static_range(1, D):
        dk = _wrapped_diff(XC, YC, rows, cols, rmask, cmask, n, m, per, inv_per, k, BLOCK_D, CMAJOR, MASKED, WRAP)
        diffs = diffs + (dk,)
        if NEG:
            r2 -= dk * dk
        else:
            r2 += dk * dk
    logit = _logit(r2, LW, rid, cols, cmask, p0, p1, c0, c1, c2, KIND, HAS_LW, MASK_SELF, MASKED, UNIT, SQRT_FMA)
    if ONLINE:
        new = tl.maximum(mx, tl.max(logit, axis=1))
        safe = tl.where(new == float("-inf"), 0.0, new)
        alpha = tl.exp2(mx - safe)[:, None]
        logit = logit - safe[:, None]
        acc0 = acc[0] * alpha
    else:
        new = mx  # stays 0: logit <= 0 (profile <= 1, weights normalised), no overflow
        acc0 = acc[0]
    if EXP_FMA:
        p = _exp2_fma(logit)
    else:
        p = tl.exp2(logit)
    out = (acc0 + p,)
    for k in tl.static_range(D):
        if ONLINE:
            out = out + (acc[k + 1] * alpha + p * diffs[k],)
        else:
            out = out + (acc[k + 1] + p * diffs[k],)
    return out, new


@triton.jit
def _kernel_sums_fma(XC, YC, LW, RIDX, OUT_S, OUT_SH, OUT_MX, n, m, MB, p0, p1, c0, c1, c2, per, inv_per,
                     D: tl.constexpr, BLOCK_D: tl.constexpr, KIND: tl.constexpr, HAS_LW: tl.constexpr,
                     MASK_SELF: tl.constexpr, CMAJOR: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                     UNIT: tl.constexpr = False, GROUP: tl.constexpr = 1, EMU_EXP: tl.constexpr = 0,
                     EMU_SQRT: tl.constexpr = 0, WRAP: tl.constexpr = False, ONLINE: tl.constexpr = False,
                     HAS_RIDX: tl.constexpr = False):
    """Small d (<= 8): sums of weights and displacements on the FMA units.

    Every pair adds ``p`` and ``p (y_j - x_i)`` into (BLOCK_M, BLOCK_N) register accumulators,
    reduced across the columns once at the end: no per-tile reductions, no layout changes, no
    rounding beyond float32. Fixed reference 0 (``ONLINE`` false): rows whose sum is too small
    to trust (far field) are redone by the caller; ``ONLINE``: a running row maximum (any logits).

    The loop takes ``GROUP`` reference tiles per step; in ``EMU_EXP`` of them the exponentials,
    and in ``EMU_SQRT`` others the square roots (``KIND`` 1, 2), are evaluated on the FMA pipe
    (:func:`_exp2_fma`, :func:`_sqrt_fma`), so that one instruction stream keeps both the FMA
    and the special-function units busy. ``UNIT``: the coordinates were pre-scaled so that the
    profile's rate is 1 (one multiply per pair fewer). ``WRAP``: minimum-image differences on
    the torus of period ``per``. ``HAS_RIDX``: query row i is the reference ``RIDX[i]`` for the
    self-mask (the far-field rows of a self-masked call, redone as a subset).
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < n
    if HAS_RIDX:
        rid = tl.load(RIDX + rows, mask=rmask, other=0)
    else:
        rid = rows
    acc = (tl.zeros([BLOCK_M, BLOCK_N], tl.float32),)
    for k in tl.static_range(D):
        acc = acc + (tl.zeros([BLOCK_M, BLOCK_N], tl.float32),)
    if ONLINE:
        mx = tl.full([BLOCK_M], float("-inf"), tl.float32)
    else:
        mx = tl.zeros([BLOCK_M], tl.float32)
    step = GROUP * BLOCK_N
    m_group = (m // step) * step
    for j0 in range(0, m_group, step):
        for g in tl.static_range(GROUP):
            cols = j0 + g * BLOCK_N + tl.arange(0, BLOCK_N)
            acc, mx = _fma_tile(XC, YC, LW, rows, rid, cols, rmask, cols < m, n, m, acc, mx, p0, p1, c0, c1, c2,
                                per, inv_per, D, BLOCK_D, KIND, HAS_LW, MASK_SELF, CMAJOR, False, UNIT,
                                g < EMU_EXP, g >= GROUP - EMU_SQRT, WRAP, ONLINE)
    m_full = (m // BLOCK_N) * BLOCK_N
    for j0 in range(m_group, m_full, BLOCK_N):
        cols = j0 + tl.arange(0, BLOCK_N)
        acc, mx = _fma_tile(XC, YC, LW, rows, rid, cols, rmask, cols < m, n, m, acc, mx, p0, p1, c0, c1, c2,
                            per, inv_per, D, BLOCK_D, KIND, HAS_LW, MASK_SELF, CMAJOR, False, UNIT, False, False,
                            WRAP, ONLINE)
    if m_full < m:
        cols = m_full + tl.arange(0, BLOCK_N)
        acc, mx = _fma_tile(XC, YC, LW, rows, rid, cols, rmask, cols < m, n, m, acc, mx, p0, p1, c0, c1, c2,
                            per, inv_per, D, BLOCK_D, KIND, HAS_LW, MASK_SELF, CMAJOR, True, UNIT, False, False,
                            WRAP, ONLINE)
    tot = tl.sum(acc[0], axis=1)
    tl.store(OUT_S + rows, tot, mask=rmask)
    if ONLINE:
        tl.store(OUT_MX + rows, mx, mask=rmask)
    inv = tl.where(tot > 0, 1.0 / tl.where(tot > 0, tot, 1.0), 0.0)
    for k in tl.static_range(D):
        tl.store(OUT_SH + rows * D + k, tl.sum(acc[k + 1], axis=1) * inv, mask=rmask)


_TUNE_CONFIGS = [
    triton.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=w, num_stages=st)
    for bm, bn, w, st in ((128, 64, 4, 3), (128, 32, 4, 2), (64, 64, 4, 2), (128, 64, 8, 2),
                          (256, 64, 8, 3), (64, 32, 4, 2))
]
_FMA_BLOCKS = ((32, 32, 4), (64, 32, 4), (32, 64, 4), (64, 64, 4), (64, 64, 8), (128, 64, 8), (128, 32, 4),
               # 4 pairs per thread: ~120 registers at d = 8 instead of ~210 (twice the
               # resident warps; benchmarks/sass_probe.py), for d = 5..8
               (32, 32, 8), (16, 32, 4))
#: shares of the special-function work moved to the FMA pipe, ``(GROUP, EMU_EXP, EMU_SQRT)``: of
#: every GROUP reference tiles, EMU_EXP evaluate exp2 and EMU_SQRT (others) the square root by FMA
#: sequences. (1, 0, 0) is the plain kernel. Each emulated exp2 costs ~12 issue slots instead of
#: one MUFU.EX2, each square root ~13 instead of one MUFU: worth it only where the
#: special-function unit, not instruction issue, bounds the rate (benchmarks/sass_probe.py
#: prints both bounds per variant; the autotuner times them on the GPU and keeps the fastest)
EMULATION_SHARES = ((1, 0, 0), (4, 1, 0), (2, 1, 0), (4, 0, 1), (2, 0, 1), (4, 1, 1))
#: the block the emulated variants are tried with (among the fastest plain ones at d <= 3 on an
#: H100; one block keeps the autotuning to 9 + 2 (Gaussian) or 9 + 5 (Laplace) launches)
_EMU_BLOCKS = ((64, 32, 4),)
#: emulation is tried up to this many coordinates (beyond, issue and registers bound the rate)
EMU_MAX_DIM = 4


def _fma_config(bm, bn, w, share):
    g, e, q = share
    return triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "GROUP": g, "EMU_EXP": e, "EMU_SQRT": q},
                         num_warps=w, num_stages=1)


_FMA_CONFIGS = ([_fma_config(bm, bn, w, (1, 0, 0)) for bm, bn, w in _FMA_BLOCKS]
                + [_fma_config(bm, bn, w, sh) for sh in EMULATION_SHARES[1:] for bm, bn, w in _EMU_BLOCKS])


def _prune_fma(configs, named_args, **kwargs):
    """Drop the variants that cannot differ or are not meant for the problem: square-root
    emulation without a square root (kinds 0, 3), any emulation above ``EMU_MAX_DIM``, and
    online/fallback launches (those run with fixed blocks)."""
    kind, d = kwargs.get("KIND"), kwargs.get("D")
    keep = []
    for c in configs:
        if c.kwargs["EMU_SQRT"] and kind not in (1, 2):
            continue
        if (c.kwargs["EMU_EXP"] or c.kwargs["EMU_SQRT"]) and d is not None and d > EMU_MAX_DIM:
            continue
        keep.append(c)
    return keep


_TUNE_KEY = ["D", "KIND", "HAS_LW", "MASK_SELF", "CMAJOR", "MB"]
#: autotuned launchers for real GPUs (block sizes chosen by timing, per problem class and size bucket)
_kernel_sums_tuned = triton.autotune(configs=_TUNE_CONFIGS, key=_TUNE_KEY + ["EXPAND", "ONLINE"])(_kernel_sums)
_kernel_sums_fma_tuned = triton.autotune(configs=_FMA_CONFIGS, key=_TUNE_KEY + ["UNIT", "WRAP"],
                                         prune_configs_by={"early_config_prune": _prune_fma})(_kernel_sums_fma)
#: the fixed-reference (FMA) kernel handles up to FMA_MAX_DIM coordinates and is the automatic
#: choice up to this many (H100, N = M = 2^16: 2.1e12 pairs/s at d = 2,
#: 1.4e12 at d = 3, 4.3e11 at d = 8 where its (d + 2) register accumulators spill)
AUTO_FMA_MAX_DIM = 4


def _interpreting() -> bool:
    import os

    return os.environ.get("TRITON_INTERPRET") == "1"


def _base2(kind, p0, p1):
    """Pre-scale the profile constants so that the kernel computes log2 k."""
    if kind in (0, 1):
        return p0 * LOG2E, p1
    # kind 3: -p1 log2(1 + p0 r^2) is already in base 2; kind 2 converts inside the kernel
    return p0, p1


class _Prepared:
    """Centred float32 copies of one problem: padded rows ``xa`` (n, BLOCK_D) and ``ya``
    (m, BLOCK_D) with ``ya[:, d] = 1``, and, for ``layout="coord"``, coordinate-major ``xc``
    (d, n) and ``yc`` (d, m) for the distance loads (else ``xc, yc = xa, ya``)."""

    def __init__(self, xa, ya, d, coord, yc=None):
        self.xa, self.ya, self.d, self.coord = xa, ya, d, coord
        self.block_d = ya.shape[1]
        self.xc = xa[:, :d].t().contiguous() if coord else xa
        self.yc = yc if yc is not None else (ya[:, :d].t().contiguous() if coord else ya)

    @classmethod
    def centred(cls, x, y, coord):
        torch = B.torch()
        n, m, d = x.shape[0], y.shape[0], x.shape[1]
        block_d = _block_d(d)
        c = y.mean(dim=0)
        xa = torch.zeros((n, block_d), dtype=torch.float32, device=x.device)
        xa[:, :d] = x - c
        ya = torch.zeros((m, block_d), dtype=torch.float32, device=x.device)
        ya[:, :d] = y - c
        ya[:, d] = 1.0
        return cls(xa, ya, d, coord)

    def rows(self, idx):
        """The same problem for the query rows ``idx`` (a slice or an index tensor); the
        references' copies are shared, not rebuilt (the far-field fallback calls this per row)."""
        return _Prepared(self.xa[idx], self.ya, self.d, self.coord, yc=self.yc)


def _flags(pre, lw2, code, mask_self):
    return {"D": pre.d, "BLOCK_D": pre.block_d, "KIND": code[0], "HAS_LW": lw2 is not None,
            "MASK_SELF": bool(mask_self), "CMAJOR": bool(pre.coord)}


def _launch_dot(pre, lw2, code, mask_self, expand, precision, online, block_m, block_n):
    """Tensor-core kernel: (log_total (n,), shift (n, d)) in natural units, lw2 in base 2.

    ``online``: online softmax (any range of logits); else the fixed reference 0 (logits <= 0),
    whose row sums underflow in the far field (the caller checks them, see ``_TRUST``)."""
    torch = B.torch()
    _, p0, p1, c0, c1, c2 = code
    n, m = pre.xa.shape[0], pre.ya.shape[0]
    out_c = torch.empty((n, pre.block_d), dtype=torch.float32, device=pre.xa.device)
    out_l = torch.empty((n,), dtype=torch.float32, device=pre.xa.device)
    args = (pre.xc, pre.yc, pre.xa, pre.ya, pre.xa if lw2 is None else lw2, out_c, out_l, n, m,
            max(m, 1).bit_length(), p0, p1, c0, c1, c2)
    flags = dict(_flags(pre, lw2, code, mask_self), EXPAND=bool(expand), PREC=precision, ONLINE=bool(online))
    if block_m is None and block_n is None and not _interpreting():
        _kernel_sums_tuned[lambda meta: (triton.cdiv(n, meta["BLOCK_M"]),)](*args, **flags)
    else:
        bm = block_m or (16 if _interpreting() else 64)
        bnn = block_n or (32 if _interpreting() else 64)
        _kernel_sums[(triton.cdiv(n, bm),)](*args, BLOCK_M=bm, BLOCK_N=bnn, **flags)
    return out_l, out_c[:, :pre.d] - pre.xa[:, :pre.d]


def _unit_scale(code):
    """Factor that brings the profile's rate to 1 (``UNIT`` kernels: kinds 0-2), or None."""
    kind, p0 = code[0], code[1]
    if kind == 0:
        return math.sqrt(p0)  # -p0 r^2 (base 2) = -(sqrt(p0) r)^2
    if kind in (1, 2):
        return p0  # -p0 r (base 2), or z = p0 r (natural units)
    return None


def _check_share(share):
    if share is None:
        return None
    if (not isinstance(share, tuple) or len(share) != 3 or not all(isinstance(v, int) for v in share)
            or share[0] not in (1, 2, 4) or min(share[1:]) < 0 or share[1] + share[2] > share[0]):
        raise ValueError(f"emulate must be a tuple (group in 1, 2, 4; n_exp >= 0; n_sqrt >= 0) with "
                         f"n_exp + n_sqrt <= group, got {share!r}")
    return share


def _launch_fma(pre, lw2, code, mask_self, block_m, block_n, period=None, online=False, ridx=None, share=None):
    """FMA kernel: (log_total (n,), shift (n, d)), natural units, lw2 in base 2.

    Fixed reference (``online`` false): p = 2^(log2 k + lw2) <= 1, row sums checked by the
    caller; ``online``: running row maximum (the far-field fallback). ``period``: minimum-image
    displacements. ``ridx``: the query rows of ``pre`` are ``ridx`` (int32) of the self-mask.
    ``share``: ``(GROUP, EMU_EXP, EMU_SQRT)``, see :data:`EMULATION_SHARES` (default: autotuned
    on a GPU, plain otherwise). Kinds 0-2 run on coordinates pre-scaled to unit rate."""
    torch = B.torch()
    _, p0, p1, c0, c1, c2 = code
    n, m = pre.xa.shape[0], pre.ya.shape[0]
    dev = pre.xa.device
    scale = _unit_scale(code)
    xc, yc = pre.xc, pre.yc
    if scale is not None:
        xc, yc = xc * scale, yc * scale
    per = 1.0 if period is None else float(period) * (scale or 1.0)
    out_s = torch.empty((n,), dtype=torch.float32, device=dev)
    out_sh = torch.empty((n, pre.d), dtype=torch.float32, device=dev)
    out_mx = torch.empty((n,), dtype=torch.float32, device=dev) if online else out_s
    args = (xc, yc, pre.xa if lw2 is None else lw2, out_s if ridx is None else ridx, out_s, out_sh, out_mx, n, m,
            max(m, 1).bit_length(), p0, p1, c0, c1, c2, per, 1.0 / per)
    flags = dict(_flags(pre, lw2, code, mask_self), UNIT=scale is not None, WRAP=period is not None,
                 ONLINE=bool(online), HAS_RIDX=ridx is not None)
    if block_m is None and block_n is None and share is None and not online and not _interpreting():
        _kernel_sums_fma_tuned[lambda meta: (triton.cdiv(n, meta["BLOCK_M"]),)](*args, **flags)
    else:
        bm = block_m or (16 if _interpreting() else 64)
        bnn = block_n or 32
        g, e, q = share or (1, 0, 0)
        _kernel_sums_fma[(triton.cdiv(n, bm),)](*args, BLOCK_M=bm, BLOCK_N=bnn, GROUP=g, EMU_EXP=e, EMU_SQRT=q,
                                                 num_stages=1, **flags)
    shift = out_sh if scale is None else out_sh / scale
    log_total = torch.log(out_s)
    if online:
        log_total = log_total + out_mx * LN2
    return log_total, shift


#: a fixed-reference row sum is trusted when it is >= m 2^-103: below it, float32 terms under
#: 2^-126 (flushed to zero) could be a relative 2^-23 of it
_TRUST = -103.0 * LN2

METHODS = ("auto", "fma", "dot", "dot_fixed")


def triton_sums(kernel, x, y, log_weights=None, mask_self=False, block_m=None, block_n=None,
                expand=False, precision="tf32x3", method="auto", layout="row", period=None, emulate=None):
    """``(log_total, shift)`` for float32 tensors (CUDA, or CPU under the interpreter).

    ``method``: ``"fma"`` -- fixed-reference sums on the FMA units (d <= 8); ``"dot"`` --
    online softmax with the weighted sum on the tensor cores (any d); ``"dot_fixed"`` -- the
    tensor-core sums with the fixed reference of ``fma`` (no running maximum, no rescaling);
    ``"auto"`` -- ``fma`` for d <= 4 unless ``expand``, else ``dot``. The fixed-reference
    methods redo every row whose normaliser falls below ``m * 2^-103`` (far field: float32
    underflow could bias it) with a running maximum: ``fma`` with its online variant (one launch
    for all such rows), ``dot_fixed`` with ``dot``.
    ``period``: minimum-image displacements ``dl - L rint(dl / L)`` on the torus of period L
    (``fma`` only, d <= 8).
    ``emulate``: ``(group, n_exp, n_sqrt)`` for ``fma`` -- of every ``group`` reference tiles,
    ``n_exp`` take their exponentials and ``n_sqrt`` others their square roots (Laplace, Matérn)
    from FMA sequences instead of the special-function unit (float32 accuracy: see
    :data:`EXP2_POLY`, :data:`RSQRT_MAGIC`); default: autotuned among :data:`EMULATION_SHARES`
    on a GPU, none otherwise.
    ``layout``: ``"row"`` -- distance loads from the padded row-major copies; ``"coord"`` --
    from coordinate-major copies (one contiguous load per tile and coordinate; an extra
    (d, n + m) copy). ``"dot_fixed"`` and ``"coord"`` are not yet measured on a GPU and are
    never chosen automatically (``benchmarks/bench_triton.py`` times them).
    Block sizes: autotuned on a GPU unless given; small fixed blocks under the interpreter.
    ``expand``: inner-product distances ``|x|^2 + |y|^2 - 2 x.y`` in the ``dot`` kernel, opt-in:
    their r^2 error ~ eps32 (|x - c|^2 + |y - c|^2) about the reference mean c grows with a
    query's distance from the data, not with r (on an H100 it lifted the Gaussian d = 8 rate
    from 5.3e11 to 6.2e11 pairs/s, and put a 1e-3 error on the shifts of queries 40 units from
    the data in d = 8, which the direct kernels compute to 1e-5);
    ``precision``: its ``tl.dot`` input precision ("tf32x3": float32 accuracy on the tensor
    cores; "ieee": FMA units; "tf32": ~1e-3 relative, not for reference results).
    """
    torch = B.torch()
    code = kernel_code(kernel)
    if code is None:
        raise ValueError(f"the triton backend does not support {type(kernel).__name__}")
    if precision not in ("tf32x3", "ieee", "tf32"):
        raise ValueError(f"precision must be 'tf32x3', 'ieee' or 'tf32', got {precision!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if layout not in ("row", "coord"):
        raise ValueError(f"layout must be 'row' or 'coord', got {layout!r}")
    kind = code[0]
    p0, p1 = _base2(kind, code[1], code[2])
    code = (kind, p0, p1, *code[3:])
    d = x.shape[1]
    m = y.shape[0]
    if expand and kind not in (0, 3):
        raise ValueError("expand=True needs a squared-distance profile (Gaussian or inverse multiquadric)")
    if period is not None:
        period = float(period)
        if not (period > 0 and math.isfinite(period)):
            raise ValueError(f"period must be finite and > 0, got {period!r}")
        if expand or d > FMA_MAX_DIM or method not in ("auto", "fma"):
            raise ValueError(f"a minimum-image torus (period) needs method='fma' (d <= {FMA_MAX_DIM}, "
                             f"direct distances); got method={method!r}, d = {d}, expand={expand}")
        method = "fma"
    if method == "auto":
        method = "fma" if (d <= AUTO_FMA_MAX_DIM and not expand) else "dot"
    if method == "fma" and (d > FMA_MAX_DIM or expand):
        raise ValueError(f"method='fma' needs d <= {FMA_MAX_DIM} and direct distances")
    if method == "dot_fixed" and expand:
        raise ValueError("method='dot_fixed' needs direct distances (expand=False)")
    share = _check_share(emulate)
    if share is not None and method != "fma":
        raise ValueError(f"emulate applies to method='fma', got method={method!r}")
    if not fits(x.shape[0], m, d):
        block_d = _block_d(d)
        raise ValueError(f"the triton backend handles at most 2^31 / {block_d} rows per set at d = {d}; got "
                         f"n = {x.shape[0]}, m = {m}: split the call or use backend='torch'")
    pre = _Prepared.centred(x, y, layout == "coord")
    lw_ref, lw2 = 0.0, None
    if log_weights is not None:
        fin = torch.isfinite(log_weights)
        lw_ref = float(log_weights[fin].max()) if bool(fin.any()) else 0.0
        lw2 = ((log_weights - lw_ref) * LOG2E).contiguous()
    if method == "dot":
        out_l, shift = _launch_dot(pre, lw2, code, mask_self, expand, precision, True, block_m, block_n)
    else:
        if method == "fma":
            out_l, shift = _launch_fma(pre, lw2, code, mask_self, block_m, block_n, period=period, share=share)
        else:
            out_l, shift = _launch_dot(pre, lw2, code, mask_self, False, precision, False, block_m, block_n)
        bad = ~(out_l >= _TRUST + math.log(m))  # also catches NaN
        if bool(bad.any()):
            idx = torch.nonzero(bad).flatten()
            if method == "fma":
                # one online launch for all of them; the self-mask compares their original indices
                ls2, sh2 = _launch_fma(pre.rows(idx), lw2, code, mask_self, None, None, period=period,
                                       online=True, ridx=idx.to(torch.int32).contiguous())
            elif mask_self:
                # keep the self-mask aligned: the subset's row i is the reference idx[i]
                lw_sub = torch.zeros((m,), dtype=torch.float32, device=x.device) if lw2 is None else lw2
                ls_b, sh_b = [], []
                for i in idx.tolist():
                    lw_i = lw_sub.clone()
                    lw_i[i] = float("-inf")
                    lb, sb = _launch_dot(pre.rows(slice(i, i + 1)), lw_i, code, False, False, precision, True,
                                         block_m, block_n)
                    ls_b.append(lb)
                    sh_b.append(sb)
                ls2, sh2 = torch.cat(ls_b), torch.cat(sh_b)
            else:
                ls2, sh2 = _launch_dot(pre.rows(idx), lw2, code, False, False, precision, True, block_m, block_n)
            out_l[idx] = ls2
            shift[idx] = sh2
    out_l = out_l + lw_ref
    empty = ~torch.isfinite(out_l)
    shift = torch.where(empty[:, None], torch.zeros_like(shift), shift)
    return out_l, shift


__all__ = ["fits", "kernel_code", "triton_sums"]
