r"""Public entry points of the kernel-sum engine.

Every drift and mean-shift computation reduces to two streamed row sums over a reference
set,

.. math::

    \log Z_i = \log\sum_j w_j\, k(x_i, y_j), \qquad
    \mathrm{shift}_i = \frac{\sum_j w_j\, k(x_i, y_j)\,(y_j - x_i)}{Z_i}
    \quad (= \hat m(x_i), \text{ the mean shift; [D], [T]}),

which :func:`kernel_sums` computes with one of several backends:

``"dense"``   float64 numpy, materialises the (n, m) block: the reference (small sizes).
``"torch"``   chunked torch (CPU/CUDA), 2-D tiles, never n x m; any radial kernel.
``"compiled"`` the same with each tile fused by ``torch.compile`` (Gaussian, Laplace,
              Matérn-1/2; needs Inductor's C++ compiler on the CPU; the first call per tile
              shape compiles: opt-in, never chosen by ``"auto"``).
``"sdpa"``    Gaussian only: fused ``scaled_dot_product_attention`` (centred data, |y|^2
              folded into an extra key coordinate); mean shift only, no self-mask.
``"triton"``  float32 CUDA kernel (CPU via ``TRITON_INTERPRET=1``) for Gaussian, Laplace,
              half-integer Matérn up to 5/2 and inverse multiquadric: direct differences,
              online softmax.
``"numba"``   fused CPU loop compiled by numba (optional: ``driftlab[fast]``) for the Gaussian
              and exponential (Laplace, Matérn-1/2) profiles, float32/float64
              (:mod:`driftlab.engine._numba`).
``"auto"``    :func:`select_backend`.

The backends are the registered :class:`driftlab.engine.Backend` objects
(:mod:`driftlab.engine._registry`); the fast ones read a kernel only through its
:attr:`~driftlab.kernels.RadialKernel.fast_form`. :func:`kernel_sums` validates its input and
calls :func:`kernel_sums_trusted`, which picks the backend, converts the arrays to the kind
the backend takes, expands the lattice images for backends that work in R^d
(:func:`lattice_images`) and converts the results back.

On a torus ``[0, L)^d`` (``period=L``) the kernel is periodised either by a lattice sum
over the images ``y + nL``, ``|n_k| <= images`` of the wrapped points (``wrap="lattice"``:
exact up to ``phi(L)``; its spectrum is the continuum one sampled at ``2 pi n / L``, which
is what the spectral theory assumes) or by the nearest image only
(``wrap="minimum_image"``: ``(2 images + 1)^d`` times cheaper, truncates the kernel at the
box faces, error ~ ``phi(L/2)``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from driftlab import _backend as B
from driftlab._validation import check_int, check_points, check_positive, check_same_backend
from driftlab.engine._dense import AUTO_DENSE_PAIRS
from driftlab._estimators import DEFAULT_ESTIMATOR, estimator_names, get_estimator
from driftlab.engine._registry import BACKENDS, SumsCall, choose, get_backend, registered

__all__ = ["KernelSums", "BACKENDS", "WRAPS", "AUTO_DENSE_PAIRS", "available_backends", "select_backend",
           "kernel_sums", "kernel_sums_trusted", "lattice_images", "mean_shift", "drift"]

WRAPS = ("lattice", "minimum_image")


class KernelSums(NamedTuple):
    """Row log-normalisers ``log_total`` (n,) (None for ``sdpa``) and mean shifts ``shift`` (n, d)."""

    log_total: Any
    shift: Any


def available_backends(x: Any = None) -> list[str]:
    """Registered backends that can run here (for the device of ``x`` when given).

    ``dense`` always; ``torch`` and ``sdpa`` with torch; ``compiled`` with a C++ compiler for
    Inductor (CUDA: triton); ``triton`` when triton is installed and ``x`` is a CUDA tensor
    (``x`` not given: a CUDA device exists), or with ``TRITON_INTERPRET=1``.
    """
    return [be.name for be in registered() if be.available(x)]


def select_backend(x, y, kernel, *, need_log_total: bool = True, mask_self: bool = False,
                   period: float | None = None, wrap: str = "lattice", images: int = 1) -> str:
    """The automatic backend choice (documented rule, no timing), asked of the registry.

    Each registered backend ranks the call (:meth:`driftlab.engine.Backend.auto_rank`); the
    highest-ranked one that is available and supports it wins. The built-in ranks give: on
    CUDA ``triton`` for float32 tensors and a supported kernel (on a minimum-image torus for
    d <= 8 only), else ``sdpa`` for the Gaussian when neither the normaliser nor a self-mask is
    needed (float32), else ``torch``. On the CPU: ``dense`` for at most
    :data:`AUTO_DENSE_PAIRS` pairs (images counted), else ``numba`` when numba is installed
    for the Gaussian and exponential profiles (on a minimum-image torus for d <= 8 only, not
    with ``distance="expand"``), else ``sdpa`` for such Gaussian calls, else ``torch``. ``compiled`` is never chosen. (In ``benchmarks/bench_engine.py`` at
    N = M = 2^14, d = 2, one CPU thread: flash attention 4.4-5.2x the dense baseline, chunked
    torch 3.6-4.6x; on an H100 at 2^16 the Triton kernel 19-42x, ``sdpa`` (float32:
    memory-efficient kernel) 3.4x, chunked torch 1x.)
    """
    call = SumsCall.of(x, y, kernel, need_log_total=need_log_total, mask_self=mask_self, period=period,
                       wrap=wrap, images=images)
    return choose(call, x)


def lattice_images(x, y, log_weights, period, images):
    """Wrap ``x`` and ``y`` into ``[0, L)^d`` and append the images ``y + nL``, ``|n_k| <= images``
    of the references (zero offset first); ``log_weights`` repeated to match (None stays None).

    Returns ``(x_wrapped, y_images, log_weights_images)`` in the array type of ``x``.
    """
    from driftlab.engine._dense import lattice_offsets

    o = B.ops(x)
    d = x.shape[1]
    offs = lattice_offsets(d, images)
    order = np.argsort(np.abs(offs).sum(axis=1), kind="stable")  # zero offset first
    offs = offs[order] * period
    if B.is_torch(x):
        torch = B.torch()
        xw = torch.remainder(x, period)
        yw = torch.remainder(y, period)
        offs_t = torch.as_tensor(offs, dtype=x.dtype, device=x.device)
        yext = (yw[None, :, :] + offs_t[:, None, :]).reshape(-1, d)
    else:
        xw = np.mod(x, period)
        yw = np.mod(y, period)
        yext = (yw[None, :, :] + offs[:, None, :].astype(x.dtype)).reshape(-1, d)
    lw = None
    if log_weights is not None:
        lw = o.concat([log_weights] * len(offs), axis=0)
    return xw, yext, lw


def _to_arrays(kind, *arrays):
    """The arrays as a backend of ``kind`` wants them: ``"numpy"`` (host copies of tensors) or
    ``"torch"`` (numpy wrapped without a copy; tensors as they are). None stays None."""
    if kind == "numpy":
        return tuple(None if a is None else B.to_numpy(a) for a in arrays)
    torch = B.torch()
    return tuple(a if a is None or B.is_torch(a) else torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def _from_arrays(like, *arrays):
    """The backend's results in the array type, dtype and device of ``like`` (None stays None)."""
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
        elif B.is_torch(like):
            out.append(a if B.is_torch(a) and a.dtype == like.dtype and a.device == like.device
                       else B.torch().as_tensor(a, dtype=like.dtype, device=like.device))
        elif B.is_torch(a):
            out.append(a.numpy())
        else:
            out.append(a.astype(like.dtype))
    return tuple(out)


class _threads:
    """Temporarily set torch's intra-op thread count (None: leave it)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        if self.n is not None:
            torch = B.torch()
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        if self.n is not None:
            B.torch().set_num_threads(self.old)


def kernel_sums_trusted(x: Any, y: Any, kernel, *, log_weights: Any = None, mask_self: bool = False,
                        period: float | None = None, wrap: str = "lattice", images: int = 1,
                        backend: str = "auto", tile_rows: int | None = None, tile_cols: int | None = None,
                        distance: str = "auto", need_log_total: bool = True,
                        num_threads: int | None = None) -> KernelSums:
    r""":func:`kernel_sums` without the input validation, for callers that have validated already.

    The fast entry point of an inner loop (the particle simulator calls it twice per step):
    it skips every check of :func:`kernel_sums` on the arguments themselves -- shapes,
    dtypes, finiteness, the log-weights, the option values -- and only asks the chosen
    backend whether it can run the call (an unsupported kernel, dtype or torus still raises
    ValueError). On valid input it returns exactly (bit for bit) what :func:`kernel_sums`
    returns. Invalid input gives undefined results: validate first.

    Parameters
    ----------
    x : array (n, d)
        Queries: a 2-D float32/float64 numpy array or torch tensor, finite.
    y : array (m, d)
        References, same array type, dtype and device as ``x``.
    kernel : RadialKernel
    log_weights : array (m,), optional
        Log-weights, same array type and dtype as ``x``, no NaN or ``+inf``.
    mask_self : bool
        Drop the pairs ``i == j`` (``y`` is ``x``).
    period : float, optional
        Side L > 0 of the torus ``[0, L)^d``.
    wrap : {"lattice", "minimum_image"}
    images : int
        Lattice images per direction (>= 0).
    backend : str
        ``"auto"`` or a registered backend (:data:`BACKENDS`).
    tile_rows, tile_cols : int, optional
        Tile sizes (>= 1) of the chunked backends.
    distance : {"auto", "direct", "expand"}
    need_log_total : bool
        Whether the row normalisers are needed (``False`` lets the automatic choice take
        ``sdpa``, which computes the shift only).
    num_threads : int, optional
        torch intra-op threads for this call (restored afterwards).

    Returns
    -------
    KernelSums
        As :func:`kernel_sums`.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.engine import kernel_sums_trusted
    >>> from driftlab.kernels import Gaussian
    >>> out = kernel_sums_trusted(np.zeros((1, 1)), np.array([[-1.0], [3.0]]), Gaussian(1.0), backend="dense")
    >>> round(float(out.shift[0, 0]), 6)
    -0.928055
    """
    with _threads(num_threads):
        call = SumsCall.of(x, y, kernel, need_log_total=need_log_total, mask_self=mask_self, period=period,
                           wrap=wrap, images=images, tile_rows=tile_rows, tile_cols=tile_cols, distance=distance)
        name = choose(call, x) if backend == "auto" else backend
        be = get_backend(name)
        why = be.unavailable(x) or be.unsupported(call)
        if why is not None:
            raise ValueError(why)
        if call.lattice and not be.periodic:
            x_in, y_in, lw_in = lattice_images(x, y, log_weights, period, images)
        else:
            x_in, y_in, lw_in = x, y, log_weights
        lse, shift = be.sums(call, *_to_arrays(be.arrays, x_in, y_in, lw_in))
        return KernelSums(*_from_arrays(x, lse, shift))


def _validate(x, y, kernel, log_weights, mask_self, period, wrap, images, backend, tile_rows, tile_cols,
              distance, name_y="y", allow_empty=False):
    """The checks of :func:`kernel_sums` (shared with the distributed entry point, whose rank
    blocks may be empty: ``allow_empty``)."""
    from driftlab.kernels import RadialKernel

    x = check_points(x, "x", allow_empty=allow_empty)
    y = check_points(y, name_y, dim=x.shape[1], allow_empty=allow_empty)
    check_same_backend({"x": x, name_y: y})
    if not isinstance(kernel, RadialKernel):
        raise TypeError(f"kernel must be a driftlab.kernels.RadialKernel, got {type(kernel).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {tuple(BACKENDS)}, got {backend!r}")
    if wrap not in WRAPS:
        raise ValueError(f"wrap must be one of {WRAPS}, got {wrap!r}")
    if distance not in ("auto", "direct", "expand"):
        raise ValueError(f"distance must be 'auto', 'direct' or 'expand', got {distance!r}")
    if period is not None:
        period = check_positive(period, "period")
    images = check_int(images, "images", minimum=0)
    for name, t in (("tile_rows", tile_rows), ("tile_cols", tile_cols)):
        if t is not None:
            check_int(t, name, minimum=1)
    if not isinstance(mask_self, bool):
        raise TypeError(f"mask_self must be a bool, got {type(mask_self).__name__}")
    if mask_self and y.shape[0] != x.shape[0]:
        raise ValueError(f"mask_self=True needs {name_y} to be the query set (same length as x)")
    lw = None
    if log_weights is not None:
        w = B.to_numpy(log_weights).astype(np.float64).reshape(-1)
        if w.shape[0] != y.shape[0]:
            raise ValueError(f"log_weights must have length {y.shape[0]}, got {w.shape[0]}")
        if np.isnan(w).any() or np.isposinf(w).any():
            raise ValueError("log_weights must not contain NaN or +inf")
        lw = B.ops(x).asarray(w, like=x) if w.shape[0] else (x[:0, 0] * 0.0)
    return x, y, lw, period, images


def kernel_sums(x: Any, y: Any, kernel, *, log_weights: Any = None, mask_self: bool = False,
                period: float | None = None, wrap: str = "lattice", images: int = 1,
                backend: str = "auto", tile_rows: int | None = None, tile_cols: int | None = None,
                distance: str = "auto", num_threads: int | None = None) -> KernelSums:
    r"""Streamed kernel row sums: log-normaliser and mean shift of ``y`` seen from ``x``.

    .. math::

        \log Z_i = \log\sum_j w_j k(x_i,y_j),\qquad
        s_i = \sum_j \frac{w_j k(x_i,y_j)}{Z_i}\,(y_j - x_i).

    Parameters
    ----------
    x : array (n, d) or (n,)
        Queries (numpy array or torch tensor, float32/float64, CPU or CUDA).
    y : array (m, d)
        References, same backend as ``x``.
    kernel : RadialKernel
    log_weights : array (m,), optional
        Log-weights of the references (``-inf`` allowed).
    mask_self : bool
        Drop the pairs ``i == j`` (``y`` is ``x``).
    period : float, optional
        Side L of the torus ``[0, L)^d``; None for R^d.
    wrap : {"lattice", "minimum_image"}
        Periodisation (see the module docstring).
    images : int
        Lattice images per direction for ``wrap="lattice"`` (default 1: all images within L).
    backend : {"auto", "dense", "torch", "compiled", "sdpa", "triton"} or another registered name
        See :data:`BACKENDS` and :func:`select_backend`.
    tile_rows, tile_cols : int, optional
        Tile sizes of the torch backend.
    distance : {"auto", "direct", "expand"}
        Squared distances of the torch backend by direct differences or by the (centred)
        inner-product expansion.
    num_threads : int, optional
        torch intra-op threads for this call (restored afterwards). On an oversubscribed
        machine ``1`` avoids OpenMP barrier stalls on the many small tile operations.

    Returns
    -------
    KernelSums
        ``log_total`` (n,) (None with ``sdpa``) and ``shift`` (n, d), same type/dtype/device as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.engine import kernel_sums
    >>> from driftlab.kernels import Gaussian
    >>> out = kernel_sums(np.zeros((1, 1)), np.array([[-1.0], [3.0]]), Gaussian(1.0), backend="dense")
    >>> round(float(out.shift[0, 0]), 6)  # (-e^{-1/2} + 3 e^{-9/2}) / (e^{-1/2} + e^{-9/2})
    -0.928055
    """
    x, y, lw, period, images = _validate(x, y, kernel, log_weights, mask_self, period, wrap, images, backend,
                                         tile_rows, tile_cols, distance)
    if num_threads is not None:
        check_int(num_threads, "num_threads", minimum=1)
    return kernel_sums_trusted(x, y, kernel, log_weights=lw, mask_self=mask_self, period=period, wrap=wrap,
                               images=images, backend=backend, tile_rows=tile_rows, tile_cols=tile_cols,
                               distance=distance, need_log_total=backend != "sdpa", num_threads=num_threads)


def mean_shift(x: Any, y: Any, kernel, **kwargs):
    r"""Mean shift :math:`\hat m(x_i) = \sum_j a_{ij}(y_j - x_i)` of ``y`` at ``x`` (see :func:`kernel_sums`).

    For the Gaussian kernel this is :math:`s^2\nabla\log\hat p_s` (Tweedie; [T], [L]).

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.engine import mean_shift
    >>> from driftlab.kernels import Laplace
    >>> mean_shift(np.zeros((1, 1)), np.array([[-1.0], [1.0]]), Laplace(1.0), backend="torch")
    array([[0.]])
    """
    backend = kwargs.get("backend", "auto")
    x_ = check_points(x, "x")
    if backend == "auto":
        kwargs = dict(kwargs)
        y_ = check_points(y, "y")
        kwargs["backend"] = select_backend(x_, y_, kernel, need_log_total=False,
                                           mask_self=kwargs.get("mask_self", False), period=kwargs.get("period"),
                                           wrap=kwargs.get("wrap", "lattice"), images=kwargs.get("images", 1))
    return kernel_sums(x, y, kernel, **kwargs).shift


def drift(x: Any, positives: Any, negatives: Any, kernel, *, method: str = DEFAULT_ESTIMATOR,
          mask_self: bool | str = "auto", period: float | None = None, wrap: str = "lattice",
          images: int = 1, backend: str = "auto", tile_rows: int | None = None,
          tile_cols: int | None = None, distance: str = "auto", num_threads: int | None = None):
    r"""Drift :math:`V_{p,q}(x)` through the engine ([D], [T]), for the row-sum estimators.

    ``method`` names an estimator of the registry (:func:`driftlab.fields.get_estimator`)
    whose field follows from the per-set row sums (``row_sums=True``): ``"joint"`` (the
    default everywhere: row softmax over the joint set,
    :math:`\frac{Z^+Z^-}{(Z^++Z^-)^2}(\hat m^+ - \hat m^-)`, exactly unbiased at p = q; needs
    the normalisers, so not with ``sdpa``) or ``"separate"`` (the two mean shifts, each
    normalised over its own set: the mean-field field of the particle system). The
    combination is the estimator's own (:meth:`~driftlab.fields.DriftEstimator.combine`), the
    code :func:`driftlab.fields.batch_drift` runs on its streamed sums, so the two agree to
    round-off. Estimators that need more than row sums (``alg2``, ``abc``,
    ``kernel_gradient``) are refused with a pointer to ``batch_drift``.

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.engine import drift
    >>> from driftlab.kernels import Gaussian
    >>> y = np.random.default_rng(0).normal(size=(8, 2))
    >>> float(np.abs(drift(y, y, y, Gaussian(1.0), mask_self=False)).max())
    0.0
    """
    est = get_estimator(method)
    if not est.row_sums:
        raise ValueError(f"method={method!r} needs more than the row sums the engine computes; use "
                         f"driftlab.fields.batch_drift (engine methods: {estimator_names(row_sums=True)})")
    x_ = check_points(x, "x")
    neg_ = check_points(negatives, "negatives", dim=x_.shape[1])
    if mask_self == "auto":
        mask = B.same_points(neg_, x_)
    elif isinstance(mask_self, bool):
        mask = mask_self
    else:
        raise TypeError(f"mask_self must be True, False or 'auto', got {mask_self!r}")
    common = dict(period=period, wrap=wrap, images=images, backend=backend, tile_rows=tile_rows,
                  tile_cols=tile_cols, distance=distance, num_threads=num_threads)
    if est.log_scale is not None and backend == "sdpa":
        raise ValueError(f"method={method!r} needs the row normalisers, which backend='sdpa' does not give")
    if est.log_scale is None and backend == "auto":
        pos = mean_shift(x_, positives, kernel, **common)
        neg = mean_shift(x_, neg_, kernel, mask_self=mask, **common)
        return pos - neg
    p = kernel_sums(x_, positives, kernel, **common)
    q = kernel_sums(x_, neg_, kernel, mask_self=mask, **common)
    centroid, log_scale = est.combine(p.log_total - q.log_total, p.shift, q.shift)
    if est.log_scale is None:
        return centroid
    o = B.ops(centroid)
    scale = o.exp(log_scale)
    scale = o.where(o.isfinite(scale), scale, scale * 0.0)  # a row that sees neither set: no drift
    return scale[:, None] * centroid

