r"""The particle simulator over the ranks of a ``torch.distributed`` process group.

:func:`~driftlab.simulation.run_simulation` runs in this mode whenever a process group is
initialised (``distributed=None``, the default) or when asked to (``distributed=True``).
Every rank calls it with the *same* configuration, initial particles and target (the
global arrays: each rank takes its contiguous slice of the particles,
:func:`driftlab.engine.shard_bounds`), and every rank returns the same
:class:`~driftlab.simulation.SimulationResult` (the global final particles and the records).

One drift evaluation is two collective calls of
:func:`driftlab.engine.distributed_kernel_sums`: the target with ``references="replicated"``
(every rank holds it) and the particles over themselves with ``y=None`` and the chosen
``reference_mode`` (``"all_gather"``: each rank receives the others' particles; ``"ring"``:
the particle blocks travel round the ring and the partial sums merge in log space). The
particle's own pair is kept, as in one process (the mean-field field). Each rank moves its own
block; the integrators (Euler, Heun) are pointwise apart from their field evaluations, so they
run unchanged.

Rank 0 alone draws the progress bar, computes the observables (the particles and the drift
are gathered to it at each observation; the record is broadcast back, so ``stop_when`` is
decided once, on rank 0), holds the lock of ``out_dir`` and writes every file: the
checkpoints hold the *global* particle array, gathered to rank 0 and written atomically.
``out_dir`` is read on rank 0 only (the other ranks may pass anything). On resume rank 0
reads the checkpoint and broadcasts it; every rank restores its slice, so a run checkpointed
with R ranks resumes with any other number (or in one process, and the other way round).

Failures: everything a rank does alone (rank 0's files and observables, the ``on_step``
callback) runs in a guarded region followed by a one-integer all-gather of failure flags, so an
exception on one rank raises on every rank at that point: the failing rank re-raises its
own exception, the others a :class:`DistributedRunError` whose one-line message names the
rank, the place (``"step 12"``) and the error. An error in the kernel sums is agreed by the
engine itself. A rank that dies (killed, out of memory at the operating-system level) makes
its peers' next message fail: at once on a closed gloo connection, at the latest after the
group's timeout (:func:`init_from_env` sets it; ``torch.distributed`` defaults to 30 min).

Under ``torchrun`` the command line initialises the group itself (:func:`init_from_env`:
gloo for ``--device cpu``, NCCL for CUDA, each rank on ``cuda:LOCAL_RANK``)::

    torchrun --standalone --nproc_per_node=2 -m driftlab -- simulate --n 4096 --steps 50 --out runs/d2

(the ``--`` ends torchrun's options: its parser takes ``--n`` and ``--m`` for abbreviations of
its own).

Results equal the one-process run's to round-off (float64: the same terms summed in
another order; see ``tests/test_simulation_distributed.py`` and docs/simulation.md).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from typing import Any, Callable

import numpy as np

from driftlab import _backend as B

__all__ = ["DistributedRunError", "SIMULATION_REFERENCE_MODES", "init_from_env", "run_on_root"]

#: how the particles reach the other ranks (``run_simulation(reference_mode=...)``)
SIMULATION_REFERENCE_MODES = ("all_gather", "ring")

#: the environment variable whose presence means "launched by torchrun" (or another launcher)
_LAUNCHER_VAR = "WORLD_SIZE"


class DistributedRunError(RuntimeError):
    """Another rank of a distributed simulation failed; raised on every rank but the failing one(s).

    Attributes
    ----------
    ranks : list of int
        The ranks that failed.
    where : str
        Where the ranks were (``"setup"``, ``"step 12"``, ``"observation at step 10"``, ...).
    """

    def __init__(self, message: str, ranks: list[int], where: str):
        super().__init__(message)
        self.ranks, self.where = list(ranks), where


def _one_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


def launched_by_torchrun() -> bool:
    """True when the launcher's variables (``WORLD_SIZE``, ``RANK``) are set in the environment."""
    return _LAUNCHER_VAR in os.environ and "RANK" in os.environ


def init_from_env(device: str = "cpu", timeout: float = 300.0) -> bool:
    """Initialise the default process group from the launcher's environment (``torchrun``).

    Does nothing (returns False) when a group is already initialised or when the process was
    not started by a launcher (no ``WORLD_SIZE``/``RANK``). Otherwise: gloo when ``device`` is
    the CPU, NCCL for CUDA; with ``device="cuda"`` (no index) each rank uses
    ``cuda:LOCAL_RANK`` (``torch.cuda.set_device``); ``"cuda:N"`` puts every rank on GPU N.

    Parameters
    ----------
    device : str
        The simulation's torch device.
    timeout : float
        Seconds a collective may wait for a peer before it fails (> 0): what keeps a rank whose
        peer hangs from waiting forever.

    Returns
    -------
    bool
        True if this call initialised the group (the caller destroys it when done).

    Raises
    ------
    ValueError
        If ``timeout`` is not a finite number > 0, or the launcher's variables are not integers.
    """
    import math

    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    torch = B.torch()
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized() or not launched_by_torchrun():
        return False
    try:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    except ValueError as exc:
        raise ValueError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers: {exc}") from None
    cuda = str(device).startswith("cuda")
    if cuda and str(device) == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=float(timeout)))
    return True


class Ranks:
    """The process group as the simulator uses it: this rank's slice, the gathers to rank 0,
    the broadcasts from it and the agreement on failures (one value per run; internal).

    Parameters
    ----------
    group : ProcessGroup or None
        None: the default (world) group, which must be initialised.
    """

    def __init__(self, group: Any = None):
        torch = B.torch()
        dist = torch.distributed
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("a distributed simulation needs an initialised torch.distributed process group "
                               "(torch.distributed.init_process_group, e.g. under torchrun)")
        self.dist, self.group = dist, group
        self.rank, self.world = dist.get_rank(group), dist.get_world_size(group)
        self.root = 0 if group is None else dist.get_global_rank(group, 0)
        self.is_root = self.rank == 0
        self.comm_device = torch.device("cuda", torch.cuda.current_device()) \
            if dist.get_backend(group) == "nccl" else torch.device("cpu")
        self.n = 0
        self.bounds: list[tuple[int, int]] = [(0, 0)]

    def shard(self, n: int) -> tuple[int, int]:
        """Split ``n`` particles over the ranks; this rank's ``(start, stop)``."""
        from driftlab.engine import shard_bounds

        self.n = int(n)
        self.bounds = shard_bounds(self.n, self.world)
        return self.bounds[self.rank]

    # -- failure agreement -----------------------------------------------------------------
    def agree(self, error: BaseException | None, where: str) -> None:
        """All ranks compare notes: if any failed, raise on every rank (the failing ones their own)."""
        torch = B.torch()
        flags = torch.zeros((self.world,), dtype=torch.int64, device=self.comm_device)
        mine = torch.tensor([0 if error is None else 1], dtype=torch.int64, device=self.comm_device)
        self._all_gather(flags, mine)
        failed = [k for k, f in enumerate(flags.cpu().tolist()) if f]
        if not failed:
            return
        notes: list = [None] * self.world
        self.dist.all_gather_object(notes, None if error is None else _one_line(error), group=self.group)
        if error is not None:
            raise error
        what = "; ".join(f"rank {k}: {notes[k]}" for k in failed)
        raise DistributedRunError(f"the distributed simulation stopped at {where} because rank"
                                  f"{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))} failed ({what})",
                                  failed, where)

    @contextlib.contextmanager
    def guarded(self, where: str):
        """Run a block that ranks execute alone (no collectives inside), then agree on failures."""
        error = None
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - re-raised on every rank by agree()
            error = exc
        self.agree(error, where)

    def on_root(self, fn: Callable[[], Any], where: str) -> Any:
        """``fn()`` on rank 0; its (picklable) result on every rank, or its error raised on every rank."""
        result, error = None, None
        if self.is_root:
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank
                error = exc
        box = [None if error is not None else result, None if error is None else _one_line(error)]
        self.dist.broadcast_object_list(box, src=self.root, group=self.group)
        if error is not None:
            raise error
        if box[1] is not None:
            raise DistributedRunError(f"the distributed simulation stopped at {where} because rank 0 failed "
                                      f"({box[1]})", [0], where)
        return box[0]

    # -- data movement -----------------------------------------------------------------------
    def _all_gather(self, out, inp):
        gather = getattr(self.dist, "all_gather_single", None) or self.dist.all_gather_into_tensor
        gather(out, inp, group=self.group)

    def _padded(self, block):
        torch = B.torch()
        rows = max(hi - lo for lo, hi in self.bounds)
        buf = torch.zeros((rows, block.shape[1]), dtype=block.dtype, device=self.comm_device)
        buf[:block.shape[0]] = block.to(self.comm_device)
        return buf, rows

    def gather(self, block):
        """The global array (rank order) on rank 0, from every rank's block; None on the others."""
        torch = B.torch()
        buf, _ = self._padded(block)
        parts = [torch.empty_like(buf) for _ in range(self.world)] if self.is_root else None
        self.dist.gather(buf, parts, dst=self.root, group=self.group)
        if not self.is_root:
            return None
        return torch.cat([p[:hi - lo] for p, (lo, hi) in zip(parts, self.bounds)]).to(block.device)

    def all_rows(self, block):
        """The global array (rank order) on every rank."""
        torch = B.torch()
        buf, rows = self._padded(block)
        out = torch.empty((self.world * rows, block.shape[1]), dtype=block.dtype, device=self.comm_device)
        self._all_gather(out, buf)
        return torch.cat([out[k * rows:k * rows + hi - lo] for k, (lo, hi) in enumerate(self.bounds)]) \
            .to(block.device)

    def broadcast_array(self, array: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
        """Rank 0's float64 ``array`` of ``shape`` on every rank."""
        torch = B.torch()
        buf = torch.empty(shape, dtype=torch.float64, device=self.comm_device)
        if self.is_root:
            buf.copy_(torch.as_tensor(np.asarray(array, dtype=np.float64)))
        self.dist.broadcast(buf, src=self.root, group=self.group)
        return buf.cpu().numpy()

    # -- the simulator's collective steps ----------------------------------------------------------
    def observe(self, observer, step: int, x, v, stop_when):
        """One record (and the stop decision) computed on rank 0 from the gathered particles
        and drift; the same on every rank."""
        torch = B.torch()
        both = self.gather(torch.cat([x, v], dim=1))
        d = x.shape[1]

        def record():
            rec = observer(step, both[:, :d], both[:, d:])
            return rec, bool(stop_when(rec)) if stop_when is not None else False

        return self.on_root(record, f"the observation at step {step}")


def run_on_root(fn: Callable[[], Any], *, group: Any = None, where: str = "rank 0's work") -> Any:
    """Call ``fn()`` on rank 0 of ``group`` only and return its result on every rank.

    Collective (every rank calls it). An exception in ``fn`` is raised on rank 0 and, as a
    :class:`DistributedRunError` naming it, on every other rank, so none waits for a
    message that will not come. The command line uses it to create the output folder.

    Parameters
    ----------
    fn : callable () -> picklable
    group : ProcessGroup, optional
    where : str
        What the ranks were doing (for the other ranks' message).
    """
    return Ranks(group).on_root(fn, where)


def check_reference_mode(reference_mode: str, backend: str) -> str:
    """``reference_mode`` checked against :data:`SIMULATION_REFERENCE_MODES` and the backend."""
    if reference_mode not in SIMULATION_REFERENCE_MODES:
        raise ValueError(f"reference_mode must be one of {SIMULATION_REFERENCE_MODES}, got {reference_mode!r}")
    if reference_mode == "ring" and backend == "sdpa":
        raise ValueError("reference_mode='ring' merges partial sums through their normalisers, which backend='sdpa' "
                         "does not give; choose another backend or reference_mode='all_gather'")
    return reference_mode
