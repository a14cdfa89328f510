r"""The drift-estimator registry: one record per estimator, shared by fields, engine, training
and the CLI (public as :mod:`driftlab.fields`: ``get_estimator``, ``register_estimator``, ...).

A batch estimator of :math:`V_{p,q}(x)` is written ``field = exp(log_scale) * centroid``
(see :class:`~driftlab.fields.DriftComponents`). Estimators whose field follows from the
per-set row sums alone (the log-normaliser :math:`\log Z^\pm_i` and the self-normalised
mean shift :math:`\hat m^\pm_i`) say so with ``row_sums=True`` and give :meth:`combine`:
the streamed estimators of :mod:`driftlab.fields` and the fast backends of
:mod:`driftlab.engine` then run the same code on their own sums. The others (``alg2``'s
column normalisers, ``abc``'s second moments, ``kernel_gradient``'s gradient form) are
computed by :func:`driftlab.fields.batch_drift` only.

Adding an estimator is one :func:`register_estimator` call with its record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from driftlab import _backend as B

__all__ = ["DriftEstimator", "register_estimator", "unregister_estimator", "get_estimator", "estimator_names",
           "DEFAULT_ESTIMATOR"]

#: the one default of every drift entry point (fields, engine, training, CLI): unbiased at p = q
DEFAULT_ESTIMATOR = "joint"


def _log_scale_joint(o, delta):
    """:math:`\\log\\frac{Z^+Z^-}{(Z^++Z^-)^2}` from :math:`\\delta = \\log Z^+ - \\log Z^-` (exact, no overflow)."""
    a = o.abs(delta)
    return -a - 2.0 * o.log1p(o.exp(-a))


@dataclass(frozen=True)
class DriftEstimator:
    r"""One batch drift estimator.

    Attributes
    ----------
    name : str
        The ``method=`` value.
    summary : str
        One line: the formula and its main property.
    unbiased_at_equal : bool
        Exactly unbiased at :math:`p = q` (for any set sizes).
    row_sums : bool
        The field follows from per-set row sums: :meth:`combine` is defined and the engine
        computes it.
    units : str
        ``"length"`` (a displacement, like a mean shift) or ``"1/length"`` (a score).
    log_scale : callable, optional
        ``log_scale(o, delta)`` for row-sum estimators: the log of the row factor from
        :math:`\delta = \log Z^+ - \log Z^-` (None: factor 1).
    batch : callable, optional
        For estimators that need more than row sums: ``batch(kernel, x, positives, negatives,
        *, mask, tile, lone_self) -> (centroid, log_scale or None)`` on validated arrays (None: factor 1; the built-in
        ones are attached by :mod:`driftlab.fields`).
    """

    name: str
    summary: str
    unbiased_at_equal: bool
    row_sums: bool
    units: str = "length"
    log_scale: Callable[[Any, Any], Any] | None = None
    batch: Callable[..., Any] | None = None

    def combine(self, delta, mean_pos, mean_neg):
        """``(centroid, log_scale)`` from the row sums of the two sets (row-sum estimators only).

        ``delta`` is :math:`\\log Z^+ - \\log Z^-` per row (n,), ``mean_pos``/``mean_neg`` the
        self-normalised mean shifts (n, d).
        """
        if not self.row_sums:
            raise ValueError(f"method {self.name!r} does not follow from row sums; use driftlab.fields.batch_drift")
        o = B.ops(mean_pos)
        centroid = mean_pos - mean_neg
        if self.log_scale is None:
            return centroid, o.zeros((centroid.shape[0],), like=centroid)
        return centroid, self.log_scale(o, delta)


_REGISTRY: dict[str, DriftEstimator] = {}


def register_estimator(estimator: DriftEstimator, *, replace: bool = False) -> DriftEstimator:
    """Add ``estimator`` to the registry (``replace=True`` to overwrite a name)."""
    if not isinstance(estimator, DriftEstimator):
        raise TypeError(f"estimator must be a DriftEstimator, got {type(estimator).__name__}")
    if estimator.name in _REGISTRY and not replace:
        raise ValueError(f"a drift estimator named {estimator.name!r} is already registered")
    _REGISTRY[estimator.name] = estimator
    return estimator


def unregister_estimator(name: str) -> None:
    """Remove a registered estimator (for tests of user-defined estimators)."""
    _REGISTRY.pop(name, None)


def estimator_names(*, row_sums: bool | None = None) -> tuple[str, ...]:
    """Registered ``method=`` names, in registration order (optionally only the row-sum ones)."""
    return tuple(n for n, e in _REGISTRY.items() if row_sums is None or e.row_sums == row_sums)


def get_estimator(name: Any) -> DriftEstimator:
    """The registered estimator called ``name`` (ValueError naming the valid choices)."""
    est = _REGISTRY.get(name) if isinstance(name, str) else None
    if est is None:
        raise ValueError(f"method must be one of {estimator_names()}, got {name!r}")
    return est


for _est in (
    DriftEstimator("joint", "one row softmax over [Y+ | Y-]: Z+Z-/(Z+ + Z-)^2 (m+ - m-); exactly unbiased at p = q",
                   True, True, log_scale=_log_scale_joint),
    DriftEstimator("alg2", "[D] Algorithm 2: A = k / sqrt(R_i C_j), W+- = A+- rowsum(A-+); self-pairs masked; "
                   "unbiased at p = q when the negatives are independent of the queries", True, False),
    DriftEstimator("separate", "m+ - m-, each set normalised on its own; biased at p = q when set sizes differ",
                   False, True),
    DriftEstimator("abc", "separate with the [ABC] correction of each self-normalised mean (bias O(1/n^2))",
                   False, False),
    DriftEstimator("kernel_gradient", "[KG]: grad_x k in place of y - x, separately normalised: "
                   "grad log p_k - grad log q_k", False, False, units="1/length"),
):
    register_estimator(_est)
del _est
