"""``driftlab repro``: regenerate the papers' figures into figures/."""

from __future__ import annotations

from pathlib import Path

import click

from driftlab.cli._errors import prepare_out_dir, refuse_unused


@click.command()
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Smaller sample sizes / grids: a fast smoke run.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: figures/ of the checkout).")
@click.option("--list", "list_only", is_flag=True, help="List the figures and exit.")
@click.pass_context
def repro(ctx: click.Context, names: tuple[str, ...], quick: bool, out_dir: Path | None, list_only: bool) -> None:
    """Regenerate figures NAMES (default: all) on built-in defaults.

    A bad NAME is a usage error (exit 2); an --out folder that cannot be written, or a figure
    script that fails, is an error (exit 1).
    """
    from driftlab import repro as R

    if list_only:
        if names:
            raise click.UsageError(f"--list takes no figure NAMES (got {' '.join(names)})")
        refuse_unused(ctx, ["quick", "out_dir"], "by --list")
        for name, script in R.discover().items():
            click.echo(f"{name:28s} {script.title}")
        return
    scripts = R.discover()
    unknown = [n for n in names if n not in scripts and list(names) != ["all"]]
    if unknown:  # before the output folder is created
        raise click.UsageError(f"unknown figure name(s) {unknown}; `driftlab repro --list` shows the "
                               f"{len(scripts)} figures")
    out_dir = prepare_out_dir(out_dir if out_dir is not None else R.default_figures_dir(), "--out")
    R.run(list(names), out_dir=out_dir, quick=quick, echo=click.echo)
