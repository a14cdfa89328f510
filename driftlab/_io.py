"""Atomic, reproducible output: JSON/CSV/text written via temp file + rename, byte-stable figures.

Run folders (:class:`RunDirectory`): the output folder of a long run (``driftlab simulate``,
``driftlab train``) has one writer at a time (an advisory ``fcntl.flock`` lock on
``OUT/.lock``), holds a checkpoint of one set of parameters only, and a damaged checkpoint is
reported in one line. The errors (:class:`RunFolderError` and subclasses) are ValueErrors
whose text names the Python keywords; :meth:`RunFolderError.cli_message` renders the same
error with the command line's flags.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import hashlib
import io
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

try:  # POSIX; elsewhere run folders are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "jsonable", "write_json", "write_csv", "save_figure", "figure_context", "machine_info",
           "RunDirectory", "RunFolderError", "RunFolderBusy", "RunFolderMismatch", "CheckpointError",
           "read_checkpoint_file", "Param", "canonical_json", "params_hash", "LOCK_NAME"]


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


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays turned into plain Python values (for JSON/CSV)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
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
    text = json.dumps(jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None) -> Path:
    rows = list(rows)
    columns = columns or (list(rows[0].keys()) if rows else [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: jsonable(row.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


#: set by :func:`figure_context` (the ``driftlab repro`` runner): metadata for every figure saved
_FIGURE_CONTEXT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("driftlab_figure_context", default=None)


@contextlib.contextmanager
def figure_context(subject: str = "", keywords: str = "", png: bool = False, stamp: str = ""):
    """Inside the block, :func:`save_figure` writes ``subject`` / ``keywords`` into the PDF's
    (and PNG's) metadata, with ``png`` saves a PNG of the same figure beside each PDF, and
    with ``stamp`` draws that text as a watermark across the figure (e.g. a smoke-run mark).

    None of it carries a date, so the files stay byte-stable. The ``driftlab repro`` runner
    uses it to name each figure's claims and the command that regenerates it.
    """
    token = _FIGURE_CONTEXT.set({"subject": str(subject), "keywords": str(keywords), "png": bool(png),
                                 "stamp": str(stamp)})
    try:
        yield
    finally:
        _FIGURE_CONTEXT.reset(token)


def _render_figure(fig, fmt: str, ctx: dict) -> bytes:
    import matplotlib

    if fmt == "pdf":
        metadata = {"CreationDate": None}
        if ctx.get("subject"):
            metadata["Subject"] = ctx["subject"]
        if ctx.get("keywords"):
            metadata["Keywords"] = ctx["keywords"]
    elif fmt == "png":
        metadata = {"Software": None}
        if ctx.get("subject"):
            metadata["Description"] = ctx["subject"]
        if ctx.get("keywords"):
            metadata["Keywords"] = ctx["keywords"]
    else:
        metadata = None
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "driftlab"}):  # global rcParams untouched
        fig.savefig(buf, format=fmt, metadata=metadata, dpi=150 if fmt == "png" else None)
    return buf.getvalue()


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure byte-stably (no creation date; fixed hash salt); PDF or PNG.

    Inside :func:`figure_context` the metadata it names is added, and a PDF gets a PNG twin
    (same stem) when the context asks for one.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "pdf"
    ctx = _FIGURE_CONTEXT.get() or {}
    mark = (fig.text(0.5, 0.5, ctx["stamp"], ha="center", va="center", rotation=20, fontsize=26, color="red",
                     alpha=0.3, zorder=1000) if ctx.get("stamp") else None)
    try:
        out = atomic_write_bytes(path, _render_figure(fig, fmt, ctx))
        if fmt == "pdf" and ctx.get("png"):
            atomic_write_bytes(path.with_suffix(".png"), _render_figure(fig, "png", ctx))
    finally:
        if mark is not None:
            mark.remove()
    return out


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


# --------------------------------------------------------------------------------------------
# run folders: one writer, one set of parameters, readable checkpoints

#: the advisory lock file inside a run folder (``fcntl.flock``; the kernel drops the lock when
#: its holder exits, however it exits, so a lock file left by a dead process never blocks)
LOCK_NAME = ".lock"


def canonical_json(obj: Any) -> str:
    """``obj`` as compact, key-sorted JSON (tuples become lists): the form parameters are compared in."""
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def params_hash(obj: Any) -> str:
    """First 16 hex digits of the SHA-256 of :func:`canonical_json` ``(obj)``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:16]


class Param(str):
    """A parameter name inside a :class:`RunFolderError` message (shown as the keyword, or
    by :meth:`RunFolderError.cli_message` as the command-line flag)."""


def _param_name(key: str, flags: Mapping[str, str | None] | None) -> str:
    if flags is None:
        return key
    flag = flags.get(key)
    return flag if flag else f"{key} (not a command-line option)"


def _show(value: Any) -> str:
    return "absent" if value is _ABSENT else canonical_json(value)


_ABSENT = object()


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (a ValueError).

    ``str(exc)`` names Python keywords (``resume=False``, ``out_dir``);
    :meth:`cli_message` renders the same error with command-line flags.

    Attributes
    ----------
    path : Path
        The folder (or, for :class:`CheckpointError`, the file).
    restart : bool
        Whether starting over in the same folder is a remedy (the hint then says how).
    """

    def __init__(self, path: str | os.PathLike, parts: Sequence[str], *, restart: bool = True):
        self.path = Path(path)
        self.parts = tuple(parts)
        self.restart = restart
        super().__init__(self._render(None))

    def _hint(self, cli: bool) -> str:
        if not self.restart:
            return "choose another --out" if cli else "use another out_dir"
        if cli:
            return "re-run with --no-resume to start over there (its checkpoint is replaced) or choose another --out"
        return "pass resume=False to start over there (its checkpoint is replaced) or use another out_dir"

    def _render(self, flags: Mapping[str, str | None] | None) -> str:
        text = "".join(_param_name(p, flags) if isinstance(p, Param) else str(p) for p in self.parts)
        return f"{text}; {self._hint(flags is not None)}"

    def cli_message(self, flags: Mapping[str, str | None] | None = None) -> str:
        """The message with each parameter shown as its flag (``flags``: keyword -> flag or None)."""
        return self._render(flags or {})


class RunFolderBusy(RunFolderError):
    """Another live process holds the folder's lock."""

    def _hint(self, cli: bool) -> str:
        return ("wait for that run to finish, or choose another --out" if cli
                else "wait for that run to finish, or use another out_dir")


class RunFolderMismatch(RunFolderError):
    """The folder's checkpoint belongs to other parameters.

    Attributes
    ----------
    differences : list of (key, stored, requested)
    """

    def __init__(self, path: str | os.PathLike, differences: Sequence[tuple[str, Any, Any]],
                 parts: Sequence[str] | None = None):
        self.differences = list(differences)
        if parts is None:
            parts = [f"{path} holds a run with a different configuration: "]
            for i, (key, there, now) in enumerate(self.differences):
                parts += (["; "] if i else []) + [Param(key), f" {_show(there)} there, {_show(now)} now"]
        super().__init__(path, parts)


class CheckpointError(RunFolderError):
    """A checkpoint file that is empty, truncated or otherwise unreadable."""


class RunDirectory:
    """The output folder of a resumable run: created on entry, locked while in use.

    Parameters
    ----------
    path : path
        The folder (created with its parents).
    lock : bool
        Take the advisory lock ``path/.lock`` (``fcntl.flock``, exclusive, non-blocking).

    Raises
    ------
    RunFolderBusy
        On entry, when another live process (or another ``RunDirectory`` of this process)
        holds the lock.
    RunFolderError
        On entry, when ``path`` exists but is not a folder, or cannot be created or written.

    Examples
    --------
    >>> import tempfile
    >>> with RunDirectory(tempfile.mkdtemp()) as run:
    ...     run.read_checkpoint("state.npz", lambda p: None) is None
    True
    """

    def __init__(self, path: str | os.PathLike, *, lock: bool = True):
        self.path = Path(path)
        self.lock_path = self.path / LOCK_NAME
        self._lock = lock
        self._fd: int | None = None

    def __enter__(self) -> "RunDirectory":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> "RunDirectory":
        """Create the folder and take its lock (see the class)."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(self.path, [f"{self.path} exists and is not a folder"], restart=False)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(self.path, [f"cannot create the folder {self.path}: {exc.strerror or exc}"],
                                 restart=False) from exc
        if not self._lock or fcntl is None or self._fd is not None:
            return self
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunFolderError(self.path, [f"cannot write in {self.path}: {exc.strerror or exc}"],
                                 restart=False) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:  # BlockingIOError: held elsewhere
            try:
                # the first line: a writer that did not truncate may leave a longer tail after it
                lines = os.pread(fd, 64, 0).decode("ascii", "replace").splitlines()
                holder = lines[0].strip() if lines else ""
            except OSError:  # pragma: no cover
                holder = ""
            os.close(fd)
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise RunFolderBusy(self.path, [f"{self.path} is in use by {who} (it holds {self.lock_path})"]) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (the lock file stays: removing it would race with a new writer)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def file(self, name: str) -> Path:
        return self.path / name

    def discard(self, *names: str) -> None:
        """Remove the named files of the folder if present (a fresh start)."""
        for name in names:
            (self.path / name).unlink(missing_ok=True)

    def read_checkpoint(self, name: str, loader: Callable[[Path], Any]) -> Any:
        """``loader(path)``, or None when the file is absent.

        Raises
        ------
        CheckpointError
            When the file is empty or ``loader`` fails on it in any way (truncated zip,
            EOFError, unpickling error, missing entries, ...).
        """
        path = self.path / name
        if not path.exists():
            return None
        return read_checkpoint_file(path, loader)

    def check_params(self, stored: Mapping[str, Any], requested: Mapping[str, Any], *,
                     ignore: Iterable[str] = (), derived: Iterable[str] = ()) -> None:
        """Raise :class:`RunFolderMismatch` listing every key whose value differs.

        Values are compared in :func:`canonical_json` form (tuples equal lists); keys in
        ``ignore`` are skipped; a key present on one side only differs. Keys in ``derived``
        (fingerprints that follow from the others) are reported only when nothing else differs.
        """
        ignore, derived = set(ignore), set(derived)
        diffs = []
        for key in sorted(set(stored) | set(requested)):
            if key in ignore:
                continue
            a, b = stored.get(key, _ABSENT), requested.get(key, _ABSENT)
            if a is _ABSENT or b is _ABSENT or canonical_json(a) != canonical_json(b):
                diffs.append((key, a, b))
        primary = [d for d in diffs if d[0] not in derived]
        if diffs:
            raise RunFolderMismatch(self.path, primary or diffs)


def read_checkpoint_file(path: str | os.PathLike, loader: Callable[[Path], Any]) -> Any:
    """``loader(path)`` with every failure turned into one :class:`CheckpointError` naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(path, [f"cannot read the checkpoint {path}: {exc.strerror or exc}"]) from exc
    if size == 0:
        raise CheckpointError(path, [f"the checkpoint {path} is empty (0 bytes)"])
    try:
        return loader(path)
    except RunFolderError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read is the same, one-line report
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        raise CheckpointError(path, [f"the checkpoint {path} is truncated or damaged ({reason})"]) from exc
