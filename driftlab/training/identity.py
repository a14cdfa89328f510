r"""The frozen-field identity of the stop-gradient drifting loss ([T], docs/theory.md, the stop-gradient section).

For a generator :math:`x_i = f_\theta(\epsilon_i)`, a field :math:`V` evaluated at the current
samples and *frozen* (stop-gradient), and

.. math:: L(\theta) = \frac1N\sum_i \|f_\theta(\epsilon_i) - \mathrm{sg}(f_\theta(\epsilon_i) + \eta V_i)\|^2,

.. math:: \nabla_\theta L = -\frac{2\eta}{N}\sum_i J_i^\top V_i,
   \qquad J_i = \partial f_\theta(\epsilon_i)/\partial\theta.

If :math:`V = -\nabla_x \frac{\delta F}{\delta q}` for a functional :math:`F` of the empirical
law :math:`q_\theta = \frac1N\sum_i\delta_{x_i}`, then :math:`\nabla_{x_i} F = \frac1N
\nabla\frac{\delta F}{\delta q}(x_i)` and so :math:`\nabla_\theta L = 2\eta\,\nabla_\theta F(q_\theta)`:
one stop-gradient step is a (scaled) gradient step on :math:`F` — the JKO / Wasserstein-gradient
reading of [T]. Two functionals with closed-form first variations are provided:

* :func:`potential_energy` :math:`F(q) = E_q[\tfrac12|x - c|^2]`, :math:`V = c - x`;
* :func:`half_mmd2` :math:`F(q) = \tfrac12\mathrm{MMD}_k^2(q, p)` (Gaussian :math:`k`), whose
  field is :func:`driftlab.training.mmd_field`.

The helpers here compute each side *independently*: the loss gradient by reverse-mode
autograd of the stop-gradient loss, the right-hand sides from explicit per-sample Jacobians
(:func:`jacobian_transpose_drift`) and from central finite differences of :math:`F` along
random parameter directions (:func:`directional_fd`).
"""

from __future__ import annotations

from typing import Callable

import torch

from driftlab._validation import check_positive

__all__ = ["frozen_field_gradient", "jacobian_transpose_drift", "potential_energy", "half_mmd2",
           "directional_fd", "flat_params", "set_flat_params"]


def flat_params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def set_flat_params(model: torch.nn.Module, flat: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(flat[i:i + n].reshape(p.shape))
            i += n


def frozen_field_gradient(model: torch.nn.Module, noise: torch.Tensor, field: Callable[[torch.Tensor], torch.Tensor],
                          eta: float = 1.0) -> torch.Tensor:
    r"""Reverse-mode :math:`\nabla_\theta \frac1N\sum\|f - \mathrm{sg}(f + \eta V(f))\|^2` (flat vector)."""
    from driftlab.training.trainer import drifting_loss

    eta = check_positive(eta, "eta")
    model.zero_grad(set_to_none=True)
    x = model(noise)
    with torch.no_grad():
        v = field(x.detach())
    drifting_loss(x, v, eta, stop_gradient=True).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def jacobian_transpose_drift(model: torch.nn.Module, noise: torch.Tensor,
                             field: Callable[[torch.Tensor], torch.Tensor], eta: float = 1.0) -> torch.Tensor:
    r""":math:`-\frac{2\eta}{N}\sum_i J_i^\top V_i` from the explicit Jacobian
    :math:`\partial x / \partial\theta` of shape ``(N, d, P)`` (forward-over-functional
    ``torch.func.jacrev``; small models only)."""
    eta = check_positive(eta, "eta")
    names = [n for n, _ in model.named_parameters()]
    params = {n: p.detach() for n, p in model.named_parameters()}

    def out(*flat):
        return torch.func.functional_call(model, dict(zip(names, flat)), (noise,))

    jac = torch.func.jacrev(out, argnums=tuple(range(len(names))))(*params.values())
    x = out(*params.values()).detach()
    v = field(x).detach()
    n, d = x.shape
    full = torch.cat([j.reshape(n, d, -1) for j in jac], dim=2)  # (N, d, P)
    return -2.0 * eta * torch.einsum("ndp,nd->p", full, v) / n


def potential_energy(x: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    r""":math:`F(q) = \frac1N\sum_i \tfrac12|x_i - c|^2`; first variation
    :math:`\tfrac12|x-c|^2`, so :math:`V = -\nabla\frac{\delta F}{\delta q} = c - x`."""
    return 0.5 * ((x - center) ** 2).sum(dim=1).mean()


def half_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> torch.Tensor:
    r""":math:`F = \tfrac12\mathrm{MMD}^2` (V-statistic, self-pairs included):
    :math:`\frac{1}{2N^2}\sum_{ij}k(x_i,x_j) - \frac{1}{NM}\sum_{ij}k(x_i,y_j) + \frac{1}{2M^2}\sum_{ij}k(y_i,y_j)`,
    Gaussian :math:`k = e^{-|x-y|^2/(2h^2)}`. Its first variation is
    :math:`\frac1N\sum_j k(\cdot, x_j) - \frac1M\sum_j k(\cdot, y_j)`."""
    h = check_positive(bandwidth, "bandwidth")

    def gram(a, b):
        diff = a[:, None, :] - b[None, :, :]
        return torch.exp(-(diff * diff).sum(-1) / (2.0 * h * h)).mean()

    return 0.5 * gram(x, x) - gram(x, y) + 0.5 * gram(y, y)


def directional_fd(model: torch.nn.Module, functional: Callable[[torch.nn.Module], torch.Tensor],
                   direction: torch.Tensor, step: float = 1e-5) -> float:
    r"""Central difference :math:`[F(\theta + h u) - F(\theta - h u)] / (2h)` of a scalar
    function of the parameters (parameters restored afterwards)."""
    step = check_positive(step, "step")
    theta = flat_params(model)
    try:
        set_flat_params(model, theta + step * direction)
        with torch.no_grad():
            fp = float(functional(model))
        set_flat_params(model, theta - step * direction)
        with torch.no_grad():
            fm = float(functional(model))
    finally:
        set_flat_params(model, theta)
    return (fp - fm) / (2.0 * step)
