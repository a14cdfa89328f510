r"""Drift fields for training, by name, on torch tensors (negatives = the generated batch).

=============  ==========================================================================
name           field :math:`V(x; Y^+, X)`
=============  ==========================================================================
``gaussian``   :func:`~driftlab.fields.batch_drift` with ``Gaussian(tau)`` (default
               ``method="joint"``)
``laplace``    ``batch_drift`` with ``Laplace(tau)`` (default ``method="alg2"``: the
               estimator of [D]'s toy notebook — ``alg2`` is an alias)
``official``   :func:`~driftlab.fields.official_drift` (multi-temperature pipeline of [D])
``sinkhorn``   :func:`~driftlab.training.sinkhorn_drift`, :math:`\varepsilon = \tau^2`
``mmd``        :math:`-\nabla\,\delta F/\delta q` for :math:`F = \tfrac12\mathrm{MMD}^2_k(q,p)`,
               Gaussian :math:`k` of bandwidth ``tau`` (unnormalised; see :func:`mmd_field`)
=============  ==========================================================================

Every field is autograd-friendly (torch ops only), which the no-stop-gradient ablation needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftlab._validation import check_int, check_positive, check_points, check_same_backend

__all__ = ["FIELDS", "DriftField", "make_field", "mmd_field", "alg2_dense"]

FIELDS = ("gaussian", "laplace", "alg2", "official", "sinkhorn", "mmd")


def mmd_field(x: Any, positives: Any, negatives: Any, bandwidth: float):
    r"""Wasserstein gradient of :math:`F(q) = \tfrac12\mathrm{MMD}_k^2(q, p)` with a Gaussian
    kernel :math:`k(x,y) = e^{-|x-y|^2/(2h^2)}`, sign-flipped:

    .. math::

        V(x) = -\nabla_x \frac{\delta F}{\delta q}(x)
             = \frac{1}{h^2}\Big[\frac1M\sum_j k(x, y_j)(y_j - x)
               - \frac1N\sum_j k(x, x_j)(x_j - x)\Big],

    i.e. the *unnormalised* kernel mean-shift difference (the MMD flow). Because
    :math:`\delta F/\delta q(x) = \frac1N\sum_j k(x, x_j) - \frac1M\sum_j k(x, y_j)` is known in
    closed form, this field is the test case of the frozen-field identity
    :math:`\nabla_\theta E\|f - \mathrm{sg}(f + \eta V)\|^2 = 2\eta\nabla_\theta F(q_\theta)`.
    Dense ``N x M`` (small batches only).
    """
    x = check_points(x, "x")
    positives = check_points(positives, "positives", dim=x.shape[1])
    negatives = check_points(negatives, "negatives", dim=x.shape[1])
    check_same_backend({"x": x, "positives": positives, "negatives": negatives})
    h = check_positive(bandwidth, "bandwidth")

    def part(y):
        diff = y[None, :, :] - x[:, None, :]
        k = (-(diff * diff).sum(-1) / (2.0 * h * h))
        k = k.exp() if hasattr(k, "exp") else __import__("numpy").exp(k)
        return (k[:, :, None] * diff).sum(1) / y.shape[0]

    return (part(positives) - part(negatives)) / (h * h)


def alg2_dense(x, positives, tau: float):
    r"""[D] Algorithm 2 with the Laplace kernel, negatives = ``x`` (self-pairs masked), as one
    dense ``N x (M + N)`` computation in log space (torch only).

    A speed path for toy batches (a few thousand points) where the streamed
    :func:`~driftlab.fields.batch_drift` (direct differences, tiles) is several times slower on
    a CPU. Distances use ``torch.cdist(..., compute_mode="donot_use_mm_for_euclid_dist")``
    (no matmul expansion: exact near zero distance). Same formula as ``batch_drift(x,
    positives, x, Laplace(tau), method="alg2")``: :math:`A = k/\sqrt{R_i C_j}`,
    :math:`W^\pm = A^\pm\,\mathrm{rowsum}(A^\mp)`, :math:`V = W^+Y^+ - W^-X` (tested equal to
    float64 round-off).
    """
    import torch

    tau = check_positive(tau, "tau")
    n, m = x.shape[0], positives.shape[0]
    targets = torch.cat([positives, x], dim=0)
    logits = torch.cdist(x, targets, compute_mode="donot_use_mm_for_euclid_dist") * (-1.0 / tau)
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    logits = torch.cat([logits[:, :m], logits[:, m:].masked_fill(eye, float("-inf"))], dim=1)
    log_row = torch.logsumexp(logits, dim=1, keepdim=True)
    log_col = torch.logsumexp(logits, dim=0, keepdim=True)
    a = torch.exp(logits - 0.5 * (log_row + log_col))
    a_pos, a_neg = a[:, :m], a[:, m:]
    w_pos = a_pos * a_neg.sum(dim=1, keepdim=True)
    w_neg = a_neg * a_pos.sum(dim=1, keepdim=True)
    return w_pos @ positives - w_neg @ x


@dataclass(frozen=True)
class DriftField:
    """A named drift field ``V = field(x, positives)`` (negatives are ``x`` itself).

    Attributes
    ----------
    name : str
    tau : float
        Kernel temperature / bandwidth (``sinkhorn``: :math:`\\varepsilon = \\tau^2`).
    method : str or None
        ``batch_drift`` method for ``gaussian`` / ``laplace``.
    temperatures : tuple of float
        For ``official``.
    sinkhorn_iters : int
        For ``sinkhorn`` (0 = one-sided normalisation).
    normalize : {None, "rms"}
        For ``gaussian`` / ``laplace``.
    tile_size : int or None
        Reference points per streamed tile (one tile is fastest for toy batches).
    dense : bool
        ``laplace``/``alg2`` with ``method="alg2"``: use :func:`alg2_dense` (torch, fast).
    """

    name: str
    tau: float = 0.05
    method: str | None = None
    temperatures: tuple[float, ...] = (0.02, 0.05, 0.2)
    sinkhorn_iters: int = 200
    normalize: str | None = None
    tile_size: int | None = None
    dense: bool = False

    def __call__(self, x, positives):
        from driftlab.fields import DEFAULT_ESTIMATOR, batch_drift, official_drift
        from driftlab.kernels import Gaussian, Laplace

        if self.name == "gaussian":
            return batch_drift(x, positives, x, Gaussian(self.tau), method=self.method or DEFAULT_ESTIMATOR,
                               normalize=self.normalize, tile_size=self.tile_size)
        if self.name in ("laplace", "alg2"):
            if self.dense and (self.method or "alg2") == "alg2" and self.normalize is None:
                return alg2_dense(x, positives, self.tau)
            return batch_drift(x, positives, x, Laplace(self.tau), method=self.method or "alg2",
                               normalize=self.normalize, tile_size=self.tile_size)
        if self.name == "official":
            return official_drift(x, positives, temperatures=self.temperatures, tile_size=self.tile_size)
        if self.name == "sinkhorn":
            from driftlab.training.sinkhorn import sinkhorn_drift

            return sinkhorn_drift(x, positives, eps=self.tau**2, n_iter=self.sinkhorn_iters)
        if self.name == "mmd":
            return mmd_field(x, positives, x, self.tau)
        raise ValueError(f"unknown field {self.name!r}")  # pragma: no cover - guarded in make_field


def make_field(name: str, tau: float = 0.05, *, method: str | None = None,
               temperatures: tuple[float, ...] = (0.02, 0.05, 0.2), sinkhorn_iters: int = 200,
               normalize: str | None = None, tile_size: int | None = None, dense: bool = False) -> DriftField:
    """Validate and build a :class:`DriftField` (see the module table for the names).

    Examples
    --------
    >>> import torch
    >>> from driftlab.training import make_field
    >>> v = make_field("laplace", tau=0.05)(torch.zeros(3, 2) + torch.arange(3.0)[:, None], torch.ones(4, 2))
    >>> v.shape
    torch.Size([3, 2])
    """
    if not isinstance(name, str) or name not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {name!r}")
    tau = check_positive(tau, "tau")
    temps = tuple(check_positive(t, "temperatures") for t in temperatures)
    if not temps:
        raise ValueError("temperatures must not be empty")
    from driftlab.fields import get_estimator

    if method is not None:
        get_estimator(method)  # ValueError naming the registered estimators
    if normalize not in (None, "rms"):
        raise ValueError(f"normalize must be None or 'rms', got {normalize!r}")
    if tile_size is not None:
        tile_size = check_int(tile_size, "tile_size", minimum=1)
    return DriftField(name, tau, method, temps, check_int(sinkhorn_iters, "sinkhorn_iters", minimum=0), normalize,
                      tile_size, bool(dense))
