r"""Streamed kernel-sum engine: the hot path of every drift computation.

:func:`kernel_sums` (log-normaliser + mean shift of a reference set seen from queries),
:func:`mean_shift` and :func:`drift`, with backends ``dense`` (float64 reference),
``torch`` (chunked, CPU/CUDA), ``compiled`` (fused torch tiles), ``sdpa`` (Gaussian through
fused attention), ``triton`` (CUDA kernel for radial kernels) and ``numba`` (fused CPU loop,
optional dependency), chosen by
:func:`select_backend` unless overridden. :func:`kernel_sums_trusted` is the same
computation without input validation, for inner loops that validated once.

Backends are objects of the :class:`Backend` protocol in a registry: each module below
registers its own at import (torch and triton are imported only when a call needs them),
:data:`BACKENDS` and :func:`available_backends` read the registry, and the automatic choice
asks it. A new backend is one module: subclass :class:`Backend`, :func:`register` an
instance. Never forms the n x m matrix outside the dense reference. See
:mod:`driftlab.engine.api`.

>>> import numpy as np
>>> from driftlab.engine import mean_shift
>>> from driftlab.kernels import Gaussian
>>> float(mean_shift(np.zeros((1, 1)), np.array([[1.0]]), Gaussian(1.0))[0, 0])
1.0
"""

# the built-in backends, in the order of BACKENDS; each module registers its backend
from driftlab.engine import _dense, _torch, _compiled, _sdpa, _triton_backend, _numba  # noqa: F401, I001
from driftlab.engine._registry import Backend, SumsCall, get_backend, register, registered, unregister
from driftlab.engine.api import (
    AUTO_DENSE_PAIRS,
    BACKENDS,
    WRAPS,
    KernelSums,
    available_backends,
    drift,
    kernel_sums,
    kernel_sums_trusted,
    mean_shift,
    select_backend,
)
from driftlab.engine.distributed import REFERENCE_MODES, distributed_kernel_sums, merge_partial_sums, shard_bounds

__all__ = ["kernel_sums", "kernel_sums_trusted", "mean_shift", "drift", "KernelSums", "BACKENDS", "WRAPS",
           "AUTO_DENSE_PAIRS", "available_backends", "select_backend", "Backend", "SumsCall", "register",
           "unregister", "get_backend", "registered", "distributed_kernel_sums", "merge_partial_sums",
           "shard_bounds", "REFERENCE_MODES"]
