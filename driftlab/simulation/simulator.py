r"""Particle simulation of the drifting dynamics :math:`\dot x_i = V_{p, q_N}(x_i)` ([D], [T]).

N particles :math:`x_i` (empirical law :math:`q_N`) move along the drift toward a fixed
target sample set :math:`\{y_j\}_{j\le M}` (empirical :math:`p_M`):

.. math::

    V(x) = \hat m_{p_M}(x) - \hat m_{q_N}(x), \qquad
    \hat m_\pi(x) = \frac{\sum_j k(x, y_j)(y_j - x)}{\sum_j k(x, y_j)},

each mean shift normalised over its own set (the mean-field field; the particle's own
pair is kept, so :math:`q_N` is exactly a weak solution of the continuity equation
:math:`\partial_t q + \nabla\cdot(q V_{p,q}) = 0`). The kernel sums go through
:mod:`driftlab.engine` (never an N x M matrix).

Space: R^d, or the torus ``[0, L)^d`` with the periodised kernel (``wrap="lattice"``:
lattice sum over the images within distance L, whose spectrum is exactly
:math:`E(2\pi n/L)` -- what the spectral rates assume; ``"minimum_image"``: nearest image,
``(3^d)`` times cheaper, kernel truncated at the box faces with error ~ :math:`\varphi(L/2)`;
default lattice for d <= 2, minimum image above).

Time: explicit Euler :math:`x \leftarrow x + \eta V(x; s(t))` (a linear mode is multiplied
by :math:`1 - \eta\lambda` per step) or Heun (factor :math:`1 - \eta\lambda +
(\eta\lambda)^2/2`); bandwidth fixed or scheduled by :mod:`driftlab.spectral.schedules`.

Checkpoints: every ``checkpoint_every`` steps the full state (particles, step, the
observables recorded so far, the configuration and a hash of the target and the initial
particles) is written atomically (temp file + rename, :mod:`driftlab._io`). A run that is
killed at any moment resumes from the last checkpoint and, because the dynamics are
deterministic, ends with bit-identical particles and observables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from driftlab import _backend as B
from driftlab._io import (Param, RunDirectory, RunFolderMismatch, atomic_write_bytes, read_checkpoint_file, write_csv,
                          write_json)
from driftlab._validation import check_int, check_positive
from driftlab.simulation import observables as O

__all__ = ["SimulationConfig", "SimulationResult", "run_simulation", "load_checkpoint", "CHECKPOINT_NAME",
           "OBSERVABLES_NAME", "RUN_NAME"]

CHECKPOINT_NAME = "checkpoint.npz"
OBSERVABLES_NAME = "observables.csv"
RUN_NAME = "run.json"


@dataclass
class SimulationConfig:
    """Parameters of a run (JSON-serialisable; stored in every checkpoint).

    kernel, scale, nu, beta : the kernel (:func:`driftlab.kernels.make_kernel`); ``scale`` is
        its length scale (Gaussian s, Laplace tau) and the schedule's s0.
    schedule, rate, s1, duration, s_min : bandwidth schedule
        (:func:`driftlab.spectral.schedules.make_schedule`; ``rate`` is its r).
    step, n_steps, integrator : time step eta, number of steps, ``"euler"`` or ``"heun"``.
    period, wrap, images : torus side L (None: R^d), periodisation, lattice images.
    dtype, device, backend : arithmetic (``"float32"``/``"float64"``), torch device,
        engine backend (``"auto"``).
    seed : seeds the sliced-W2 directions and the observation subsample.
    observe_every, modes, obs_points, mmd_bandwidth, n_projections : observables; ``modes``
        are integer lattice vectors on a torus (k = 2 pi n / L), wave vectors in R^d.
    checkpoint_every : steps between checkpoints (0: only at the end).
    num_threads : torch intra-op threads for the kernel sums (None: torch's default).
    """

    kernel: str = "gaussian"
    scale: float = 0.1
    nu: float | None = None
    beta: float | None = None
    schedule: str = "constant"
    rate: float | None = None
    s1: float | None = None
    duration: float | None = None
    s_min: float = 0.0
    step: float = 0.5
    n_steps: int = 100
    integrator: str = "euler"
    period: float | None = None
    wrap: str | None = None
    images: int = 1
    dtype: str = "float64"
    device: str = "cpu"
    backend: str = "auto"
    seed: int = 0
    observe_every: int = 1
    modes: list = field(default_factory=list)
    obs_points: int = 2048
    mmd_bandwidth: float | None = None
    n_projections: int = 32
    checkpoint_every: int = 50
    num_threads: int | None = None

    def validate(self, dim: int) -> "SimulationConfig":
        from driftlab.engine import BACKENDS

        check_positive(self.scale, "scale")
        check_positive(self.step, "step")
        check_int(self.n_steps, "n_steps", minimum=0)
        check_int(self.observe_every, "observe_every", minimum=1)
        check_int(self.checkpoint_every, "checkpoint_every", minimum=0)
        check_int(self.obs_points, "obs_points", minimum=2)
        check_int(self.n_projections, "n_projections", minimum=1)
        check_int(self.images, "images", minimum=0)
        if self.integrator not in ("euler", "heun"):
            raise ValueError(f"integrator must be 'euler' or 'heun', got {self.integrator!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.period is not None:
            check_positive(self.period, "period")
        if self.wrap not in (None, "lattice", "minimum_image"):
            raise ValueError(f"wrap must be None, 'lattice' or 'minimum_image', got {self.wrap!r}")
        for mvec in self.modes:
            if len(np.atleast_1d(mvec)) != dim:
                raise ValueError(f"every mode must have {dim} components, got {mvec!r}")
        self.make_schedule()
        kernel = self.make_kernel()
        if self.backend != "auto":  # ask the chosen backend whether it computes this run's sums
            from driftlab.engine import SumsCall, get_backend

            call = SumsCall(kernel, 1, 1, dim, device=str(self.device).split(":")[0], dtype=self.dtype,
                            is_torch=True, period=self.period, wrap=self.resolved_wrap(dim), images=self.images)
            reason = get_backend(self.backend).unsupported(call)
            if reason:
                raise ValueError(f"backend={self.backend!r} cannot run this simulation: {reason} "
                                 f"(kernel={self.kernel!r}, period={self.period!r})")
        return self

    def make_kernel(self, length_scale: float | None = None):
        from driftlab.kernels import make_kernel

        kw = {k: v for k, v in (("nu", self.nu), ("beta", self.beta)) if v is not None}
        return make_kernel(self.kernel, self.scale if length_scale is None else length_scale, **kw)

    def make_schedule(self):
        from driftlab.spectral.schedules import make_schedule

        return make_schedule(self.schedule, self.scale, r=self.rate, s1=self.s1, duration=self.duration,
                             s_min=self.s_min)

    def resolved_wrap(self, dim: int) -> str:
        return self.wrap or ("lattice" if dim <= 2 else "minimum_image")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["modes"] = [list(map(float, np.atleast_1d(mv))) for mv in self.modes]
        return d


@dataclass
class SimulationResult:
    """Final particles (numpy float64), the observables (one dict per observation) and the run facts."""

    particles: np.ndarray
    records: list[dict]
    config: SimulationConfig
    info: dict

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.records], dtype=np.float64)


def _hash_arrays(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _read_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {
            "particles": np.array(z["particles"]),
            "step": int(z["step"]),
            "records": json.loads(str(z["records"])),
            "config": json.loads(str(z["config"])),
            "data_hash": str(z["data_hash"]),
            "elapsed": float(z["elapsed"]),
            "params": json.loads(str(z["params"])) if "params" in z.files else None,
        }


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint: ``particles``, ``step``, ``records``, ``config`` (dict), ``data_hash``,
    ``elapsed``, ``params`` (the caller's ``run_params``; None in checkpoints older than it).

    Raises
    ------
    driftlab._io.CheckpointError
        (a ValueError) naming the file when it is missing, empty, truncated or damaged.
    """
    return read_checkpoint_file(path, _read_npz)


def _write_checkpoint(path: Path, particles, step, records, config, data_hash, elapsed, params=None) -> None:
    buf = io.BytesIO()
    np.savez(buf, particles=particles, step=np.int64(step), records=np.array(json.dumps(records)),
             config=np.array(json.dumps(config, sort_keys=True)), data_hash=np.array(data_hash),
             elapsed=np.float64(elapsed), params=np.array(json.dumps(params or {}, sort_keys=True)))
    atomic_write_bytes(path, buf.getvalue())


#: configuration keys that may change between a run and its resumption (more steps; another cadence)
RESUMABLE_CHANGES = ("n_steps", "checkpoint_every")


def run_simulation(config: SimulationConfig, particles: Any, target: Any, *, out_dir: str | Path | None = None,
                   resume: bool = True, progress: bool = True,
                   on_step: Callable[[int, Any], None] | None = None,
                   stop_when: Callable[[dict], bool] | None = None,
                   run_params: dict | None = None) -> SimulationResult:
    r"""Run (or resume) the particle dynamics and record observables.

    Parameters
    ----------
    config : SimulationConfig
    particles : array (N, d)
        Initial particle positions.
    target : array (M, d)
        Target samples :math:`y_j` (fixed during the run).
    out_dir : path, optional
        Where ``checkpoint.npz``, ``observables.csv`` and ``run.json`` go
        (:class:`driftlab._io.RunDirectory`: one writer at a time, an advisory lock on
        ``out_dir/.lock``). With ``resume=True`` an existing checkpoint of the same
        configuration (``n_steps`` and ``checkpoint_every`` may change), data and
        ``run_params`` is continued.
    resume : bool
        False: start over, removing ``out_dir``'s checkpoint first.
    progress : bool
        tqdm progress bar.
    on_step : callable(step, particles), optional
        Called after every step (used by tests to interrupt a run).
    stop_when : callable(record) -> bool, optional
        Checked on every observation; True ends the run there (early stopping, e.g. once
        a target error is reached). ``info["stopped_at"]`` gives the step.
    run_params : dict, optional
        Further JSON-serialisable parameters that define the run (the command line passes
        how it built the particles and the target); stored in the checkpoint and compared
        on resume, so a mismatch names them.

    Returns
    -------
    SimulationResult

    Raises
    ------
    driftlab._io.RunFolderMismatch
        ``out_dir`` holds a checkpoint of another configuration, data set or ``run_params``
        (or one already past ``n_steps``); the message lists every difference.
    driftlab._io.RunFolderBusy
        Another process is writing to ``out_dir``.
    driftlab._io.CheckpointError
        ``out_dir``'s checkpoint is empty, truncated or damaged.
    (All three are ValueErrors.)

    Examples
    --------
    >>> import numpy as np
    >>> from driftlab.simulation import SimulationConfig, run_simulation
    >>> rng = np.random.default_rng(0)
    >>> cfg = SimulationConfig(kernel="gaussian", scale=0.5, step=0.5, n_steps=20, obs_points=64)
    >>> res = run_simulation(cfg, rng.normal(size=(64, 1)) + 2.0, rng.normal(size=(64, 1)), progress=False)
    >>> bool(res.records[-1]["energy"] < 0.1 * res.records[0]["energy"])
    True

    References: [D] (drift field), [T] (mean-field dynamics, spectral rates, annealing).
    """
    from driftlab._validation import check_points

    torch = B.torch()
    x0 = np.asarray(B.to_numpy(check_points(particles, "particles")), dtype=np.float64)
    y0 = np.asarray(B.to_numpy(check_points(target, "target", dim=x0.shape[1])), dtype=np.float64)
    n, d = x0.shape
    config.validate(d)
    wrap = config.resolved_wrap(d)
    tdtype = getattr(torch, config.dtype)
    dev = torch.device(config.device)
    period = config.period
    schedule = config.make_schedule()
    cfg_dict = config.to_dict()
    data_hash = _hash_arrays(x0, y0)
    rng = np.random.default_rng(config.seed)
    dirs = rng.normal(size=(config.n_projections, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    sub_x = np.sort(rng.choice(n, size=min(n, config.obs_points), replace=False))
    sub_y = np.sort(rng.choice(y0.shape[0], size=min(y0.shape[0], config.obs_points), replace=False))
    kvec = O.wave_vectors(config.modes, period) if len(config.modes) else np.zeros((0, d))
    mmd_bw = config.mmd_bandwidth or config.scale

    from driftlab.engine import kernel_sums_trusted, select_backend

    y = torch.as_tensor(y0 if period is None else np.mod(y0, period), dtype=tdtype, device=dev)
    backend = config.backend
    if backend == "auto":
        probe = torch.zeros((n, d), dtype=tdtype, device=dev)
        backend = select_backend(probe, y, config.make_kernel(), need_log_total=False, period=period, wrap=wrap,
                                 images=config.images)

    def field_at(x, t):
        kern = config.make_kernel(float(schedule.bandwidth(t)))
        common = dict(period=period, wrap=wrap, images=config.images, backend=backend, need_log_total=False,
                      num_threads=config.num_threads)
        _, sp = kernel_sums_trusted(x, y, kern, **common)
        _, sq = kernel_sums_trusted(x, x, kern, **common)
        return sp - sq

    def wrap_pos(x):
        return torch.remainder(x, period) if period is not None else x

    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / CHECKPOINT_NAME if out is not None else None
    start, records, elapsed_before = 0, [], 0.0
    params = json.loads(json.dumps(run_params or {}, sort_keys=True))
    x = torch.as_tensor(x0 if period is None else np.mod(x0, period), dtype=tdtype, device=dev)
    run_dir = RunDirectory(out) if out is not None else None
    if run_dir is not None:
        run_dir.acquire()  # released in the finally below: one writer per folder
    try:
        if run_dir is not None and not resume:
            run_dir.discard(CHECKPOINT_NAME)
        state = run_dir.read_checkpoint(CHECKPOINT_NAME, _read_npz) if run_dir is not None else None
        if state is not None:
            stored = state["params"] if state["params"] is not None else params  # older file: the data hash decides
            run_dir.check_params({**state["config"], **stored}, {**cfg_dict, **params},
                                 ignore=RESUMABLE_CHANGES)
            if state["data_hash"] != data_hash:
                raise RunFolderMismatch(out, [("data_hash", state["data_hash"], data_hash)], parts=[
                    f"{out} holds a run from other initial particles or another target (data hash "
                    f"{state['data_hash']} there, {data_hash} now)"])
            if state["step"] > config.n_steps:
                raise RunFolderMismatch(out, [("n_steps", state["step"], config.n_steps)], parts=[
                    f"{out} holds a run already at step {state['step']}, beyond ", Param("n_steps"),
                    f" {config.n_steps}"])
            start, records, elapsed_before = state["step"], state["records"], state["elapsed"]
            records = [r for r in records if r["step"] < start]
            x = torch.as_tensor(state["particles"], dtype=tdtype, device=dev)

        def observe(step, xt, v):
            xn = B.to_numpy(xt).astype(np.float64)
            vn = B.to_numpy(v).astype(np.float64)
            t = step * config.step
            rec = {"step": step, "t": t, "bandwidth": float(schedule.bandwidth(t)),
                   "ev2": float(np.mean(np.sum(vn * vn, axis=1)))}
            if kvec.shape[0]:
                amp = O.mode_amplitudes(xn, y0, kvec)
                for i, a in enumerate(amp):
                    rec[f"mode{i}_re"], rec[f"mode{i}_im"] = float(a.real), float(a.imag)
                    rec[f"mode{i}_abs"] = float(abs(a))
            xs, ys = xn[sub_x], y0[sub_y]
            rec["mmd2"] = O.mmd2(xs, ys, mmd_bw, period)
            if period is None:
                rec["energy"] = O.energy_distance(xs, ys)
                rec["sw2"] = O.sliced_w2(xs, ys, dirs)
            return rec

        def save(step, xt, t0):
            if ckpt is None:
                return
            _write_checkpoint(ckpt, B.to_numpy(xt), step, records, cfg_dict, data_hash,
                              elapsed_before + time.perf_counter() - t0, params)
            if records:
                write_csv(out / OBSERVABLES_NAME, records)

        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover
            tqdm = None
        bar = tqdm(total=config.n_steps, initial=start, disable=not progress or tqdm is None, desc="simulate",
                   unit="step") if tqdm is not None else None
        t0 = time.perf_counter()
        eta = config.step
        stopped = None
        for step in range(start, config.n_steps):
            t = step * eta
            v = field_at(x, t)
            if step % config.observe_every == 0:
                records.append(observe(step, x, v))
                if bar is not None:
                    bar.set_postfix(ev2=f"{records[-1]['ev2']:.3e}")
                if stop_when is not None and stop_when(records[-1]):
                    stopped = step
                    break
            if config.integrator == "euler":
                x = wrap_pos(x + eta * v)
            else:
                xp = wrap_pos(x + eta * v)
                v2 = field_at(xp, t + eta)
                x = wrap_pos(x + (0.5 * eta) * (v + v2))
            if bar is not None:
                bar.update(1)
            if on_step is not None:
                on_step(step + 1, x)
            if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < config.n_steps:
                save(step + 1, x, t0)
        if bar is not None:
            bar.close()
        final_step = config.n_steps if stopped is None else stopped
        if stopped is None and (not records or records[-1]["step"] != config.n_steps):
            records.append(observe(config.n_steps, x, field_at(x, config.n_steps * eta)))
        elapsed = elapsed_before + time.perf_counter() - t0
        info = {"n_particles": n, "n_target": int(y0.shape[0]), "dim": d, "backend": backend,
                "wrap": wrap if period else None, "data_hash": data_hash, "elapsed_s": elapsed, "resumed_from": start, "stopped_at": stopped}
        save(final_step, x, t0)
        if out is not None:
            from driftlab._io import machine_info

            write_json(out / RUN_NAME, {"config": cfg_dict, "info": info, "machine": machine_info(),
                                        "final": records[-1]})
        return SimulationResult(B.to_numpy(x).astype(np.float64), records, config, info)
    finally:
        if run_dir is not None:
            run_dir.release()
