"""The figures read as paper figures: axis labels on every panel, maths as mathtext, legends in
words, no ``None``/``nan``/raw reprs, no text below 7 pt.

Every figure script is run in its quick form (its ``make``, as ``driftlab repro --quick`` calls
it, into a temporary folder) and the Figure objects it builds are inspected with
:func:`driftlab.plotting.text_problems`. Running all of them takes ~2 min on one core, so the
default profile runs a fast subset (~1 s each on an idle core) and the rest run under
``@pytest.mark.slow``; a static pass over the scripts' source (string literals of labels,
titles, legends, annotations and their font sizes) covers every script in the default profile.
No numerical tolerances: the assertions are on text.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from driftlab import repro as R
from driftlab.plotting import MIN_FONT_SIZE, figure, plain_text_problems, record_figures, style, text_problems

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "paper_repro").glob("fig_*.py"))
NAMES = [p.stem.removeprefix("fig_").replace("_", "-") for p in SCRIPTS]
#: quick runs of ~1 s each (figures/quick/runtimes.json): the default profile's subset
FAST = {"foundation-float32", "spacetime-hyperbolic", "theory-gaussian"}


# -- the checker itself: it must flag what it promises to flag -------------------------------

def _fig(draw):
    with style():
        fig, ax = figure()
        draw(ax[0, 0])
    return fig


def test_a_clean_figure_has_no_problems():
    def draw(a):
        a.plot([1, 2], [3, 4], label=r"annealed $s_0 e^{-rt}$")
        a.plot([1, 2], [4, 3], label="best fixed $s$")
        a.set(xlabel=r"$K_{\max}$", ylabel=r"time to $\varepsilon = 0.1$", title=r"Laplace, $\tau = 1$")
        a.legend()
        a.text(1.5, 3.5, r"$\lambda(k)$", fontsize=7)

    fig = _fig(draw)
    assert text_problems(fig) == [], text_problems(fig)


@pytest.mark.parametrize("draw, expected", [
    (lambda a: a.plot([0, 1], [0, 1]) and a.set_xlabel("x"), "has data but no ylabel"),
    (lambda a: a.plot([0, 1], [0, 1]) and a.set_ylabel("y"), "has data but no xlabel"),
    (lambda a: a.plot([0, 1], [0, 1], label="fixed_s0") and a.legend(), "Python identifier"),
    (lambda a: a.set_title("K_max = 4"), "Python identifier"),
    (lambda a: a.set_title("bound None"), "'None'"),
    (lambda a: a.set_title("ratio nan"), "'nan'"),
    (lambda a: a.set_title("annealed s0 e^{-rt}"), "TeX outside"),
    (lambda a: a.set_title(r"rate \lambda"), "TeX outside"),
    (lambda a: a.set_title("Laplace tau = 1"), "Greek letter"),
    (lambda a: a.set_ylabel("E[V] (+- 2 SE)"), "formula in plain text"),
    (lambda a: a.set_title("array([1, 2])"), "raw repr"),
    (lambda a: a.text(0.5, 0.5, "small", fontsize=5), "font size 5 pt"),
    (lambda a: a.plot([0, 1], [0, 1], label="x") and a.legend(fontsize=6), "font size 6 pt"),
])
def test_the_checker_flags(draw, expected):
    problems = text_problems(_fig(draw))
    assert any(expected in p for p in problems), f"expected a problem containing {expected!r}, got {problems}"


def test_maths_inside_dollars_is_not_flagged():
    fig = _fig(lambda a: a.set_title(r"$\mu_p$, $e^{-rt}$, $K_\max$, $\tau$ and a cost of \$5"))
    assert text_problems(fig) == [], text_problems(fig)


def test_a_colorbar_needs_a_label_only():
    def draw(a):
        im = a.imshow([[0, 1], [1, 0]])
        a.set(xlabel="$x_1$", ylabel="$x_2$")
        a.figure.colorbar(im, ax=a)

    problems = text_problems(_fig(draw))
    assert problems == ["colorbar 1: no label"], problems


# -- static pass over every script (default profile) -----------------------------------------

_TEXT_KEYWORDS = {"label", "title", "xlabel", "ylabel"}
_TEXT_METHODS = {"set_xlabel", "set_ylabel", "set_title", "suptitle", "text", "annotate", "supxlabel",
                 "supylabel"}


def _literal(node) -> str | None:
    """A string literal, or an f-string with each formatted value read as ``0``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "0" for v in node.values)
    return None


def _script_texts(path: Path):
    """(line, text) of every literal label/title/annotation, and (line, size) of every literal fontsize."""
    texts, sizes = [], []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if method in _TEXT_METHODS:
            args = node.args[2:3] if method == "text" else node.args[:1]
            texts += [(node.lineno, s) for s in map(_literal, args) if s is not None]
        for kw in node.keywords:
            if kw.arg in _TEXT_KEYWORDS and (s := _literal(kw.value)) is not None:
                texts.append((node.lineno, s))
            if kw.arg == "fontsize" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, (int, float)):
                sizes.append((node.lineno, kw.value.value))
    return texts, sizes


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_script_literals_read_as_paper_text(path):
    texts, sizes = _script_texts(path)
    problems = [f"line {ln}: {s!r}: {why}" for ln, s in texts for why in plain_text_problems(s)]
    problems += [f"line {ln}: fontsize={v} < {MIN_FONT_SIZE:g}" for ln, v in sizes if v < MIN_FONT_SIZE]
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


# -- every figure, rendered in quick mode -----------------------------------------------------

@pytest.fixture(scope="module")
def scripts():
    return R.discover()


# a script's own RuntimeWarnings (e.g. a Monte Carlo estimate flagged unreliable at a quick run's
# small sizes) are errors in the test profile; they are not what this test is about
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in NAMES])
def test_rendered_figure_text(name, tmp_path, scripts):
    with record_figures() as figs:  # the script's own make (as the runner calls it), without the PNG twin
        scripts[name].make(tmp_path / "q", quick=True)
    assert figs, f"{name}: the script built no figure through driftlab.plotting.figure"
    problems = [f"figure {i}: {p}" for i, fig in enumerate(figs) for p in text_problems(fig)]
    assert not problems, f"{name} (quick):\n  " + "\n  ".join(problems)
