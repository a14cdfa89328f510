r"""The state of a particle simulation as one value, saved and loaded as a unit.

:class:`SimulationState` holds everything a run needs to continue: the particles, the step
reached (the time is ``step * config["step"]``), the observables recorded so far, the
configuration, a hash of the initial particles and the target, the caller's ``run_params``
and the wall-clock time spent. :meth:`SimulationState.save` writes it atomically as one
``.npz`` file and :meth:`SimulationState.load` reads it back; a damaged file is one
:class:`~driftlab._io.CheckpointError` naming it.

There is no random-generator state to carry: the dynamics are deterministic, and the only
random draws (the sliced-W2 directions and the observation subsample) are made from
``config["seed"]`` when a run starts, so a resumed run draws the same ones.

The file format is the one checkpoints have always had (entries ``particles``, ``step``,
``records``, ``config``, ``data_hash``, ``elapsed`` and, since ``run_params`` exists,
``params``), so older checkpoints still load (``params`` then reads as None).

>>> import numpy as np, tempfile, pathlib
>>> s = SimulationState(np.zeros((2, 1)), step=3, records=[], config={"step": 0.5}, data_hash="ab")
>>> s.time
1.5
>>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.npz"
>>> SimulationState.load(s.save(path)).step
3
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from driftlab import _backend as B
from driftlab._io import Param, RunDirectory, RunFolderMismatch, atomic_write_bytes, read_checkpoint_file

__all__ = ["SimulationState", "RESUMABLE_CHANGES"]

#: configuration keys that may change between a run and its resumption (more steps; another cadence)
RESUMABLE_CHANGES = ("n_steps", "checkpoint_every")


@dataclass
class SimulationState:
    """Where a run stands (see the module).

    Attributes
    ----------
    particles : array (N, d)
        Positions: a torch tensor of the run's dtype while it runs, numpy once loaded.
    step : int
        Steps taken.
    records : list of dict
        The observations so far (one dict each, ``"step"`` among the keys).
    config : dict
        :meth:`SimulationConfig.to_dict` of the run.
    data_hash : str
        Fingerprint of the initial particles and the target.
    elapsed : float
        Wall-clock seconds spent on the run so far.
    params : dict or None
        The caller's ``run_params`` (None when read from a checkpoint older than them).
    """

    particles: Any
    step: int
    records: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    data_hash: str = ""
    elapsed: float = 0.0
    params: dict | None = None

    @property
    def time(self) -> float:
        """``step * config["step"]``: the time the particles are at."""
        return self.step * self.config["step"]

    def save(self, path: str | Path) -> Path:
        """Write the state atomically to ``path`` (an ``.npz`` file; temp file + rename)."""
        buf = io.BytesIO()
        np.savez(buf, particles=B.to_numpy(self.particles), step=np.int64(self.step),
                 records=np.array(json.dumps(self.records)),
                 config=np.array(json.dumps(self.config, sort_keys=True)), data_hash=np.array(self.data_hash),
                 elapsed=np.float64(self.elapsed), params=np.array(json.dumps(self.params or {}, sort_keys=True)))
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "SimulationState":
        """Read a state written by :meth:`save` (or a checkpoint of an earlier version).

        Raises
        ------
        driftlab._io.CheckpointError
            (a ValueError) naming the file when it is missing, empty, truncated or damaged.
        """
        return read_checkpoint_file(path, cls._read)

    @classmethod
    def _read(cls, path: Path) -> "SimulationState":
        with np.load(path, allow_pickle=False) as z:
            return cls(particles=np.array(z["particles"]), step=int(z["step"]),
                       records=json.loads(str(z["records"])), config=json.loads(str(z["config"])),
                       data_hash=str(z["data_hash"]), elapsed=float(z["elapsed"]),
                       params=json.loads(str(z["params"])) if "params" in z.files else None)

    def as_dict(self) -> dict:
        """The fields as a plain dict (what :func:`~driftlab.simulation.load_checkpoint` returns)."""
        return {"particles": self.particles, "step": self.step, "records": self.records, "config": self.config,
                "data_hash": self.data_hash, "elapsed": self.elapsed, "params": self.params}

    def continued(self, run_dir: RunDirectory, config: dict, params: dict, data_hash: str) -> "SimulationState":
        """This (stored) state as the start of a run of ``config``, ``params`` and ``data_hash``.

        Only :data:`RESUMABLE_CHANGES` may differ; a state read from a file older than
        ``run_params`` is matched on its data hash alone. The records from the stored step on
        are dropped (they are observed again), and the result carries ``config`` and ``params``.

        Raises
        ------
        driftlab._io.RunFolderMismatch
            Listing every difference of configuration or ``params``; naming the data hashes
            when the data differ; or when the state is already past ``config["n_steps"]``.
        """
        out = run_dir.path
        stored = self.params if self.params is not None else params  # older file: the data hash decides
        run_dir.check_params({**self.config, **stored}, {**config, **params}, ignore=RESUMABLE_CHANGES)
        if self.data_hash != data_hash:
            raise RunFolderMismatch(out, [("data_hash", self.data_hash, data_hash)], parts=[
                f"{out} holds a run from other initial particles or another target (data hash "
                f"{self.data_hash} there, {data_hash} now)"])
        n_steps = config["n_steps"]
        if self.step > n_steps:
            raise RunFolderMismatch(out, [("n_steps", self.step, n_steps)], parts=[
                f"{out} holds a run already at step {self.step}, beyond ", Param("n_steps"), f" {n_steps}"])
        return SimulationState(self.particles, self.step, [r for r in self.records if r["step"] < self.step],
                               config, data_hash, self.elapsed, params)
