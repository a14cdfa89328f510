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
is the drift-collapse mechanism of docs/theory.md, the stop-gradient section.

The value reported as ``loss`` is :math:`E_i\|V_i\|^2` summed over coordinates (times
:math:`\eta^2`); ``loss_mse`` divides by the dimension (``F.mse_loss``, the quantity [D]'s toy
notebook prints).

Checkpoints (``train(..., out_dir=...)``): every ``checkpoint_every`` steps, at the end and on
SIGINT the full state is written atomically to ``out_dir/checkpoint.pt`` (model, optimiser,
the numpy data stream's and both torch generators' states, step, per-step losses, history,
the configuration and its hash). A re-run on the same folder continues from it, and the final
model and history (wall-clock ``seconds`` aside) are bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from driftlab._io import (CheckpointError, Param, RunDirectory, RunFolderMismatch, atomic_write_bytes, params_hash,
                          read_checkpoint_file, write_json)
from driftlab._validation import check_int, check_positive
from driftlab.training.datasets import ToyDataset, get_dataset
from driftlab.training.fields import DriftField, make_field
from driftlab.training.metrics import mode_coverage, sample_metrics
from driftlab.training.models import MLPGenerator, ParticleGenerator

__all__ = ["TrainConfig", "TrainResult", "train", "drifting_loss", "build_generator", "load_checkpoint",
           "TrainingInterrupted", "CHECKPOINT_NAME", "HISTORY_PARTIAL_NAME"]

#: the checkpoint file inside ``out_dir``
CHECKPOINT_NAME = "checkpoint.pt"
#: the history so far, rewritten after every evaluation (JSON, for a look while the run goes on)
HISTORY_PARTIAL_NAME = "history_partial.json"
#: configuration keys that may change between a run and its resumption (train for longer)
RESUMABLE_CHANGES = ("steps",)
_FORMAT = 1


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
    """History (one dict per evaluation), per-step losses, final samples and metrics.

    ``info``: ``resumed_from`` (the step a checkpoint was continued from; 0 for a fresh run)
    and ``config_hash``.
    """

    config: dict
    history: list[dict]
    losses: np.ndarray
    samples: np.ndarray
    data: np.ndarray
    final: dict
    seconds: float
    model: Any = field(repr=False, default=None)
    info: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"config": self.config, "history": self.history, "final": self.final, "seconds": self.seconds,
                "loss_first": float(self.losses[0]) if len(self.losses) else None,
                "loss_last": float(self.losses[-1]) if len(self.losses) else None}


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT stopped :func:`train` after a completed step whose checkpoint was written.

    Attributes
    ----------
    step : int
        The last completed step (the checkpoint's).
    checkpoint : Path
    """

    def __init__(self, step: int, checkpoint: Path):
        self.step, self.checkpoint = step, Path(checkpoint)
        super().__init__(f"interrupted after step {step}; checkpoint {checkpoint}")


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


def _state_hash(module: torch.nn.Module) -> str:
    """SHA-256 (16 hex digits) of a module's class, parameter/buffer names, dtypes, shapes and values."""
    h = hashlib.sha256(type(module).__name__.encode())
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _dataset_hash(dataset: ToyDataset) -> str:
    """Fingerprint of a data law: its name, dimension and 16 samples from a fixed seed."""
    h = hashlib.sha256(f"{dataset.name}:{dataset.dim}".encode())
    h.update(np.ascontiguousarray(dataset.sample(16, np.random.default_rng(12345)), dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _read_pt(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing = [k for k in ("format", "step", "config", "model", "optimizer", "rng", "history", "losses", "last",
                           "elapsed") if not isinstance(state, dict) or k not in state]
    if missing:
        raise KeyError(f"entries {missing} missing")
    if state["format"] != _FORMAT:
        raise ValueError(f"checkpoint format {state['format']!r}, this driftlab reads {_FORMAT}")
    return state


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a training checkpoint (``checkpoint.pt``) as a dict.

    Keys: ``step``, ``config`` (the compared run parameters), ``config_hash``, ``model`` and
    ``optimizer`` (state dicts), ``rng`` (``numpy``, ``torch_noise``, ``torch_global``),
    ``history``, ``losses`` (float64 tensor of the completed steps), ``last``, ``elapsed``.

    Raises
    ------
    driftlab._io.CheckpointError
        (a ValueError) naming the file when it is missing, empty, truncated or damaged.
    """
    return read_checkpoint_file(path, _read_pt)


def train(cfg: TrainConfig, *, model: torch.nn.Module | None = None, dataset: ToyDataset | None = None,
          progress: bool = True, callback: Callable[[int, dict], None] | None = None,
          out_dir: str | os.PathLike | RunDirectory | None = None, resume: bool = True,
          checkpoint_every: int = 100, on_step: Callable[[int], None] | None = None) -> TrainResult:
    r"""Train a generator with the drifting loss; evaluate on held-out samples.

    Parameters
    ----------
    cfg : TrainConfig
    model : torch.nn.Module, optional
        Defaults to :class:`MLPGenerator` from the config. A :class:`ParticleGenerator`
        trains free particles (then ``batch_gen`` and ``n_eval`` are the particle count).
        On resume its parameters are replaced by the checkpoint's.
    dataset : ToyDataset, optional
        Defaults to ``get_dataset(cfg.data, **cfg.data_kwargs)``.
    progress : bool
        tqdm progress bar.
    callback : callable ``(step, metrics)``, optional
        Called after every evaluation.
    out_dir : path or :class:`driftlab._io.RunDirectory`, optional
        Run folder: ``checkpoint.pt`` (every ``checkpoint_every`` steps, at the end and on
        SIGINT; atomic) and ``history_partial.json`` (after every evaluation). One writer at
        a time (advisory lock ``out_dir/.lock``; an acquired RunDirectory is used as is).
        With ``resume=True`` a checkpoint of the same parameters is continued (``steps`` may
        grow) and the result is bit-identical to an uninterrupted run (wall-clock
        ``seconds`` aside) on the same machine, torch build and thread count (resuming also
        restores torch's global RNG state as it was at the checkpoint).
    resume : bool
        False: start over, removing ``out_dir``'s checkpoint first.
    checkpoint_every : int
        Steps between checkpoints (0: only at the end and on SIGINT). Cost: one
        ``torch.save`` of the model and optimiser (~2 MB for the default MLP).
    on_step : callable ``(step)``, optional
        Called after every completed step (after its checkpoint, if any).

    Returns
    -------
    TrainResult
        ``history`` rows hold ``step``, ``loss`` (mean over the steps since the previous row),
        ``energy``, ``mmd2``, ``w2``, ``drift_energy_tau*`` and, for mixtures, ``mode_fraction``.

    Raises
    ------
    TrainingInterrupted
        (a KeyboardInterrupt) on SIGINT with ``out_dir``: the step in progress is completed
        and checkpointed first (a second SIGINT stops at once).
    driftlab._io.RunFolderMismatch, driftlab._io.RunFolderBusy, driftlab._io.CheckpointError
        ValueErrors: ``out_dir`` holds another run's checkpoint (every difference is
        named), another process writes there, or its checkpoint is unreadable.

    Examples
    --------
    >>> from driftlab.training import TrainConfig, train
    >>> cfg = TrainConfig(data="two-moons", field="gaussian", tau=0.2, steps=3, batch_data=64,
    ...                   batch_gen=64, hidden=16, eval_every=0, n_eval=64, eval_w2=False)
    >>> res = train(cfg, progress=False)
    >>> len(res.losses), sorted(res.final)[:2]
    (3, ['drift_energy_tau0.02', 'drift_energy_tau0.05'])
    """
    cfg.validate()
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=0)
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be a bool, got {resume!r}")
    if cfg.threads is not None:
        torch.set_num_threads(check_int(cfg.threads, "threads", minimum=1))
    dataset = dataset or get_dataset(cfg.data, **cfg.data_kwargs)
    if model is None:
        model = build_generator(cfg, dataset.dim)
    args = (cfg, model, dataset, progress, callback, resume, checkpoint_every, on_step)
    if out_dir is None:
        return _train(*args, run_dir=None)
    if isinstance(out_dir, RunDirectory):
        return _train(*args, run_dir=out_dir.acquire())  # the caller releases it
    with RunDirectory(out_dir) as run_dir:
        return _train(*args, run_dir=run_dir)


def _train(cfg: TrainConfig, model: torch.nn.Module, dataset: ToyDataset, progress: bool,
           callback: Callable[[int, dict], None] | None, resume: bool, checkpoint_every: int,
           on_step: Callable[[int], None] | None, *, run_dir: RunDirectory | None) -> TrainResult:
    from tqdm.auto import tqdm

    dtype = getattr(torch, cfg.dtype)
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
    # what must match for a checkpoint to be continued: the configuration, the initial model, the data law
    identity = {**asdict(cfg), "generator": type(model).__name__, "model_init": _state_hash(model),
                "dataset": _dataset_hash(dataset)}

    history: list[dict] = []
    losses = np.zeros(cfg.steps)
    start, last, elapsed_before = 0, 0, 0.0
    ckpt = run_dir.file(CHECKPOINT_NAME) if run_dir is not None else None
    if run_dir is not None:
        if not resume:
            run_dir.discard(CHECKPOINT_NAME, HISTORY_PARTIAL_NAME)
        state = run_dir.read_checkpoint(CHECKPOINT_NAME, _read_pt)
        if state is not None:
            start, last, elapsed_before = _restore(state, cfg, identity, run_dir, model, opt, rng, gen, history,
                                                   losses)
    t0 = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t0

    def save(step: int) -> None:
        state = {"format": _FORMAT, "step": step, "config": identity, "config_hash": params_hash(identity),
                 "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "rng": {"numpy": rng.bit_generator.state, "torch_noise": gen.get_state(),
                         "torch_global": torch.get_rng_state()},
                 "history": history, "losses": torch.from_numpy(losses[:step].copy()), "last": last,
                 "elapsed": elapsed()}
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(ckpt, buf.getvalue())

    def record(step: int, loss_window: np.ndarray) -> None:
        m, _ = _evaluate(model, dataset, data_eval, noise_eval, cfg)
        row = {"step": step, "loss": float(loss_window.mean()) if loss_window.size else math.nan,
               "loss_mse": float(loss_window.mean()) / dataset.dim if loss_window.size else math.nan,
               "seconds": elapsed(), **m}
        history.append(row)
        if run_dir is not None:
            write_json(run_dir.file(HISTORY_PARTIAL_NAME), history)
        if callback is not None:
            callback(step, row)

    # SIGINT with a run folder: finish the step in progress, checkpoint it, then stop
    interrupted: list[int] = []

    def on_sigint(signum, frame):
        if interrupted:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now (the last checkpoint stays)
        interrupted.append(signum)

    catch = run_dir is not None and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if catch else None
    try:
        if cfg.eval_every and start == 0:
            record(0, np.zeros(0))
        bar = tqdm(range(start + 1, cfg.steps + 1), disable=not progress, desc=f"drift {cfg.data}/{cfg.field}",
                   leave=False, initial=start, total=cfg.steps)
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
            if ckpt is not None and checkpoint_every and step % checkpoint_every == 0 and step < cfg.steps:
                save(step)
            if on_step is not None:
                on_step(step)
            if interrupted:
                bar.close()
                save(step)
                raise TrainingInterrupted(step, ckpt)
        bar.close()
        if ckpt is not None:
            save(cfg.steps)
    finally:
        if catch:
            signal.signal(signal.SIGINT, previous)
    final, samples = _evaluate(model, dataset, data_eval, noise_eval, cfg)
    final["loss_last"] = float(losses[-1]) if cfg.steps else math.nan
    final["loss_mse_last"] = final["loss_last"] / dataset.dim
    k = min(100, cfg.steps)
    final["loss_mse_mean_last100"] = float(losses[-k:].mean()) / dataset.dim if cfg.steps else math.nan
    cfgd = asdict(cfg)
    cfgd["dataset"] = dataset.name
    cfgd["generator"] = "particles" if particles else "mlp"
    info = {"resumed_from": start, "config_hash": params_hash(identity)}
    return TrainResult(cfgd, history, losses, samples, data_eval, final, elapsed(), model, info)


def _restore(state: dict, cfg: TrainConfig, identity: dict, run_dir: RunDirectory, model, opt, rng, gen,
             history: list, losses: np.ndarray) -> tuple[int, int, float]:
    """Load a checkpoint into the run's objects; returns ``(start, last, elapsed)``."""
    run_dir.check_params(state["config"], identity, ignore=RESUMABLE_CHANGES, derived=("model_init", "dataset"))
    step = int(state["step"])
    if step > cfg.steps:
        raise RunFolderMismatch(run_dir.path, [("steps", step, cfg.steps)], parts=[
            f"{run_dir.path} holds a run already at step {step}, beyond ", Param("steps"), f" {cfg.steps}"])
    try:  # a file that passed the parameter check but does not fit (hand-edited, other torch build)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]["numpy"]
        gen.set_state(state["rng"]["torch_noise"])
        torch.set_rng_state(state["rng"]["torch_global"])
        losses[:step] = state["losses"].numpy()
        last = int(state["last"])
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        ckpt = run_dir.file(CHECKPOINT_NAME)
        raise CheckpointError(ckpt, [f"the checkpoint {ckpt} does not fit this run ({type(exc).__name__}: {first})"]
                              ) from exc
    history.extend(state["history"])
    if step < cfg.steps and cfg.eval_every and step % cfg.eval_every and history and history[-1]["step"] == step:
        # the row of the former last step: a longer uninterrupted run has none there
        history.pop()
        last = int(history[-1]["step"]) if history else 0
    return step, last, float(state["elapsed"])
