r"""Streamed kernel-sum engine: the hot path of every drift computation.

:func:`kernel_sums` (log-normaliser + mean shift of a reference set seen from queries),
:func:`mean_shift` and :func:`drift`, with backends ``dense`` (float64 reference),
``torch`` (chunked, CPU/CUDA), ``sdpa`` (Gaussian through fused attention) and ``triton``
(CUDA kernel for radial kernels), chosen by :func:`select_backend` unless overridden.
Never forms the n x m matrix outside the dense reference. See :mod:`driftlab.engine.api`.

>>> import numpy as np
>>> from driftlab.engine import mean_shift
>>> from driftlab.kernels import Gaussian
>>> float(mean_shift(np.zeros((1, 1)), np.array([[1.0]]), Gaussian(1.0))[0, 0])
1.0
"""

from driftlab.engine.api import (
    AUTO_DENSE_PAIRS,
    BACKENDS,
    WRAPS,
    KernelSums,
    available_backends,
    drift,
    kernel_sums,
    mean_shift,
    select_backend,
)

__all__ = ["kernel_sums", "mean_shift", "drift", "KernelSums", "BACKENDS", "WRAPS", "AUTO_DENSE_PAIRS",
           "available_backends", "select_backend"]
