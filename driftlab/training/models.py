r"""Generators trained by drifting: an MLP pushing Gaussian noise forward, and free particles.

Both are ``torch.nn.Module`` with ``generate(n, generator=None) -> Tensor (n, d)``; torch is
imported here (this module is only loaded by the training code).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from driftlab._validation import check_int, check_points

__all__ = ["MLPGenerator", "ParticleGenerator", "torch_threads"]

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLPGenerator(nn.Module):
    r"""MLP generator :math:`f_\theta: \mathbb R^{d_\mathrm{in}} \to \mathbb R^{d}`,
    :math:`x = f_\theta(\epsilon)`, :math:`\epsilon \sim \mathcal N(0, I)`.

    The official toy of [D] is ``MLPGenerator(in_dim=32, hidden=256, depth=3, out_dim=2,
    activation="silu")`` (Linear 32->256, SiLU, two more 256->256 + SiLU, Linear 256->2;
    torch's default initialisation).

    Parameters
    ----------
    in_dim, hidden, depth, out_dim : int
        Noise dimension, width, number of hidden layers, output dimension.
    activation : {"silu", "relu", "tanh", "gelu"}

    Examples
    --------
    >>> import torch
    >>> from driftlab.training import MLPGenerator
    >>> _ = torch.manual_seed(0)
    >>> MLPGenerator(in_dim=4, hidden=8, depth=2, out_dim=2).generate(5).shape
    torch.Size([5, 2])
    """

    def __init__(self, in_dim: int = 32, hidden: int = 256, depth: int = 3, out_dim: int = 2,
                 activation: str = "silu") -> None:
        super().__init__()
        self.in_dim = check_int(in_dim, "in_dim", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        depth = check_int(depth, "depth", minimum=1)
        self.out_dim = check_int(out_dim, "out_dim", minimum=1)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        layers: list[nn.Module] = []
        width = self.in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
            width = hidden
        layers.append(nn.Linear(width, self.out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        n = check_int(n, "n", minimum=1)
        p = next(self.parameters())
        return torch.randn(n, self.in_dim, generator=generator, dtype=p.dtype, device=p.device)

    def generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples :math:`f_\\theta(\\epsilon)` (with the graph; wrap in no_grad to sample)."""
        return self(self.noise(n, generator))


class ParticleGenerator(nn.Module):
    r"""A "generator" whose parameters are the samples themselves: :math:`\theta = (x_i)_{i\le N}`.

    The Jacobian of each output with respect to its own parameters is the identity, so a
    stop-gradient drifting step with SGD is exactly the particle update
    :math:`x_i \leftarrow x_i + (2\,\mathrm{lr}/N)\,\eta V(x_i)` (docs/theory.md, the stop-gradient section).

    Parameters
    ----------
    points : array, shape (N, d)
        Initial positions (numpy or torch).
    """

    def __init__(self, points: Any, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        pts = check_points(points, "points")
        if isinstance(pts, np.ndarray):
            pts = torch.as_tensor(pts)
        self.x = nn.Parameter(pts.detach().clone().to(dtype))
        self.in_dim = 0
        self.out_dim = int(pts.shape[1])

    @property
    def n_particles(self) -> int:
        return int(self.x.shape[0])

    def forward(self, noise: Any = None) -> torch.Tensor:
        return self.x

    def generate(self, n: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """All particles (``n`` must be None or the number of particles)."""
        if n is not None and check_int(n, "n", minimum=1) != self.n_particles:
            raise ValueError(f"n must equal the number of particles ({self.n_particles}), got {n}")
        return self.x


class torch_threads:
    """Context manager: run with ``n`` torch intra-op threads, restore afterwards.

    Small toy problems run several times faster with one thread on a loaded machine (no
    OpenMP spin-waiting); the figure scripts and tests use it.
    """

    def __init__(self, n: int = 1) -> None:
        self.n = check_int(n, "n", minimum=1)

    def __enter__(self) -> "torch_threads":
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.old)
