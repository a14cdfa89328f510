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
(\eta\lambda)^2/2`), the :class:`~driftlab.simulation.integrators.Integrator` objects
:class:`~driftlab.simulation.integrators.Euler` and :class:`~driftlab.simulation.integrators.Heun`
chosen by the configuration's name; bandwidth fixed or scheduled by
:mod:`driftlab.spectral.schedules`.

Checkpoints: every ``checkpoint_every`` steps the
:class:`~driftlab.simulation.state.SimulationState` (particles, step, the observables recorded
so far, the configuration and a hash of the target and the initial particles) is written
atomically as one file (temp file + rename, :mod:`driftlab._io`). A run that is
killed at any moment resumes from the last checkpoint and, because the dynamics are
deterministic, ends with bit-identical particles and observables.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from driftlab import _backend as B
from driftlab._io import RunDirectory, machine_info, write_csv, write_json
from driftlab._validation import check_int, check_points, check_positive
from driftlab.simulation import observables as O
from driftlab.simulation.integrators import Integrator, get_integrator
from driftlab.simulation.state import RESUMABLE_CHANGES, SimulationState

__all__ = ["SimulationConfig", "SimulationResult", "SimulationState", "run_simulation", "load_checkpoint",
           "CHECKPOINT_NAME", "OBSERVABLES_NAME", "RUN_NAME", "RESUMABLE_CHANGES"]

CHECKPOINT_NAME = "checkpoint.npz"
OBSERVABLES_NAME = "observables.csv"
RUN_NAME = "run.json"


@dataclass
class SimulationConfig:
    """Parameters of a run (JSON-serialisable; stored in every checkpoint).

    Parameters
    ----------
    kernel, scale, nu, beta : str, float, float or None, float or None
        The kernel (:func:`driftlab.kernels.make_kernel`); ``scale`` is its length scale
        (Gaussian s, Laplace tau) and the schedule's s0.
    schedule, rate, s1, duration, s_min : str, float or None, float or None, float or None, float
        The bandwidth schedule (:func:`driftlab.spectral.make_bandwidth_schedule`; ``rate`` is
        its r).
    step, n_steps, integrator : float, int, str
        Time step eta, number of steps, the name of an integrator
        (:data:`driftlab.simulation.INTEGRATORS`: ``"euler"`` or ``"heun"``).
    period, wrap, images : float or None, str or None, int
        Torus side L (None: R^d), periodisation (``"lattice"`` or ``"minimum_image"``), lattice
        images.
    dtype, device, backend : str
        Arithmetic (``"float32"``/``"float64"``), torch device, engine backend (``"auto"``).
    seed : int
        Seeds the sliced-W2 directions and the observation subsample.
    observe_every, modes, obs_points, mmd_bandwidth, n_projections : int, list, int, float or None, int
        Observables; ``modes`` are integer lattice vectors on a torus (k = 2 pi n / L), wave
        vectors in R^d.
    checkpoint_every : int
        Steps between checkpoints (0: only at the end).
    num_threads : int or None
        Torch intra-op threads for the kernel sums (None: torch's default).

    Examples
    --------
    >>> from driftlab.simulation import SimulationConfig
    >>> cfg = SimulationConfig(kernel="laplace", scale=0.2, n_steps=10)
    >>> cfg.to_dict()["kernel"], cfg.validate(dim=2).n_steps
    ('laplace', 10)
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
        get_integrator(self.integrator)  # a name of the integrator registry
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
                            is_torch=True, need_log_total=False, period=self.period,
                            wrap=self.resolved_wrap(dim), images=self.images)
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
        """The bandwidth schedule s(t) of the run (:func:`driftlab.spectral.make_bandwidth_schedule`)."""
        from driftlab.spectral.schedules import make_bandwidth_schedule

        return make_bandwidth_schedule(self.schedule, self.scale, r=self.rate, s1=self.s1, duration=self.duration,
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


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint: ``particles``, ``step``, ``records``, ``config`` (dict), ``data_hash``,
    ``elapsed``, ``params`` (the caller's ``run_params``; None in checkpoints older than it).

    The same content as :meth:`SimulationState.load`, as a plain dict.

    Raises
    ------
    driftlab._io.CheckpointError
        (a ValueError) naming the file when it is missing, empty, truncated or damaged.
    """
    return SimulationState.load(path).as_dict()


class _Dynamics:
    """The drift toward the fixed target and the domain (R^d, or the torus with its wrap).

    With ``ranks`` (a :class:`driftlab.simulation.distributed.Ranks`) the positions are this
    rank's block and the sums are the engine's distributed sums: the target replicated on every
    rank, the particles reaching the others by ``reference_mode``."""

    def __init__(self, config: SimulationConfig, y0: np.ndarray, n: int, d: int, ranks: Any = None,
                 reference_mode: str = "all_gather"):
        torch = B.torch()
        self.config = config
        self.period = config.period
        self.wrap_mode = config.resolved_wrap(d)
        self.schedule = config.make_schedule()
        self.dtype = getattr(torch, config.dtype)
        self.device = torch.device(config.device)
        self.y = self.positions(y0)
        backend = config.backend
        if backend == "auto":
            from driftlab.engine import select_backend

            probe = torch.zeros((n, d), dtype=self.dtype, device=self.device)
            backend = select_backend(probe, self.y, config.make_kernel(), need_log_total=False, period=self.period,
                                     wrap=self.wrap_mode, images=config.images)
        self.backend = backend
        from driftlab.engine import kernel_sums_trusted  # lazy: importing the simulator stays light

        self._sums = kernel_sums_trusted
        self.ranks, self.reference_mode = ranks, reference_mode
        self.backend_particles = backend
        if ranks is not None:
            from driftlab.engine import distributed_kernel_sums

            self._distributed_sums = distributed_kernel_sums
            if config.backend == "auto" and reference_mode == "ring":  # the ring merges through normalisers
                from driftlab.engine import select_backend

                probe = torch.zeros((n, d), dtype=self.dtype, device=self.device)
                self.backend_particles = select_backend(probe, probe, config.make_kernel(), need_log_total=True,
                                                        period=self.period, wrap=self.wrap_mode,
                                                        images=config.images)

    def positions(self, points: np.ndarray):
        """``points`` (float64 numpy) as a tensor of the run, mapped into the domain."""
        torch = B.torch()
        return torch.as_tensor(points if self.period is None else np.mod(points, self.period), dtype=self.dtype,
                               device=self.device)

    def field(self, x, t: float):
        """:math:`V(x; s(t)) = \\hat m_{p_M}(x) - \\hat m_{q_N}(x)`, both through the engine."""
        cfg = self.config
        kern = cfg.make_kernel(float(self.schedule.bandwidth(t)))
        if self.ranks is not None:
            return self._distributed_field(x, kern)
        common = dict(period=self.period, wrap=self.wrap_mode, images=cfg.images, backend=self.backend,
                      need_log_total=False, num_threads=cfg.num_threads)
        _, sp = self._sums(x, self.y, kern, **common)
        _, sq = self._sums(x, x, kern, **common)
        return sp - sq

    def _distributed_field(self, x, kern):
        """The field at this rank's block ``x``: two collective sums (target replicated; the
        particles over themselves, own pair kept as in one process)."""
        common = dict(period=self.period, wrap=self.wrap_mode, images=self.config.images,
                      num_threads=self.config.num_threads, group=self.ranks.group)
        _, sp = self._distributed_sums(x, self.y, kern, references="replicated", backend=self.backend, **common)
        _, sq = self._distributed_sums(x, None, kern, references=self.reference_mode,
                                       backend=self.backend_particles, **common)
        return sp - sq

    def wrap(self, x):
        """Positions mapped into the domain (mod L on the torus)."""
        return B.torch().remainder(x, self.period) if self.period is not None else x


class _Observer:
    """One record of observables per call: E||V||^2, bandwidth, Fourier modes, MMD^2 and, in
    R^d, energy distance and sliced W2 on a fixed subsample (drawn from ``config.seed``)."""

    def __init__(self, config: SimulationConfig, n: int, y0: np.ndarray, schedule):
        d = y0.shape[1]
        self.config, self.y0, self.schedule = config, y0, schedule
        rng = np.random.default_rng(config.seed)
        self.dirs = rng.normal(size=(config.n_projections, d))
        self.dirs /= np.linalg.norm(self.dirs, axis=1, keepdims=True)
        self.sub_x = np.sort(rng.choice(n, size=min(n, config.obs_points), replace=False))
        self.sub_y = np.sort(rng.choice(y0.shape[0], size=min(y0.shape[0], config.obs_points), replace=False))
        self.kvec = O.wave_vectors(config.modes, config.period) if len(config.modes) else np.zeros((0, d))
        self.mmd_bw = config.mmd_bandwidth or config.scale

    def __call__(self, step: int, x, v) -> dict:
        xn = B.to_numpy(x).astype(np.float64)
        vn = B.to_numpy(v).astype(np.float64)
        t = step * self.config.step
        rec = {"step": step, "t": t, "bandwidth": float(self.schedule.bandwidth(t)),
               "ev2": float(np.mean(np.sum(vn * vn, axis=1)))}
        if self.kvec.shape[0]:
            amp = O.mode_amplitudes(xn, self.y0, self.kvec)
            for i, a in enumerate(amp):
                rec[f"mode{i}_re"], rec[f"mode{i}_im"] = float(a.real), float(a.imag)
                rec[f"mode{i}_abs"] = float(abs(a))
        xs, ys = xn[self.sub_x], self.y0[self.sub_y]
        rec["mmd2"] = O.mmd2(xs, ys, self.mmd_bw, self.config.period)
        if self.config.period is None:
            rec["energy"] = O.energy_distance(xs, ys)
            rec["sw2"] = O.sliced_w2(xs, ys, self.dirs)
        return rec


def _progress_bar(config: SimulationConfig, start: int, progress: bool):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=config.n_steps, initial=start, disable=not progress, desc="simulate", unit="step")


class _OneProcess:
    """One process seen as a group of one rank: the no-op counterpart of
    :class:`driftlab.simulation.distributed.Ranks` (observations here, nothing to gather, errors
    propagate as they are)."""

    is_root = True
    world = 1

    def __init__(self, n: int):
        self.n = n

    def observe(self, observer: _Observer, step: int, x, v, stop_when: Callable[[dict], bool] | None):
        record = observer(step, x, v)
        return record, stop_when is not None and bool(stop_when(record))

    def gather(self, block):
        return block

    def all_rows(self, block):
        return block

    def guarded(self, where: str):
        return contextlib.nullcontext()


def _advance(state: SimulationState, dynamics: _Dynamics, integrator: Integrator, observe: _Observer,
             config: SimulationConfig, save: Callable[[SimulationState, Any], None], ranks: Any, *, progress: bool,
             on_step: Callable[[int, Any], None] | None, stop_when: Callable[[dict], bool] | None) -> int | None:
    """Step ``state`` to ``config.n_steps`` (observing, checkpointing); the step a stop fired at, or None.

    ``ranks`` is :class:`_OneProcess` or a :class:`~driftlab.simulation.distributed.Ranks`; in the
    latter the collective calls (field, observation, gather) come in the same order on every
    rank, and what a rank does alone (progress bar, ``on_step``, rank 0's checkpoint) runs in a
    guarded region after them."""
    bar = _progress_bar(config, state.step, progress and ranks.is_root)
    eta = config.step
    stopped = None
    for step in range(state.step, config.n_steps):
        t = state.time
        v = dynamics.field(state.particles, t)
        if step % config.observe_every == 0:
            record, stop = ranks.observe(observe, step, state.particles, v, stop_when)
            state.records.append(record)
            if bar is not None:
                bar.set_postfix(ev2=f"{record['ev2']:.3e}")
            if stop:
                stopped = step
                break
        state.particles = integrator.step(dynamics.field, state.particles, t, eta, v, dynamics.wrap)
        state.step = step + 1
        checkpoint = bool(config.checkpoint_every) and state.step % config.checkpoint_every == 0 \
            and state.step < config.n_steps
        particles = ranks.gather(state.particles) if checkpoint else None
        with ranks.guarded(f"step {state.step}"):
            if bar is not None:
                bar.update(1)
            if on_step is not None:
                on_step(state.step, state.particles)
            if checkpoint:
                save(state, particles)
    if bar is not None:
        bar.close()
    return stopped


def run_simulation(config: SimulationConfig, particles: Any, target: Any, *, out_dir: str | Path | None = None,
                   resume: bool = True, progress: bool = True,
                   on_step: Callable[[int, Any], None] | None = None,
                   stop_when: Callable[[dict], bool] | None = None,
                   run_params: dict | None = None, distributed: bool | None = None,
                   reference_mode: str = "all_gather", group: Any = None) -> SimulationResult:
    r"""Run (or resume) the particle dynamics and record observables.

    The run is the composition of a :class:`SimulationState` (loaded from ``out_dir`` or
    fresh), the drift of the configuration, the :class:`~driftlab.simulation.Integrator`
    named by ``config.integrator`` and the observables; the state is saved as a unit every
    ``config.checkpoint_every`` steps and at the end.

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
    distributed : bool or None
        Run over the ranks of a ``torch.distributed`` process group
        (:mod:`driftlab.simulation.distributed`): every rank calls with the same arguments
        (the *global* particles and target), advances its slice of the particles and returns
        the same result; rank 0 alone shows progress, computes the observables and reads and
        writes ``out_dir`` (a checkpoint holds the global particles, so a run resumes with any
        number of ranks); ``on_step`` gets each rank's block. None (default): distributed
        when a process group is initialised; False: one process even then.
    reference_mode : {"all_gather", "ring"}
        Distributed runs: how each rank sums over the other ranks' particles
        (:func:`driftlab.engine.distributed_kernel_sums`; the target is replicated).
    group : ProcessGroup, optional
        Distributed runs: the group (default: the world group).

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
    driftlab.simulation.DistributedRunError
        (a RuntimeError) in a distributed run, on every rank but the one that failed
        (which raises its own error), naming that rank, the step and the error.

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
    if distributed not in (None, True, False):
        raise TypeError(f"distributed must be None, True or False, got {distributed!r}")
    if distributed or (distributed is None and _group_initialised()):
        return _run_distributed(config, particles, target, out_dir=out_dir, resume=resume, progress=progress,
                                on_step=on_step, stop_when=stop_when, run_params=run_params,
                                reference_mode=reference_mode, group=group)
    from driftlab.simulation.distributed import check_reference_mode

    check_reference_mode(reference_mode, "auto")
    x0 = np.asarray(B.to_numpy(check_points(particles, "particles")), dtype=np.float64)
    y0 = np.asarray(B.to_numpy(check_points(target, "target", dim=x0.shape[1])), dtype=np.float64)
    n, d = x0.shape
    config.validate(d)
    integrator = get_integrator(config.integrator)
    dynamics = _Dynamics(config, y0, n, d)
    observe = _Observer(config, n, y0, dynamics.schedule)
    params = json.loads(json.dumps(run_params or {}, sort_keys=True))
    fresh = SimulationState(dynamics.positions(x0), 0, [], config.to_dict(), _hash_arrays(x0, y0), 0.0, params)
    ranks = _OneProcess(n)
    if out_dir is None:
        return _run(fresh, None, dynamics, integrator, observe, config, ranks, progress=progress, on_step=on_step,
                    stop_when=stop_when)
    with RunDirectory(out_dir) as run_dir:  # one writer per folder, released however the run ends
        if not resume:
            run_dir.discard(CHECKPOINT_NAME)
        stored = run_dir.read_checkpoint(CHECKPOINT_NAME, SimulationState._read)
        state = fresh
        if stored is not None:
            state = stored.continued(run_dir, fresh.config, params, fresh.data_hash)
            state.particles = B.torch().as_tensor(state.particles, dtype=dynamics.dtype, device=dynamics.device)
        return _run(state, run_dir, dynamics, integrator, observe, config, ranks, progress=progress,
                    on_step=on_step, stop_when=stop_when)


def _group_initialised() -> bool:
    """Whether a ``torch.distributed`` default group exists (without importing torch if it is not loaded)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return False
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


def _run_distributed(config: SimulationConfig, particles: Any, target: Any, *, out_dir, resume, progress, on_step,
                     stop_when, run_params, reference_mode, group) -> SimulationResult:
    """:func:`run_simulation` over the ranks of a process group (:mod:`driftlab.simulation.distributed`)."""
    from driftlab._io import params_hash
    from driftlab.simulation.distributed import Ranks, check_reference_mode

    ranks = Ranks(group)
    with ranks.guarded("setup"):  # the same checks as one process, agreed by all ranks
        x0 = np.asarray(B.to_numpy(check_points(particles, "particles")), dtype=np.float64)
        y0 = np.asarray(B.to_numpy(check_points(target, "target", dim=x0.shape[1])), dtype=np.float64)
        n, d = x0.shape
        config.validate(d)
        check_reference_mode(reference_mode, config.backend)
        if not isinstance(resume, bool):
            raise TypeError(f"resume must be a bool, got {resume!r}")
        integrator = get_integrator(config.integrator)
        lo, hi = ranks.shard(n)
        dynamics = _Dynamics(config, y0, n, d, ranks=ranks, reference_mode=reference_mode)
        observe = _Observer(config, n, y0, dynamics.schedule)
        params = json.loads(json.dumps(run_params or {}, sort_keys=True))
        data_hash = _hash_arrays(x0, y0)
        mine = {"configuration": params_hash(config.to_dict()), "run_params": params_hash(params),
                "particles and target": data_hash, "reference_mode": reference_mode, "resume": resume}
    prints: list = [None] * ranks.world
    ranks.dist.all_gather_object(prints, mine, group=group)
    differ = sorted({key for p in prints for key in mine if p[key] != prints[0][key]})
    if differ:
        ranks_off = [k for k, p in enumerate(prints) if p != prints[0]]
        raise ValueError(f"every rank of a distributed simulation must pass the same arguments (the global "
                         f"particles and target): rank(s) {ranks_off} differ from rank 0 in {', '.join(differ)}")
    fresh = SimulationState(dynamics.positions(x0[lo:hi]), 0, [], config.to_dict(), data_hash, 0.0, params)
    extra = {"world_size": ranks.world, "reference_mode": reference_mode,
             "backend_particles": dynamics.backend_particles}
    with contextlib.ExitStack() as stack:
        holder: dict = {}

        def open_folder():
            """Rank 0: lock the folder, read and check its checkpoint; what the others need of it."""
            holder["run_dir"] = run_dir = stack.enter_context(RunDirectory(out_dir))
            if not resume:
                run_dir.discard(CHECKPOINT_NAME)
            stored = run_dir.read_checkpoint(CHECKPOINT_NAME, SimulationState._read)
            if stored is None:
                return None
            state = stored.continued(run_dir, fresh.config, params, fresh.data_hash)
            holder["particles"] = np.asarray(state.particles, dtype=np.float64)
            if holder["particles"].shape != (n, d):
                raise ValueError(f"the checkpoint {run_dir.file(CHECKPOINT_NAME)} holds particles of shape "
                                 f"{holder['particles'].shape}, the run has {(n, d)}")
            return {"step": state.step, "records": state.records, "elapsed": state.elapsed}

        state = fresh
        if out_dir is not None:
            stored = ranks.on_root(open_folder, "opening the output folder")
            if stored is not None:  # every rank restores its slice of the global checkpoint
                glob = ranks.broadcast_array(holder.get("particles"), (n, d))
                state = SimulationState(B.torch().as_tensor(glob[lo:hi], dtype=dynamics.dtype, device=dynamics.device),
                                        stored["step"], stored["records"], fresh.config, data_hash, stored["elapsed"],
                                        params)
        return _run(state, holder.get("run_dir"), dynamics, integrator, observe, config, ranks, extra_info=extra,
                    progress=progress, on_step=on_step, stop_when=stop_when)


def _run(state: SimulationState, run_dir: RunDirectory | None, dynamics: _Dynamics, integrator: Integrator,
         observe: _Observer, config: SimulationConfig, ranks: Any, extra_info: dict | None = None,
         **loop) -> SimulationResult:
    """Advance ``state`` to the end, checkpointing into ``run_dir`` (if any; rank 0's only); the result."""
    start, elapsed_before, t0 = state.step, state.elapsed, time.perf_counter()

    def save(st: SimulationState, particles) -> None:
        """Write ``st`` with the global ``particles`` (gathered to rank 0 in a distributed run)."""
        if run_dir is None:
            return
        st.elapsed = elapsed_before + time.perf_counter() - t0
        dataclasses.replace(st, particles=particles).save(run_dir.file(CHECKPOINT_NAME))
        if st.records:
            write_csv(run_dir.file(OBSERVABLES_NAME), st.records)

    stopped = _advance(state, dynamics, integrator, observe, config, save, ranks, **loop)
    if stopped is None and (not state.records or state.records[-1]["step"] != config.n_steps):
        v = dynamics.field(state.particles, state.time)
        state.records.append(ranks.observe(observe, state.step, state.particles, v, None)[0])
    info = {"n_particles": int(ranks.n), "n_target": int(observe.y0.shape[0]),
            "dim": int(state.particles.shape[1]), "backend": dynamics.backend,
            "wrap": dynamics.wrap_mode if config.period else None, "data_hash": state.data_hash,
            "elapsed_s": elapsed_before + time.perf_counter() - t0, "resumed_from": start, "stopped_at": stopped,
            **(extra_info or {})}
    particles = ranks.gather(state.particles)
    with ranks.guarded("the final checkpoint"):
        save(state, particles)
        if run_dir is not None:
            write_json(run_dir.file(RUN_NAME), {"config": state.config, "info": info, "machine": machine_info(),
                                                "final": state.records[-1]})
    final = ranks.all_rows(state.particles)
    return SimulationResult(B.to_numpy(final).astype(np.float64), state.records, config, info)
