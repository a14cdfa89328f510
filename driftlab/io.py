"""Reproducible output for scripts built on driftlab: atomic files, byte-stable figures, run folders.

The sweeps of ``analysis/``, the figure scripts of ``paper_repro/`` and the benchmarks write
through these functions, and so can a user's own scripts:

* :func:`write_json`, :func:`write_csv`, :func:`atomic_write_text`, :func:`atomic_write_bytes`:
  written to a temporary file in the same folder and renamed over the target, so a reader sees
  the old file or the new one, never half of one; JSON is key-sorted with ``NaN`` refused.
* :func:`without_timings`: the same object with wall-clock keys (``seconds``, ``elapsed_s``,
  ``wall_s``) removed, for results that must be byte-identical between runs.
* :func:`save_figure`: PDF/PNG/SVG without creation dates, so one machine writes the same bytes.
* :class:`RunDirectory`: the output folder of a long, resumable run, held by one writer at a
  time (an advisory ``fcntl.flock`` lock on ``OUT/.lock``; :class:`RunFolderBusy` otherwise).

Examples
--------
>>> import json, tempfile, pathlib
>>> from driftlab.io import RunDirectory, write_json
>>> with RunDirectory(tempfile.mkdtemp()) as run:
...     p = write_json(run.file("result.json"), {"b": 1.0, "a": [1, 2]})
...     json.loads(p.read_text())
{'a': [1, 2], 'b': 1.0}
"""

from driftlab._io import (
    LOCK_NAME,
    CheckpointError,
    RunDirectory,
    RunFolderBusy,
    RunFolderError,
    RunFolderMismatch,
    atomic_write_bytes,
    atomic_write_text,
    jsonable,
    machine_info,
    save_figure,
    without_timings,
    write_csv,
    write_json,
)

__all__ = ["write_json", "write_csv", "atomic_write_text", "atomic_write_bytes", "jsonable", "without_timings",
           "save_figure", "machine_info", "RunDirectory", "RunFolderError", "RunFolderBusy", "RunFolderMismatch",
           "CheckpointError", "LOCK_NAME"]
