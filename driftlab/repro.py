"""The figure registry behind ``driftlab repro``.

Every script ``paper_repro/fig_*.py`` is one figure (or one small family of figures). A
script defines::

    NAME = "gaussian-drift"          # what `driftlab repro NAME` selects
    TITLE = "one line for `driftlab repro --list`"

    def make(out_dir: Path, quick: bool = False) -> list[Path]:
        ...                           # compute, save figure(s) + data, return the paths

and ends with ``if __name__ == "__main__": run_script(make)`` so that it also runs alone
(``python -m paper_repro.fig_NAME [--quick]`` from the checkout's root).
Scripts are discovered, not listed, so an issue adds a figure by adding a file.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import driftlab

__all__ = ["FigureScript", "UnknownFigureError", "discover", "repo_root", "default_figures_dir", "run",
           "run_script"]


class UnknownFigureError(ValueError):
    """A requested figure NAME is not among the discovered scripts."""


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


def default_figures_dir() -> Path:
    return repo_root() / "figures"


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


def run(names: list[str] | None = None, out_dir: Path | None = None, quick: bool = False,
        echo: Callable[[str], None] = print) -> dict[str, list[Path]]:
    """Run the selected figure scripts (all when ``names`` is empty or ``["all"]``)."""
    scripts = discover()
    if not names or names == ["all"]:
        selected = list(scripts)
    else:
        unknown = [n for n in names if n not in scripts]
        if unknown:
            raise UnknownFigureError(f"unknown figure name(s) {unknown}; known: {', '.join(scripts)}")
        selected = names
    out_dir = Path(out_dir) if out_dir is not None else default_figures_dir()
    results: dict[str, list[Path]] = {}
    for i, name in enumerate(selected, 1):
        t0 = time.perf_counter()
        echo(f"[{i}/{len(selected)}] {name}: {scripts[name].title}")
        paths = scripts[name].make(out_dir, quick=quick)
        results[name] = paths
        rel = ", ".join(str(p.relative_to(out_dir)) if p.is_relative_to(out_dir) else str(p) for p in paths)
        echo(f"    done in {time.perf_counter() - t0:.1f} s -> {rel}")
    return results


def run_script(make: Callable[..., list[Path]]) -> None:
    """Command-line entry for a single figure script."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller, faster version")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default figures/)")
    args = parser.parse_args()
    from driftlab.plotting import style

    with style():
        paths = make(args.out or default_figures_dir(), quick=args.quick)
    for p in paths:
        print(p)
