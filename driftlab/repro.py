"""The figure registry behind ``driftlab repro``.

Every script ``paper_repro/fig_*.py`` is one figure (or one small family of figures). A
script defines::

    NAME = "gaussian-drift"          # what `driftlab repro NAME` selects
    TITLE = "one line for `driftlab repro --list`"

    def make(out_dir: Path, quick: bool = False) -> list[Path]:
        ...                           # compute, save figure(s) + data, return the paths

and ends with ``if __name__ == "__main__": run_script(make)`` so that it also runs alone
(``python -m paper_repro.fig_NAME [--quick]`` from the checkout's root).
Scripts are discovered, not listed, so an issue adds a figure by adding a file. The file
name and NAME agree (``fig_<name with _>.py`` <-> ``NAME`` with ``-``); :func:`discover`
refuses a script where they differ.

The runner (:func:`run`) ties every figure to the claims ledger, so scripts need none of it:

* each PDF's metadata (Subject, Keywords) and each JSON's ``"figure"`` key name the claim ids
  that cite the figure (``driftlab.theory.ledger``) and the command that regenerates it; no
  dates, so the files stay byte-stable;
* a PNG of the same figure is saved beside each PDF (for docs/gallery.md);
* the wall-clock time of each figure goes to ``runtimes.json`` in the output folder (never
  into the figure data), which ``driftlab repro --list`` and the gallery read;
* ``quick=True`` (``driftlab repro --quick``) writes to ``figures/quick/`` (git-ignored), never
  to the committed ``figures/``, and marks its outputs: the JSON's ``"figure"`` has
  ``"quick": true``, the PDF/PNG metadata start with ``QUICK SMOKE RUN`` and the figure
  carries a visible stamp;
* a run ends with a summary table; a failing script does not stop the others (the run then
  raises :class:`FigureRunError` naming them).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import driftlab

__all__ = ["FigureScript", "UnknownFigureError", "FigureRunError", "FigureRun", "QUICK_SUBDIR", "RUNTIMES_FILE",
           "discover", "repo_root", "default_figures_dir", "quick_figures_dir", "is_committed_figures_dir",
           "claims_by_figure", "figure_command", "figure_metadata", "annotate_json", "read_runtimes", "run",
           "summary_rows", "summary_table", "GalleryError", "gallery_problems", "committed_verdicts", "render_gallery",
           "write_gallery", "run_script"]

#: quick (smoke) runs go to ``figures/<QUICK_SUBDIR>/`` (git-ignored)
QUICK_SUBDIR = "quick"
#: per-figure wall-clock seconds, written by the runner into its output folder
RUNTIMES_FILE = "runtimes.json"
QUICK_MARK = "QUICK SMOKE RUN (smaller sizes; not the committed figure)"


class UnknownFigureError(ValueError):
    """A requested figure NAME is not among the discovered scripts."""


class FigureRunError(RuntimeError):
    """One or more figure scripts raised; the others ran (``failed``: name -> error text)."""

    def __init__(self, failed: dict[str, str]):
        self.failed = dict(failed)
        super().__init__("figure script(s) failed: " + "; ".join(f"{n}: {e}" for n, e in self.failed.items()))


def repo_root() -> Path:
    """The checkout holding ``paper_repro/`` (editable install), else the working directory."""
    here = Path(driftlab.__file__).resolve().parents[1]
    if (here / "paper_repro").is_dir():
        return here
    cwd = Path.cwd()
    if (cwd / "paper_repro").is_dir():
        return cwd
    raise FileNotFoundError(
        "paper_repro/ not found: run `driftlab repro` from a driftlab checkout (pip install -e .)"
    )


def import_from_checkout(module: str) -> ModuleType:
    """Import ``module`` (``analysis.*``, ``paper_repro.*``) from the checkout's top level.

    The sweeps of ``analysis/`` are not part of the installed package: the figure scripts and
    the ledger's heavy claims import them from the checkout (:func:`repo_root`), whatever the
    working directory. Raises ``FileNotFoundError`` outside a checkout.
    """
    root = repo_root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(module)


def default_figures_dir() -> Path:
    """The committed figures: ``figures/`` of the checkout."""
    return repo_root() / "figures"


def quick_figures_dir() -> Path:
    """Where quick runs go by default: ``figures/quick/`` (git-ignored)."""
    return default_figures_dir() / QUICK_SUBDIR


def is_committed_figures_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the committed ``figures/`` folder of the checkout."""
    try:
        return Path(path).resolve() == default_figures_dir().resolve()
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class FigureScript:
    name: str
    title: str
    path: Path
    module: ModuleType

    def make(self, out_dir: Path, quick: bool = False) -> list[Path]:
        from driftlab.plotting import style

        with style():
            return list(self.module.make(Path(out_dir), quick=quick))


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"paper_repro_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def discover(root: Path | None = None) -> dict[str, FigureScript]:
    """All figure scripts by NAME, in file-name order."""
    root = root or repo_root()
    if str(root) not in sys.path:  # figure scripts import the analysis/ sweeps of the checkout
        sys.path.insert(0, str(root))
    folder = root / "paper_repro"
    scripts: dict[str, FigureScript] = {}
    for path in sorted(folder.glob("fig_*.py")):
        mod = _load(path)
        name = getattr(mod, "NAME", None)
        if not name or not callable(getattr(mod, "make", None)):
            raise RuntimeError(f"{path} must define NAME and make(out_dir, quick)")
        expected = path.stem.removeprefix("fig_").replace("_", "-")
        if name != expected:
            raise RuntimeError(f"{path.name} defines NAME = {name!r}: the file name requires {expected!r} "
                               "(fig_<name with _>.py <-> NAME with -)")
        if name in scripts:
            raise RuntimeError(f"duplicate figure NAME {name!r} in {path} and {scripts[name].path}")
        scripts[name] = FigureScript(name, getattr(mod, "TITLE", ""), path, mod)
    return scripts


def claims_by_figure() -> dict[str, list[str]]:
    """Figure NAME -> ids of the ledger claims whose ``figures`` name it (ledger order)."""
    from driftlab.theory.ledger import CLAIMS

    out: dict[str, list[str]] = {}
    for c in CLAIMS:
        for f in c.figures:
            out.setdefault(f, []).append(c.id)
    return out


def figure_command(name: str, quick: bool = False) -> str:
    """The command that regenerates figure ``name``."""
    return f"driftlab repro {name}" + (" --quick" if quick else "")


def figure_metadata(name: str, title: str = "", claims: list[str] | None = None, quick: bool = False) -> dict:
    """The ``"figure"`` record the runner adds to a figure's JSON (no dates, no timings)."""
    meta = {"name": name, "title": title, "claims": list(claims or []), "command": figure_command(name, quick),
            "quick": bool(quick)}
    if quick:
        meta["note"] = QUICK_MARK
    return meta


def _pdf_metadata(meta: dict) -> tuple[str, str]:
    """(Subject, Keywords) for the PDF/PNG metadata."""
    subject = (f"{QUICK_MARK}. " if meta["quick"] else "") + (
        f"driftlab figure {meta['name']}: {meta['title']}. Claims: {', '.join(meta['claims']) or 'none'}. "
        f"Regenerate: {meta['command']}")
    keywords = ", ".join(["driftlab", meta["name"], *meta["claims"]] + (["quick"] if meta["quick"] else []))
    return subject, keywords


def annotate_json(path: str | os.PathLike, meta: dict) -> Path:
    """Add ``meta`` as the top-level ``"figure"`` key of a figure's JSON (rewritten as :func:`write_json` does).

    A JSON whose top level is a list becomes ``{"figure": meta, "rows": [...]}``.
    """
    from driftlab._io import write_json

    path = Path(path)
    obj = json.loads(path.read_text())
    if not isinstance(obj, dict):
        obj = {"rows": obj}
    obj["figure"] = meta
    return write_json(path, obj)


def read_runtimes(folder: str | os.PathLike | None = None) -> dict[str, dict]:
    """The runtimes the runner recorded in ``folder`` (default the committed figures/): name -> record."""
    path = Path(folder if folder is not None else default_figures_dir()) / RUNTIMES_FILE
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("figures", {}))


def _write_runtimes(folder: Path, new: dict[str, dict]) -> Path:
    from driftlab._io import write_json

    merged = read_runtimes(folder)
    merged.update(new)
    return write_json(folder / RUNTIMES_FILE, {
        "about": "wall-clock seconds of each figure script, written by `driftlab repro` (the figure data "
                 "itself carries no timings); cpu_count is the machine's core count",
        "figures": merged})


@dataclass(frozen=True)
class FigureRun:
    """What :func:`run` did for one figure."""

    name: str
    seconds: float
    paths: tuple[Path, ...]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


SUMMARY_COLUMNS = ["figure", "status", "seconds", "files", "error"]


def summary_rows(runs: list[FigureRun], out_dir: Path | None = None, full: bool = True) -> list[dict]:
    """One row per figure run: ``figure``, ``status`` (ok / FAILED), ``seconds``, ``files``, ``error``.

    ``full``: seconds unrounded, every file's absolute path and the whole error text (for CSV
    and JSON); else seconds to 0.1 s, paths relative to ``out_dir`` and the error's first line
    (for people). ``files`` is a list.
    """
    rows = []
    for r in runs:
        if full:
            files = [str(Path(p).resolve()) for p in r.paths]
        else:
            files = [str(p.relative_to(out_dir)) if out_dir is not None and p.is_relative_to(out_dir) else str(p)
                     for p in r.paths]
        error = r.error if full else (r.error.splitlines()[0] if r.error else "")
        rows.append({"figure": r.name, "status": "ok" if r.ok else "FAILED",
                     "seconds": r.seconds if full else round(r.seconds, 1), "files": files, "error": error})
    return rows


def summary_table(runs: list[FigureRun], out_dir: Path | None = None, fmt: str = "table",
                  width: int | None = None) -> str:
    """The run's summary through the command line's one renderer, in ``fmt`` (table, csv, json, markdown).

    Table and markdown: seconds to 0.1 s and paths relative to the output folder (named in the
    header); CSV and JSON: seconds unrounded and absolute paths (CSV joins a figure's files
    with ``;``). JSON is ``{"out_dir", "figures": [rows], "ok", "total", "seconds"}``. The
    rendering lives with the command line (:func:`driftlab.cli.repro.render_summary`).
    """
    from driftlab.cli.repro import render_summary

    return render_summary(runs, out_dir, fmt, width)


def run(names: list[str] | None = None, out_dir: Path | None = None, quick: bool = False,
        echo: Callable[[str], None] = print, fmt: str = "table",
        summary_echo: Callable[[str], None] | None = None) -> dict[str, list[Path]]:
    """Run the selected figure scripts (all when ``names`` is empty or ``["all"]``).

    Parameters
    ----------
    names : list of str, optional
        Figure NAMEs (``driftlab repro --list``); empty or ``["all"]``: every figure.
    out_dir : path, optional
        Output folder. Default: the committed ``figures/``, or ``figures/quick/`` when ``quick``.
        A quick run into the committed ``figures/`` is refused.
    quick : bool
        Smaller sizes (a smoke run); outputs are marked as such.
    echo : callable
        Progress (and, unless ``summary_echo`` is given, the final summary) goes here.
    fmt : {"table", "csv", "json", "markdown"}
        Format of the final summary (:func:`summary_table`).
    summary_echo : callable, optional
        Where the final summary goes (default ``echo``), e.g. stdout while progress goes to
        stderr.

    Returns
    -------
    dict
        NAME -> the files written (the script's, plus the PNG beside each PDF).

    Raises
    ------
    UnknownFigureError
        A name is not a discovered figure.
    ValueError
        ``quick`` with ``out_dir`` the committed figures folder.
    FigureRunError
        One or more scripts raised (after all the others ran and the summary was echoed).
    """
    from driftlab._io import figure_context
    from driftlab.cli.repro import FORMATS

    if fmt not in FORMATS:  # before any figure runs
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    scripts = discover()
    if not names or list(names) == ["all"]:
        selected = list(scripts)
    else:
        unknown = [n for n in names if n not in scripts]
        if unknown:
            raise UnknownFigureError(f"unknown figure name(s) {unknown}; known: {', '.join(scripts)}")
        selected = list(names)
    if out_dir is None:
        out_dir = quick_figures_dir() if quick else default_figures_dir()
    out_dir = Path(out_dir)
    if quick and is_committed_figures_dir(out_dir):
        raise ValueError(f"out_dir {out_dir} is the committed figures folder: a quick run must not overwrite the "
                         f"committed figures (default for quick runs: {quick_figures_dir()})")
    cites = claims_by_figure()
    results: dict[str, list[Path]] = {}
    runs: list[FigureRun] = []
    runtimes: dict[str, dict] = {}
    for i, name in enumerate(selected, 1):
        script = scripts[name]
        meta = figure_metadata(name, script.title, cites.get(name, []), quick)
        subject, keywords = _pdf_metadata(meta)
        echo(f"[{i}/{len(selected)}] {name}: {script.title}")
        t0 = time.perf_counter()
        try:
            with figure_context(subject=subject, keywords=keywords, png=True,
                                stamp="QUICK SMOKE RUN" if quick else ""):
                paths = [Path(p) for p in script.make(out_dir, quick=quick)]
            extra = []
            for p in paths:
                if p.suffix == ".json":
                    annotate_json(p, meta)
                elif p.suffix == ".pdf" and p.with_suffix(".png").is_file() and p.with_suffix(".png") not in paths:
                    extra.append(p.with_suffix(".png"))
            paths += extra
        except Exception as exc:  # noqa: BLE001 - reported in the summary; the run goes on
            seconds = time.perf_counter() - t0
            err = f"{type(exc).__name__}: {exc}"
            echo(f"    FAILED after {seconds:.1f} s: {err}")
            echo(traceback.format_exc().rstrip())
            runs.append(FigureRun(name, seconds, (), err))
            continue
        seconds = time.perf_counter() - t0
        results[name] = paths
        runs.append(FigureRun(name, seconds, tuple(paths)))
        runtimes[name] = {"seconds": round(seconds, 1), "quick": bool(quick), "cpu_count": os.cpu_count()}
        rel = ", ".join(str(p.relative_to(out_dir)) if p.is_relative_to(out_dir) else str(p) for p in paths)
        echo(f"    done in {seconds:.1f} s -> {rel}")
    if runtimes:
        _write_runtimes(out_dir, runtimes)
    if summary_echo is None:
        echo("")
    (summary_echo or echo)(summary_table(runs, out_dir, fmt))
    failed = {r.name: r.error for r in runs if not r.ok}
    if failed:
        raise FigureRunError(failed)
    return results


class GalleryError(ValueError):
    """The figures and the claims ledger do not match (a figure without a claim, or a claim
    naming a figure that does not exist), or a figure's PNG is missing."""


def gallery_problems(scripts: dict[str, FigureScript] | None = None,
                     claim_figures: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """What keeps the gallery from tying every figure to its claims (empty when all is well).

    ``claim_figures``: claim id -> the figure names it cites (default: the ledger's).
    """
    scripts = discover() if scripts is None else scripts
    if claim_figures is None:
        from driftlab.theory.ledger import CLAIMS

        claim_figures = {c.id: tuple(c.figures) for c in CLAIMS}
    cited = {f for figs in claim_figures.values() for f in figs}
    problems = [f"figure {n!r} ({scripts[n].path.name}) is cited by no claim" for n in scripts if n not in cited]
    problems += [f"claim {cid!r} names figure {f!r}, which does not exist" for cid, figs in claim_figures.items()
                 for f in figs if f not in scripts]
    return problems


_ROW = re.compile(r"^\| `([^`]+)` \|.*\| \*\*(verified|refuted|inconclusive|error)\*\* \| (verified|refuted|inconclusive) \|")


def committed_verdicts(path: str | os.PathLike | None = None) -> tuple[dict[str, tuple[str, str]], str]:
    """Verdicts recorded in the committed ``docs/claims.md``: (claim id -> (verdict, expected), tier)."""
    path = Path(path) if path is not None else repo_root() / "docs" / "claims.md"
    if not path.is_file():
        return {}, ""
    text = path.read_text()
    tier = re.search(r"\(tier `(\w+)`\)", text)
    out = {m.group(1): (m.group(2), m.group(3)) for line in text.splitlines() if (m := _ROW.match(line))}
    return out, tier.group(1) if tier else ""


def _fmt_runtime(rec: dict | None) -> str:
    if not rec:
        return "not measured yet (`driftlab repro NAME` records it)"
    s = float(rec["seconds"])
    t = f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"
    return t + (f" on {rec['cpu_count']} cores" if rec.get("cpu_count") else "")


def render_gallery(root: Path | None = None) -> str:
    """docs/gallery.md: every figure (its PNG), its TITLE, its claims with their verdicts, the command
    and its measured runtime.

    Verdicts are those of the committed ``docs/claims.md`` (the last ledger run written there, so
    the gallery needs no rerun of the ledger); runtimes those of ``figures/runtimes.json``.

    Raises
    ------
    GalleryError
        A figure is cited by no claim, a claim names a figure that does not exist, or a figure's
        PNG is missing from ``figures/``.
    """
    from driftlab.theory.ledger import CLAIMS

    root = root or repo_root()
    scripts = discover(root)
    problems = gallery_problems(scripts, {c.id: tuple(c.figures) for c in CLAIMS})
    figures = root / "figures"
    pngs = {n: figures / (n.replace("-", "_") + ".png") for n in scripts}
    problems += [f"figure {n!r}: {p.relative_to(root)} is missing (run `driftlab repro {n}`)"
                 for n, p in pngs.items() if not p.is_file()]
    if problems:
        raise GalleryError("cannot build the gallery:\n  " + "\n  ".join(problems))
    cites = claims_by_figure()
    by_id = {c.id: c for c in CLAIMS}
    verdicts, tier = committed_verdicts(root / "docs" / "claims.md")
    runtimes = read_runtimes(figures)
    out = ["# Figure gallery", "",
           "Generated by `make gallery` (`driftlab repro --gallery`). Do not edit by hand.", "",
           "Every figure of `driftlab repro`, with the claims of the ledger it shows. Verdicts are read from the "
           f"committed [claims ledger](claims.md) (a `driftlab verify` run, tier `{tier or '?'}`); a claim outside "
           "that run's tier shows as *not in claims.md*. Runtimes are the wall-clock seconds of the last full run "
           "recorded in `figures/runtimes.json` (quick runs go to `figures/quick/` and are not recorded here). "
           "Each figure's PDF metadata and JSON (`\"figure\"` key) name the same claims and command.", ""]
    out += ["| figure | claims | verdicts | runtime |", "|---|---:|---|---|"]
    for name in scripts:
        vs = [verdicts.get(c, ("not in claims.md", ""))[0] for c in cites[name]]
        summary = ", ".join(f"{v} {vs.count(v)}" for v in dict.fromkeys(vs))
        rt = _fmt_runtime(runtimes.get(name)) if runtimes.get(name) else "not measured"
        out.append(f"| [`{name}`](#{name}) | {len(vs)} | {summary} | {rt} |")
    out.append("")
    for name, script in scripts.items():
        stem = name.replace("-", "_")
        files = sorted(p.name for p in figures.glob(stem + ".*"))
        out += [f"## {name}", "", script.title, "",
                f"![{name}](../figures/{stem}.png)", "",
                f"- command: `{figure_command(name)}` (script [`{script.path.relative_to(root)}`]"
                f"(../{script.path.relative_to(root)}))",
                f"- runtime: {_fmt_runtime(runtimes.get(name))}",
                "- files: " + ", ".join(f"[`{f}`](../figures/{f})" for f in files),
                "- claims:"]
        for cid in cites[name]:
            c = by_id[cid]
            v, exp = verdicts.get(cid, ("not in claims.md", c.expected))
            mark = " (as expected)" if v == exp else f" (expected {exp})"
            out.append(f"  - `{cid}` ({c.paper}): **{v}**{mark}. {c.statement}")
            if c.note:
                out.append(f"    What holds: {c.note}")
        out.append("")
    return "\n".join(out)


def write_gallery(path: str | os.PathLike | None = None) -> Path:
    """Render :func:`render_gallery` into ``path`` (default ``docs/gallery.md``)."""
    from driftlab._io import atomic_write_text

    path = Path(path) if path is not None else repo_root() / "docs" / "gallery.md"
    return atomic_write_text(path, render_gallery())


def run_script(make: Callable[..., list[Path]]) -> None:
    """Command-line entry for a single figure script (through :func:`run`, so the figure gets
    the same metadata, PNG and runtime record as with ``driftlab repro NAME``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller, faster version (written to figures/quick/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default figures/, or figures/quick/ with --quick)")
    args = parser.parse_args()
    name = getattr(make, "__globals__", {}).get("NAME")
    if name is None:
        parser.error("the script defines no NAME")
    try:
        results = run([name], out_dir=args.out, quick=args.quick)
    except (ValueError, FigureRunError) as exc:
        parser.exit(1, f"error: {exc}\n")
    for p in results[name]:
        print(p)
