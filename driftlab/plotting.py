"""driftlab's figure style, applied without touching matplotlib's global state.

Importing this module selects no backend and changes no ``rcParams``. Figures are
:class:`matplotlib.figure.Figure` objects made without pyplot (nothing to close, nothing kept
alive by a global registry), and the style is an ``rc_context`` active only inside
:func:`style`: wrap the code that builds a figure in it (``driftlab repro`` wraps every
figure script).

>>> from driftlab.plotting import figure, style
>>> with style():
...     fig, axes = figure(ncols=2)
>>> axes.shape
(1, 2)
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from typing import Iterator

from driftlab._io import save_figure

__all__ = ["STYLE", "MIN_FONT_SIZE", "style", "figure", "save_figure", "record_figures", "figure_texts",
           "plain_text_problems", "text_problems"]

#: the smallest font size (points, at the figure's own size) a figure's text may use
MIN_FONT_SIZE = 7.0

#: rcParams of driftlab figures (readable at a 3.4-inch column width)
STYLE = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "lines.linewidth": 1.4,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "pdf.fonttype": 42,
    "svg.hashsalt": "driftlab",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply :data:`STYLE` inside the block only (``matplotlib.rc_context``)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def figure(ncols: int = 1, nrows: int = 1, width: float = 3.4, height: float = 2.8, **kw):
    """A new figure (no pyplot) with a grid of axes; returns ``(fig, axes)``, axes 2-D.

    Text sizes and line widths come from the rcParams in force when artists are created:
    call it inside :func:`style` for driftlab's look.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    recorded = _RECORDED.get()
    if recorded is not None:
        recorded.append(fig)
    return fig, axes


_RECORDED: contextvars.ContextVar[list | None] = contextvars.ContextVar("driftlab_recorded_figures", default=None)


@contextlib.contextmanager
def record_figures() -> Iterator[list]:
    """Collect every figure :func:`figure` makes inside the block (into the list it yields).

    Used to inspect the figures a script builds, e.g. with :func:`text_problems`.

    >>> with record_figures() as figs, style():
    ...     fig, ax = figure()
    >>> figs == [fig]
    True
    """
    figs: list = []
    token = _RECORDED.set(figs)
    try:
        yield figs
    finally:
        _RECORDED.reset(token)


def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>"


def figure_texts(fig) -> list[tuple[str, str, float]]:
    """Every visible, non-empty text of ``fig``: ``(where, text, font size in points)``.

    ``where`` names the text's role (``"axes 0 title"``, ``"axes 1 legend"``, ``"figure
    suptitle"``, ``"axes 2 tick label"``, ...). Tick labels are those of the last draw, so
    draw (or save) the figure first for them to be complete.
    """
    from matplotlib.text import Text

    roles: dict[int, str] = {}
    for i, ax in enumerate(fig.axes):
        name = "colorbar" if _is_colorbar(ax) else f"axes {i}"
        for t in (ax.title, ax._left_title, ax._right_title):  # noqa: SLF001 - matplotlib's own title slots
            roles[id(t)] = f"{name} title"
        roles[id(ax.xaxis.label)] = f"{name} xlabel"
        roles[id(ax.yaxis.label)] = f"{name} ylabel"
        for t in ax.get_xticklabels(which="both") + ax.get_yticklabels(which="both"):
            roles[id(t)] = f"{name} tick label"
        leg = ax.get_legend()
        if leg is not None:
            for t in leg.get_texts() + [leg.get_title()]:
                roles[id(t)] = f"{name} legend"
    if fig._suptitle is not None:  # noqa: SLF001 - no public getter for the Text
        roles[id(fig._suptitle)] = "figure suptitle"  # noqa: SLF001
    out = []
    seen: set[int] = set()
    for t in fig.findobj(Text):
        if id(t) in seen or not t.get_visible() or not t.get_text().strip():
            continue
        seen.add(id(t))
        out.append((roles.get(id(t), "text"), t.get_text(), float(t.get_fontsize())))
    return out


_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$", re.S)
#: plain-text patterns a figure must not show (outside ``$...$``), with why
_PLAIN_TEXT_PROBLEMS = (
    (re.compile(r"\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+\b"), "a Python identifier or raw subscript"),
    (re.compile(r"\bNone\b"), "'None'"),
    (re.compile(r"\b(?:nan|NaN)\b"), "'nan'"),
    (re.compile(r"\^|_\{|\\[A-Za-z]+"), "TeX outside $...$"),
    (re.compile(r"\b(?:tau|lambda|mu|sigma|beta|nu|eta|eps|epsilon|alpha|phi|psi|rho|theta|kappa|omega|gamma|xi|chi)\b"),
     "a Greek letter spelled out (use mathtext)"),
    (re.compile(r"\bsqrt\b|\+-"), "a formula in plain text (use mathtext)"),
    (re.compile(r"\barray\(|\bnp\.|<[A-Za-z_.]+ object|\{'"), "a raw repr"),
)


def plain_text_problems(text: str) -> list[str]:
    """What in ``text`` (outside ``$...$`` mathtext) a paper figure must not show (empty: nothing).

    >>> plain_text_problems("annealed $s_0 e^{-rt}$")
    []
    >>> plain_text_problems("fixed_s0")
    ["a Python identifier or raw subscript ('fixed_s0')"]
    """
    plain = _MATH.sub(" ", text)
    return [f"{why} ({m.group(0)!r})" for pattern, why in _PLAIN_TEXT_PROBLEMS if (m := pattern.search(plain))]


def text_problems(fig, min_size: float = MIN_FONT_SIZE) -> list[str]:
    """What keeps ``fig`` from reading as a paper figure (empty when nothing does).

    Checked: every axes with data has an x and a y label (a colorbar: a label); no text
    (titles, labels, legend entries, annotations, tick labels) shows, outside ``$...$``
    mathtext, a Python identifier or raw subscript (``fixed_s0``, ``K_max``), ``None``,
    ``nan``, TeX (``e^{-rt}``, ``\\lambda``), a Greek letter spelled out (``tau``) or a raw
    repr; every text is at least ``min_size`` points. The figure is drawn first (tick labels).

    >>> with style():
    ...     fig, ax = figure()
    ...     _ = ax[0, 0].plot([0, 1], [0, 1], label="fixed_s0")
    ...     _ = ax[0, 0].legend()
    >>> text_problems(fig)[:2]
    ['axes 0: has data but no xlabel', 'axes 0: has data but no ylabel']
    """
    fig.draw_without_rendering()
    problems = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        if _is_colorbar(ax):
            if not (ax.get_xlabel().strip() or ax.get_ylabel().strip()):
                problems.append(f"colorbar {i}: no label")
            continue
        if ax.has_data():
            for axis in ("x", "y"):
                if not getattr(ax, f"get_{axis}label")().strip():
                    problems.append(f"axes {i}: has data but no {axis}label")
    for where, text, size in figure_texts(fig):
        problems += [f"{where} {text!r}: {why}" for why in plain_text_problems(text)]
        if size < min_size:
            problems.append(f"{where} {text!r}: font size {size:g} pt < {min_size:g} pt")
    return problems
