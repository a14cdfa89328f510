r"""A small, seeded trainer for drifting generators (CPU-friendly; torch).

Each step draws a data batch :math:`Y^+ \sim p` and a generated batch :math:`x = f_\theta(\epsilon)`,
computes a drift :math:`V(x; Y^+, x)` and minimises

.. math::

    L(\theta) = \frac1N\sum_i \big\|f_\theta(\epsilon_i) - \mathrm{sg}\big(f_\theta(\epsilon_i)
               + \eta V(f_\theta(\epsilon_i))\big)\big\|^2 \qquad\text{([D])}.

Its value is :math:`\eta^2 E\|V\|^2` and its gradient is :math:`-2\eta E[J^\top V]` (frozen
field). With ``stop_gradient=False`` the target is differentiated too: since
:math:`f - (f + \eta V) = -\eta V`, the loss becomes :math:`\eta^2 E\|V(f_\theta)\|^2`
differentiated *through the field* — it rewards any state where the field vanishes, which
is the drift-collapse mechanism of science.md section 6.

The value reported as ``loss`` is :math:`E_i\|V_i\|^2` summed over coordinates (times
:math:`\eta^2`); ``loss_mse`` divides by the dimension (``F.mse_loss``, the quantity [D]'s toy
notebook prints).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from driftlab._validation import check_int, check_positive
from driftlab.training.datasets import ToyDataset, get_dataset
from driftlab.training.fields import DriftField, make_field
from driftlab.training.metrics import mode_coverage, sample_metrics
from driftlab.training.models import MLPGenerator, ParticleGenerator

__all__ = ["TrainConfig", "TrainResult", "train", "drifting_loss", "build_generator"]


@dataclass
class TrainConfig:
    """Everything that defines a run (all seeded by ``seed``).

    The defaults are the official toy of [D]: MLP 32 -> 256 x 3 -> 2 (SiLU), Adam 1e-3,
    2000 steps, 2048 data / 2048 generated per step, Laplace tau = 0.05 (Algorithm 2).
    """

    data: str = "swiss-roll"
    data_kwargs: dict = field(default_factory=dict)
    field: str = "laplace"
    tau: float = 0.05
    method: str | None = None
    temperatures: tuple[float, ...] = (0.02, 0.05, 0.2)
    sinkhorn_iters: int = 200
    steps: int = 2000
    batch_data: int = 2048
    batch_gen: int = 2048
    lr: float = 1e-3
    optimizer: str = "adam"
    in_dim: int = 32
    hidden: int = 256
    depth: int = 3
    stop_gradient: bool = True
    eta: float = 1.0
    seed: int = 0
    eval_every: int = 200
    n_eval: int = 1000
    eval_w2: bool = True
    dtype: str = "float32"
    dense: bool = True
    threads: int | None = None

    def validate(self) -> "TrainConfig":
        check_int(self.steps, "steps", minimum=0)
        check_int(self.batch_data, "batch_data", minimum=1)
        check_int(self.batch_gen, "batch_gen", minimum=1)
        check_positive(self.lr, "lr")
        check_positive(self.eta, "eta")
        check_int(self.seed, "seed", minimum=0)
        check_int(self.eval_every, "eval_every", minimum=0)
        check_int(self.n_eval, "n_eval", minimum=2)
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not isinstance(self.stop_gradient, bool):
            raise TypeError(f"stop_gradient must be a bool, got {self.stop_gradient!r}")
        return self


@dataclass
class TrainResult:
    """History (one dict per evaluation), per-step losses, final samples and metrics."""

    config: dict
    history: list[dict]
    losses: np.ndarray
    samples: np.ndarray
    data: np.ndarray
    final: dict
    seconds: float
    model: Any = field(repr=False, default=None)

    def to_json(self) -> dict:
        return {"config": self.config, "history": self.history, "final": self.final, "seconds": self.seconds,
                "loss_first": float(self.losses[0]) if len(self.losses) else None,
                "loss_last": float(self.losses[-1]) if len(self.losses) else None}


def drifting_loss(x: torch.Tensor, v: torch.Tensor, eta: float = 1.0, stop_gradient: bool = True) -> torch.Tensor:
    r""":math:`\frac1N\sum_i \|x_i - \mathrm{sg}(x_i + \eta v_i)\|^2` (``stop_gradient=False``:
    no detach; ``v`` must then carry its graph)."""
    target = x + eta * v
    if stop_gradient:
        target = target.detach()
    return ((x - target) ** 2).sum(dim=1).mean()


def build_generator(cfg: TrainConfig, dim: int) -> MLPGenerator:
    torch.manual_seed(cfg.seed)
    gen = MLPGenerator(cfg.in_dim, cfg.hidden, cfg.depth, dim)
    return gen.to(getattr(torch, cfg.dtype))


def _field(cfg: TrainConfig) -> DriftField:
    return make_field(cfg.field, cfg.tau, method=cfg.method, temperatures=tuple(cfg.temperatures),
                      sinkhorn_iters=cfg.sinkhorn_iters,
                      tile_size=max(cfg.batch_data, cfg.batch_gen) if cfg.batch_data * cfg.batch_gen <= 2**23 else None,
                      dense=cfg.dense and cfg.batch_gen * (cfg.batch_data + cfg.batch_gen) <= 2**24)


def _evaluate(model, dataset: ToyDataset, data_eval: np.ndarray, noise_eval,
              cfg: TrainConfig) -> tuple[dict, np.ndarray]:
    with torch.no_grad():
        samples = model(noise_eval).detach().cpu().double().numpy()
    m = sample_metrics(samples, data_eval, w2=cfg.eval_w2, temperatures=tuple(cfg.temperatures))
    if dataset.modes is not None:
        radius = 3.0 * dataset.mixture.min_std if dataset.mixture is not None else None
        m["mode_fraction"] = mode_coverage(samples, dataset.modes, max_distance=radius)["fraction"]
    m["mean_offset"] = float(np.linalg.norm(samples.mean(0) - data_eval.mean(0)))
    m["spread"] = float(np.sqrt(np.mean(np.sum((samples - samples.mean(0)) ** 2, axis=1))))
    return m, samples


def train(cfg: TrainConfig, *, model: torch.nn.Module | None = None, dataset: ToyDataset | None = None,
          progress: bool = True, callback: Callable[[int, dict], None] | None = None) -> TrainResult:
    r"""Train a generator with the drifting loss; evaluate on held-out samples.

    Parameters
    ----------
    cfg : TrainConfig
    model : torch.nn.Module, optional
        Defaults to :class:`MLPGenerator` from the config. A :class:`ParticleGenerator`
        trains free particles (then ``batch_gen`` and ``n_eval`` are the particle count).
    dataset : ToyDataset, optional
        Defaults to ``get_dataset(cfg.data, **cfg.data_kwargs)``.
    progress : bool
        tqdm progress bar.
    callback : callable ``(step, metrics)``, optional
        Called after every evaluation.

    Returns
    -------
    TrainResult
        ``history`` rows hold ``step``, ``loss`` (mean over the steps since the previous row),
        ``energy``, ``mmd2``, ``w2``, ``drift_energy_tau*`` and, for mixtures, ``mode_fraction``.

    Examples
    --------
    >>> from driftlab.training import TrainConfig, train
    >>> cfg = TrainConfig(data="two-moons", field="gaussian", tau=0.2, steps=3, batch_data=64,
    ...                   batch_gen=64, hidden=16, eval_every=0, n_eval=64, eval_w2=False)
    >>> res = train(cfg, progress=False)
    >>> len(res.losses), sorted(res.final)[:2]
    (3, ['drift_energy_tau0.02', 'drift_energy_tau0.05'])
    """
    from tqdm.auto import tqdm

    cfg.validate()
    if cfg.threads is not None:
        torch.set_num_threads(check_int(cfg.threads, "threads", minimum=1))
    dataset = dataset or get_dataset(cfg.data, **cfg.data_kwargs)
    dtype = getattr(torch, cfg.dtype)
    if model is None:
        model = build_generator(cfg, dataset.dim)
    particles = isinstance(model, ParticleGenerator)
    n_gen = model.n_particles if particles else cfg.batch_gen
    n_eval = model.n_particles if particles else cfg.n_eval
    vfield = _field(cfg)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    data_eval = dataset.sample(n_eval, np.random.default_rng(cfg.seed + 10_000))
    noise_eval = None if particles else torch.randn(n_eval, model.in_dim, generator=torch.Generator().manual_seed(
        cfg.seed + 20_000), dtype=dtype)
    params = list(model.parameters())
    opt = (torch.optim.Adam(params, lr=cfg.lr) if cfg.optimizer == "adam" else torch.optim.SGD(params, lr=cfg.lr))

    history: list[dict] = []
    losses = np.zeros(cfg.steps)
    t0 = time.perf_counter()

    def record(step: int, loss_window: np.ndarray) -> None:
        m, _ = _evaluate(model, dataset, data_eval, noise_eval, cfg)
        row = {"step": step, "loss": float(loss_window.mean()) if loss_window.size else math.nan,
               "loss_mse": float(loss_window.mean()) / dataset.dim if loss_window.size else math.nan,
               "seconds": time.perf_counter() - t0, **m}
        history.append(row)
        if callback is not None:
            callback(step, row)

    if cfg.eval_every:
        record(0, np.zeros(0))
    last = 0
    bar = tqdm(range(1, cfg.steps + 1), disable=not progress, desc=f"drift {cfg.data}/{cfg.field}", leave=False)
    for step in bar:
        y = torch.as_tensor(dataset.sample(cfg.batch_data, rng), dtype=dtype)
        x = model(None) if particles else model(model.noise(n_gen, gen))
        if cfg.stop_gradient:
            with torch.no_grad():
                v = vfield(x.detach(), y)
        else:
            v = vfield(x, y)
        loss = drifting_loss(x, v, cfg.eta, cfg.stop_gradient)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if not cfg.stop_gradient:
            bad = [p for p in params if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
            if bad:
                raise RuntimeError(
                    f"non-finite gradient through the {cfg.field!r} field without stop-gradient "
                    f"at step {step}: refusing to train on NaN (check the field's parameters)")
        opt.step()
        losses[step - 1] = float(loss.detach())
        if progress and (step % 20 == 0 or step == cfg.steps):
            bar.set_postfix(loss=f"{losses[step - 1]:.2e}")
        if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
            record(step, losses[last:step])
            last = step
    bar.close()
    final, samples = _evaluate(model, dataset, data_eval, noise_eval, cfg)
    final["loss_last"] = float(losses[-1]) if cfg.steps else math.nan
    final["loss_mse_last"] = final["loss_last"] / dataset.dim
    k = min(100, cfg.steps)
    final["loss_mse_mean_last100"] = float(losses[-k:].mean()) / dataset.dim if cfg.steps else math.nan
    cfgd = asdict(cfg)
    cfgd["dataset"] = dataset.name
    cfgd["generator"] = "particles" if particles else "mlp"
    return TrainResult(cfgd, history, losses, samples, data_eval, final, time.perf_counter() - t0, model)
