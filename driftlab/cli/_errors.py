"""How the command line fails: one line on stderr, never a traceback.

Exit status

* 0 -- success;
* 1 -- the command line is well formed but the work failed: an error raised by the library
  (``ValueError``, ``TypeError``, ``RuntimeError``, ``OSError``, ...), an output folder that
  cannot be written, a device this machine does not have, or a non-finite result
  (:class:`NonFiniteResult`);
* 2 -- usage error: an unknown option or command, an option value outside its range, options
  that contradict each other or that the chosen mode would ignore (click's ``UsageError`` /
  ``BadParameter``, naming the option);
* 130 -- interrupted (Ctrl-C): the single line ``interrupted``.

Everything is handled in one place, :class:`DriftlabGroup` (the class of ``driftlab`` itself):
its ``invoke`` turns any exception of a subcommand into one of the above. Set the environment
variable ``DRIFTLAB_DEBUG=1`` to get the Python traceback instead (for bug reports).

The option types below (:class:`FiniteFloat`, :class:`NumberList`, :class:`NameList`) reject
NaN, infinities, out-of-range and non-integer values while the command line is parsed, so the
message names the option.
"""

from __future__ import annotations

import errno
import math
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import click

__all__ = ["DriftlabGroup", "NonFiniteResult", "FiniteFloat", "NumberList", "NameList", "describe",
           "usage_errors", "refuse_unused", "check_finite", "prepare_out_dir", "prepare_out_file",
           "check_device", "DEBUG_ENV"]

#: environment variable that lets exceptions propagate with their traceback
DEBUG_ENV = "DRIFTLAB_DEBUG"
_MAX_MESSAGE = 500


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def describe(exc: BaseException) -> str:
    """One line for an exception raised by the library (the text after ``Error: ``).

    ``ValueError``/``TypeError``/``RuntimeError`` keep their message (driftlab's messages name
    the argument and its valid range); an ``OSError`` says what failed on which path; any
    other exception is an internal error and says so.

    Examples
    --------
    >>> describe(ValueError("scale must be > 0,\\n got 0"))
    'scale must be > 0, got 0'
    >>> describe(PermissionError(13, "Permission denied", "/root/x"))
    'Permission denied: /root/x'
    """
    if isinstance(exc, OSError) and exc.strerror:
        return _one_line(f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror)
    text = _one_line(str(exc))
    if isinstance(exc, (ValueError, TypeError, RuntimeError, OSError)):
        return text or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory" + (f" ({text})" if text else "") + "; use a smaller problem"
    return (f"internal error ({type(exc).__name__}{': ' + text if text else ''}); please report it "
            f"with the command line ({DEBUG_ENV}=1 shows the traceback)")


class NonFiniteResult(click.ClickException):
    """A computed quantity is NaN or infinite where a finite value is the only valid answer (exit 1)."""

    exit_code = 1


class _OneLineUsageError(click.UsageError):
    """A click usage error shown as one line: the message, then where the help is."""

    def __init__(self, original: click.UsageError):
        super().__init__(original.message, original.ctx)
        self.original = original
        self.exit_code = original.exit_code

    def format_message(self) -> str:
        return self.original.format_message()

    def show(self, file=None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {_one_line(self.format_message())}{hint}", file=file, err=file is None)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {category.__name__}: {_one_line(str(message))}", err=True)


def _translate(exc: BaseException) -> BaseException:
    """The click exception that reports ``exc`` (or ``exc`` itself where click already handles it)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):  # shows the help, as click intends
        return exc
    if isinstance(exc, click.UsageError) and not isinstance(exc, _OneLineUsageError):
        return _OneLineUsageError(exc)
    if isinstance(exc, (click.ClickException, click.exceptions.Exit, click.Abort)):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:  # `driftlab ... | head`: click handles it
        return exc
    return click.ClickException(describe(exc))


class DriftlabGroup(click.Group):
    """A click group whose commands fail with one line and a meaningful exit status (see module doc).

    Subclass it for lazy command loading; nested groups need not be of this class (their
    exceptions pass through the top-level ``invoke``).
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            new = _translate(exc)
            if new is exc:
                raise
            raise new from None

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
                return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # noqa: BLE001 - the one place where every failure is reported
            if os.environ.get(DEBUG_ENV) and not isinstance(exc, (click.ClickException, click.exceptions.Exit)):
                raise
            new = _translate(exc)
            if new is exc:
                raise
            raise new from None


# ---------------------------------------------------------------------------------------------
# option types: bad values are usage errors that name the option
# ---------------------------------------------------------------------------------------------
def _range_text(min, max, min_open, max_open) -> str:
    parts = []
    if min is not None:
        parts.append(f"{'>' if min_open else '>='} {min:g}")
    if max is not None:
        parts.append(f"{'<' if max_open else '<='} {max:g}")
    return " and ".join(parts)


def _in_range(v: float, min, max, min_open, max_open) -> bool:
    if min is not None and (v <= min if min_open else v < min):
        return False
    if max is not None and (v >= max if max_open else v > max):
        return False
    return True


class FiniteFloat(click.ParamType):
    """A finite float, optionally in a range (``FiniteFloat(min=0, min_open=True)``: > 0).

    NaN and +-inf are refused (click's ``FloatRange`` lets NaN through every bound).
    """

    name = "float"

    def __init__(self, min: float | None = None, max: float | None = None, *, min_open: bool = False,
                 max_open: bool = False):
        self.min, self.max, self.min_open, self.max_open = min, max, min_open, max_open

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value) and _in_range(value, self.min, self.max, self.min_open,
                                                                            self.max_open):
            return value
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if not _in_range(v, self.min, self.max, self.min_open, self.max_open):
            self.fail(f"{value!r} is not {_range_text(self.min, self.max, self.min_open, self.max_open)}", param, ctx)
        return v

    def get_metavar(self, param, ctx=None):
        rng = _range_text(self.min, self.max, self.min_open, self.max_open)
        return f"FLOAT{' ' + rng.replace(' ', '') if rng else ''}"


def _parse_int(text: str) -> int:
    """An integer written as an integer (``"17"``, ``"-3"``); ``"9.5"`` or ``"1e3"`` are refused."""
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(text)
    return int(text)


class NumberList(click.ParamType):
    """Comma-separated numbers: ``"17,33,65"``. Every entry finite, in range, of the given kind.

    ``kind=int`` refuses non-integers (``9.5`` is not silently truncated to 9);
    ``increasing=True`` demands strictly increasing values, ``unique=True`` no repeats.
    The value is a list of ``int`` or ``float``.
    """

    name = "list"

    def __init__(self, kind: type = float, *, min: float | None = None, max: float | None = None,
                 min_open: bool = False, max_open: bool = False, increasing: bool = False, unique: bool = False,
                 min_len: int = 1, max_len: int | None = None):
        self.kind, self.min, self.max, self.min_open, self.max_open = kind, min, max, min_open, max_open
        self.increasing, self.unique, self.min_len, self.max_len = increasing, unique, min_len, max_len

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        pieces = [p.strip() for p in str(value).split(",")]
        if any(not p for p in pieces) and str(value).strip():
            self.fail(f"{value!r} has an empty entry; write comma-separated numbers like 1,2,4", param, ctx)
        pieces = [p for p in pieces if p]
        what = "integers" if self.kind is int else "numbers"
        if len(pieces) < self.min_len:
            self.fail(f"{value!r}: need at least {self.min_len} comma-separated {what}", param, ctx)
        if self.max_len is not None and len(pieces) > self.max_len:
            self.fail(f"{value!r}: at most {self.max_len} entries", param, ctx)
        out: list = []
        for p in pieces:
            at = f"{p!r}" + (f" in {value!r}" if len(pieces) > 1 else "")
            try:
                v = _parse_int(p) if self.kind is int else float(p)
            except ValueError:
                self.fail(f"{at} is not {'an integer' if self.kind is int else 'a number'}", param, ctx)
            if not math.isfinite(v):
                self.fail(f"{at} is not a finite number", param, ctx)
            if not _in_range(v, self.min, self.max, self.min_open, self.max_open):
                self.fail(f"{at} is not {_range_text(self.min, self.max, self.min_open, self.max_open)}",
                          param, ctx)
            out.append(v)
        if self.increasing and any(b <= a for a, b in zip(out, out[1:])):
            self.fail(f"{value!r} must be strictly increasing", param, ctx)
        if self.unique and len(set(out)) != len(out):
            self.fail(f"{value!r} repeats an entry", param, ctx)
        return out


class NameList(click.ParamType):
    """Comma-separated names from a fixed set, at least one, no repeats (``"straight,tent"``).

    ``choices`` is a sequence or a function returning one (read when the option is parsed).
    """

    name = "names"

    def __init__(self, choices: Sequence[str] | Callable[[], Sequence[str]]):
        self._choices = choices

    @property
    def choices(self) -> list[str]:
        return list(self._choices() if callable(self._choices) else self._choices)

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        names = [p.strip().lower() for p in str(value).split(",")]
        if not any(names) or not all(names):
            self.fail(f"{value!r}: give comma-separated names from {', '.join(self.choices)}", param, ctx)
        bad = [n for n in names if n not in self.choices]
        if bad:
            self.fail(f"unknown name(s) {', '.join(map(repr, bad))}; choose from {', '.join(self.choices)}", param, ctx)
        if len(set(names)) != len(names):
            self.fail(f"{value!r} repeats a name", param, ctx)
        return names


# ---------------------------------------------------------------------------------------------
# helpers for command bodies
# ---------------------------------------------------------------------------------------------
@contextmanager
def usage_errors(flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Inside: a ``ValueError``/``TypeError`` rejects option values -- a usage error (exit 2).

    Use it only around code that merely builds objects from option values (a kernel, a
    configuration); failures of the work itself are reported by :class:`DriftlabGroup` (exit 1).
    ``flags`` maps the library's argument names to the command's flags: a message that starts
    with such a name (``"n_steps must be >= 0"``) names the flag instead (``"--steps must be >= 0"``).
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        text = describe(exc)
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?=[ =])", text)
        if flags and m and m.group(1) in flags:
            text = flags[m.group(1)] + text[m.end():]
        raise click.UsageError(text) from None


def refuse_unused(ctx: click.Context, names: Iterable[str], reason: str) -> None:
    """Refuse options given on the command line that the chosen mode would ignore (exit 2).

    ``names`` are the parameters' Python names; an option counts as given when its value
    came from the command line (or the environment), not from its default.
    """
    given = []
    for name in names:
        src = ctx.get_parameter_source(name)
        if src is not None and src not in (click.core.ParameterSource.DEFAULT,
                                           click.core.ParameterSource.DEFAULT_MAP):
            param = next(p for p in ctx.command.params if p.name == name)
            given.append(param.opts[0] if getattr(param, "opts", None) else name)
    if given:
        raise click.UsageError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} ignored {reason}; "
                               f"leave {'it' if len(given) == 1 else 'them'} out", ctx)


def _is_nonfinite(v: Any) -> bool:
    if isinstance(v, bool) or v is None or isinstance(v, (str, int)):
        return False
    try:
        return not math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def check_finite(rows: Sequence[Mapping[str, Any]] | Mapping[str, Any], *, what: str,
                 allow_inf: Iterable[str] = (), allow_nan: Iterable[str] = (), ident: Sequence[str] = ()) -> None:
    """Raise :class:`NonFiniteResult` (exit 1) if a result value is NaN or infinite.

    ``rows`` is one mapping or a list of them (nested lists/mappings are searched too).
    ``allow_inf`` names the columns where +-inf is a documented answer (an infinite time when
    a rate underflows to 0), ``allow_nan`` those where NaN means "not available" (an
    extrapolation from a single point count); ``ident`` names the columns that identify a row
    in the message.
    """
    allow_inf, allow_nan = set(allow_inf), set(allow_nan)

    def walk(obj, where: str, key: str | None):
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(v, where, str(k))
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, where, key)
        elif _is_nonfinite(obj):
            v = float(obj)
            if (math.isnan(v) and key in allow_nan) or (math.isinf(v) and key in allow_inf):
                return
            raise NonFiniteResult(f"{what}: non-finite {key} = {v}{where}; the computation lost precision "
                                  "or the input is outside the representable range (nothing trustworthy "
                                  "to print)")

    for i, row in enumerate([rows] if isinstance(rows, Mapping) else rows):
        label = ", ".join(f"{c}={row[c]!r}" if isinstance(row[c], str) else f"{c}={row[c]:g}"
                          for c in ident if c in row)
        walk(row, f" at {label}" if label else (f" in row {i + 1}" if not isinstance(rows, Mapping) else ""), None)


def prepare_out_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create the output folder now (before any work) or fail with exit 1 naming ``option``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise click.ClickException(f"{option} {path} exists and is not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create the {option} folder {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise click.ClickException(f"the {option} folder {path} is not writable")
    return path


def prepare_out_file(path: str | os.PathLike, option: str = "--output") -> Path:
    """Check (before any work) that ``path`` can be written as a file, or fail with exit 1 naming ``option``."""
    path = Path(path)
    if path.is_dir():
        raise click.ClickException(f"{option} {path} is a folder; give a file path")
    prepare_out_dir(path.parent if str(path.parent) else Path("."), option=f"{option} parent")
    if path.exists() and not os.access(path, os.W_OK):
        raise click.ClickException(f"{option} {path} is not writable")
    return path


def check_device(device: str, option: str = "--device") -> str:
    """Validate a torch device string: a malformed one is a usage error (exit 2), one this
    machine lacks (``cuda`` without CUDA, ``cuda:3`` with one GPU, ``mps`` off macOS) a failure (exit 1)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise click.BadParameter(f"{device!r} is not a torch device; use cpu, cuda or cuda:N",
                                 param_hint=f"'{option}'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise click.ClickException(f"{option} {device}: CUDA is not available on this machine; use {option} cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise click.ClickException(f"{option} {device}: this machine has {torch.cuda.device_count()} CUDA "
                                       f"device(s), numbered from 0")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise click.ClickException(f"{option} {device}: MPS is not available on this machine; use {option} cpu")
    elif dev.type != "cpu":
        raise click.ClickException(f"{option} {device}: driftlab runs on cpu and cuda devices only")
    return device
