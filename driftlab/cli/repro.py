"""``driftlab repro``: regenerate the papers' figures into figures/ (quick runs into figures/quick/)."""

from __future__ import annotations

from pathlib import Path

import click

from driftlab.cli._errors import prepare_out_dir, refuse_unused
from driftlab.cli._render import FORMATS, Report, format_option, render


def _fmt_seconds(rec: dict | None) -> str:
    if not rec:
        return "?"
    s = float(rec["seconds"])
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def render_summary(runs: list, out_dir: Path | None = None, fmt: str = "table", width: int | None = None) -> str:
    """``driftlab repro``'s summary of ``runs`` (:class:`driftlab.repro.FigureRun`) in ``fmt``.

    See :func:`driftlab.repro.summary_table`.
    """
    from driftlab.repro import SUMMARY_COLUMNS, summary_rows

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    full = fmt in ("csv", "json")
    rows = summary_rows(runs, out_dir, full=full)
    if fmt == "csv":
        rows = [dict(r, files="; ".join(r["files"])) for r in rows]
    n_ok, total = sum(r.ok for r in runs), sum(r.seconds for r in runs)
    header = {"output folder": str(Path(out_dir).resolve()) if out_dir is not None else "(not given)",
              "units": "seconds of wall-clock time per figure script"}
    notes = [f"{n_ok}/{len(runs)} figures ok in {total:.1f} s"]
    failed = [r.name for r in runs if not r.ok]
    if failed:
        notes.append("FAILED: " + ", ".join(failed))
    rep = Report("driftlab repro: figures regenerated", rows,
                 SUMMARY_COLUMNS if failed or full else SUMMARY_COLUMNS[:-1], header=header, notes=notes,
                 keep=("figure", "status"),
                 json={"out_dir": header["output folder"], "figures": rows, "ok": n_ok, "total": len(runs),
                       "seconds": total})
    return render(rep, fmt, width)


def _list_report(fmt: str) -> Report:
    """``--list``: every figure with its expected full and quick time and its number of claims."""
    from driftlab import repro as R

    full, smoke = R.read_runtimes(), R.read_runtimes(R.quick_figures_dir())
    cites = R.claims_by_figure()
    people = fmt in ("table", "markdown")
    rows = []
    for name, script in R.discover().items():
        f, q = full.get(name), smoke.get(name)
        rows.append({"figure": name,
                     "full": _fmt_seconds(f) if people else (float(f["seconds"]) if f else None),
                     "quick": _fmt_seconds(q) if people else (float(q["seconds"]) if q else None),
                     "claims": len(cites.get(name, [])), "title": script.title})
    return Report(f"driftlab repro --list: {len(rows)} figures", rows, ["figure", "full", "quick", "claims", "title"],
                  header={"times": "wall-clock time of the last run recorded in figures/runtimes.json (full) and "
                                   "figures/quick/runtimes.json (--quick); " +
                                   ("? = not measured here yet" if people else "null = not measured here yet"),
                          "units": "seconds" if not people else "s = seconds, min = minutes"},
                  keep=("figure",))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True,
              help="Smaller sample sizes / grids: a fast smoke run, written to figures/quick/ (git-ignored) and "
                   "marked as such; never overwrites the committed figures.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: figures/ of the checkout; figures/quick/ with --quick).")
@click.option("--list", "list_only", is_flag=True,
              help="List the figures with their expected time (measured by the last full run) and exit.")
@click.option("--gallery", "gallery", is_flag=True,
              help="Write docs/gallery.md (every figure's PNG, claims with the verdicts of docs/claims.md, command, "
                   "runtime) from the committed files and exit; fails when a figure has no claim or a claim names "
                   "a figure that does not exist.")
@format_option(FORMATS, help="Format of the final summary (and of --list): an aligned table, CSV or JSON in full "
                              "precision (seconds unrounded, absolute file paths), or markdown. With csv or json "
                              "the progress lines go to stderr, so stdout holds the summary alone.")
@click.pass_context
def repro(ctx: click.Context, names: tuple[str, ...], quick: bool, out_dir: Path | None, list_only: bool,
          gallery: bool, fmt: str) -> None:
    """Regenerate figures NAMES (default: all) on built-in defaults.

    Each figure's PDF metadata and JSON name the claims it shows and the command that
    regenerates it; a PNG is saved beside each PDF; runtimes go to runtimes.json in the output
    folder. A run ends with a summary (--format table, csv, json or markdown).

    A bad NAME, or --quick into the committed figures/ folder, is a usage error (exit 2); an
    --out folder that cannot be written, or a figure script that fails, is an error (exit 1;
    the other figures still run).
    """
    from driftlab import repro as R

    if gallery:
        if names:
            raise click.UsageError(f"--gallery takes no figure NAMES (got {' '.join(names)})")
        refuse_unused(ctx, ["quick", "out_dir", "list_only", "fmt"], "by --gallery")
        try:
            path = R.write_gallery()
        except R.GalleryError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"wrote {path}")
        return
    if list_only:
        if names:
            raise click.UsageError(f"--list takes no figure NAMES (got {' '.join(names)})")
        refuse_unused(ctx, ["quick", "out_dir"], "by --list")
        click.echo(render(_list_report(fmt), fmt))
        return
    scripts = R.discover()
    unknown = [n for n in names if n not in scripts and list(names) != ["all"]]
    if unknown:  # before the output folder is created
        raise click.UsageError(f"unknown figure name(s) {unknown}; `driftlab repro --list` shows the "
                               f"{len(scripts)} figures")
    if quick and out_dir is not None and R.is_committed_figures_dir(out_dir):
        raise click.UsageError(f"--quick --out {out_dir}: a quick run must not overwrite the committed figures; "
                               f"omit --out (default {R.quick_figures_dir()}) or give another folder")
    target = out_dir if out_dir is not None else (R.quick_figures_dir() if quick else R.default_figures_dir())
    target = prepare_out_dir(target, "--out")
    try:
        if fmt == "table":
            R.run(list(names), out_dir=target, quick=quick, echo=click.echo)
        else:  # stdout holds the summary alone
            R.run(list(names), out_dir=target, quick=quick, echo=lambda s: click.echo(s, err=True), fmt=fmt,
                  summary_echo=click.echo)
    except R.FigureRunError as exc:
        raise click.ClickException(str(exc)) from None
