"""The one renderer of the command line: ``--format table|csv|json|markdown`` for every command.

A command builds a :class:`Report` (a title, header lines naming the kernel, length scale,
dimension and units, the rows and their columns, and closing notes such as a summary or a
verdict) and prints ``render(report, fmt)``.

* ``table`` -- for people: the title and header, an aligned table that fits the terminal
  (``COLUMNS``, 80 when not known), then the notes. Too wide a table first wraps its column
  names at ``_``, then wraps its text cells at word (or ``.``, ``_``, ``/``) boundaries, then
  shows 4 instead of 6 significant digits, and when even that would leave columns too narrow
  to read it prints one block per row (``column: value`` lines). Nothing is truncated.
* ``csv`` -- the rows only, one header line of column names, floats in full precision
  (``repr``), ``inf``/``-inf`` for infinities and an empty cell for "not available" (NaN).
* ``json`` -- ``report.json`` when the command gives one, else the list of row objects keyed
  by column; floats in full precision, infinities as the strings ``"inf"``/``"-inf"``, NaN as
  ``null``.
* ``markdown`` -- the title in bold, the header as a list, a pipe table, then the notes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import click

__all__ = ["FORMATS", "Report", "render", "emit", "format_option", "terminal_width", "fmt_number", "wrap_text",
           "to_jsonable",
           "resolve_format", "scale_option", "describe_kernel", "SCALE_SYMBOL", "SCALE_FLAGS", "SCALE_NAME"]

#: the output formats every command offers
FORMATS = ("table", "csv", "json", "markdown")
#: narrowest a wrapped text column may become before the table switches to one block per row
_MIN_TEXT = 10


def terminal_width() -> int:
    """The width tables are fitted to: ``COLUMNS`` or the terminal's, 80 when unknown (at least 40)."""
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def fmt_number(v: Any, digits: int = 6) -> str:
    """A cell for people: 6 significant digits, ``inf``, ``n/a`` for NaN or None, text as is.

    >>> fmt_number(0.123456789), fmt_number(float("inf")), fmt_number(float("nan")), fmt_number(3)
    ('0.123457', 'inf', 'n/a', '3')
    """
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) or hasattr(v, "item"):
        try:
            f = float(v)
        except (TypeError, ValueError):
            return str(v)
        if math.isnan(f):
            return "n/a"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f"{f:.{digits}g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt_number(x, digits) for x in v)
    return str(v)


def to_jsonable(v: Any) -> Any:
    """Strict-JSON value: NaN -> None, +-inf -> ``"inf"``/``"-inf"``, numpy scalars and arrays to Python."""
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        return to_jsonable(v.tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _csv_cell(v: Any) -> Any:
    v = to_jsonable(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list):
        return ";".join(str(_csv_cell(x)) for x in v)
    return v


# ---------------------------------------------------------------------------------------------
# wrapping
# ---------------------------------------------------------------------------------------------
def _split_long(word: str, width: int) -> list[str]:
    """Pieces of ``word`` no longer than ``width``, cut after ``. _ / - , :`` where possible."""
    out, cur = [], ""
    for ch in word:
        cur += ch
        if len(cur) >= width:
            cut = max(cur.rfind(c, 0, width) for c in "._/-,:=")
            if cut <= 0:
                out.append(cur[:width])
                cur = cur[width:]
            else:
                out.append(cur[: cut + 1])
                cur = cur[cut + 1:]
    if cur:
        out.append(cur)
    return out


def wrap_text(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters: breaks at spaces, long words after ``. _ / -``.

    >>> wrap_text("gauss.tweedie.symbolic holds", 10)
    ['gauss.', 'tweedie.', 'symbolic', 'holds']
    """
    width = max(1, int(width))
    lines: list[str] = []
    cur = ""
    for word in str(text).split():
        pieces = _split_long(word, width) if len(word) > width else [word]
        for piece in pieces:
            if not cur:
                cur = piece
            elif len(cur) + 1 + len(piece) <= width:
                cur += " " + piece
            else:
                lines.append(cur)
                cur = piece
    if cur or not lines:
        lines.append(cur)
    return lines


def _header_pieces(name: str) -> list[str]:
    """A column name's break points: after each ``_`` (``excess_kT_mean`` -> excess_, kT_, mean)."""
    parts = name.split("_")
    return [p + "_" for p in parts[:-1]] + [parts[-1]]


def _wrap_header(name: str, width: int) -> list[str]:
    lines, cur = [], ""
    for piece in _header_pieces(name):
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = piece
        else:
            cur += piece
    lines.append(cur)
    return [ln for p in lines for ln in (_split_long(p, width) if len(p) > width else [p])]


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
@dataclass
class Report:
    """What a command prints.

    Attributes
    ----------
    title : str
        One line: what the table is.
    rows : list of dict
        The rows, keyed by column name.
    columns : list of str
        The columns, in order (default: the keys of the first row).
    header : dict
        ``label -> text`` lines above the table (kernel, scale, dimension, units, ...).
    notes : list of str
        Lines after the table (a summary, a verdict).
    json : object, optional
        What ``--format json`` prints (default: the list of row objects).
    keep : tuple of str
        Columns whose cells never wrap (identifiers meant to be copied or searched).
    digits : int
        Significant digits of numbers in the table and markdown formats.
    """

    title: str
    rows: list = field(default_factory=list)
    columns: list | None = None
    header: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    json: Any = None
    digits: int = 6
    keep: tuple = ()

    def cols(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        seen: list[str] = []
        for r in self.rows:
            seen += [k for k in r if k not in seen]
        return seen


def _render_json(rep: Report) -> str:
    obj = rep.json if rep.json is not None else [{c: r.get(c) for c in rep.cols()} for r in rep.rows]
    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False)


def _render_csv(rep: Report) -> str:
    cols = rep.cols()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rep.rows:
        w.writerow([_csv_cell(r.get(c)) for c in cols])
    return buf.getvalue().rstrip("\n")


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _render_markdown(rep: Report) -> str:
    cols = rep.cols()
    lines = [f"**{_md_escape(rep.title)}**", ""]
    if rep.header:
        lines += [f"- {k}: {_md_escape(v)}" for k, v in rep.header.items()] + [""]
    if cols:
        lines.append("| " + " | ".join(_md_escape(c) for c in cols) + " |")
        lines.append("|" + "|".join("---:" if _numeric(rep, c) else "---" for c in cols) + "|")
        for r in rep.rows:
            lines.append("| " + " | ".join(_md_escape(fmt_number(r.get(c), rep.digits)) for c in cols) + " |")
    if rep.notes:
        lines += [""] + [str(n) for n in rep.notes]
    return "\n".join(lines).rstrip("\n")


def _numeric(rep: Report, col: str) -> bool:
    vals = [r.get(col) for r in rep.rows if r.get(col) is not None]
    return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) or hasattr(v, "item")
                              for v in vals)


def _fit(names: list[str], cells: list[list[str]], numeric: list[bool], width: int,
         keep: Sequence[bool] = (), gap: int = 2) -> list[int] | None:
    """Column widths that fit ``width`` with ``gap`` spaces between columns, or None when readable widths
    do not exist."""
    n = len(names)
    gaps = gap * (n - 1)
    cell_w = [max([len(row[i]) for row in cells] + [1]) for i in range(n)]
    widths = [max(cell_w[i], len(names[i])) for i in range(n)]
    if sum(widths) + gaps <= width:
        return widths
    # 1. column names wrap at "_"
    head_min = [max(len(p) for p in _header_pieces(c)) for c in names]
    widths = [max(cell_w[i], head_min[i]) for i in range(n)]
    # 2. text cells wrap (numbers never do): shrink the widest text column, one character at a time
    # a text column is never narrower than its longest unbreakable piece (up to 20 characters)
    piece = [max([len(p) for row in cells for p in re.split(r"(?<=[\s._/,:=-])", row[i])] + [1]) for i in range(n)]
    keep = list(keep) or [False] * n
    floor = [widths[i] if numeric[i] or keep[i] else max(head_min[i], min(_MIN_TEXT, cell_w[i]), min(piece[i], 20))
             for i in range(n)]
    # each step narrows the text column whose narrowing adds the fewest wrapped lines to the table
    # (ties: the widest), so long statements get the room and short cells stay on one line
    text_cols = [i for i in range(n) if not numeric[i]]
    lines = {i: [len(wrap_text(row[i], widths[i])) for row in cells] for i in text_cols}

    def height(trial: dict) -> int:
        return sum(max([trial[i][r] for i in text_cols] + [1]) for r in range(len(cells)))

    while sum(widths) + gaps > width:
        cand = [i for i in text_cols if widths[i] > floor[i]]
        if not cand:
            return None
        best = None
        for i in cand:
            trial = dict(lines)
            trial[i] = [len(wrap_text(row[i], widths[i] - 1)) for row in cells]
            key = (height(trial), -widths[i])
            if best is None or key < best[0]:
                best = (key, i, trial[i])
        _, i, new_lines = best
        widths[i] -= 1
        lines[i] = new_lines
    return widths


def _render_rows_table(cols: list[str], rep: Report, width: int) -> list[str]:
    numeric = [_numeric(rep, c) for c in cols]
    # too wide with rep.digits significant digits and two spaces between columns: 4 digits, then one
    # space, before one block per row
    widths = None
    for digits, gap in ((rep.digits, 2), (min(rep.digits, 4), 2), (min(rep.digits, 4), 1)):
        cells = [[fmt_number(r.get(c), digits) for c in cols] for r in rep.rows]
        widths = _fit(cols, cells, numeric, width, [c in rep.keep for c in cols], gap)
        if widths is not None:
            break
    sep = " " * gap
    if widths is None:
        cells = [[fmt_number(r.get(c), rep.digits) for c in cols] for r in rep.rows]  # one block per row: "column: value", the value wrapped under itself
        lab = max(len(c) for c in cols)
        out: list[str] = []
        for k, row in enumerate(cells):
            if k:
                out.append("")
            for c, v in zip(cols, row):
                if width - lab - 2 >= 10:  # "name  value", the value wrapped under itself
                    wrapped = wrap_text(v, width - lab - 2)
                    out.append(f"{c.ljust(lab)}  {wrapped[0]}")
                    out += [" " * (lab + 2) + ln for ln in wrapped[1:]]
                else:  # very narrow: the name on its line, the value indented below
                    out += wrap_text(c, width) + ["  " + ln for ln in wrap_text(v, width - 2)]
        return out
    heads = [_wrap_header(c, w) for c, w in zip(cols, widths)]
    h = max(len(x) for x in heads)
    out = []
    for line in range(h):  # names bottom-aligned
        parts = []
        for hd, w, num in zip(heads, widths, numeric):
            txt = hd[line - (h - len(hd))] if line >= h - len(hd) else ""
            parts.append(txt.rjust(w) if num else txt.ljust(w))
        out.append(sep.join(parts).rstrip())
    out.append(sep.join("-" * w for w in widths))
    wrapped_rows = [[wrap_text(v, w) if not num else [v] for v, w, num in zip(row, widths, numeric)]
                    for row in cells]
    multi = any(len(c) > 1 for row in wrapped_rows for c in row)
    for k, row in enumerate(wrapped_rows):
        if multi and k:
            out.append("")
        for line in range(max(len(c) for c in row)):
            parts = []
            for c, w, num in zip(row, widths, numeric):
                txt = c[line] if line < len(c) else ""
                parts.append(txt.rjust(w) if num else txt.ljust(w))
            out.append(sep.join(parts).rstrip())
    return out


def _render_table(rep: Report, width: int | None = None) -> str:
    width = terminal_width() if width is None else width
    out = wrap_text(rep.title, width)
    for k, v in rep.header.items():
        lines = wrap_text(f"{k}: {v}", width - 2)
        out += ["  " + lines[0]] + ["    " + ln for ln in wrap_text(" ".join(lines[1:]), width - 4)] \
            if len(lines) > 1 else ["  " + lines[0]]
    cols = rep.cols()
    if cols and rep.rows:
        out.append("")
        out += _render_rows_table(cols, rep, width)
    if rep.notes:
        out.append("")
        for n in rep.notes:
            out += [str(n)] if len(str(n)) <= width else wrap_text(str(n), width)
    return "\n".join(out)


def render(rep: Report, fmt: str, width: int | None = None) -> str:
    """``rep`` as text in ``fmt`` (one of :data:`FORMATS`); ``width`` fits the table (default: the terminal)."""
    if fmt == "json":
        return _render_json(rep)
    if fmt == "csv":
        return _render_csv(rep)
    if fmt == "markdown":
        return _render_markdown(rep)
    if fmt == "table":
        return _render_table(rep, width)
    raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")


def emit(rep: Report, fmt: str) -> None:
    """Print ``render(rep, fmt)`` on stdout."""
    click.echo(render(rep, fmt))


def format_option(choices: Sequence[str] = FORMATS, default: str = "table", json_alias: bool = False,
                  help: str = "Output format: an aligned table (fits the terminal), CSV or JSON in full "
                              "precision, or markdown.") -> Callable:
    """The ``--format`` option (the value reaches the command as ``fmt``).

    With ``json_alias`` a hidden, deprecated ``--json`` flag means ``--format json``; the
    command reads the resolved format with :func:`resolve_format`.
    """
    def deco(f):
        f = click.option("--format", "fmt", type=click.Choice(list(choices)), default=default, show_default=True,
                         help=help)(f)
        if json_alias:
            f = click.option("--json", "as_json", is_flag=True, hidden=True, expose_value=True,
                             help="Deprecated: the same as --format json.")(f)
        return f

    return deco


def resolve_format(ctx: click.Context, fmt: str, as_json: bool) -> str:
    """The format asked for, with the deprecated ``--json`` (a usage error alongside another --format)."""
    if not as_json:
        return fmt
    src = ctx.get_parameter_source("fmt")
    if fmt != "json" and src is not None and src not in (click.core.ParameterSource.DEFAULT,
                                                          click.core.ParameterSource.DEFAULT_MAP):
        raise click.UsageError(f"--json (deprecated, the same as --format json) contradicts --format {fmt}", ctx)
    return "json"


#: what the ``scale`` of each registered kernel is (the symbol of its formula)
SCALE_SYMBOL = {"gaussian": "bandwidth s", "laplace": "temperature tau", "companion": "temperature tau",
                "matern": "length scale ell", "imq": "scale c", "wendland": "support radius R"}


def describe_kernel(name: str, scale: float, kern: Any = None) -> str:
    """``"laplace, temperature tau = 0.5 (Laplace(temperature=0.5))"``: the name, what its scale is, the object.

    >>> describe_kernel("gaussian", 2.0)
    'gaussian, bandwidth s = 2'
    """
    text = f"{name}, {SCALE_SYMBOL.get(name, 'length scale')} = {scale:g}"
    return text + (f" ({kern!r})" if kern is not None else "")


#: the kernel length scale's flag and its aliases (the same on every command)
SCALE_FLAGS = ("--scale", "--bandwidth", "--sigma0", "--tau")
#: how messages about the length scale name it
SCALE_NAME = "/".join(SCALE_FLAGS)


class _AliasedOption(click.Option):
    """An option whose help shows its first flag and lists the others as aliases."""

    def get_help_record(self, ctx):
        record = super().get_help_record(ctx)
        if record is None:
            return None
        return f"{self.opts[0]} {self.make_metavar(ctx)}", record[1]


def scale_option(default: float | None, help: str, name: str = "scale") -> Callable:
    """``--scale`` (aliases ``--bandwidth``, ``--sigma0``, ``--tau``): the kernel length scale, > 0.

    The value reaches the command as ``name``.
    """
    from driftlab.cli._errors import FiniteFloat

    return click.option(*SCALE_FLAGS, name, cls=_AliasedOption, type=FiniteFloat(min=0.0, min_open=True),
                        default=default, show_default=default is not None,
                        help=f"{help} Aliases: {', '.join(SCALE_FLAGS[1:])}.")
