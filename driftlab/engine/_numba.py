r"""Fused CPU kernel sums compiled by numba (optional dependency, ``pip install driftlab[fast]``).

One loop per (query row, column tile) computes, for every reference ``j`` of the tile, the
direct squared distance, the logit ``t = log w_j - a r^2`` (Gaussian) or ``log w_j - a r``
(Laplace, Matérn-1/2), ``p = e^t`` and the row sums ``sum_j p``, ``sum_j p (y_j - c)``: no
temporary, no second pass over memory. LLVM vectorises the loop (the reductions with
``reassoc``; checked with ``benchmarks/bench_cpu_ceiling.py --asm``), which it cannot do with a
call to libm's ``exp``, so the exponential is written out (:func:`fast_exp`):

* Cody-Waite range reduction ``t = n ln 2 + s``, ``|s| <= ln 2 / 2``, with
  ``n = rint(t / ln 2)`` and ``ln 2`` split into a head with trailing zero bits (``n ln2_hi``
  exact) and a tail;
* ``e^s = 1 + s + s^2 q(s)``, ``q`` a Chebyshev (near-minimax) fit of ``(e^s - 1 - s)/s^2``:
  degree 9 in float64, 4 in float32, Horner with FMAs;
* ``2^n`` built from the exponent bits: ``n + 1.5 * 2^52`` (``2^23``) holds ``n`` in its low
  mantissa bits, ``(bits + bias) << 52`` (``<< 23``) is ``2^n`` (an LLVM bit-cast, vectorised).

Its argument is clamped to ``[floor, 0]``, ``floor = log(tiny) + 0.5`` (as in the torch
backend, so that ``2^n`` stays a normal number); a logit below the floor contributes exactly 0
(the torch backend counts it as ``e^floor``: both are within ``m e^floor`` of the true sum,
i.e. <= 1.6 eps relative to any row sum the fast pass keeps, ``s >= m tiny / eps``). Measured accuracy of :func:`fast_exp` against mpmath (40 digits)
over the whole clamped range (``tests/test_engine_numba.py``): max relative error
:data:`EXP_REL_ERROR` (measured 2.2e-16 in float64 and 1.2e-7 in float32, ~1 ulp).

The semantics are those of :func:`driftlab.engine._torch.torch_sums`: the data are centred on
the reference mean, the log-weights are shifted by their largest finite value so that every
logit of the fixed-reference pass is ``<= 0`` (no overflow, no running max); rows whose sum
is below ``m tiny / eps`` or not finite (the far-field trap) are recomputed exactly by a
two-pass log-sum-exp (maximum first, then ``sum e^{t - max}``); rows without a finite logit
(all weights zero) are empty (``log_total = -inf``, shift 0). Within a tile the sums are
kept in the input dtype (SIMD lanes: partial sums of <= ``tile / lanes`` terms); across tiles
in float64. Self-masking is a select on the column index. On a minimum-image torus (d <= 8)
each displacement is wrapped, ``dl - L rint(dl / L)`` (round half to even, as the torch
backend), and the wrapped displacements are accumulated instead of the references'
coordinates (4-6x the torch backend there: 3.6-9e8 pairs/s on one thread, float32, d = 2..8).
``distance="expand"`` and the minimum image for d > 8 are declined (the torch backend computes
them); a lattice torus reaches this backend as R^d with the images appended by the dispatcher.

Numba is imported at the first call, never at ``import driftlab``; the compiled loops are
cached on disk (``cache=True``: numba writes them to ``__pycache__`` next to this file, or
under ``$NUMBA_CACHE_DIR``), so the first call of a new process loads instead of compiling.
Several threads (``torch.get_num_threads()``) split the rows between them (the loops release
the GIL; numba's own threading layer is not used).

Measured on one thread at N = M = 2^14 (``benchmarks/bench_engine.py``, ratio to its dense
baseline in the same dtype): float32 Gaussian / Laplace 25x / 24x at d = 2, 14x / 11x at
d = 8; float64 21x / 10x at d = 2, 17x / 14x at d = 8 (the torch backend: 2-5x). It runs at
0.5-0.9 of this core's FMA ceiling (``benchmarks/bench_cpu_ceiling.py``); see
``docs/architecture.md`` (The CPU default: the fused numba loop).
"""

from __future__ import annotations

import importlib.util
import math
import sys
import threading

import numpy as np

from driftlab.engine._registry import Backend, SumsCall, register

__all__ = ["EXP_REL_ERROR", "KINDS", "TILE_COLS", "fast_exp", "numba_importable", "numba_sums"]

#: FastForm kinds the fused loop evaluates: ``-a r^2`` (Gaussian) and ``-a r`` (Laplace)
KINDS = ("sq_exp", "exp")
#: columns per tile: the tile of ``(d + 1) x TILE_COLS`` reference values stays in L1/L2
TILE_COLS = 1024
#: widest d with a fully fused loop (coordinates unrolled); wider data go through an L1 buffer
FUSED_MAX_D = 8
#: stated max relative error of :func:`fast_exp` over ``[log(tiny) + 0.5, 0]`` (measured: see tests)
EXP_REL_ERROR = {"float64": 4e-16, "float32": 2.5e-7}

#: calls with fewer pairs run on one thread (a thread hand-off costs more than they take)
PARALLEL_MIN_PAIRS = 2**20

_LOCK = threading.Lock()
_POOL = None
_KERNELS: dict = {}
_NUMBA: dict = {}
_IMPORTABLE: bool | None = None

# coefficients of q(s) ~ (e^s - 1 - s) / s^2 on [-ln2/2, ln2/2], highest degree first
# (mpmath.chebyfit at 40 digits; max relative error of 1 + s + s^2 q(s): 1.6e-17 / 9.7e-9)
_Q64 = (2.5100375832561234e-08, 2.7620075879983367e-07, 2.7557268480310024e-06, 2.4801521322368692e-05,
        0.00019841269863040545, 0.0013888888917196719, 0.008333333333330065, 0.041666666666624164,
        0.16666666666666669, 0.5000000000000001)
_Q32 = (0.0013926175888627768, 0.008363173343241215, 0.041666556149721146, 0.16666577756404877, 0.5)


def numba_importable() -> bool:
    """Whether numba can be imported (checked once, without importing it)."""
    global _IMPORTABLE
    if _IMPORTABLE is None:
        _IMPORTABLE = importlib.util.find_spec("numba") is not None
    return _IMPORTABLE


def _build_core():
    """Import numba and define the typed exp (an ``overload`` per float width); once per process."""
    if _NUMBA:
        return _NUMBA
    import numba
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic, overload

    @intrinsic
    def pow2_bits(typingctx, kf):
        """``2^n`` from ``kf = n + 1.5 * 2^p`` (p = mantissa bits): ``(bits(kf) + bias) << p``."""
        if not isinstance(kf, types.Float):
            return None
        width = kf.bitwidth
        bias, shift = (1023, 52) if width == 64 else (127, 23)

        def codegen(context, builder, sig, args):
            ity = ir.IntType(width)
            i = builder.bitcast(args[0], ity)
            i = builder.add(i, ir.Constant(ity, bias))
            i = builder.shl(i, ir.Constant(ity, shift))
            return builder.bitcast(i, args[0].type)

        return kf(kf), codegen

    f64, f32 = np.float64, np.float32
    L2E64, HI64, LO64, SH64 = f64(1.4426950408889634), f64(6.93145751953125e-1), f64(1.42860682030941723212e-6), \
        f64(6755399441055744.0)
    L2E32, HI32, LO32, SH32 = f32(1.4426950408889634), f32(0.693359375), f32(-2.12194440e-4), f32(12582912.0)
    q64 = tuple(f64(c) for c in _Q64)
    q32 = tuple(f32(c) for c in _Q32)
    one64, one32 = f64(1.0), f32(1.0)

    def _fexp_stub(t):  # pragma: no cover - replaced by the overload inside compiled code
        raise NotImplementedError

    # the exp is compiled with 'contract' only (FMAs), never 'reassoc': reassociation could fold
    # the Cody-Waite split t - n hi - n lo into t - n (hi + lo) and lose the tail
    @overload(_fexp_stub, jit_options={"fastmath": {"contract"}, "cache": True})
    def _fexp_ov(t):
        if t == types.float64:
            c9, c8, c7, c6, c5, c4, c3, c2, c1, c0 = q64

            def impl(t):
                n = np.rint(t * L2E64)
                s = t - n * HI64
                s = s - n * LO64
                q = ((((((((c9 * s + c8) * s + c7) * s + c6) * s + c5) * s + c4) * s + c3) * s + c2) * s + c1) * s + c0
                return (one64 + s + s * s * q) * pow2_bits(n + SH64)
            return impl
        if t == types.float32:
            c4, c3, c2, c1, c0 = q32

            def impl(t):
                n = np.rint(t * L2E32)
                s = t - n * HI32
                s = s - n * LO32
                q = (((c4 * s + c3) * s + c2) * s + c1) * s + c0
                return (one32 + s + s * s * q) * pow2_bits(n + SH32)
            return impl
        return None

    @numba.njit(fastmath={"contract"}, cache=True, nogil=True)
    def exp_array(t, out):
        for i in range(t.shape[0]):
            out[i] = _fexp_stub(t[i])

    _NUMBA.update(numba=numba, fexp=_fexp_stub, exp_array=exp_array)
    return _NUMBA


def fast_exp(t):
    """The fused loop's exponential on a 1-D float32/float64 array ``t`` in ``[log(tiny) + 0.5, 0]``.

    Parameters
    ----------
    t : numpy.ndarray (k,)
        Arguments in the clamped range (outside it ``2^n`` leaves the normal numbers: no check).

    Returns
    -------
    numpy.ndarray (k,)
        ``e^t`` in the dtype of ``t``, max relative error :data:`EXP_REL_ERROR`.
    """
    t = np.ascontiguousarray(t)
    if t.ndim != 1 or t.dtype not in (np.float32, np.float64):
        raise TypeError(f"t must be a 1-D float32/float64 array, got {t.dtype} with shape {t.shape}")
    out = np.empty_like(t)
    _build_core()["exp_array"](t, out)
    return out


_FASTMATH = {"contract", "reassoc", "nsz"}  # reassoc: the row reductions vectorise (float round-off only)


def _kernel(kind: int, D: int, mask: bool, wrap: bool = False):
    """The compiled block functions for ``kind`` (0 Gaussian, 1 Laplace), ``D`` fused
    coordinates (1..FUSED_MAX_D) or ``D = 0`` (any d, through an L1 buffer of squared
    distances), and the self-mask (a compile-time constant: without it the loop has no
    index compare). ``wrap``: minimum-image displacements on the torus of period ``per``
    (fused widths only), accumulated instead of the references' coordinates."""
    if wrap and D == 0:
        raise ValueError("the minimum-image loop is compiled for d <= FUSED_MAX_D only")
    key = (kind, D, bool(mask), bool(wrap))
    with _LOCK:
        if key in _KERNELS:
            return _KERNELS[key]
        core = _build_core()
        numba, fexp = core["numba"], core["fexp"]
        KIND, DD, MASK, WRAP = kind, D, bool(mask), bool(wrap)

        @numba.njit(fastmath=_FASTMATH, cache=True, nogil=True)
        def fast_block(xc, yt, lw, a, floor, per, i0, i1, tc, out_s, out_acc):
            """Fixed-reference pass for rows [i0, i1): out_s[i] += sum_j p_ij, out_acc[i, k] += sum_j p_ij yt[k, j]."""
            m = yt.shape[1]
            d = yt.shape[0]
            z = a - a
            iper = (z + 1) / per if WRAP else z
            r2buf = np.empty(tc, dtype=yt.dtype)
            pbuf = np.empty(tc, dtype=yt.dtype)
            for j0 in range(0, m, tc):
                j1 = min(j0 + tc, m)
                for i in range(i0, i1):
                    skip = i if MASK else -1
                    if DD > 0:
                        x0 = xc[i, 0]
                        x1 = xc[i, 1] if DD > 1 else z
                        x2 = xc[i, 2] if DD > 2 else z
                        x3 = xc[i, 3] if DD > 3 else z
                        x4 = xc[i, 4] if DD > 4 else z
                        x5 = xc[i, 5] if DD > 5 else z
                        x6 = xc[i, 6] if DD > 6 else z
                        x7 = xc[i, 7] if DD > 7 else z
                        s = z
                        a0 = z
                        a1 = z
                        a2 = z
                        a3 = z
                        a4 = z
                        a5 = z
                        a6 = z
                        a7 = z
                        for jj in range(j0, j1):
                            j = np.uint64(jj)  # unsigned: no negative-index wraparound, so contiguous loads
                            v0 = yt[0, j]
                            d0 = v0 - x0
                            if WRAP:
                                d0 = d0 - per * np.rint(d0 * iper)
                            r2 = d0 * d0
                            if DD > 1:
                                v1 = yt[1, j]
                                d1 = v1 - x1
                                if WRAP:
                                    d1 = d1 - per * np.rint(d1 * iper)
                                r2 += d1 * d1
                            if DD > 2:
                                v2 = yt[2, j]
                                d2 = v2 - x2
                                if WRAP:
                                    d2 = d2 - per * np.rint(d2 * iper)
                                r2 += d2 * d2
                            if DD > 3:
                                v3 = yt[3, j]
                                d3 = v3 - x3
                                if WRAP:
                                    d3 = d3 - per * np.rint(d3 * iper)
                                r2 += d3 * d3
                            if DD > 4:
                                v4 = yt[4, j]
                                d4 = v4 - x4
                                if WRAP:
                                    d4 = d4 - per * np.rint(d4 * iper)
                                r2 += d4 * d4
                            if DD > 5:
                                v5 = yt[5, j]
                                d5 = v5 - x5
                                if WRAP:
                                    d5 = d5 - per * np.rint(d5 * iper)
                                r2 += d5 * d5
                            if DD > 6:
                                v6 = yt[6, j]
                                d6 = v6 - x6
                                if WRAP:
                                    d6 = d6 - per * np.rint(d6 * iper)
                                r2 += d6 * d6
                            if DD > 7:
                                v7 = yt[7, j]
                                d7 = v7 - x7
                                if WRAP:
                                    d7 = d7 - per * np.rint(d7 * iper)
                                r2 += d7 * d7
                            if KIND == 0:
                                t = lw[j] - a * r2
                            else:
                                t = lw[j] - a * np.sqrt(r2)
                            e = fexp(max(t, floor))
                            p = e if (t >= floor and (not MASK or jj != skip)) else z
                            s += p
                            a0 += p * (d0 if WRAP else v0)
                            if DD > 1:
                                a1 += p * (d1 if WRAP else v1)
                            if DD > 2:
                                a2 += p * (d2 if WRAP else v2)
                            if DD > 3:
                                a3 += p * (d3 if WRAP else v3)
                            if DD > 4:
                                a4 += p * (d4 if WRAP else v4)
                            if DD > 5:
                                a5 += p * (d5 if WRAP else v5)
                            if DD > 6:
                                a6 += p * (d6 if WRAP else v6)
                            if DD > 7:
                                a7 += p * (d7 if WRAP else v7)
                        out_s[i] += s
                        out_acc[i, 0] += a0
                        if DD > 1:
                            out_acc[i, 1] += a1
                        if DD > 2:
                            out_acc[i, 2] += a2
                        if DD > 3:
                            out_acc[i, 3] += a3
                        if DD > 4:
                            out_acc[i, 4] += a4
                        if DD > 5:
                            out_acc[i, 5] += a5
                        if DD > 6:
                            out_acc[i, 6] += a6
                        if DD > 7:
                            out_acc[i, 7] += a7
                    else:
                        w = j1 - j0
                        for jj in range(w):
                            r2buf[np.uint64(jj)] = z
                        for k in range(d):
                            xk = xc[i, k]
                            ku = np.uint64(k)
                            for jj in range(w):
                                j = np.uint64(jj)
                                dl = yt[ku, j + np.uint64(j0)] - xk
                                r2buf[j] += dl * dl
                        s = z
                        for jj in range(w):
                            j = np.uint64(jj)
                            r2 = r2buf[j]
                            if KIND == 0:
                                t = lw[j + np.uint64(j0)] - a * r2
                            else:
                                t = lw[j + np.uint64(j0)] - a * np.sqrt(r2)
                            e = fexp(max(t, floor))
                            p = e if (t >= floor and (not MASK or j0 + jj != skip)) else z
                            pbuf[j] = p
                            s += p
                        out_s[i] += s
                        for k in range(d):
                            ak = z
                            ku = np.uint64(k)
                            for jj in range(w):
                                j = np.uint64(jj)
                                ak += pbuf[j] * yt[ku, j + np.uint64(j0)]
                            out_acc[i, k] += ak

        _KERNELS[key] = (fast_block, _exact_row(kind, bool(mask), bool(wrap)))
        return _KERNELS[key]


def _exact_row(kind: int, mask: bool, wrap: bool = False):
    """The compiled two-pass (exact) row for ``kind``, the self-mask and the minimum image (any d);
    call under _LOCK."""
    key = ("exact", kind, mask, wrap)
    if key not in _KERNELS:
        numba, fexp = _NUMBA["numba"], _NUMBA["fexp"]
        KIND, MASK, WRAP = kind, mask, wrap

        @numba.njit(fastmath={"contract"}, cache=True, nogil=True)
        def exact_row(xc, yt, lw, a, floor, per, i, out_s, out_acc):
            """Two-pass log-sum-exp of row i: returns the reference (max logit, -inf: empty row)."""
            m = yt.shape[1]
            d = yt.shape[0]
            z = a - a
            iper = (z + 1) / per if WRAP else z
            mx = -np.inf
            for j in range(m):
                if MASK and j == i:
                    continue
                r2 = z
                for k in range(d):
                    dl = yt[k, j] - xc[i, k]
                    if WRAP:
                        dl = dl - per * np.rint(dl * iper)
                    r2 += dl * dl
                t = lw[j] - a * (r2 if KIND == 0 else np.sqrt(r2))
                mx = max(mx, t)
            out_s[i] = 0.0
            for k in range(d):
                out_acc[i, k] = 0.0
            if mx == -np.inf:
                return mx
            s = 0.0
            for j in range(m):
                if MASK and j == i:
                    continue
                r2 = z
                for k in range(d):
                    dl = yt[k, j] - xc[i, k]
                    if WRAP:
                        dl = dl - per * np.rint(dl * iper)
                    r2 += dl * dl
                t = lw[j] - a * (r2 if KIND == 0 else np.sqrt(r2)) - mx
                if t >= floor:
                    p = fexp(t)
                    s += p
                    for k in range(d):
                        dl = yt[k, j] - xc[i, k]
                        if WRAP:
                            dl = dl - per * np.rint(dl * iper)
                        out_acc[i, k] += p * (dl if WRAP else yt[k, j])
            out_s[i] = s
            return mx

        _KERNELS[key] = exact_row
    return _KERNELS[key]


def _pool(threads: int):
    """A persistent thread pool of ``threads`` workers (re-created when the count changes)."""
    global _POOL
    with _LOCK:
        if _POOL is None or _POOL[0] != threads:
            from concurrent.futures import ThreadPoolExecutor

            if _POOL is not None:
                _POOL[1].shutdown(wait=False)
            _POOL = (threads, ThreadPoolExecutor(threads, thread_name_prefix="driftlab-numba"))
        return _POOL[1]


def _fused_width(d: int) -> int:
    return d if d <= FUSED_MAX_D else 0


def numba_sums(kernel, x, y, log_weights=None, mask_self=False, tile_cols=None, num_threads=1, period=None):
    """``(log_total, shift)`` for numpy arrays ``x`` (n, d), ``y`` (m, d) of one float dtype.

    Parameters
    ----------
    kernel : RadialKernel
        With :attr:`~driftlab.kernels.RadialKernel.fast_form` of kind ``"sq_exp"`` or ``"exp"``.
    x, y : numpy.ndarray
        Queries and references (float32 or float64, same dtype), finite.
    log_weights : numpy.ndarray (m,), optional
        No NaN, no ``+inf``.
    mask_self : bool
        Drop the pairs ``i == j``.
    tile_cols : int, optional
        Columns per tile (default :data:`TILE_COLS`).
    num_threads : int
        Threads splitting the rows.
    period : float, optional
        Minimum-image displacements on the torus of this period (``d <= FUSED_MAX_D``): the
        shift is the weighted mean of the nearest-image displacements, as ``backend="torch"``
        computes it.

    Returns
    -------
    log_total : numpy.ndarray (n,)
    shift : numpy.ndarray (n, d)
        Both in the dtype of ``x``.
    """
    form = kernel.fast_form
    if form is None or form.kind not in KINDS:
        raise ValueError(f"backend='numba' supports kernels whose fast_form is one of {KINDS}, "
                         f"got {type(kernel).__name__}")
    dtype = x.dtype
    n, d = x.shape
    m = y.shape[0]
    if m == 0 or n == 0:
        return np.full(n, -np.inf, dtype=dtype), np.zeros((n, d), dtype=dtype)
    wrap = period is not None
    if wrap and d > FUSED_MAX_D:
        raise ValueError(f"backend='numba' computes the minimum image for d <= {FUSED_MAX_D}, got d = {d}")
    c = 0.0 if wrap else y.mean(axis=0)  # on the torus the displacements are wrapped, not centred
    xc = np.ascontiguousarray(x - c)
    yt = np.ascontiguousarray((y - c).T)
    per = dtype.type(period if wrap else 1.0)
    if log_weights is not None:
        lw = np.asarray(log_weights, dtype=dtype)
        fin = np.isfinite(lw)
        lw_ref = float(lw[fin].max()) if fin.any() else 0.0
        lw = np.ascontiguousarray(lw - dtype.type(lw_ref))
    else:
        lw_ref, lw = 0.0, np.zeros(m, dtype=dtype)
    finfo = np.finfo(dtype)
    thresh = m * float(finfo.tiny) / float(finfo.eps)
    floor = dtype.type(math.log(float(finfo.tiny)) + 0.5)
    a = dtype.type(form.a)
    fast_block, exact_row = _kernel(KINDS.index(form.kind), _fused_width(d), bool(mask_self), wrap)
    tc = int(tile_cols or TILE_COLS)
    out_s = np.zeros(n, dtype=np.float64)
    out_acc = np.zeros((n, d), dtype=np.float64)
    threads = max(1, min(int(num_threads), n // 64 or 1)) if n * m >= PARALLEL_MIN_PAIRS else 1
    if threads == 1:
        fast_block(xc, yt, lw, a, floor, per, 0, n, tc, out_s, out_acc)
    else:  # row blocks (each row's sums are written by one block only: the result does not depend on threads)
        bounds = np.linspace(0, n, 4 * threads + 1).astype(np.int64)
        list(_pool(threads).map(lambda k: fast_block(xc, yt, lw, a, floor, per, int(bounds[k]), int(bounds[k + 1]), tc,
                                                     out_s, out_acc), range(len(bounds) - 1)))
    ref = np.zeros(n, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(out_s) | (out_s < thresh))
    for i in bad:
        ref[i] = exact_row(xc, yt, lw, a, floor, per, int(i), out_s, out_acc)
    empty = (out_s <= 0) | ~np.isfinite(ref)
    safe_s = np.where(empty, 1.0, out_s)
    with np.errstate(divide="ignore"):
        log_total = np.where(empty, -np.inf, np.where(np.isfinite(ref), ref, 0.0) + np.log(safe_s)) + lw_ref
    shift = np.where(empty[:, None], 0.0, out_acc / safe_s[:, None] - (0.0 if wrap else xc))
    return log_total.astype(dtype), shift.astype(dtype)


def _threads() -> int:
    """torch's intra-op thread count when torch is loaded (``num_threads=`` of the engine sets it),
    else numba's default (``NUMBA_NUM_THREADS``, the CPU count): importing torch here would cost
    seconds on a numpy-only first call."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    return int(_build_core()["numba"].config.NUMBA_NUM_THREADS)


class NumbaBackend(Backend):
    """``"numba"``: :func:`numba_sums`, the fused CPU loop for the Gaussian and exponential
    (Laplace, Matérn-1/2) profiles; the automatic choice on the CPU above the dense
    reference's sizes when numba is installed (measured faster than ``"torch"``: see
    ``benchmarks/bench_engine.py``)."""

    name = "numba"
    arrays = "numpy"

    def unavailable(self, x=None):
        if not numba_importable():
            return "backend='numba' needs numba installed (pip install 'driftlab[fast]')"
        if x is not None and getattr(getattr(x, "device", None), "type", "cpu") != "cpu":
            return "backend='numba' runs on the CPU only"
        return None

    def unsupported(self, call: SumsCall):
        if call.device != "cpu":
            return f"backend='numba' runs on the CPU only, got device {call.device!r}"
        form = call.kernel.fast_form
        if form is None or form.kind not in KINDS:
            return (f"backend='numba' supports the Gaussian and exponential (Laplace, Matérn-1/2) profiles, "
                    f"got {type(call.kernel).__name__}")
        if call.minimum_image and call.d > FUSED_MAX_D:
            return (f"backend='numba' computes wrap='minimum_image' for d <= {FUSED_MAX_D} only, got d = "
                    f"{call.d} (use backend='torch')")
        if call.distance == "expand":
            return "backend='numba' computes direct differences only (distance='expand': use backend='torch')"
        if call.dtype not in ("float32", "float64"):
            return f"backend='numba' needs float32 or float64, got {call.dtype}"
        return None

    def auto_rank(self, call: SumsCall) -> float | None:
        # above sdpa (2.0) and torch (1.0), below the dense reference on small calls (10.0): on one
        # CPU thread at N = M = 2^14 it ran 2-6x faster than both (benchmarks/bench_engine.py)
        return 2.5 if call.device == "cpu" else None

    def sums(self, call, x, y, log_weights):
        return numba_sums(call.kernel, x, y, log_weights, call.mask_self, call.tile_cols, _threads(),
                          call.period if call.minimum_image else None)


register(NumbaBackend())
