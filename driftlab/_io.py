"""Atomic, reproducible output: JSON/CSV/text written via temp file + rename, byte-stable figures."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_json", "write_csv", "save_figure", "machine_info"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a reader never sees a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600: outputs must stay readable by others
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):  # numpy scalars too: NaN/inf -> null/"inf"
        obj = float(obj)
        if not np.isfinite(obj):
            return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return obj


#: keys that hold wall-clock measurements: :func:`without_timings` drops them from figure data
TIMING_KEYS = frozenset({"seconds", "elapsed_s", "wall_s"})


def without_timings(obj: Any) -> Any:
    """``obj`` with every mapping key in :data:`TIMING_KEYS` removed, recursively.

    Figure data must be byte-stable across runs; wall-clock times belong in benchmark output.
    """
    if isinstance(obj, Mapping):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, (list, tuple)):
        return [without_timings(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as sorted, indented JSON (numpy scalars/arrays converted; inf as a string)."""
    # allow_nan=False: never emit the non-standard NaN / Infinity tokens
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None) -> Path:
    rows = list(rows)
    columns = columns or (list(rows[0].keys()) if rows else [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _jsonable(row.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure byte-stably (no creation date; fixed hash salt); PDF or PNG."""
    import matplotlib

    path = Path(path)
    matplotlib.rcParams["svg.hashsalt"] = "driftlab"
    buf = io.BytesIO()
    fmt = path.suffix.lstrip(".").lower() or "pdf"
    metadata = {"CreationDate": None} if fmt == "pdf" else ({"Software": None} if fmt == "png" else None)
    fig.savefig(buf, format=fmt, metadata=metadata, dpi=150 if fmt == "png" else None)
    return atomic_write_bytes(path, buf.getvalue())


def machine_info() -> dict[str, Any]:
    """What a benchmark ran on: CPU, cores, Python, numpy, torch and CUDA device if any."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(0)
            info["cuda_version"] = torch.version.cuda
    except ImportError:  # pragma: no cover - torch is a dependency
        info["torch"] = None
    return info
