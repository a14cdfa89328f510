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
from typing import Iterator

from driftlab._io import save_figure

__all__ = ["STYLE", "style", "figure", "save_figure"]

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
    return fig, axes
