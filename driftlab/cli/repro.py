"""``driftlab repro``: regenerate the papers' figures into figures/."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Smaller sample sizes / grids: a fast smoke run.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: figures/ of the checkout).")
@click.option("--list", "list_only", is_flag=True, help="List the figures and exit.")
def repro(names: tuple[str, ...], quick: bool, out_dir: Path | None, list_only: bool) -> None:
    """Regenerate figures NAMES (default: all) on built-in defaults."""
    from driftlab import repro as R

    if list_only:
        for name, script in R.discover().items():
            click.echo(f"{name:28s} {script.title}")
        return
    try:
        R.run(list(names), out_dir=out_dir, quick=quick, echo=click.echo)
    except R.UnknownFigureError as exc:  # only a bad NAME is a usage error; figure errors propagate
        raise click.UsageError(str(exc)) from exc
