"""Adapters from the signatures people write to ``fn(x, y_pos, y_neg, temperature) -> V``."""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

__all__ = ["from_loss", "grouped", "weighted_negatives", "self_masked", "float32_only"]


def _is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def _tag(wrapper, fn, **attrs):
    functools.update_wrapper(wrapper, fn)
    for k in ("__driftlab_array__", "__driftlab_precision__", "__driftlab_self_mask__"):
        if hasattr(fn, k) and k not in attrs:
            setattr(wrapper, k, getattr(fn, k))
    for k, v in attrs.items():
        setattr(wrapper, k, v)
    wrapper.__wrapped__ = fn
    return wrapper


def from_loss(loss_fn: Callable, *, reduction: str = "mean") -> Callable:
    r"""Recover V from a loss written with a stop-gradient target.

    ``loss_fn(x, y_pos, y_neg, temperature)`` (torch tensors) must return
    :math:`\mathrm{reduce}\,|x - \mathrm{sg}(x + V)|^2` over points and coordinates, as
    drifting training code does. Its gradient in ``x`` is :math:`-2V/(nd)` (``"mean"``) or
    :math:`-2V` (``"sum"``), so :math:`V = -\tfrac{nd}{2}\nabla_x L` (resp.
    :math:`-\tfrac12\nabla_x L`). A loss whose target is not detached differentiates the field
    too, and the recovered V fails parity. The wrapper takes numpy or torch input and
    returns the input's type and dtype.

    V comes back only to an absolute error of about ``eps |x|`` (the target ``x + V`` rounds
    there; so does every training step that uses such a loss): the checks allow that slack.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")

    def fn(x, y_pos, y_neg, temperature):
        import torch

        back = None if _is_torch(x) else x.dtype
        X = (x if _is_torch(x) else torch.as_tensor(x)).detach().clone().requires_grad_(True)
        P = y_pos if _is_torch(y_pos) else torch.as_tensor(y_pos)
        N = X if y_neg is x else (y_neg if _is_torch(y_neg) else torch.as_tensor(y_neg))
        with torch.enable_grad():
            loss = loss_fn(X, P, N, temperature)
            (g,) = torch.autograd.grad(loss, X)
        n, d = X.shape
        v = -g * (n * d / 2.0 if reduction == "mean" else 0.5)
        return v.detach().cpu().numpy().astype(back, copy=False) if back is not None else v.detach()

    return _tag(fn, loss_fn, __driftlab_array__="numpy", __driftlab_from_loss__=True)


def grouped(fn: Callable) -> Callable:
    """Adapt ``fn(x[G, n, d], y_pos[G, m+, d], y_neg[G, m-, d], temperature) -> V[G, n, d]``.

    Every check calls it with one group (G = 1); the ``groups`` check then calls it with three
    groups of different data: batch conventions must treat each group independently,
    ``"official"`` must pool the distance scale and each temperature's RMS over the groups as
    the official code does.
    """

    def wrapper(x, y_pos, y_neg, temperature):
        X = x[None]
        out = fn(X, y_pos[None], X if y_neg is x else y_neg[None], temperature)
        if getattr(out, "ndim", None) != 3 or out.shape[0] != 1:
            raise ValueError(f"a grouped callable must return shape (1, n, d), got {getattr(out, 'shape', type(out))}")
        return out[0]

    return _tag(wrapper, fn, __driftlab_grouped__=fn)


def weighted_negatives(fn: Callable) -> Callable:
    """Adapt ``fn(x, y_pos, y_neg, temperature, weight_neg)`` (CFG-style negative weights).

    Every check calls it with unit weights, which must reproduce the unweighted convention;
    the ``negative-weights`` check then calls it with non-trivial weights: integer weights
    (zeros included) must equal repeating each negative that many times (batch conventions:
    a weight is a multiplicity), and real weights in ``"official"`` must match the official
    code's weighting (they enter the scale's weighted mean and multiply the affinities).
    """

    def wrapper(x, y_pos, y_neg, temperature):
        m = y_neg.shape[0]
        if _is_torch(y_neg):
            import torch

            w = torch.ones(m, dtype=y_neg.dtype, device=y_neg.device)
        else:
            w = np.ones(m, dtype=y_neg.dtype)
        return fn(x, y_pos, y_neg, temperature, w)

    return _tag(wrapper, fn, __driftlab_weighted__=fn)


def self_masked(fn: Callable) -> Callable:
    """Adapt ``fn(x, y_pos, temperature)`` whose negatives are the queries themselves with the
    self-pairs masked; :func:`check_drift` then uses the convention's ``self_mask=True`` form."""

    def wrapper(x, y_pos, y_neg, temperature):
        if y_neg is not x:
            raise ValueError("a self-masked callable takes the queries as its negatives")
        return fn(x, y_pos, temperature)

    return _tag(wrapper, fn, __driftlab_self_mask__=True)


def float32_only(fn: Callable) -> Callable:
    """Adapt a function that computes in float32 only: inputs are cast to float32, the output
    back to the input dtype, and the checks use float32 tolerances."""

    def wrapper(x, y_pos, y_neg, temperature):
        if _is_torch(x):
            import torch

            dt = x.dtype
            c = (lambda a: a.to(torch.float32))
        else:
            dt = x.dtype
            c = (lambda a: np.asarray(a, dtype=np.float32))
        X = c(x)
        out = fn(X, c(y_pos), X if y_neg is x else c(y_neg), temperature)
        return out.to(dt) if _is_torch(out) else np.asarray(out).astype(dt)

    return _tag(wrapper, fn, __driftlab_precision__="float32")
